package io.snakepit.actors.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The command lines and bundles each isolation mode builds, as text: what the kernel then gets to see. */
class LaunchTest {

  private static Launch launch(String isolation, Path runDir) {
    return launchOf("isolation { " + isolation + " }", runDir);
  }

  private static Launch launchOf(String poolSettings, Path runDir) {
    Config pool = ConfigFactory.parseString(poolSettings)
        .withFallback(ConfigFactory.load().getConfig("snakepit.pool-defaults"));
    return new Launch(Path.of("/opt/shim"), Path.of("/opt/pkg"), runDir.resolve("w-0-1.sock"), "node1", "w-0-1",
        "abc123", WorkerSettings.fromConfig(pool));
  }

  @Test
  void systemdModeRunsPythonThroughSystemdRunInATransientScopeWithTheLimitsAsProperties(@TempDir Path run) {
    Launch l = launch("mode = systemd, limits { memory = 256MiB, pids = 64, cpu = 0.5 }", run);
    List<String> cmd = l.command(Containment.of(l));
    int dashes = cmd.indexOf("--");
    assertEquals(List.of("/opt/shim", "--grace-ms", "0"), cmd.subList(0, dashes)); // lifeline-grace: SIGKILL at once
    List<String> program = cmd.subList(dashes + 1, cmd.size());
    assertEquals(List.of("systemd-run", "--scope", "--quiet", "--collect", "--unit=snakepit-node1-w-0-1-abc123.scope",
        "--property=KillMode=control-group", "--description=snakepit worker w-0-1 of instance node1",
        "--property=MemoryMax=268435456", "--property=MemorySwapMax=0", "--property=TasksMax=64",
        "--property=CPUQuota=50%", "--"), program.subList(0, program.indexOf("--") + 1));
    assertEquals(l.pythonCommand(), program.subList(program.indexOf("--") + 1, program.size()));
  }

  @Test
  void theWorkerStartsFromThePackagesScriptNotWithDashMWhichPutsTheWorkingDirectoryOnSysPath(@TempDir Path run) {
    List<String> python = launch("mode = process", run).pythonCommand();
    assertEquals(List.of("python3", "/opt/pkg/bin/snakepit_worker", "--adapter"), python.subList(0, 3));
  }

  @Test
  void theWorkerIsToldThePoolsMaxMessageSizeInBytes(@TempDir Path run) {
    List<String> python = launch("mode = process", run).pythonCommand();
    assertEquals("67108864", python.get(python.indexOf("--max-message-size") + 1)); // reference.conf's 64MiB
  }

  @Test
  void rlimitsAndNamespacesBecomeShimOptions(@TempDir Path run) {
    Launch l = launch("mode = namespaces, network = none, rlimits { open-files = 256, address-space = 1GiB }", run);
    List<String> cmd = l.command(Containment.of(l));
    List<String> options = new ArrayList<>(cmd.subList(3, cmd.indexOf("--")));
    assertTrue(options.containsAll(List.of("--rlimit", "nofile=256", "as=1073741824", "--unshare",
        "pid,ipc,mount,net")), options.toString());
    assertEquals(l.pythonCommand(), cmd.subList(cmd.indexOf("--") + 1, cmd.size()));
  }

  @Test
  void runcModeWritesABundleWithAReadOnlyRootOfBindMountsAndTheSocketDirectoryWritable(@TempDir Path run)
      throws Exception {
    Launch l = launch("mode = runc, limits { memory = 128MiB, pids = 32 }, runc.user = \"65534:65534\","
        + " rlimits.open-files = 512", run);
    RuncBundle bundle = RuncBundle.write(l, run, "snakepit");
    JsonNode c = new ObjectMapper().readTree(Files.readString(bundle.dir().resolve("config.json")));
    assertTrue(c.at("/root/readonly").asBoolean());
    assertEquals(65534, c.at("/process/user/uid").asInt());
    assertEquals(l.pythonCommand().get(1), c.at("/process/args/1").asText());
    assertTrue(c.at("/process/env").toString().contains("SNAKEPIT_NONCE=abc123"), "the marker is in the env");
    assertTrue(c.at("/process/env").toString().contains("SNAKEPIT_READY_FD=3"));
    assertEquals("RLIMIT_NOFILE", c.at("/process/rlimits/0/type").asText());
    assertEquals(512, c.at("/process/rlimits/0/soft").asInt());
    List<String> namespaces = new ArrayList<>();
    c.at("/linux/namespaces").forEach(n -> namespaces.add(n.get("type").asText()));
    assertTrue(namespaces.containsAll(List.of("pid", "ipc", "mount", "network")), namespaces.toString());
    assertEquals("/snakepit/node1/w-0-1-abc123", c.at("/linux/cgroupsPath").asText());
    assertEquals(128L << 20, c.at("/linux/resources/memory/limit").asLong());
    assertEquals(32, c.at("/linux/resources/pids/limit").asInt());
    boolean usrReadOnly = false;
    boolean runWritable = false;
    for (JsonNode m : c.at("/mounts")) {
      String options = m.get("options").toString();
      if (m.get("destination").asText().equals("/usr")) {
        usrReadOnly = m.get("type").asText().equals("bind") && options.contains("\"ro\"");
      }
      if (m.get("destination").asText().equals(run.toRealPath().toString())
          || m.get("destination").asText().equals(run.toString())) {
        runWritable = options.contains("\"rw\"");
      }
    }
    assertTrue(usrReadOnly, "/usr is not a read-only bind mount");
    assertTrue(runWritable, "the socket directory is not bind-mounted read-write");
    assertEquals(List.of("runc", "--root", run.resolve("runc").toString(), "run", "--bundle",
        bundle.dir().toString(), "--preserve-fds", "1", "snakepit-node1-w-0-1-abc123"), bundle.runCommand());
  }

