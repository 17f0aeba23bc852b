package io.snakepit.cli;

import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.snakepit.proto.GatewayGrpc;
import io.snakepit.proto.ScaleRequest;
import io.snakepit.proto.ScaleResponse;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code snakepit scale}: resizes a pool of a running node through its gateway. */
@Command(name = "scale", mixinStandardHelpOptions = true,
    description = "Resize pool POOL of a running node to N workers and wait until it is done: new workers are"
        + " ready (started as any, start-concurrency at a time), surplus ones have finished their calls and ended."
        + " Calls go on meanwhile. Prints 'scaled: pool POOL to N workers, R ready'. Exit 1 if the node refuses"
        + " (an unknown pool, N below 1, a pool that is stopping) or the resize is not done within --timeout; exit 2"
        + " if the node cannot be reached. The size holds until the node restarts.")
final class ScaleCommand implements Callable<Integer> {

  @Mixin
  GatewayClient gateway;

  @Parameters(index = "0", paramLabel = "POOL", description = "The pool, as named under snakepit.pools.")
  String pool;

  @Parameters(index = "1", paramLabel = "N", description = "The number of workers it keeps from now on.")
  int workers;

  @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "600",
      description = "How long to wait for the resize to be done (default ${DEFAULT-VALUE}); the resize goes on"
          + " in the node past it.")
  long timeoutSeconds;

  @Override
  public Integer call() {
    GatewayClient.Token token = gateway.token(System.getenv(), System.err);
    ManagedChannel channel = gateway.channel(token).build();
    try {
      ScaleResponse done = GatewayGrpc.newBlockingStub(channel).withDeadlineAfter(timeoutSeconds, TimeUnit.SECONDS)
          .scale(ScaleRequest.newBuilder().setPool(pool).setWorkers(workers).build());
      System.out.println("scaled: pool " + done.getPool() + " to " + done.getWorkers()
          + (done.getWorkers() == 1 ? " worker, " : " workers, ")
          + done.getReady() + " ready");
      return 0;
    } catch (StatusRuntimeException e) {
      return gateway.failed(e.getStatus(), token, System.err);
    } finally {
      channel.shutdownNow();
    }
  }
}
