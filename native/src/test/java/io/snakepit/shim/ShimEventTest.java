package io.snakepit.shim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class ShimEventTest {

  @Test
  void readyLineCarriesTheWholeIdentity() {
    ShimEvent e = ShimEvent.parse("READY 4242 4240 987654 0f1e-boot 4240 987600");
    WorkerIdentity id = assertInstanceOf(ShimEvent.Ready.class, e).identity();
    assertEquals(new WorkerIdentity(4242, 4240, 987654L, "0f1e-boot", 4240, 987600L), id);
  }

  @Test
  void adoptionLinesCarryTheWindowThePathAndTheIdentity() {
    assertEquals(new ShimEvent.Detached(60000, "/run/x/w-0-1.ctl"), ShimEvent.parse("DETACHED 60000 /run/x/w-0-1.ctl"));
    assertEquals(new ShimEvent.Left(3000), ShimEvent.parse("LEFT 3000"));
    assertEquals(new ShimEvent.DetachFailed(98, "/run/x/w.ctl: Address already in use"),
        ShimEvent.parse("DETACHFAIL 98 /run/x/w.ctl: Address already in use"));
    ShimEvent.Attached a = assertInstanceOf(ShimEvent.Attached.class,
        ShimEvent.parse("ATTACHED 4242 4240 987654 0f1e-boot 4240 987600 1"));
    assertEquals(new WorkerIdentity(4242, 4240, 987654L, "0f1e-boot", 4240, 987600L), a.identity());
    assertTrue(a.ready());
    assertInstanceOf(ShimEvent.Unknown.class, ShimEvent.parse("ATTACHED 4242"));
  }

  @Test
  void exitLinesTellAnExitCodeFromASignal() {
    ExitStatus nine = assertInstanceOf(ShimEvent.Exit.class, ShimEvent.parse("EXIT 2304 exited 9")).status();
    ExitStatus killed = assertInstanceOf(ShimEvent.Exit.class, ShimEvent.parse("EXIT 9 signaled 9 0")).status();
    ExitStatus segv = assertInstanceOf(ShimEvent.Exit.class, ShimEvent.parse("EXIT 139 signaled 11 1")).status();
    assertEquals("exited with code 9", nine.describe());
    assertEquals("killed by signal 9 (SIGKILL)", killed.describe());
    assertEquals("killed by signal 11 (SIGSEGV), core dumped", segv.describe());
  }

  @Test
  void relayedTextKeepsItsSpaces() {
    assertEquals(new ShimEvent.Err("  File \"x.py\", line 1"), ShimEvent.parse("ERR   File \"x.py\", line 1"));
  }

  @Test
  void garbageIsKeptAsUnknownRatherThanThrown() {
    assertInstanceOf(ShimEvent.Unknown.class, ShimEvent.parse("READY not-a-number"));
    assertInstanceOf(ShimEvent.Unknown.class, ShimEvent.parse("HELLO"));
  }

  @Test
  void decoderJoinsLinesSplitAcrossChunks() {
    ShimLineDecoder decoder = new ShimLineDecoder();
    List<ShimEvent> events = new ArrayList<>();
    decoder.feed(ByteBuffer.wrap("OUT he".getBytes(StandardCharsets.UTF_8)), events::add);
    assertTrue(events.isEmpty());
    decoder.feed(ByteBuffer.wrap("llo\nSPAWNED 12\nERR".getBytes(StandardCharsets.UTF_8)), events::add);
    assertEquals(List.of(new ShimEvent.Out("hello"), new ShimEvent.Spawned(12)), events);
  }

  @Test
  void piecesOfASplitLineAreToldApartFromWholeLines() {
    assertEquals(new ShimEvent.OutPiece("abc"), ShimEvent.parse("OUT+ abc"));
    assertEquals(new ShimEvent.ErrPiece(" x"), ShimEvent.parse("ERR+  x"));
    assertEquals(new ShimEvent.Out("+ abc"), ShimEvent.parse("OUT + abc"));
  }

  @Test
  void relayedOutputGoesToTheOutputSinkAsRawBytesAndControlLinesStayEvents() {
    ShimLineDecoder decoder = new ShimLineDecoder();
    List<ShimEvent> events = new ArrayList<>();
    List<String> output = new ArrayList<>();
    OutputLines sink = (stderr, bytes, from, to, continued) -> {
      StringBuilder hex = new StringBuilder();
      for (int i = from; i < to; i++) {
        hex.append(String.format("%02x", bytes[i] & 0xff));
      }
      output.add((stderr ? "err" : "out") + (continued ? "+" : "") + ":" + hex);
    };
    byte[] chunk = {'O', 'U', 'T', '+', ' ', (byte) 0xff, 'a', '\n', 'O', 'U', 'T', ' ', 'b', '\n',
        'E', 'R', 'R', ' ', '\n', 'S', 'P', 'A', 'W', 'N', 'E', 'D', ' ', '7', '\n', 'O', 'U', 'T', 'X', '\n'};
    decoder.feed(ByteBuffer.wrap(chunk, 0, 10), events::add, sink);
    decoder.feed(ByteBuffer.wrap(chunk, 10, chunk.length - 10), events::add, sink);
    assertEquals(List.of("out+:ff61", "out:62", "err:"), output);
    assertEquals(List.of(new ShimEvent.Spawned(7), new ShimEvent.Unknown("OUTX")), events);
  }

  @Test
  void procStatParsesACommandNameWithSpacesAndParentheses() {
    String stat = "77 (a (b) c) S 1 77 77 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 123456 0 0";
    ProcStat p = ProcStat.parse(77, stat);
    assertEquals(new ProcStat(77, 'S', 1, 77, 77, 123456L), p);
  }

  @Test
  void procStatOfThisJvmMatchesWhatTheJdkSees() {
    long self = ProcessHandle.current().pid();
    ProcStat p = ProcStat.read((int) self).orElseThrow();
    assertEquals(ProcessHandle.current().parent().orElseThrow().pid(), p.ppid());
    assertTrue(ProcStat.isAlive((int) self, p.startTime()));
    assertTrue(!ProcStat.isAlive((int) self, p.startTime() + 1), "another start time is another process");
  }
}
