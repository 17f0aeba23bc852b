package io.snakepit.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.grpc.CallOptions;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.stub.ClientCalls;
import io.snakepit.proto.ExecuteRequest;
import io.snakepit.proto.ExecuteResponse;
import io.snakepit.proto.GatewayGrpc;
import io.snakepit.proto.PythonError;
import io.snakepit.testing.Procs;
import io.snakepit.testing.TestNodes;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * max-message-size end to end, through a node's gateway and straight to a worker's socket: large results arrive
 * intact under the limit, results and arguments over it fail with snakepit.MessageTooLarge (the worker stays up, the
 * tool of an oversized call never runs), and a request that is not UTF-8 gets snakepit.InvalidArguments with no stack
 * trace in the node's log.
 */
class MessageSizeIT {
  private static final int MIB = 1 << 20;
  private static Nodes.Node node;
  private static ManagedChannel gateway;

  @BeforeAll
  static void start() throws Exception {
    node = Nodes.serveIn(Files.createTempDirectory("snakepit-data"), List.of(
        "-Dsnakepit.pools.small.workers=1", "-Dsnakepit.pools.small.max-message-size=1MiB",
        "-Dsnakepit.pools.raised.workers=1", "-Dsnakepit.pools.raised.max-message-size=100MiB",
        "-Dsnakepit.pool-defaults.adapter=" + TestNodes.EXAMPLE_ADAPTER),
        "--workers", "1");
    gateway = node.channelBuilder().maxInboundMessageSize(Integer.MAX_VALUE).build();
  }

  @AfterAll
  static void stop() throws Exception {
    if (gateway != null) {
      gateway.shutdownNow();
    }
    if (node != null) {
      node.close();
    }
  }

  private static ExecuteResponse call(String pool, String tool, String argsJson) {
    return call(ExecuteRequest.newBuilder().setPool(pool).setTool(tool).setArgsJson(argsJson).build());
  }

  private static ExecuteResponse call(ExecuteRequest request) {
    return GatewayGrpc.newBlockingStub(gateway).withDeadlineAfter(60, TimeUnit.SECONDS).execute(request);
  }

  /** What the example tool blob returns: byte i is i % 251. */
  private static byte[] pattern(int size) {
    byte[] b = new byte[size];
    for (int i = 0; i < size; i++) {
      b[i] = (byte) (i % 251);
    }
    return b;
  }

  private static byte[] sha256(byte[] data) throws Exception {
    return MessageDigest.getInstance("SHA-256").digest(data);
  }

  private static PythonError error(ExecuteResponse response) {
    assertTrue(response.hasError(), "expected an error, got a value of " + response.getValue().getSerializedSize()
        + " bytes");
    return response.getError();
  }

  @Test
  void twentyMegabyteResultArrivesIntactUnderTheDefaultLimit() throws Exception {
    ExecuteResponse r = call("default", "blob", "{\"size\": 20000000}");
    assertTrue(r.hasValue(), () -> r.getError().getType() + ": " + r.getError().getMessage());
    byte[] raw = r.getValue().getRaw().toByteArray();
    assertEquals(20_000_000, raw.length);
    assertArrayEquals(sha256(pattern(20_000_000)), sha256(raw));
  }

  @Test
  void resultOverTheDefaultLimitFailsThereAndArrivesIntactUnderARaisedOne() throws Exception {
    int size = 70 * MIB;
    PythonError refused = error(call("default", "blob", "{\"size\": " + size + "}"));
    assertEquals("snakepit.MessageTooLarge", refused.getType());
    assertTrue(refused.getMessage().contains("max-message-size of 67108864 bytes (64.0 MiB)"), refused.getMessage());

    ExecuteResponse r = call("raised", "blob", "{\"size\": " + size + "}");
    assertTrue(r.hasValue(), () -> r.getError().getType() + ": " + r.getError().getMessage());
    byte[] raw = r.getValue().getRaw().toByteArray();
    assertEquals(size, raw.length);
    assertArrayEquals(sha256(pattern(size)), sha256(raw));
  }

