package io.snakepit.actors.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Which containment each isolation mode gets, and what each one asks of the shim before anything is made. */
class ContainmentTest {

  private static Launch launch(String isolation) {
    var pool = ConfigFactory.parseString("isolation { " + isolation + " }")
        .withFallback(ConfigFactory.load().getConfig("snakepit.pool-defaults"));
    return new Launch(Path.of("/opt/shim"), Path.of("/opt/pkg"), Path.of("/run/x/w-0-1.sock"), "node1", "w-0-1",
        "abc123", WorkerSettings.fromConfig(pool));
  }

  @Test
  void eachModeIsChosenOnceByItsOwnClass() {
    assertInstanceOf(ProcessContainment.class, Containment.of(launch("mode = process")));
    assertInstanceOf(CgroupContainment.class, Containment.of(launch("mode = cgroup")));
    assertInstanceOf(NamespacesContainment.class, Containment.of(launch("mode = namespaces")));
    assertInstanceOf(RuncContainment.class, Containment.of(launch("mode = runc")));
    assertInstanceOf(SystemdContainment.class, Containment.of(launch("mode = systemd")));
  }

  @Test
  void processModeGivesTheShimItsRlimitsAndRunsPythonAsIs() {
    Containment c = Containment.of(launch("mode = process, rlimits.open-files = 64"));
    assertEquals(List.of("--rlimit", "nofile=64"), c.shimOptions());
    assertEquals(List.of("python3", "-x"), c.wrap(List.of("python3", "-x")));
    assertTrue(c.limited().isEmpty(), "process mode has no counters");
  }

  @Test
  void namespacesWithoutLimitsMakeNoCgroupAndUnshareTheNetworkOnlyWhenAskedTo() {
    assertEquals(List.of("--unshare", "pid,ipc,mount"), Containment.of(launch("mode = namespaces")).shimOptions());
    assertEquals(List.of("--unshare", "pid,ipc,mount,net"),
        Containment.of(launch("mode = namespaces, network = none")).shimOptions());
    assertTrue(Containment.of(launch("mode = namespaces")).limited().isEmpty());
  }

  @Test
  void aCgroupIsNeitherNamedToTheShimNorCountedBeforeItIsMade() {
    Containment c = Containment.of(launch("mode = cgroup, limits.pids = 16"));
    assertEquals(List.of(), c.shimOptions());
    assertTrue(c.limited().isEmpty());
    c.release(); // nothing made, nothing to remove
  }

  @Test
  void systemdWrapsPythonInATransientScopeNamedAfterTheWorker() {
    List<String> cmd = Containment.of(launch("mode = systemd")).wrap(List.of("python3"));
    assertTrue(cmd.contains("--unit=snakepit-node1-w-0-1-abc123.scope"), cmd.toString());
    assertEquals(List.of("--", "python3"), cmd.subList(cmd.size() - 2, cmd.size()));
  }
}
