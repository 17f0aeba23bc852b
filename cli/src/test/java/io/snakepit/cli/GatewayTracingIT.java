package io.snakepit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.stub.MetadataUtils;
import io.snakepit.proto.ExecuteRequest;
import io.snakepit.proto.ExecuteResponse;
import io.snakepit.proto.GatewayGrpc;
import java.io.ByteArrayOutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Through the gateway, a client's W3C traceparent (gRPC metadata, or the request's field) is the parent of the
 * node's span for the call, and the tool reads the node's span as its traceparent; the node exports its spans over
 * OTLP/HTTP when {@code snakepit.tracing.exporter = otlp}, here to a collector of the test's own.
 */
class GatewayTracingIT {
  private static final String TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
  private static final String CLIENT_SPAN = "00f067aa0ba902b7";
  private static final String TRACEPARENT = "00-" + TRACE + "-" + CLIENT_SPAN + "-01";
  private static final ByteArrayOutputStream EXPORTED = new ByteArrayOutputStream();
  private static HttpServer collector;
  private static Nodes.Node node;
  private static ManagedChannel gateway;

  @BeforeAll
  static void start() throws Exception {
    collector = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    collector.createContext("/v1/traces", exchange -> {
      byte[] body = exchange.getRequestBody().readAllBytes();
      synchronized (EXPORTED) {
        EXPORTED.writeBytes(body);
      }
      exchange.getResponseHeaders().add("Content-Type", "application/x-protobuf");
      exchange.sendResponseHeaders(200, -1);
      exchange.close();
    });
    collector.start();
    node = Nodes.serveIn(Files.createTempDirectory("snakepit-data"), List.of(
        "-Dsnakepit.tracing.exporter=otlp",
        "-Dsnakepit.tracing.endpoint=http://127.0.0.1:" + collector.getAddress().getPort() + "/v1/traces",
        "-Dsnakepit.tracing.export-delay=100ms"), "--workers", "1");
    gateway = node.channel();
  }

  @AfterAll
  static void stop() throws Exception {
    try (Nodes.Node started = node) {
      if (gateway != null) {
        gateway.shutdownNow();
      }
    } finally {
      collector.stop(0);
    }
  }

  private static GatewayGrpc.GatewayBlockingStub withHeader() {
    Metadata headers = new Metadata();
    headers.put(GatewayTracing.TRACEPARENT, TRACEPARENT);
    return GatewayGrpc.newBlockingStub(gateway).withDeadlineAfter(60, TimeUnit.SECONDS)
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers));
  }

  /** The traceparent the tool read: of the client's trace, its parent the node's span (not the client's). */
  private static String[] nodeSpanOfTheClientsTrace(ExecuteResponse r) {
    assertTrue(r.hasValue(), () -> r.getError().getType() + ": " + r.getError().getMessage());
    String seen = r.getValue().getJson().replace("\"", "");
    String[] parts = seen.split("-");
    assertEquals(4, parts.length, seen);
    assertEquals(TRACE, parts[1], "the tool's trace is the client's: " + seen);
    assertNotEquals(CLIENT_SPAN, parts[2], "the tool's parent is the node's span: " + seen);
    return parts;
  }

  @Test
  void theClientsTraceparentHeaderIsTheParentOfTheNodesSpanWhichIsExported() throws Exception {
    String[] parts = nodeSpanOfTheClientsTrace(withHeader().execute(
        ExecuteRequest.newBuilder().setTool("traceparent").build()));
    // The exported span: the client's trace id, the node's span id, the client's span as its parent (raw bytes).
    HexFormat hex = HexFormat.of();
    byte[][] wanted = {hex.parseHex(TRACE), hex.parseHex(parts[2]), hex.parseHex(CLIENT_SPAN),
        "snakepit.call traceparent".getBytes(StandardCharsets.UTF_8)};
    long end = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    boolean all = false;
    while (!all && System.nanoTime() < end) {
      byte[] body;
      synchronized (EXPORTED) {
        body = EXPORTED.toByteArray();
      }
      all = true;
      for (byte[] w : wanted) {
        all &= indexOf(body, w) >= 0;
      }
      if (!all) {
        Thread.sleep(50);
      }
    }
    assertTrue(all, "the collector received the node's span with the client's trace, its id and its parent");
  }

  @Test
  void aStreamThroughTheGatewayCarriesTheClientsTrace() {
    Iterator<ExecuteResponse> items = withHeader().executeStream(
        ExecuteRequest.newBuilder().setTool("stream_traceparent").setArgsJson("{\"count\": 2}").build());
    String[] first = nodeSpanOfTheClientsTrace(items.next());
    String[] second = nodeSpanOfTheClientsTrace(items.next());
    assertEquals(first[2], second[2], "one call, one span");
  }

  @Test
  void withoutTheHeaderTheRequestsTraceparentFieldIsTheParent() {
    nodeSpanOfTheClientsTrace(GatewayGrpc.newBlockingStub(gateway).withDeadlineAfter(60, TimeUnit.SECONDS)
        .execute(ExecuteRequest.newBuilder().setTool("traceparent").setTraceparent(TRACEPARENT).build()));
  }

  @Test
  void aCallWithoutATraceIsARootOfItsOwn() {
    ExecuteResponse r = GatewayGrpc.newBlockingStub(gateway).withDeadlineAfter(60, TimeUnit.SECONDS)
        .execute(ExecuteRequest.newBuilder().setTool("traceparent").build());
    String seen = r.getValue().getJson().replace("\"", "");
    assertTrue(seen.matches("00-[0-9a-f]{32}-[0-9a-f]{16}-0[0-9a-f]"), seen);
    assertNotEquals(TRACE, seen.split("-")[1]);
  }

  @Test
  void snakepitCallSendsItsTraceparentFlag() throws Exception {
    Nodes.Run run = Nodes.snakepit("call", "--target", "127.0.0.1:" + node.port, "--data-dir",
        node.dataDir.toString(), "--traceparent", TRACEPARENT, "traceparent");
    assertEquals(0, run.exit(), run::toString);
    assertTrue(run.out().contains("-" + TRACE + "-"), run::toString);
    Nodes.Run bad = Nodes.snakepit("call", "--target", "127.0.0.1:" + node.port, "--data-dir",
        node.dataDir.toString(), "--traceparent", "not-a-trace", "traceparent");
    assertEquals(2, bad.exit(), bad::toString);
    assertTrue(bad.err().contains("--traceparent not-a-trace is not a W3C traceparent"), bad::toString);
  }

  private static int indexOf(byte[] haystack, byte[] needle) {
    outer:
    for (int i = 0; i + needle.length <= haystack.length; i++) {
      for (int j = 0; j < needle.length; j++) {
        if (haystack[i + j] != needle[j]) {
          continue outer;
        }
      }
      return i;
    }
    return -1;
  }
}
