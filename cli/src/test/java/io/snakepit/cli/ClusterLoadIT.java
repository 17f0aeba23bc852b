package io.snakepit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.snakepit.testing.Commands;
import io.snakepit.testing.PostgresServer;
import io.snakepit.testing.Procs;
import io.snakepit.testing.Requires;
import io.snakepit.testing.TestNodes;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * {@code kill -9} of one of three {@code snakepit serve} JVMs (one private PostgreSQL journal, as in {@link ClusterIT})
 * while {@code snakepit load} runs through another node's gateway against a pool that all three run: every call of
 * the load ends with a value or a typed error, calls go on being answered by the two nodes left, the killed node's
 * worker trees are gone, and the node, started again with the same data directory and instance, rejoins and settles
 * what its killed predecessor left open.
 */
class ClusterLoadIT {
  private static final ObjectMapper JSON = new ObjectMapper();
  /** Each node's workers in pool "default", the pool the load calls. */
  private static final int WORKERS = 2;
  /** The load's progress line (stderr, once a second): seconds since its start, calls ended, errors among them. */
  private static final Pattern PROGRESS = Pattern.compile("load: (\\d+) s, (\\d+) calls, \\S+ calls/s, (\\d+) errors");
  private static final Duration LOAD = Duration.ofSeconds(20);
  /** The only error a call may end with: the one a call in flight to the killed node gets (ClusterPoolsIT). */
  private static final String NODE_LOST = "snakepit.NodeLost";

  /** A progress line of the load, with when this JVM read it. */
  private record Progress(long readAt, int second, long calls, long errors) {
    long ok() {
      return calls - errors;
    }
  }