  private static final Map<String, String> NODE_ENV = Map.of("PATH", "/usr/bin:/bin", "HOME", "/home/node",
      "LANG", "C.UTF-8", "LC_ALL", "C.UTF-8", "TZ", "UTC", "SNAKEPIT_DB_PASSWORD", "secret", "AWS_SECRET_ACCESS_KEY",
      "key", "MY_APP_MODE", "fast", "CUDA_VISIBLE_DEVICES", "0", "PYTHONPATH", "/node/site");

  @Test
  void workersGetOnlyTheAllowedPartOfTheJvmsEnvironmentWithThePoolsAdditionsAndTheMarkers(@TempDir Path run) {
    Map<String, String> env = launchOf("env { OMP_NUM_THREADS = \"4\" }", run).environment(NODE_ENV);
    assertEquals(Map.of("PATH", "/usr/bin:/bin", "HOME", "/home/node", "LANG", "C.UTF-8", "LC_ALL", "C.UTF-8",
        "TZ", "UTC", "OMP_NUM_THREADS", "4", "PYTHONPATH", "/opt/pkg", "PYTHONUNBUFFERED", "1"),
        withoutMarkers(env));
    assertEquals("node1", env.get(Launch.INSTANCE_VARIABLE));
    assertEquals("w-0-1", env.get(Launch.WORKER_VARIABLE));
    assertEquals("abc123", env.get(Launch.NONCE_VARIABLE));
    // The tool bridge: the node's Host socket, beside the worker's own in the run directory.
    assertEquals(run.resolve("host.sock").toString(), env.get(Launch.HOST_SOCKET_VARIABLE));
  }

  @Test
  void passEnvNamesAndPrefixesAddTheJvmsVariablesAndThePoolsEnvWinsOverThem(@TempDir Path run) {
    Map<String, String> env = launchOf("pass-env = [CUDA_VISIBLE_DEVICES, \"MY_APP_*\", PYTHONPATH],"
        + " python-path = [/srv/adapters], env { CUDA_VISIBLE_DEVICES = \"1\" }", run).environment(NODE_ENV);
    assertEquals("1", env.get("CUDA_VISIBLE_DEVICES"));
    assertEquals("fast", env.get("MY_APP_MODE"));
    assertEquals("/opt/pkg:/srv/adapters:/node/site", env.get("PYTHONPATH"));
    assertTrue(!env.containsKey("SNAKEPIT_DB_PASSWORD") && !env.containsKey("AWS_SECRET_ACCESS_KEY"), env.toString());
  }

  @Test
  void aPassEnvEntryThatIsNoVariableNameIsRefusedWithTheFix(@TempDir Path run) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> launchOf("pass-env = [\"MY APP\"]", run));
    assertTrue(e.getMessage().contains("'MY APP'") && e.getMessage().contains("MY_APP_*"), e.getMessage());
  }

  @Test
  void runcModesContainerGetsTheSameAllowlistedEnvironment(@TempDir Path run) throws Exception {
    Launch l = launchOf("isolation.mode = runc, pass-env = [\"LANG\"]", run);
    RuncBundle bundle = RuncBundle.write(l, run, "snakepit");
    JsonNode c = new ObjectMapper().readTree(Files.readString(bundle.dir().resolve("config.json")));
    List<String> env = new ArrayList<>();
    c.at("/process/env").forEach(v -> env.add(v.asText()));
    List<String> expected = new ArrayList<>();
    new java.util.TreeMap<>(l.environment()).forEach((k, v) -> expected.add(k + "=" + v));
    expected.add("SNAKEPIT_READY_FD=3");
    expected.sort(null);
    env.sort(null);
    assertEquals(expected, env);
  }

  private static Map<String, String> withoutMarkers(Map<String, String> env) {
    Map<String, String> rest = new java.util.HashMap<>(env);
    rest.remove(Launch.INSTANCE_VARIABLE);
    rest.remove(Launch.WORKER_VARIABLE);
    rest.remove(Launch.NONCE_VARIABLE);
    rest.remove(Launch.HOST_SOCKET_VARIABLE);
    return rest;
  }
}