  @Test
  void resultOverALoweredLimitFailsTypedAndTheSameWorkerServesTheNextCall() {
    String pid = call("small", "pid", "").getValue().getJson();
    PythonError e = error(call("small", "blob", "{\"size\": 2000000}"));
    assertEquals("snakepit.MessageTooLarge", e.getType());
    // 2,000,000 bytes of value plus the response's framing; the limit; the setting to raise.
    assertTrue(e.getMessage().startsWith("tool 'blob' returned a result of 2000008 bytes (1.9 MiB), over the pool's"
        + " max-message-size of 1048576 bytes (1.0 MiB)"), e.getMessage());
    assertTrue(e.getMessage().contains("max-message-size in the pool's settings"), e.getMessage());
    assertEquals(pid, call("small", "pid", "").getValue().getJson(), "the worker was replaced");
    assertEquals(1000, call("small", "blob", "{\"size\": 1000}").getValue().getRaw().size());
  }

  @Test
  void argumentsOverTheLimitFailBeforeTheyAreSent() throws Exception {
    Path ran = Files.createTempDirectory("snakepit-msg").resolve("ran");
    String args = "{\"size\": 1, \"path\": \"" + ran + "\"}";
    PythonError e = error(call(ExecuteRequest.newBuilder().setPool("small").setTool("blob").setArgsJson(args)
        .setPayload(ByteString.copyFrom(new byte[2 * MIB])).setHasPayload(true).build()));
    assertEquals("snakepit.MessageTooLarge", e.getType());
    assertTrue(e.getMessage().startsWith("the arguments of tool 'blob' are 2097")
        && e.getMessage().contains(" bytes (2.0 MiB), over"), e.getMessage());
    assertTrue(e.getMessage().contains("over pool 'small''s max-message-size of 1048576 bytes (1.0 MiB); nothing was"
        + " sent") && e.getMessage().endsWith("raise snakepit.pools.small.max-message-size"), e.getMessage());
    assertFalse(Files.exists(ran), "the tool ran");

    ExecuteResponse ok = call(ExecuteRequest.newBuilder().setPool("small").setTool("blob").setArgsJson(args)
        .setPayload(ByteString.copyFrom(new byte[10])).setHasPayload(true).build());
    assertTrue(ok.hasValue(), ok::toString);
    assertEquals(List.of("blob 1"), Files.readAllLines(ran), "the same call under the limit runs the tool");
  }

  @Test
  void invalidUtf8ToTheGatewayIsInvalidArgumentsWithoutAStackTrace() throws Exception {
    byte[] bad = requestWithRawArgs("echo", "{\"x\": \"\u00e9\"}".getBytes(StandardCharsets.ISO_8859_1));

    PythonError unary = error(ExecuteResponse.parseFrom(ClientCalls.blockingUnaryCall(gateway,
        raw("snakepit.v1.Gateway/Execute", MethodDescriptor.MethodType.UNARY), deadline(), bad)));
    assertEquals("snakepit.InvalidArguments", unary.getType());
    assertTrue(unary.getMessage().startsWith("the request's args_json (field 2) is not valid UTF-8"),
        unary.getMessage());

    Iterator<byte[]> items = ClientCalls.blockingServerStreamingCall(gateway,
        raw("snakepit.v1.Gateway/ExecuteStream", MethodDescriptor.MethodType.SERVER_STREAMING), deadline(), bad);
    List<ExecuteResponse> stream = new ArrayList<>();
    items.forEachRemaining(b -> stream.add(parse(b)));
    assertEquals(1, stream.size(), stream::toString);
    assertEquals("snakepit.InvalidArguments", error(stream.get(0)).getType());

    assertEquals("{\"x\": \"\u00e9\"}", call("default", "echo", "{\"x\": \"\u00e9\"}").getValue().getJson(),
        "the gateway still serves");
    assertNoStackTrace();
  }

