package io.snakepit.actors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.snakepit.shim.ShimEvent;
import io.snakepit.testing.Procs;
import io.snakepit.testing.TestNodes;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** The shim as NuProcess starts it from the JVM, without the actors: what it hands to the program it runs. */
class ShimIT {
  @Test
  void programStartsWithNoBlockedAndNoIgnoredSignalsThoughTheJvmIgnoresSigpipe() throws Exception {
    RunningShim r = RunningShim.start(List.of("grep", "^Sig", "/proc/self/status"));
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
    AtomicReference<RunningShim> started = new AtomicReference<>();
    Path socket = Files.createTempDirectory("shimit").resolve("w.sock");
    Thread t = new Thread(() -> started.set(RunningShim.start(List.of(TestNodes.python(), "-m", "snakepit_worker",
        "--adapter", "snakepit_worker.examples.basic:BasicAdapter", "--socket", socket.toString()))));
    t.start();
    t.join(60_000);
    assertFalse(t.isAlive(), "starting the shim took more than 60 s");
    RunningShim r = started.get();
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
    RunningShim r = RunningShim.start(List.of("/nonexistent/python3"));
    ShimEvent.ExecFailed failed = r.next(ShimEvent.ExecFailed.class);
    assertEquals(2, failed.errno());
    ShimEvent.Exit exit = r.next(ShimEvent.Exit.class);
    assertEquals(127, exit.status().exitCode());
  }

  @Test
  void readyReportsTheWorkersIdentityAsProcShowsIt() throws Exception {
    Path socket = Files.createTempDirectory("shimit").resolve("w.sock");
    RunningShim r = RunningShim.start(List.of(TestNodes.python(), "-m", "snakepit_worker", "--adapter",
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

  @Test
  void withNoGraceTheJvmsEndIsSigkillAtOnceWithoutASigtermFirst() throws Exception {
    // A SIGTERM sent first would end the program by that signal (its default action), before the SIGKILL.
    RunningShim r = RunningShim.start(List.of("--grace-ms", "0"), List.of("sleep", "60"));
    r.next(ShimEvent.Spawned.class);
    r.process.closeStdin(true); // the JVM's end, as the shim sees it
    ShimEvent.Exit exit = r.next(ShimEvent.Exit.class);
    assertEquals(9, exit.status().signal(), exit.status().describe());
    assertEquals(0, r.exitCode(), r.stderr());
  }

  @Test
  void withAGraceTheJvmsEndIsSigtermFirst() throws Exception {
    RunningShim r = RunningShim.start(List.of("--grace-ms", "5000"), List.of("sleep", "60"));
    r.next(ShimEvent.Spawned.class);
    r.process.closeStdin(true);
    ShimEvent.Exit exit = r.next(ShimEvent.Exit.class);
    assertEquals(15, exit.status().signal(), exit.status().describe());
  }

  @Test
  void aLineLongerThanTheRelayLimitComesAsContinuedPiecesThenItsLastPiece() throws Exception {
    // 20000 bytes on stdout, then a short line; on stderr an exactly 8192-byte line, which is not split.
    RunningShim r = RunningShim.start(List.of(TestNodes.python(), "-c", "import os; os.write(1, b'a' * 20000 + b'\\nok\\n');"
        + " os.write(2, b'e' * 8192 + b'\\n')"));
    List<ShimEvent> relayed = new ArrayList<>();
    ShimEvent e;
    do {
      e = r.next(ShimEvent.class);
      if (!(e instanceof ShimEvent.Spawned)) {
        relayed.add(e);
      }
    } while (!(e instanceof ShimEvent.Exit));
    List<ShimEvent> stdout = relayed.stream()
        .filter(x -> x instanceof ShimEvent.Out || x instanceof ShimEvent.OutPiece).toList();
    assertEquals(List.of(new ShimEvent.OutPiece("a".repeat(8192)), new ShimEvent.OutPiece("a".repeat(8192)),
        new ShimEvent.Out("a".repeat(20000 - 2 * 8192)), new ShimEvent.Out("ok")), stdout);
    List<ShimEvent> stderr = relayed.stream()
        .filter(x -> x instanceof ShimEvent.Err || x instanceof ShimEvent.ErrPiece).toList();
    assertEquals(List.of(new ShimEvent.Err("e".repeat(8192))), stderr);
  }
}
