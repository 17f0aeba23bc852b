package io.snakepit.actors;

import com.zaxxer.nuprocess.NuAbstractProcessHandler;
import com.zaxxer.nuprocess.NuProcess;
import com.zaxxer.nuprocess.NuProcessBuilder;
import io.snakepit.python.WorkerPackage;
import io.snakepit.shim.ShimBinary;
import io.snakepit.shim.ShimEvent;
import io.snakepit.shim.ShimLineDecoder;
import io.snakepit.testing.TestNodes;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A shim started through NuProcess, as the worker actors start it, with its events in a queue. Every program it
 * runs carries this test run's instance marker, so the leak check finds anything left behind.
 */
final class RunningShim extends NuAbstractProcessHandler {
  private static final Path CACHE = Path.of(System.getProperty("user.home"), ".cache", "snakepit");

  final BlockingQueue<ShimEvent> events = new LinkedBlockingQueue<>();
  private final ShimLineDecoder decoder = new ShimLineDecoder();
  private final StringBuffer stderr = new StringBuffer();
  private final CompletableFuture<Integer> exitCode = new CompletableFuture<>();
  NuProcess process;

  /** Starts {@code snakepit-shim --grace-ms 2000 -- program...}. */
  static RunningShim start(List<String> program) {
    return start(List.of(), program);
  }

  /** Starts {@code snakepit-shim --grace-ms 2000 options... -- program...}. */
  static RunningShim start(List<String> options, List<String> program) {
    List<String> cmd = new ArrayList<>(List.of(ShimBinary.extract(CACHE).toString(), "--grace-ms", "2000"));
    cmd.addAll(options);
    cmd.add("--");
    cmd.addAll(program);
    Map<String, String> env = new HashMap<>(System.getenv());
    env.put("SNAKEPIT_INSTANCE", TestNodes.INSTANCE);
    env.put("PYTHONPATH", WorkerPackage.unpack(CACHE).toString());
    RunningShim r = new RunningShim();
    NuProcessBuilder b = new NuProcessBuilder(cmd, env);
    b.setProcessListener(r);
    r.process = b.start();
    return r;
  }

  @Override
  public void onStdout(ByteBuffer buffer, boolean closed) {
    decoder.feed(buffer, events::add);
  }

  @Override
  public void onStderr(ByteBuffer buffer, boolean closed) {
    byte[] bytes = new byte[buffer.remaining()];
    buffer.get(bytes);
    stderr.append(new String(bytes, StandardCharsets.UTF_8));
  }

  @Override
  public void onExit(int statusCode) {
    exitCode.complete(statusCode);
  }

  /** The shim's pid. */
  int pid() {
    return process.getPID();
  }

  /** The next event of this type, skipping others; fails after 20 s without one. */
  <T extends ShimEvent> T next(Class<T> type) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (System.nanoTime() < deadline) {
      ShimEvent e = events.poll(100, TimeUnit.MILLISECONDS);
      if (type.isInstance(e)) {
        return type.cast(e);
      }
    }
    throw new AssertionError("no " + type.getSimpleName() + " from the shim within 20 s");
  }

  /** Writes one command line to the shim's stdin. */
  void send(String line) {
    process.writeStdin(ByteBuffer.wrap((line + "\n").getBytes(StandardCharsets.US_ASCII)));
  }

  /** The shim's exit code, as NuProcess reports it; fails after 20 s. */
  int exitCode() throws InterruptedException {
    try {
      return exitCode.get(20, TimeUnit.SECONDS);
    } catch (ExecutionException | TimeoutException e) {
      throw new AssertionError("the shim (pid " + pid() + ") did not exit within 20 s", e);
    }
  }

  /** What the shim wrote on its stderr so far. */
  String stderr() {
    return stderr.toString();
  }

  /** Ends the shim if it still runs: KILL, then SIGKILL if it does not exit. For finally blocks. */
  void finish() throws InterruptedException {
    if (exitCode.isDone()) {
      return;
    }
    try {
      send("KILL");
    } catch (IllegalStateException e) {
      // NuProcess has closed stdin: the shim has exited and onExit is on its way
    }
    try {
      exitCode.get(10, TimeUnit.SECONDS);
    } catch (ExecutionException | TimeoutException e) {
      process.destroy(true);
    }
  }
}