  @Test
  void loadThroughOneNodeOutlivesTheKillOfAnotherWhichComesBackAndSettles() throws Exception {
    Requires.postgres();
    PostgresServer pg = PostgresServer.shared();
    Path conf = Files.createTempFile("snakepit-load", ".conf");
    Files.writeString(conf, TestNodes.postgres() + "akka.cluster.split-brain-resolver.stable-after = 4s\n");
    List<ClusterIT.Member> members = ClusterIT.members("load");
    ClusterIT.Member memberA = members.get(0);
    ClusterIT.Member memberB = members.get(1);
    List<Nodes.Node> nodes = new ArrayList<>();
    Process load = null;
    try {
      ClusterIT.startThree(members, List.of(conf, conf, conf), WORKERS, nodes);
      Nodes.Node a = nodes.get(0);
      Nodes.Node b = nodes.get(1);
      JsonNode before = ClusterIT.awaitReachable(a, memberA, 3);
      assertEquals(3, ClusterIT.reachable(before), before.toString());

      // b's workers, as its status lists them, found in its tree in /proc (with their start times).
      Set<Integer> bPids = workerPids(ClusterIT.statusJson(b, memberB));
      assertEquals(WORKERS, bPids.size(), "node b's workers: " + bPids);
      assertEquals(ClusterIT.pythonPids(b), bPids, "b's status against its tree in /proc");
      List<Procs.Proc> bWorkers = new ArrayList<>();
      for (int pid : bPids) {
        bWorkers.add(Procs.of(pid).orElseThrow(() -> new AssertionError("worker " + pid + " of b is not in /proc")));
      }
      List<Procs.Proc> bTree = Nodes.tree(b);
      Set<Integer> survivorsWorkers = new HashSet<>(ClusterIT.pythonPids(a));
      survivorsWorkers.addAll(ClusterIT.pythonPids(nodes.get(2)));

      // snakepit load through a's gateway: 8 callers of ping on pool default, which a, b and c all run.
      Path out = Files.createTempFile("snakepit-load", ".json");
      List<String> cmd = Nodes.java("-jar", Nodes.jar().toString(), "load", "--target", "127.0.0.1:" + a.port,
          "--token-file", a.tokenFile().toString(), "ping", "--concurrency", "8", "--duration",
          LOAD.toSeconds() + "s", "--warmup", "0", "--json");
      ProcessBuilder pb = new ProcessBuilder(cmd).redirectOutput(out.toFile());
      pb.environment().remove(GatewayClient.TOKEN_VARIABLE);
      load = pb.start();
      List<Progress> progress = new CopyOnWriteArrayList<>();
      List<String> stderr = new CopyOnWriteArrayList<>();
      Thread reader = readProgress(load, progress, stderr);

      // After three seconds of load, b has served some of its calls: then kill -9 of b's JVM.
      awaitProgress(progress, 3, load, stderr);
      long bCalls = calls(ClusterIT.gatewayStatus(b));
      assertTrue(bCalls > 0, "node b's workers served none of the load's calls before the kill");
      Procs.kill(b.pid(), 9);
      long killedAt = System.nanoTime();
      b.process.waitFor();

      // b's worker trees are gone by their shims' lifeline.
      assertEquals(List.of(), Procs.awaitGone(bWorkers, Duration.ofSeconds(30)), "b's workers outlived its JVM");
      assertEquals(List.of(), Procs.awaitGone(bTree, Duration.ofSeconds(30)), "b's worker trees outlived its JVM");

      // The load ends by itself: every call it sent ended, with a value or a typed error.
      assertTrue(load.waitFor(120, TimeUnit.SECONDS), "snakepit load still runs 120 s after its start: "
          + String.join("\n", stderr));
      reader.join(10_000);
      assertEquals(0, load.exitValue(), String.join("\n", stderr));
      JsonNode r = JSON.readTree(Files.readString(out));
      long requests = r.get("requests").asLong();
      long ok = r.get("ok").asLong();
      long failed = 0;
      Set<String> types = new HashSet<>();
      for (Map.Entry<String, JsonNode> e : (Iterable<Map.Entry<String, JsonNode>>) r.get("errors")::fields) {
        failed += e.getValue().asLong();
        types.add(e.getKey());
      }
      assertTrue(requests > 0, r.toString());
      assertEquals(r.get("sent").asLong(), requests, "calls sent and calls ended differ: " + r);
      assertEquals(requests, ok + failed, r.toString());
      assertTrue(Set.of(NODE_LOST).containsAll(types), "errors other than " + NODE_LOST + ": " + r);

      // Calls went on being answered with values after the kill: from the first progress line read a second after
      // it (printed after the kill) to the end of the run.
      Progress afterKill = progress.stream().filter(p -> p.readAt() - killedAt > 1_000_000_000L).findFirst()
          .orElseThrow(() -> new AssertionError("no progress line after the kill: " + String.join("\n", stderr)));
      long okSince = ok - afterKill.ok();
      System.out.println("cluster load: " + requests + " calls, " + ok + " values, errors " + r.get("errors")
          + "; b killed after second " + progress.stream().filter(p -> p.readAt() < killedAt)
          .mapToInt(Progress::second).max().orElse(0) + " of the load, " + okSince + " values after second "
          + afterKill.second() + "; b's"
          + " workers had served " + bCalls + " calls; progress (s, calls, errors): " + progress.stream()
          .map(p -> p.second() + "/" + p.calls() + "/" + p.errors()).toList());
      assertTrue(okSince > 0, "no call answered with a value after the kill: " + String.join("\n", stderr));
      // And not only once the survivors had removed b (when its calls failed): a and c answered while b's calls
      // still hung, up to the last progress line before the first error (or the end).
      long okBeforeErrors = progress.stream().filter(p -> p.readAt() > afterKill.readAt() && p.errors() == 0)
          .mapToLong(Progress::ok).max().orElse(afterKill.ok());
      assertTrue(failed == 0 || okBeforeErrors > afterKill.ok(), "no value between second " + afterKill.second()
          + " and the first error: the load waited for the lost node's calls. " + String.join("\n", stderr));

      // b started again with the same data directory and instance: it settles its predecessor's open entries and
      // rejoins, and a's status lists it reachable, with new workers.
      // The lifeline took the trees down before the restart: settlement finds them exited and kills nothing.
      String idB = ClusterIT.persistenceId(memberB);
      assertEquals(0, settledExited(pg, idB), "node b's journal has settlements before its restart");
      Nodes.Node back = ClusterIT.start(memberB, conf, ClusterIT.seeds(members), WORKERS);
      nodes.set(1, back);
      assertTrue(back.settledLine != null && back.settledLine.startsWith("settled: " + WORKERS + " entries, 0 killed,"
          + " 0 impostors skipped; 0 processes signalled"),
          "the restarted node settles the " + WORKERS + " entries its killed predecessor left: " + back.settledLine);
      assertEquals(WORKERS, settledExited(pg, idB), "Settled events (exited) in node b's journal after its restart");
      JsonNode again = ClusterIT.awaitReachable(a, memberA, 3);
      JsonNode bEntry = ClusterIT.nodeEntry(again, memberB.address());
      assertTrue(bEntry.get("reachable").asBoolean(), again.toString());
      Set<Integer> newPids = workerPids(bEntry);
      assertEquals(ClusterIT.pythonPids(back), newPids, "b's workers in a's status against b's tree: " + bEntry);
      assertFalse(newPids.stream().anyMatch(bPids::contains), "b's old workers " + bPids + " in " + newPids);
      for (int pid : survivorsWorkers) {
        assertTrue(Procs.of(pid).isPresent(), "a worker of node a or c (pid " + pid + ") died: " + survivorsWorkers);
      }
    } finally {
      if (load != null) {
        Commands.stop(load);
      }
      for (Nodes.Node n : nodes) {
        n.close();
      }
    }
  }