  @Test
  void invalidUtf8ToAWorkerSocketIsInvalidArgumentsAndTheWorkerServesOn() throws Exception {
    String socket = workerSocket("small");
    ManagedChannel channel = Grpc.newChannelBuilder("unix://" + socket, InsecureChannelCredentials.create()).build();
    try {
      String pid = call("small", "pid", "").getValue().getJson();
      byte[] bad = requestWithRawArgs("echo", new byte[] {'{', '"', 'x', '"', ':', '"', (byte) 0xc3, '"', '}'});
      PythonError e = error(parse(ClientCalls.blockingUnaryCall(channel,
          raw("snakepit.v1.Worker/Execute", MethodDescriptor.MethodType.UNARY), deadline(), bad)));
      assertEquals("snakepit.InvalidArguments", e.getType());
      assertTrue(e.getMessage().startsWith("the request's args_json (field 2) is not valid UTF-8 (byte 6 of the"
          + " field)"), e.getMessage());
      assertEquals(pid, call("small", "pid", "").getValue().getJson(), "the worker was replaced");
    } finally {
      channel.shutdownNow();
    }
    assertNoStackTrace();
  }

  /** The node's log (its stderr, with every worker's stderr relayed into it) holds no stack trace. */
  private static void assertNoStackTrace() throws IOException {
    List<String> log = node.stderr();
    for (String line : log) {
      assertFalse(line.contains("SEVERE") || line.startsWith("\tat ") || line.contains("Traceback")
          || line.contains("Exception deserializing"), () -> "a stack trace in the node's log:\n"
          + String.join("\n", log));
    }
  }

  /** The socket of {@code pool}'s worker, from its Python process's command line. */
  private static String workerSocket(String pool) {
    for (Procs.Proc p : Nodes.tree(node)) {
      List<String> args = List.of(Procs.cmdline(p.pid()).split(" "));
      int at = args.indexOf("--socket");
      boolean python = args.stream().anyMatch(a -> a.endsWith("/bin/snakepit_worker"));
      if (python && !args.get(0).contains("snakepit-shim") && at >= 0
          && Path.of(args.get(at + 1)).getFileName().toString().startsWith(pool + "-")) {
        return args.get(at + 1);
      }
    }
    throw new AssertionError("no worker of pool " + pool + " among " + Nodes.tree(node));
  }

  /** An ExecuteRequest on the wire whose args_json (field 2) holds {@code args} as they are, UTF-8 or not. */
  private static byte[] requestWithRawArgs(String tool, byte[] args) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ExecuteRequest.newBuilder().setTool(tool).build().writeTo(out);
    out.write((2 << 3) | 2); // field 2, length-delimited
    out.write(args.length); // under 128: a one-byte varint
    out.write(args);
    return out.toByteArray();
  }

  private static ExecuteResponse parse(byte[] bytes) {
    try {
      return ExecuteResponse.parseFrom(bytes);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static CallOptions deadline() {
    return CallOptions.DEFAULT.withDeadlineAfter(30, TimeUnit.SECONDS);
  }

  private static final MethodDescriptor.Marshaller<byte[]> BYTES = new MethodDescriptor.Marshaller<>() {
    @Override
    public InputStream stream(byte[] value) {
      return new ByteArrayInputStream(value);
    }

    @Override
    public byte[] parse(InputStream stream) {
      try {
        return stream.readAllBytes();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  };

  /** A method that sends and receives bytes as they are, so a test can send what no stub would. */
  private static MethodDescriptor<byte[], byte[]> raw(String name, MethodDescriptor.MethodType type) {
    return MethodDescriptor.<byte[], byte[]>newBuilder().setType(type).setFullMethodName(name)
        .setRequestMarshaller(BYTES).setResponseMarshaller(BYTES).build();
  }
}
