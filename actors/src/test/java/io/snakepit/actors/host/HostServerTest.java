package io.snakepit.actors.host;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Deadline;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollDomainSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.unix.DomainSocketAddress;
import io.snakepit.proto.HostCallRequest;
import io.snakepit.proto.HostCallResponse;
import io.snakepit.proto.HostGrpc;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The Host service as a gRPC client sees it: answers, refusals, the bound on calls in flight, and deadlines. */
class HostServerTest {
  @TempDir
  Path dir;

  private HostServer host;
  private EpollEventLoopGroup loop;
  private ManagedChannel channel;

  @BeforeEach
  void start() {
    host = HostServer.start(dir.resolve("host.sock"), new HostServer.Settings(2, 1), 1 << 20);
    loop = new EpollEventLoopGroup(1);
    channel = NettyChannelBuilder.forAddress(new DomainSocketAddress(host.socket().toString()))
        .channelType(EpollDomainSocketChannel.class).eventLoopGroup(loop).usePlaintext().build();
  }

  @AfterEach
  void stop() throws Exception {
    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    host.close();
    loop.shutdownGracefully(0, 1, TimeUnit.SECONDS).await(5, TimeUnit.SECONDS);
  }

  private HostCallResponse call(String tool, String args) {
    return HostGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS)
        .call(HostCallRequest.newBuilder().setTool(tool).setArgsJson(args).setCallId("c1").setWorkerId("w-0-1")
            .build());
  }

  @Test
  void theCallersDeadlineIsTheEarlierOfTheRpcsAndTheOneOnTheSharedClock() {
    Deadline rpc = Deadline.after(3, TimeUnit.SECONDS);
    long earlier = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(2900);
    long left = HostServer.callersDeadline(rpc, earlier).timeRemaining(TimeUnit.MILLISECONDS);
    assertTrue(left <= 2900 && left > 2000, "the worker's own deadline, without the request's way: " + left);
    assertSame(rpc, HostServer.callersDeadline(rpc, 0), "none sent: the RPC's");
    assertSame(rpc, HostServer.callersDeadline(rpc, System.nanoTime() + TimeUnit.SECONDS.toNanos(3) + 50_000_000),
        "a later one: the RPC's");
    assertSame(rpc, HostServer.callersDeadline(rpc, earlier - TimeUnit.HOURS.toNanos(1)),
        "another clock (over a second apart): the RPC's");
    assertNull(HostServer.callersDeadline(null, earlier), "no deadline on the RPC: none");
  }

  @Test
  void aRegisteredToolAnswersWithItsJsonAndSeesWhoCalled() throws Exception {
    CompletableFuture<HostServer.Request> seen = new CompletableFuture<>();
    host.register("echo", r -> {
      seen.complete(r);
      return CompletableFuture.completedFuture(r.argsJson());
    });
    assertEquals("{\"x\": 1}", call("echo", "{\"x\": 1}").getJson());
    HostServer.Request r = seen.get(5, TimeUnit.SECONDS);
    assertEquals(List.of("c1", "w-0-1"), List.of(r.callId(), r.workerId()));
    assertTrue(r.deadline() != null && r.deadline().timeRemaining(TimeUnit.SECONDS) <= 10);
    assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(host.socket())));
  }

  @Test
  void anUnknownToolIsAnsweredWithTheRegisteredOnesAndTheFix() {
    host.register("b", r -> CompletableFuture.completedFuture("1"));
    host.register("a", r -> CompletableFuture.completedFuture("2"));
    HostCallResponse response = call("c", "");
    assertEquals(HostServer.UNKNOWN_HOST_TOOL, response.getError().getType());
    assertEquals(List.of("a", "b"), response.getError().getAvailableToolsList());
    assertTrue(response.getError().getMessage().contains("Snakepit.registerHostTool(\"c\""),
        response.getError().getMessage());
  }

  @Test
  void aNameIsRegisteredOnceUntilItIsUnregistered() {
    host.register("a", r -> CompletableFuture.completedFuture("1"));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> host.register("a", r -> CompletableFuture.completedFuture("2")));
    assertTrue(e.getMessage().contains("'a' is registered already"), e.getMessage());
    assertTrue(host.unregister("a"));
    host.register("a", r -> CompletableFuture.completedFuture("2"));
    assertEquals("2", call("a", "").getJson());
  }

  @Test
  void aThrowingHandlerAndAFailedStageAnswerWithTheExceptionsClassMessageAndTrace() {
    host.register("throws", r -> {
      throw new IllegalStateException("closed");
    });
    host.register("fails", r -> CompletableFuture.failedFuture(new ArithmeticException("by zero")));
    HostCallResponse thrown = call("throws", "");
    assertEquals("java.lang.IllegalStateException", thrown.getError().getType());
    assertEquals("closed", thrown.getError().getMessage());
    assertTrue(thrown.getError().getTrace().contains(HostServerTest.class.getName()), thrown.getError().getTrace());
    assertEquals("java.lang.ArithmeticException", call("fails", "").getError().getType());
  }

  @Test
  void oneCallPastMaxCallsIsRefusedAtOnceNamingTheSetting() throws Exception {
    CompletableFuture<String> held = new CompletableFuture<>();
    host.register("hold", r -> held);
    var first = HostGrpc.newFutureStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS)
        .call(HostCallRequest.newBuilder().setTool("hold").build());
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (host.inFlight() < 1 && System.nanoTime() < until) {
      Thread.sleep(10);
    }
    HostCallResponse refused = call("hold", "");
    assertEquals(HostServer.HOST_BUSY, refused.getError().getType());
    assertTrue(refused.getError().getMessage().contains("snakepit.host-tools.max-calls"),
        refused.getError().getMessage());
    held.complete("\"done\"");
    assertEquals("\"done\"", first.get(5, TimeUnit.SECONDS).getJson());
    assertEquals(0, host.inFlight());
  }

  @Test
  void aDeadlineThatPassesEndsTheCallAndCancelsWhatTheHandlerReturned() throws Exception {
    CompletableFuture<HostServer.Request> seen = new CompletableFuture<>();
    CompletableFuture<String> never = new CompletableFuture<>();
    host.register("slow", r -> {
      seen.complete(r);
      return never;
    });
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> HostGrpc.newBlockingStub(channel)
        .withDeadlineAfter(2, TimeUnit.SECONDS).call(HostCallRequest.newBuilder().setTool("slow").build()));
    assertEquals(Status.Code.DEADLINE_EXCEEDED, e.getStatus().getCode());
    HostServer.Request r = seen.get(5, TimeUnit.SECONDS);
    CancellationException ended = assertThrows(CancellationException.class, () -> r.ended().get(5, TimeUnit.SECONDS));
    assertTrue(ended.getMessage().contains("deadline passed"), ended.getMessage());
    // The handler's stage is cancelled (get waits for that, up to 5 s, or times out).
    assertThrows(CancellationException.class, () -> never.get(5, TimeUnit.SECONDS));
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (host.inFlight() > 0 && System.nanoTime() < until) {
      Thread.sleep(10);
    }
    assertEquals(0, host.inFlight());
  }

  @Test
  void settingsBelowOneAreRefusedNamingTheSetting() {
    assertTrue(assertThrows(IllegalArgumentException.class, () -> new HostServer.Settings(0, 1)).getMessage()
        .contains("snakepit.host-tools.threads = 0"));
    assertTrue(assertThrows(IllegalArgumentException.class, () -> new HostServer.Settings(1, 0)).getMessage()
        .contains("snakepit.host-tools.max-calls = 0"));
  }
}