  /**
   * The registry's {@code Settled} events in the journal rows of {@code persistenceId} whose payload (Jackson CBOR,
   * where an enum is its name as text) says the entry was found exited.
   */
  private static long settledExited(PostgresServer pg, String persistenceId) throws SQLException {
    try (Connection c = DriverManager.getConnection(pg.jdbcUrl(), pg.user(), pg.password());
        PreparedStatement s = c.prepareStatement("SELECT count(*) FROM event_journal WHERE persistence_id = ?"
            + " AND event_ser_manifest LIKE '%$Settled%'"
            + " AND position(convert_to('EXITED', 'UTF8') IN event_payload) > 0")) {
      s.setString(1, persistenceId);
      try (ResultSet r = s.executeQuery()) {
        r.next();
        return r.getLong(1);
      }
    }
  }

  /** The pids of the workers of every pool of a status object (a node's own, or a node entry of a cluster's). */
  private static Set<Integer> workerPids(JsonNode status) {
    Set<Integer> pids = new HashSet<>();
    status.get("pools").forEach(p -> p.get("workers").forEach(w -> pids.add(w.get("pid").asInt())));
    return pids;
  }

  /** The calls the workers of pool "default" have served, as a node's own status says. */
  private static long calls(JsonNode status) {
    long calls = 0;
    for (JsonNode p : status.get("pools")) {
      if (p.get("name").asText().equals("default")) {
        for (JsonNode w : p.get("workers")) {
          calls += w.get("calls").asLong();
        }
      }
    }
    return calls;
  }

  /** A thread that reads the load's stderr, keeping every line and each progress line with when it was read. */
  private static Thread readProgress(Process load, List<Progress> progress, List<String> lines) {
    Thread t = new Thread(() -> {
      try (BufferedReader in = new BufferedReader(new InputStreamReader(load.getErrorStream(),
          StandardCharsets.UTF_8))) {
        for (String line = in.readLine(); line != null; line = in.readLine()) {
          lines.add(line);
          Matcher m = PROGRESS.matcher(line);
          if (m.lookingAt()) {
            progress.add(new Progress(System.nanoTime(), Integer.parseInt(m.group(1)), Long.parseLong(m.group(2)),
                Long.parseLong(m.group(3))));
          }
        }
      } catch (java.io.IOException e) {
        lines.add("(reading the load's stderr failed: " + e + ")");
      }
    }, "load-stderr");
    t.setDaemon(true);
    t.start();
    return t;
  }

  /** Waits, at most 60 s, for a progress line at {@code second} or later. */
  private static void awaitProgress(List<Progress> progress, int second, Process load, List<String> stderr)
      throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (progress.stream().noneMatch(p -> p.second() >= second)) {
      assertTrue(load.isAlive(), "snakepit load ended early: " + String.join("\n", stderr));
      assertTrue(System.nanoTime() < deadline, "no progress line of second " + second + " within 60 s: "
          + String.join("\n", stderr));
      Thread.sleep(100);
    }
  }
}
