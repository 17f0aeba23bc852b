package io.snakepit.actors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.snakepit.shim.BootId;
import io.snakepit.shim.ProcStat;
import io.snakepit.shim.ShimEvent;
import io.snakepit.shim.ShimLineDecoder;
import io.snakepit.testing.Procs;
import io.snakepit.testing.TestNodes;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The shim's side of a planned restart (docs/SHIM-PROTOCOL.md, "Adoption"): after DETACH and LEAVE it keeps its
 * tree for the window and hands itself to an owner that connects to its control socket; without them, the
 * lifeline's end takes the tree down at once, as ever. What is alive is read from /proc.
 */
class ShimAdoptionIT {
  /** A shell with a child and a grandchild that outlive nothing on their own. */
  private static final List<String> TREE = List.of("sh", "-c", "sleep 300 & sh -c 'sleep 300' & wait");

  private static Path runDir() throws IOException {
    return Files.createTempDirectory("adopt", PosixFilePermissions.asFileAttribute(
        PosixFilePermissions.fromString("rwx------")));
  }

  /** The shim and everything under it, as /proc shows them once the tree has formed. */
  private static List<Procs.Proc> tree(RunningShim r) throws InterruptedException {
    return tree(r, 4); // sh, sleep, sh, sleep
  }

  private static List<Procs.Proc> tree(RunningShim r, int size) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    List<Procs.Proc> below = Procs.descendants(r.pid());
    while (below.size() < size && System.nanoTime() < deadline) {
      Thread.sleep(20);
      below = Procs.descendants(r.pid());
    }
    assertTrue(below.size() >= size, "the tree did not form: " + below);
    List<Procs.Proc> all = new ArrayList<>(below);
    all.add(Procs.of(r.pid()).orElseThrow());
    return all;
  }

  private static List<Procs.Proc> dead(List<Procs.Proc> procs) {
    return procs.stream().filter(p -> !p.alive()).toList();
  }

  /** DETACH, then LEAVE, then the old owner's end closes, as a node's planned exit does. */
  private static void detachAndLeave(RunningShim r, Path control, long windowMs) throws InterruptedException {
    r.send("DETACH " + windowMs + " " + control);
    assertEquals(new ShimEvent.Detached(windowMs, control.toString()), r.next(ShimEvent.Detached.class));
    r.send("LEAVE");
    assertEquals(new ShimEvent.Left(windowMs), r.next(ShimEvent.Left.class));
    r.process.closeStdin(true);
  }

  @Test
  void afterALeaveTheTreeOutlivesItsOwnerUntilTheWindowEndsThenGoes() throws Exception {
    Path control = runDir().resolve("w.ctl");
    RunningShim r = RunningShim.start(List.of("--grace-ms", "0"), TREE); // as the worker actors start it
    try {
      r.next(ShimEvent.Spawned.class);
      List<Procs.Proc> tree = tree(r);
      detachAndLeave(r, control, 3000);
      assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(control)));
      Thread.sleep(1000);
      assertEquals(List.of(), dead(tree), "the tree must wait for a next owner through the window");
      assertTrue(Files.exists(control), "the control socket listens through the window");
      assertEquals(List.of(), Procs.awaitGone(tree, Duration.ofSeconds(15)), "the window ended: the tree must go");
      assertFalse(Files.exists(control), "the control socket's path is removed with the tree");
      assertEquals(0, r.exitCode(), r.stderr());
    } finally {
      r.finish();
    }
  }

  @Test
  void anOwnerAttachingWithinTheWindowKeepsTheTreePastItAndItsCloseTakesItDown() throws Exception {
    Path control = runDir().resolve("w.ctl");
    // A child that only sleeps, and a line every 100 ms.
    RunningShim r = RunningShim.start(List.of(TestNodes.python(), "-c", "import subprocess, time\n"
        + "subprocess.Popen(['sleep', '300'])\n"
        + "while True:\n    print('tick', flush=True)\n    time.sleep(0.1)\n"));
    try {
      r.next(ShimEvent.Spawned.class);
      List<Procs.Proc> tree = tree(r, 2);
      detachAndLeave(r, control, 2000);
      try (SocketChannel owner = SocketChannel.open(StandardProtocolFamily.UNIX)) {
        owner.connect(UnixDomainSocketAddress.of(control));
        BlockingQueue<ShimEvent> events = new LinkedBlockingQueue<>();
        Thread reader = readInto(owner, events);
        ShimEvent.Attached attached = assertInstanceOf(ShimEvent.Attached.class, events.poll(10, TimeUnit.SECONDS));
        assertEquals(r.pid(), attached.identity().shimPid());
        assertEquals(ProcStat.read(r.pid()).orElseThrow().startTime(), attached.identity().shimStartTime());
        assertEquals(BootId.current(), attached.identity().bootId());
        assertFalse(attached.ready(), "the program never wrote on fd 3");
        assertFalse(Files.exists(control), "one owner at a time: the socket stops listening");
        Thread.sleep(3000); // past the 2 s window
        assertEquals(List.of(), dead(tree), "an attached owner keeps the tree past the window");
        assertTrue(awaitOut(events, "tick"), "Python's output goes to the new owner");
        owner.close(); // the new lifeline's end
        assertEquals(List.of(), Procs.awaitGone(tree, Duration.ofSeconds(10)), "closing the attached owner's end");
        reader.join(10_000);
      }
      assertEquals(0, r.exitCode(), r.stderr());
    } finally {
      r.finish();
    }
  }

  @Test
  void theShimDrainsPythonsOutputWhileNoOneOwnsIt() throws Exception {
    Path dir = runDir();
    Path control = dir.resolve("w.ctl");
    Path flooded = dir.resolve("flooded");
    RunningShim r = RunningShim.start(List.of("sh", "-c", "while [ ! -e " + dir.resolve("go") + " ]; do sleep 0.05;"
        + " done; head -c 2000000 /dev/zero | tr '\\0' x | fold -w 100; touch " + flooded + "; sleep 300"));
    try {
      r.next(ShimEvent.Spawned.class);
      detachAndLeave(r, control, 20_000);
      Files.writeString(dir.resolve("go"), "");
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
      while (!Files.exists(flooded) && System.nanoTime() < deadline) {
        Thread.sleep(50);
      }
      assertTrue(Files.exists(flooded), "2 MB of output must not block Python while no owner reads it");
      try (SocketChannel owner = SocketChannel.open(StandardProtocolFamily.UNIX)) {
        owner.connect(UnixDomainSocketAddress.of(control));
        BlockingQueue<ShimEvent> events = new LinkedBlockingQueue<>();
        readInto(owner, events);
        assertInstanceOf(ShimEvent.Attached.class, events.poll(10, TimeUnit.SECONDS));
        owner.write(ByteBuffer.wrap("STOP 0\n".getBytes(StandardCharsets.US_ASCII)));
        ShimEvent last;
        do {
          last = events.poll(10, TimeUnit.SECONDS);
        } while (last != null && !(last instanceof ShimEvent.Exit));
        ShimEvent.Exit exit = assertInstanceOf(ShimEvent.Exit.class, last, "commands come from the new owner");
        assertEquals(9, exit.status().signal());
      }
    } finally {
      r.finish();
    }
  }

  @Test
  void anAdoptingOwnerCanDetachAndLeaveAgainForTheNextOne() throws Exception {
    Path dir = runDir();
    Path first = dir.resolve("w1.ctl");
    Path second = dir.resolve("w2.ctl");
    RunningShim r = RunningShim.start(List.of("--grace-ms", "0"), TREE);
    try {
      r.next(ShimEvent.Spawned.class);
      List<Procs.Proc> tree = tree(r);
      detachAndLeave(r, first, 20_000);
      try (SocketChannel owner = SocketChannel.open(StandardProtocolFamily.UNIX)) {
        owner.connect(UnixDomainSocketAddress.of(first));
        BlockingQueue<ShimEvent> events = new LinkedBlockingQueue<>();
        readInto(owner, events);
        assertInstanceOf(ShimEvent.Attached.class, events.poll(10, TimeUnit.SECONDS));
        owner.write(ByteBuffer.wrap(("DETACH 1000 " + second + "\nLEAVE\n").getBytes(StandardCharsets.US_ASCII)));
        assertEquals(new ShimEvent.Detached(1000, second.toString()), events.poll(10, TimeUnit.SECONDS));
        assertEquals(new ShimEvent.Left(1000), events.poll(10, TimeUnit.SECONDS));
      } // this owner's end closes after LEFT: no longer the lifeline
      Thread.sleep(300);
      assertEquals(List.of(), dead(tree), "the second owner let go: the tree waits again");
      assertEquals(List.of(), Procs.awaitGone(tree, Duration.ofSeconds(15)), "the second window (1 s) ended");
    } finally {
      r.finish();
    }
  }

  @Test
  void aStopSignalToAWaitingShimEndsTheTreeAtOnce() throws Exception {
    Path control = runDir().resolve("w.ctl");
    RunningShim r = RunningShim.start(List.of("--grace-ms", "0"), TREE);
    try {
      r.next(ShimEvent.Spawned.class);
      List<Procs.Proc> tree = tree(r);
      detachAndLeave(r, control, 60_000);
      Procs.kill(r.pid(), 15);
      assertEquals(List.of(), Procs.awaitGone(tree, Duration.ofSeconds(10)), "SIGTERM to the shim, 60 s window");
      assertFalse(Files.exists(control), "the control socket's path is removed with the tree");
    } finally {
      r.finish();
    }
  }

  @Test
  void withoutLeaveTheLifelinesEndTakesTheTreeDownAtOnceEvenAfterDetach() throws Exception {
    Path control = runDir().resolve("w.ctl");
    RunningShim r = RunningShim.start(List.of("--grace-ms", "0"), TREE);
    try {
      r.next(ShimEvent.Spawned.class);
      List<Procs.Proc> tree = tree(r);
      r.send("DETACH 60000 " + control);
      r.next(ShimEvent.Detached.class);
      long closed = System.nanoTime();
      r.process.closeStdin(true); // the owner died (kill -9) before it let go
      assertEquals(List.of(), Procs.awaitGone(tree, Duration.ofSeconds(10)));
      assertTrue(System.nanoTime() - closed < TimeUnit.SECONDS.toNanos(10));
      assertFalse(Files.exists(control), "the control socket's path is removed with the tree");
    } finally {
      r.finish();
    }
  }

  @Test
  void withoutDetachTheLifelinesEndTakesTheTreeDownAtOnce() throws Exception {
    RunningShim r = RunningShim.start(List.of("--grace-ms", "0"), TREE);
    try {
      r.next(ShimEvent.Spawned.class);
      List<Procs.Proc> tree = tree(r);
      r.send("LEAVE"); // ignored: nothing to wait on
      r.process.closeStdin(false); // once LEAVE is written
      assertEquals(List.of(), Procs.awaitGone(tree, Duration.ofSeconds(10)));
      assertEquals(0, r.exitCode(), r.stderr()); // its stderr is complete once it has exited
      assertTrue(r.stderr().contains("ignoring LEAVE without a DETACH"), r.stderr());
    } finally {
      r.finish();
    }
  }

  @Test
  void detachOntoAnExistingPathFailsAndLeavesThatFileAlone() throws Exception {
    Path control = runDir().resolve("w.ctl");
    Files.writeString(control, "not ours");
    RunningShim r = RunningShim.start(List.of("sleep", "300"));
    try {
      r.next(ShimEvent.Spawned.class);
      r.send("DETACH 1000 " + control);
      ShimEvent.DetachFailed failed = r.next(ShimEvent.DetachFailed.class);
      assertEquals(98, failed.errno(), failed.message()); // EADDRINUSE
      assertTrue(failed.message().startsWith(control.toString()), failed.message());
      assertEquals("not ours", Files.readString(control));
      r.send("DETACH 1000 relative.ctl");
      assertTrue(r.next(ShimEvent.DetachFailed.class).message().contains("absolute"));
    } finally {
      r.finish();
    }
  }

  /** Reads the shim's lines from an adopting owner's connection into a queue, until it closes. */
  private static Thread readInto(SocketChannel owner, BlockingQueue<ShimEvent> events) {
    ShimLineDecoder decoder = new ShimLineDecoder();
    Thread t = new Thread(() -> {
      ByteBuffer buf = ByteBuffer.allocate(65536);
      try {
        while (owner.read(buf) >= 0) {
          buf.flip();
          decoder.feed(buf, events::add);
          buf.clear();
        }
      } catch (IOException e) {
        // closed by the test
      }
    }, "adoption-reader");
    t.setDaemon(true);
    t.start();
    return t;
  }

  private static boolean awaitOut(BlockingQueue<ShimEvent> events, String text) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (System.nanoTime() < deadline) {
      ShimEvent e = events.poll(100, TimeUnit.MILLISECONDS);
      if (e instanceof ShimEvent.Out out && out.text().equals(text)) {
        return true;
      }
    }
    return false;
  }
}
