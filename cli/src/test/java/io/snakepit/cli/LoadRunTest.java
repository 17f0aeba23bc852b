package io.snakepit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.snakepit.proto.ExecuteRequest;
import io.snakepit.proto.GatewayGrpc;
import java.io.OutputStream;
import java.io.PrintStream;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A closed loop sends each next call from the last one's callback: calls that fail while they are being sent (a
 * channel that is shut down fails them at once, on the sending thread) must not nest those sends until the stack
 * overflows, and every call of the plan is still made and counted.
 */
class LoadRunTest {
  @Test
  void callsThatFailAtOnceAreAllMadeAndCountedWithoutNesting() throws Exception {
    ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", 9).usePlaintext().directExecutor().build();
    channel.shutdownNow();
    assertEquals(true, channel.awaitTermination(10, TimeUnit.SECONDS), "the channel did not terminate");
    int calls = 50_000; // far deeper than a thread's stack if each send nested the next
    LoadRun.Plan plan = new LoadRun.Plan(ExecuteRequest.newBuilder().setTool("ping").setArgsJson("{}").build(), 2,
        null, calls, null, Duration.ofSeconds(10));
    LoadResult result = new LoadRun(plan).run(GatewayGrpc.newFutureStub(channel),
        new PrintStream(OutputStream.nullOutputStream()));
    assertEquals(calls, result.requests(), result.toString());
    assertEquals(0, result.ok(), result.toString());
    assertEquals(Map.of("grpc.UNAVAILABLE", (long) calls), result.errors(), result.toString());
  }
}
