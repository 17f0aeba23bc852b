package io.snakepit.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;

import io.grpc.ManagedChannel;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.internal.ReadableBuffers;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.ServerCalls;
import io.snakepit.actors.OutOfMemory;
import io.snakepit.proto.GatewayGrpc;
import io.snakepit.proto.PingRequest;
import io.snakepit.proto.PingResponse;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * The gateway's servers run calls on gRPC's direct executor: a handler's out-of-memory error is still reported (here
 * under keep-running), ends the call as gRPC ends any failed handler, and the server serves on; a request's bytes are
 * read whole.
 */
class GatewayGuardTest {
  private static final String TOKEN = "guard-test-token";

  @Test
  void aHandlerOutOfMemoryEndsItsCallWithGrpcsStatusAndTheServerServesOn() throws Exception {
    AtomicBoolean fail = new AtomicBoolean(true);
    ServerServiceDefinition service = ServerServiceDefinition.builder(GatewayGrpc.SERVICE_NAME)
        .addMethod(GatewayGrpc.getPingMethod(), ServerCalls.<PingRequest, PingResponse>asyncUnaryCall((q, out) -> {
          if (fail.getAndSet(false)) {
            throw new OutOfMemoryError("GatewayGuardTest: a handler out of memory");
          }
          out.onNext(PingResponse.newBuilder().setAdapter("served on").build());
          out.onCompleted();
        })).build();
    Gateway gateway = Gateway.start(List.of(new Endpoint.Tcp("127.0.0.1", 0)), null, () -> service,
        new GatewayAuth(TOKEN, Path.of("unused.token")), 1 << 20, OutOfMemory.of(OutOfMemory.Action.KEEP_RUNNING));
    Logger log = (Logger) LoggerFactory.getLogger(OutOfMemory.class);
    ListAppender<ILoggingEvent> reports = new ListAppender<>();
    reports.start();
    log.addAppender(reports);
    ManagedChannel channel = null;
    try {
      String address = gateway.describe();
      int port = Integer.parseInt(address.substring(address.lastIndexOf(':') + 1));
      channel = NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext()
          .intercept(MetadataUtils.newAttachHeadersInterceptor(GatewayAuth.header(TOKEN))).build();
      GatewayGrpc.GatewayBlockingStub stub = GatewayGrpc.newBlockingStub(channel);
      StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
          () -> stub.withDeadlineAfter(30, TimeUnit.SECONDS).ping(PingRequest.getDefaultInstance()));
      assertEquals(Status.Code.UNKNOWN, e.getStatus().getCode(), e.toString());
      assertEquals(GatewayGuard.APPLICATION_ERROR, e.getStatus().getDescription(), e.toString());
      List<String> reported = reports.list.stream().map(ILoggingEvent::getFormattedMessage).toList();
      assertTrue(reported.stream().anyMatch(r -> r.contains("while running a gateway call of snakepit.v1.Gateway/Ping")
          && r.contains("GatewayGuardTest: a handler out of memory")), "the out-of-memory report: " + reported);
      assertEquals("served on",
          stub.withDeadlineAfter(30, TimeUnit.SECONDS).ping(PingRequest.getDefaultInstance()).getAdapter());
    } finally {
      if (channel != null) {
        channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
      }
      gateway.stop();
      log.detachAppender(reports);
    }
  }

  @Test
  void aMessageIsReadWholeFromAStreamThatKnowsItsLengthOrNot() throws Exception {
    byte[] bytes = "a request's bytes, 8 KiB short of readAllBytes' first buffer".getBytes(StandardCharsets.UTF_8);
    assertArrayEquals(bytes, GatewayService.readMessage(ReadableBuffers.openStream(ReadableBuffers.wrap(bytes), true)));
    assertArrayEquals(bytes, GatewayService.readMessage(new ByteArrayInputStream(bytes)));
    assertArrayEquals(new byte[0], GatewayService.readMessage(
        ReadableBuffers.openStream(ReadableBuffers.wrap(new byte[0]), true)));
  }
}
