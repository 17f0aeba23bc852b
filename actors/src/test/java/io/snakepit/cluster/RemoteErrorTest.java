package io.snakepit.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.snakepit.NodeLostException;
import io.snakepit.PoolSaturatedException;
import io.snakepit.PythonException;
import io.snakepit.UnknownToolException;
import io.snakepit.WorkerCrashedException;
import java.util.List;
import java.util.concurrent.CompletionException;
import org.junit.jupiter.api.Test;

/** A remote call's failure comes back as the typed exception a local call gives. */
class RemoteErrorTest {
  private static RuntimeException roundTrip(Throwable e) {
    return RemoteError.of(new CompletionException(e)).toException("snakepit@127.0.0.1:25521");
  }

  @Test
  void pythonExceptionKeepsItsSubclassTypeMessageAndTraceback() {
    RuntimeException back = roundTrip(PythonException.of("KeyError", "'x'", "Traceback ...\nKeyError: 'x'"));
    PythonException.PythonKeyError key = assertInstanceOf(PythonException.PythonKeyError.class, back);
    assertEquals("KeyError", key.pythonType());
    assertEquals("'x'", key.pythonMessage());
    assertTrue(key.traceback().contains("Traceback"), key.traceback());
  }

  @Test
  void unknownToolKeepsTheAvailableTools() {
    UnknownToolException u = assertInstanceOf(UnknownToolException.class,
        roundTrip(new UnknownToolException("nope", List.of("echo", "pid"), "no tool 'nope'")));
    assertEquals(List.of("echo", "pid"), u.available());
    assertEquals("nope", u.tool());
  }

  @Test
  void crashKeepsReasonAndStatusAndNamesTheNode() {
    WorkerCrashedException c = assertInstanceOf(WorkerCrashedException.class, roundTrip(new WorkerCrashedException(
        "default-1", "killed by signal 9 (SIGKILL)", WorkerCrashedException.Reason.KILLED, List.of("last line"))));
    assertEquals(WorkerCrashedException.Reason.KILLED, c.reason());
    assertEquals(List.of("last line"), c.stderrTail());
    assertTrue(c.getMessage().startsWith("worker default-1 of node snakepit@127.0.0.1:25521 crashed"),
        c.getMessage());
  }

  @Test
  void saturationStaysSaturation() {
    assertEquals("pool full", assertInstanceOf(PoolSaturatedException.class,
        roundTrip(new PoolSaturatedException("pool full"))).getMessage());
  }

  @Test
  void nodeLostNamesTheNode() {
    assertEquals("snakepit@127.0.0.1:25521", assertInstanceOf(NodeLostException.class,
        roundTrip(new NodeLostException("x", "lost"))).node());
  }
}
