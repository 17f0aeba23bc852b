package io.snakepit.cli;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.snakepit.proto.ExecuteRequest;
import io.snakepit.proto.ExecuteResponse;
import io.snakepit.proto.GatewayGrpc;
import java.nio.file.Files;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The client's gRPC deadline becomes the call's deadline in the worker, for calls with a payload as for those
 * without: the tool sees it ({@code current_call().time_remaining()}) rather than the pool's own call-timeout.
 */
class GatewayDeadlineIT {
  /** The pool's call-timeout: far above any client deadline here, so a tool that sees it shows the deadline lost. */
  private static final int POOL_TIMEOUT_SECONDS = 600;
  private static final int CLIENT_DEADLINE_SECONDS = 30;
  private static Nodes.Node node;
  private static ManagedChannel gateway;

  @BeforeAll
  static void start() throws Exception {
    node = Nodes.serveIn(Files.createTempDirectory("snakepit-data"),
        List.of("-Dsnakepit.pools.default.call-timeout=" + POOL_TIMEOUT_SECONDS + "s"), "--workers", "1");
    gateway = node.channel();
  }

  @AfterAll
  static void stop() throws Exception {
    try (Nodes.Node started = node) {
      if (gateway != null) {
        gateway.shutdownNow();
      }
    }
  }

  private static ExecuteRequest.Builder request(String tool, String argsJson) {
    return ExecuteRequest.newBuilder().setTool(tool).setArgsJson(argsJson);
  }

  /** The seconds the worker saw left of {@code request}'s deadline, sent with the client's deadline. */
  private static double remaining(ExecuteRequest request) {
    ExecuteResponse r = GatewayGrpc.newBlockingStub(gateway)
        .withDeadlineAfter(CLIENT_DEADLINE_SECONDS, TimeUnit.SECONDS).execute(request);
    assertTrue(r.hasValue(), () -> r.getError().getType() + ": " + r.getError().getMessage());
    return Double.parseDouble(r.getValue().getJson());
  }

  @Test
  void payloadCallSeesTheClientsDeadlineRatherThanThePools() {
    double left = remaining(request("deadline", "{}").setPayload(ByteString.copyFromUtf8("raw"))
        .setHasPayload(true).build());
    assertTrue(left > 0 && left <= CLIENT_DEADLINE_SECONDS, "the tool saw " + left + " s left; the client gave "
        + CLIENT_DEADLINE_SECONDS + " s, the pool's call-timeout is " + POOL_TIMEOUT_SECONDS + " s");
  }

  @Test
  void callWithoutPayloadSeesTheClientsDeadlineRatherThanThePools() {
    double left = remaining(request("deadline", "{}").build());
    assertTrue(left > 0 && left <= CLIENT_DEADLINE_SECONDS, "the tool saw " + left + " s left; the client gave "
        + CLIENT_DEADLINE_SECONDS + " s, the pool's call-timeout is " + POOL_TIMEOUT_SECONDS + " s");
  }

  @Test
  void withoutAClientDeadlineAPayloadCallHasThePools() {
    ExecuteResponse r = GatewayGrpc.newBlockingStub(gateway).execute(request("deadline", "{}")
        .setPayload(ByteString.copyFromUtf8("raw")).setHasPayload(true).build());
    double left = Double.parseDouble(r.getValue().getJson());
    assertTrue(left > CLIENT_DEADLINE_SECONDS && left <= POOL_TIMEOUT_SECONDS, "the tool saw " + left + " s left");
  }
}
