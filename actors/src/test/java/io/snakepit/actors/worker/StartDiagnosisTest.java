package io.snakepit.actors.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import io.snakepit.WorkerCrashedException;
import io.snakepit.WorkerStartException;
import io.snakepit.shim.ExitStatus;
import io.snakepit.shim.ShimEvent;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Why a start failed, in the order the causes are most telling, with the stderr tail. */
class StartDiagnosisTest {
  private static final WorkerSettings SETTINGS = WorkerSettings.fromConfig(ConfigFactory.parseString(
      "stderr-tail = 2").withFallback(ConfigFactory.load().getConfig("snakepit.pool-defaults")));

  @Test
  void theTailKeepsTheLastLines() {
    StartDiagnosis d = new StartDiagnosis("w-1", SETTINGS);
    d.stderr("a");
    d.stderr("b");
    d.stderr("c");
    assertEquals(List.of("b", "c"), d.tail());
  }

  @Test
  void aMissingGrpcIsNamedWithTheInstallCommand() {
    StartDiagnosis d = new StartDiagnosis("w-1", SETTINGS);
    d.stderr("ModuleNotFoundError: No module named 'grpc'");
    WorkerStartException e = d.error("exited with code 1");
    assertTrue(e.getMessage().startsWith("worker w-1 exited with code 1 before it was ready"), e.getMessage());
    assertTrue(e.getMessage().contains("-m pip install grpcio protobuf"), e.getMessage());
  }

  @Test
  void execFailureAndTimeoutAndJournalFailureTakePrecedence() {
    StartDiagnosis d = new StartDiagnosis("w-1", SETTINGS);
    d.timedOut();
    assertTrue(d.error("killed").getMessage().contains("did not become ready within"));
    d.execFailed(new ShimEvent.ExecFailed(2, "No such file or directory"));
    assertTrue(d.error("killed").getMessage().contains("(errno 2)"));
    String journal = d.journalFailed(new IllegalStateException("disk full"));
    assertEquals(journal, d.error("killed").getMessage());
    assertTrue(journal.contains("disk full") && journal.contains("snakepit.registry.db"), journal);
  }

  @Test
  void signalsReadAsCrashReasons() {
    assertEquals(WorkerCrashedException.Reason.EXITED, StartDiagnosis.crashReason(new ExitStatus(0, 3, 0, false)));
    assertEquals(WorkerCrashedException.Reason.KILLED, StartDiagnosis.crashReason(new ExitStatus(9, -1, 9, false)));
    assertEquals(WorkerCrashedException.Reason.SEGFAULT,
        StartDiagnosis.crashReason(new ExitStatus(11, -1, 11, true)));
  }
}
