package io.snakepit.actors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.zaxxer.nuprocess.NuAbstractProcessHandler;
import com.zaxxer.nuprocess.NuProcess;
import com.zaxxer.nuprocess.NuProcessBuilder;
import io.snakepit.python.WorkerPackage;
import io.snakepit.shim.ShimBinary;
import io.snakepit.shim.ShimEvent;
import io.snakepit.shim.ShimLineDecoder;
import io.snakepit.testing.Procs;
import io.snakepit.testing.TestNodes;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** The shim as NuProcess starts it from the JVM, without the actors: what it hands to the program it runs. */
class ShimIT {
  private static final Path CACHE = Path.of(System.getProperty("user.home"), ".cache", "snakepit");

  /** A shim started through NuProcess, with its events in a queue. */
  private static final class Running extends NuAbstractProcessHandler {
    final BlockingQueue<ShimEvent> events = new LinkedBlockingQueue<>();
    final ShimLineDecoder decoder = new ShimLineDecoder();
    NuProcess process;

    @Override
    public void onStdout(ByteBuffer buffer, boolean closed) {
      decoder.feed(buffer, events::add);
    }

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

    void send(String line) {
      process.writeStdin(ByteBuffer.wrap((line + "\n").getBytes(StandardCharsets.US_ASCII)));
    }
  }

  private static Running start(List<String> program) {
    List<String> cmd = new ArrayList<>(List.of(ShimBinary.extract(CACHE).toString(), "--grace-ms", "2000", "--"));
    cmd.addAll(program);
    Map<String, String> env = new HashMap<>(System.getenv());
    env.put("SNAKEPIT_INSTANCE", TestNodes.INSTANCE);
    env.put("PYTHONPATH", WorkerPackage.unpack(CACHE).toString());
    Running r = new Running();
    NuProcessBuilder b = new NuProcessBuilder(cmd, env);
    b.setProcessListener(r);
    r.process = b.start();
    return r;
  }

  @Test
  void programStartsWithNoBlockedAndNoIgnoredSignalsThoughTheJvmIgnoresSigpipe() throws Exception {
    Running r = start(List.of("grep", "^Sig", "/proc/self/status"));
    Map<String, String> sig = new HashMap<>();
    ShimEvent e;
    while (!((e = r.next(ShimEvent.class)) instanceof ShimEvent.Exit)) {
      if (e instanceof ShimEvent.Out out) {
        String[] kv = out.text().split(":\\s*");
        sig.put(kv[0], kv[1]);
      }
    }
    long jvmIgnored = Procs.signalMask((int) ProcessHandle.current().pid(), "SigIgn");
    assertTrue((jvmIgnored & (1L << 12)) != 0, "precondition: NuProcess makes the JVM ignore SIGPIPE");
    assertEquals("0000000000000000", sig.get("SigBlk"));
    assertEquals("0000000000000000", sig.get("SigIgn"));
  }

  @Test
  void workerStartedFromAShortLivedThreadSurvivesThatThread() throws Exception {
    AtomicReference<Running> started = new AtomicReference<>();
    Path socket = Files.createTempDirectory("shimit").resolve("w.sock");
    Thread t = new Thread(() -> started.set(start(List.of(TestNodes.python(), "-m", "snakepit_worker", "--adapter",
        "snakepit_worker.examples.basic:BasicAdapter", "--socket", socket.toString()))));
    t.start();
    t.join();
    Running r = started.get();
    int pid = r.next(ShimEvent.Ready.class).identity().pid();
    Procs.Proc python = Procs.of(pid).orElseThrow();
    Thread.sleep(1500);
    assertTrue(python.alive(), "the worker died with the thread that started it");
    r.send("STOP 2000");
    ShimEvent.Exit exit = r.next(ShimEvent.Exit.class);
    assertEquals("exited with code 0", exit.status().describe(), "a SIGTERM stop is a clean exit");
    assertEquals(List.of(), Procs.awaitGone(List.of(python), Duration.ofSeconds(5)));
  }

  @Test
  void missingProgramIsReportedWithItsErrno() throws Exception {
    Running r = start(List.of("/nonexistent/python3"));
    ShimEvent.ExecFailed failed = r.next(ShimEvent.ExecFailed.class);
    assertEquals(2, failed.errno());
    ShimEvent.Exit exit = r.next(ShimEvent.Exit.class);
    assertEquals(127, exit.status().exitCode());
  }

  @Test
  void readyReportsTheWorkersIdentityAsProcShowsIt() throws Exception {
    Path socket = Files.createTempDirectory("shimit").resolve("w.sock");
    Running r = start(List.of(TestNodes.python(), "-m", "snakepit_worker", "--adapter",
        "snakepit_worker.examples.basic:BasicAdapter", "--socket", socket.toString()));
    var id = r.next(ShimEvent.Ready.class).identity();
    var python = io.snakepit.shim.ProcStat.read(id.pid()).orElseThrow();
    assertEquals(python.startTime(), id.startTime());
    assertEquals(python.pgrp(), id.pgid());
    assertEquals(r.process.getPID(), id.shimPid());
    assertEquals(id.shimPid(), python.session(), "the shim leads the worker's session");
    assertEquals(io.snakepit.shim.BootId.current(), id.bootId());
    assertNotEquals(0L, id.shimStartTime());
    r.process.closeStdin(true);
    assertInstanceOf(ShimEvent.Exit.class, r.next(ShimEvent.Exit.class));
  }
}
