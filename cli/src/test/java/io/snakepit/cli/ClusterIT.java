package io.snakepit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.grpc.ManagedChannel;
import io.snakepit.actors.metrics.NodeMetrics;
import io.snakepit.proto.GatewayGrpc;
import io.snakepit.proto.StatusRequest;
import io.snakepit.testing.PostgresServer;
import io.snakepit.testing.Procs;
import io.snakepit.testing.Requires;
import io.snakepit.testing.Scrapes;
import io.snakepit.testing.TestNodes;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * Three {@code snakepit serve} JVMs on this host form a cluster through their seeds, sharing one private PostgreSQL
 * journal; one is killed with {@code kill -9}, its workers die by the lifeline, the others' split brain resolver downs
 * and removes it, and it comes back with the same data directory and instance, settling only its own entries.
 */
class ClusterIT {
  private static final Pattern HTTP = Pattern.compile(
      "http: /metrics, /health and the dashboard / on (http://127\\.0\\.0\\.1:\\d+)");
  private static final Duration MEMBERSHIP_LIMIT = Duration.ofSeconds(40);
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final HttpClient CLIENT = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  /** One node of the test cluster: its instance, data directory and cluster port (the other cluster ITs share it). */
  record Member(String instance, Path dataDir, int clusterPort) {
    String address() {
      return "snakepit@127.0.0.1:" + clusterPort;
    }
  }

  @Test
  void threeNodesFormAClusterAndALostNodeIsDownedAndRejoinsSettlingOnlyItsOwn() throws Exception {
    Requires.postgres();
    PostgresServer pg = PostgresServer.shared();
    // Short of Akka's 20 s default, so that the survivors down the lost node quickly.
    Path conf = Files.createTempFile("snakepit-cluster", ".conf");
    Files.writeString(conf, TestNodes.postgres() + "akka.cluster.split-brain-resolver.stable-after = 4s\n");
    List<Member> members = members("cluster");
    String seeds = seeds(members);
    List<Nodes.Node> nodes = new ArrayList<>(List.of());
    try {
      startThree(members, List.of(conf, conf, conf), 1, nodes);
      for (int i = 0; i < 3; i++) {
        String ready = nodes.get(i).readyLine;
        assertTrue(ready.contains(", token in ") && ready.contains(", cluster " + members.get(i).address() + " ("),
            ready);
        assertTrue(ready.endsWith(" members)") || ready.endsWith(" member)"), ready);
      }
      Set<String> all = Set.of(members.get(0).address(), members.get(1).address(), members.get(2).address());
      for (Nodes.Node node : nodes) {
        JsonNode cluster = awaitCluster(node, c0 -> upMembers(c0).equals(all), "all three members Up");
        assertEquals("Up", cluster.get("status").asText(), cluster.toString());
      }

      // snakepit status on node a lists every node's workers, each under its node, with the pids /proc shows.
      statusListsEveryNodesWorkers(nodes, members);

      // One scrape of node a shows every node's pool and the three members Up.
      metricsListEveryNode(nodes.get(0), members);

      Map<String, Long> rowsBefore = journalRows(pg);
      String idA = persistenceId(members.get(0));
      String idB = persistenceId(members.get(1));
      String idC = persistenceId(members.get(2));
      assertTrue(rowsBefore.keySet().containsAll(List.of(idA, idB, idC)), "journal rows by id: " + rowsBefore);

      // kill -9 of node b: its worker tree is gone by the lifeline.
      Nodes.Node lost = nodes.get(1);
      List<Procs.Proc> tree = Nodes.tree(lost);
      assertFalse(tree.isEmpty(), "node b has no worker processes");
      Set<Integer> othersWorkers = new HashSet<>();
      for (Nodes.Node n : List.of(nodes.get(0), nodes.get(2))) {
        Nodes.tree(n).forEach(p -> othersWorkers.add(p.pid()));
      }
      Procs.kill(lost.pid(), 9);
      assertEquals(List.of(), Procs.awaitGone(tree, Duration.ofSeconds(10)),
          "node b's workers still alive 10 s after kill -9 of its JVM");
      lost.process.waitFor();

      // Until the survivors remove it, node b is a member that cannot answer: status lists it as unreachable.
      long asked = System.nanoTime();
      JsonNode withLost = statusJson(nodes.get(0), members.get(0));
      long askedMillis = (System.nanoTime() - asked) / 1_000_000;
      JsonNode bEntry = nodeEntry(withLost, members.get(1).address());
      assertFalse(bEntry.get("reachable").asBoolean(), withLost.toString());
      assertTrue(bEntry.get("error").asText().length() > 0, bEntry.toString());
      assertTrue(nodeEntry(withLost, members.get(2).address()).get("reachable").asBoolean(), withLost.toString());
      System.out.println("cluster: status with a killed member answered in " + askedMillis + " ms");

      // The survivors down it (keep-majority: two of three) and remove it.
      String bAddress = members.get(1).address();
      Set<String> survivors = Set.of(members.get(0).address(), members.get(2).address());
      long lostAt = System.nanoTime();
      for (Nodes.Node n : List.of(nodes.get(0), nodes.get(2))) {
        awaitCluster(n, c0 -> addresses(c0.get("members")).equals(survivors)
            && addresses(c0.get("unreachable")).isEmpty(), "node b removed");
      }
      System.out.println("cluster: the survivors removed the killed node " + (System.nanoTime() - lostAt) / 1_000_000
          + " ms after its workers were gone");

      // reap against the shared database finds this node's one open entry, and nothing of the others'.
      Map<String, Long> rowsAfterLoss = journalRows(pg);
      Nodes.Run reap = Nodes.snakepit("reap", "--dry-run", "--data-dir", members.get(1).dataDir().toString(),
          "--instance", members.get(1).instance(), "--config", conf.toString());
      assertEquals(0, reap.exit(), reap.out() + "\n" + reap.err());
      assertTrue(reap.out().contains("would settle: 1 entries"), reap.out());
      assertEquals(rowsAfterLoss, journalRows(pg), "reap --dry-run wrote to the journal");

      // Restarted with the same data directory, instance and port: it rejoins, settling its own entry only.
      Nodes.Node back = start(members.get(1), conf, seeds);
      nodes.set(1, back);
      assertTrue(back.settledLine != null && back.settledLine.startsWith("settled: 1 entries"),
          "the restarted node settles its one open entry: " + back.settledLine);
      assertTrue(back.readyLine.contains(", cluster " + bAddress + " ("), back.readyLine);
      for (Nodes.Node n : nodes) {
        awaitCluster(n, c0 -> upMembers(c0).equals(all), "all three members Up again");
      }
      Map<String, Long> rowsAfter = journalRows(pg);
      assertEquals(rowsAfterLoss.get(idA), rowsAfter.get(idA), "node a's journal rows changed: " + rowsAfter);
      assertEquals(rowsAfterLoss.get(idC), rowsAfter.get(idC), "node c's journal rows changed: " + rowsAfter);
      assertTrue(rowsAfter.get(idB) > rowsAfterLoss.get(idB), "node b journaled nothing: " + rowsAfter);
      for (int pid : othersWorkers) {
        assertTrue(Procs.of(pid).isPresent(), "a process of node a or c (pid " + pid + ") died: " + othersWorkers);
      }
    } finally {
      for (Nodes.Node n : nodes) {
        n.close();
      }
    }
  }

  @Test
  void sameInstanceInAnotherDataDirectoryIsRefusedOnASharedJournal() throws Exception {
    Requires.postgres();
    Path conf = Files.createTempFile("snakepit-twin", ".conf");
    Files.writeString(conf, TestNodes.postgres());
    try (Nodes.Node first = Nodes.serveIn(Files.createTempDirectory("snakepit-twin-1"), "--workers", "1",
        "--instance", "twin", "--config", conf.toString())) {
      Nodes.Run second = Nodes.run(cmd(List.of(), Files.createTempDirectory("snakepit-twin-2"), "--workers", "1",
          "--http", "off", "--listen", "127.0.0.1:" + Nodes.freePort(), "--instance", "twin", "--config",
          conf.toString()), Map.of(), "serve twin");
      assertEquals(1, second.exit(), second.out() + "\n" + second.err());
      assertTrue(second.err().contains("is in use by another live JVM") && second.err().contains("--instance"),
          second.err());
      assertFalse(second.out().contains("ready:"), second.out());
      assertTrue(first.process.isAlive(), "the first node died");
    }
  }

  @Test
  void aNodeTheClusterDownedStopsWithStatusFiveAndItsWorkers() throws Exception {
    Path conf = Files.createTempFile("snakepit-downed", ".conf");
    Files.writeString(conf, "akka.cluster.split-brain-resolver.stable-after = 4s\n");
    // Of two nodes, keep-majority keeps the side with the lowest address: the one on the lower port.
    List<Integer> ports = new ArrayList<>(List.of(Nodes.freePort(), Nodes.freePort()));
    ports.sort(null);
    Member keeper = new Member("downed-a", Files.createTempDirectory("snakepit-downed-a"), ports.get(0));
    Member paused = new Member("downed-b", Files.createTempDirectory("snakepit-downed-b"), ports.get(1));
    String seeds = "127.0.0.1:" + keeper.clusterPort() + ",127.0.0.1:" + paused.clusterPort();
    try (Nodes.Node a = start(keeper, conf, seeds); Nodes.Node b = start(paused, conf, seeds)) {
      Set<String> both = Set.of(keeper.address(), paused.address());
      awaitCluster(a, c0 -> upMembers(c0).equals(both), "both members Up");
      List<Procs.Proc> tree = Nodes.tree(b);
      Procs.kill(b.pid(), 19); // SIGSTOP: b looks lost to a, then comes back downed
      try {
        awaitCluster(a, c0 -> addresses(c0.get("members")).equals(Set.of(keeper.address())), "b removed");
      } finally {
        Procs.kill(b.pid(), 18); // SIGCONT
      }
      assertTrue(b.process.waitFor(60, java.util.concurrent.TimeUnit.SECONDS), "the downed node still runs");
      assertEquals(5, b.process.exitValue(), String.join("\n", b.stderr()));
      assertTrue(b.stderr().stream().anyMatch(l -> l.contains("the cluster downed it")), String.join("\n",
          b.stderr()));
      assertEquals(List.of(), Procs.awaitGone(tree, Duration.ofSeconds(10)), "the downed node's workers still run");
    }
  }

  @Test
  void nodeWithoutClusterFlagsRunsAloneWithNoClusterPort() throws Exception {
    try (Nodes.Node node = Nodes.serve("--workers", "1", "--http", "off")) {
      assertFalse(node.readyLine.contains(", cluster "), node.readyLine);
      assertEquals(Set.of(node.port), listeningPorts(node.pid()),
          "a node without --cluster-port listens only on its gateway's port");
      // A session call takes the node's own path: no cluster pools, no sharding extension, region or entity is ever
      // loaded. (Akka's serialization makes the serializers of every Akka module on the class path, sharding's too.)
      io.grpc.Metadata session = new io.grpc.Metadata();
      session.put(GatewaySession.SESSION, "alone-1");
      io.grpc.ManagedChannel channel = node.channel();
      try {
        io.snakepit.proto.ExecuteResponse r = io.snakepit.proto.GatewayGrpc.newBlockingStub(channel)
            .withInterceptors(io.grpc.stub.MetadataUtils.newAttachHeadersInterceptor(session))
            .withDeadlineAfter(30, java.util.concurrent.TimeUnit.SECONDS)
            .execute(io.snakepit.proto.ExecuteRequest.newBuilder().setTool("pid").build());
        assertTrue(r.hasValue(), r.toString());
      } finally {
        channel.shutdownNow();
      }
      Nodes.Run classes = Nodes.run(List.of("jcmd", Long.toString(node.pid()), "VM.class_hierarchy"), Map.of(),
          "jcmd");
      assertEquals(0, classes.exit(), classes.err());
      assertTrue(classes.out().contains("io.snakepit.Pool/"), "jcmd listed no snakepit class: " + classes.out());
      for (String absent : List.of("io.snakepit.cluster.ClusterPools/", "io.snakepit.cluster.SessionBinding/",
          "akka.cluster.sharding.ClusterSharding/", "akka.cluster.sharding.typed.javadsl.ClusterSharding/",
          "akka.cluster.sharding.ShardRegion/", "akka.cluster.Cluster/")) {
        assertFalse(classes.out().contains(absent), "a node alone loaded " + absent);
      }
    }
  }

  @Test
  void unreachableSeedsEndTheStartWithinTheJoinTimeout() throws Exception {
    int port = Nodes.freePort();
    int nobody = Nodes.freePort();
    long start = System.nanoTime();
    Nodes.Run run = Nodes.run(cmd(List.of("-Dsnakepit.cluster.join-timeout=5s"), Files.createTempDirectory(
        "snakepit-lonely"), "--workers", "1", "--http", "off", "--listen", "127.0.0.1:" + Nodes.freePort(),
        "--cluster-port", Integer.toString(port), "--seed", "127.0.0.1:" + nobody), Map.of(), "serve");
    long took = (System.nanoTime() - start) / 1_000_000;
    assertEquals(1, run.exit(), run.err());
    assertTrue(run.err().contains("snakepit.cluster.join-timeout = 5 s") && run.err().contains("127.0.0.1:" + nobody),
        run.err());
    assertFalse(run.out().contains("ready:"), run.out());
    System.out.println("cluster: serve with an unreachable seed gave up after " + took + " ms");
  }

  @Test
  void badClusterFlagsAreRefusedNamingTheFlag() throws Exception {
    Path data = Files.createTempDirectory("snakepit-bad");
    Nodes.Run noSeed = Nodes.snakepit("serve", "--data-dir", data.toString(), "--cluster-port", "25520");
    assertEquals(2, noSeed.exit(), noSeed.err());
    assertTrue(noSeed.err().contains("--seed 127.0.0.1:25520"), noSeed.err());
    Nodes.Run badSeed = Nodes.snakepit("serve", "--data-dir", data.toString(), "--cluster-port", "25520",
        "--seed", "node1");
    assertEquals(2, badSeed.exit(), badSeed.err());
    assertTrue(badSeed.err().contains("--seed") && badSeed.err().contains("'node1'"), badSeed.err());
    Nodes.Run open = Nodes.snakepit("serve", "--data-dir", data.toString(), "--cluster-port", "25520",
        "--cluster-host", "10.1.2.3", "--seed", "10.1.2.3:25520");
    assertEquals(2, open.exit(), open.err());
    assertTrue(open.err().contains("--cluster-host 10.1.2.3") && open.err().contains("--insecure"), open.err());
  }

  /** Status from node a: all three nodes reachable, each with its own instance, workers and live pids. */
  private static void statusListsEveryNodesWorkers(List<Nodes.Node> nodes, List<Member> members) throws Exception {
    JsonNode status = awaitReachable(nodes.get(0), members.get(0), 3);
    assertEquals(3, status.get("nodes").size(), status.toString());
    assertEquals(3, reachable(status), status.toString());
    assertEquals(members.get(0).instance(), status.get("instance").asText(), "the top level stays node a's own");
    Nodes.Run table = Nodes.snakepit("status", "--target", "127.0.0.1:" + nodes.get(0).port, "--data-dir",
        members.get(0).dataDir().toString(), "--instance", members.get(0).instance());
    assertEquals(0, table.exit(), table.err());
    assertTrue(table.out().startsWith("cluster of 3 nodes, asked from " + members.get(0).instance()), table.out());
    for (int i = 0; i < 3; i++) {
      Member m = members.get(i);
      JsonNode n = nodeEntry(status, m.address());
      assertEquals(m.instance(), n.get("instance").asText(), n.toString());
      assertEquals(i == 0, n.get("self").asBoolean(), n.toString());
      Set<Integer> pids = new HashSet<>();
      n.get("pools").forEach(p -> p.get("workers").forEach(w -> pids.add(w.get("pid").asInt())));
      assertEquals(pythonPids(nodes.get(i)), pids, "node " + m.instance() + "'s workers in " + n);
      String header = "node " + m.instance() + " (" + m.address() + ")";
      List<String> lines = table.out().lines().toList();
      int at = lines.stream().filter(l -> l.startsWith(header)).findFirst().map(lines::indexOf).orElse(-1);
      assertTrue(at >= 0, "no section " + header + " in\n" + table.out());
      for (int pid : pids) {
        assertTrue(Files.isDirectory(Path.of("/proc/" + pid)), "python " + pid + " of " + m.instance());
        // The worker's row is in its node's section: after its header, before the next node's.
        int row = -1;
        for (int k = at + 1; k < lines.size() && !lines.get(k).startsWith("node "); k++) {
          if (lines.get(k).contains(" " + pid + " ")) {
            row = k;
          }
        }
        assertTrue(row > at, "pid " + pid + " not in the section of " + m.instance() + ":\n" + table.out());
      }
    }
  }

  /** The node's status JSON from its gateway's Status method, asked directly (no CLI JVM to start). */
  static JsonNode gatewayStatus(Nodes.Node node) throws Exception {
    ManagedChannel ch = node.channel();
    try {
      return JSON.readTree(GatewayGrpc.newBlockingStub(ch).withDeadlineAfter(10, TimeUnit.SECONDS)
          .status(StatusRequest.getDefaultInstance()).getJson());
    } finally {
      ch.shutdownNow();
    }
  }

  /** {@code snakepit status --json} against the node, through its gateway. */
  static JsonNode statusJson(Nodes.Node node, Member m) throws Exception {
    Nodes.Run r = Nodes.snakepit("status", "--json", "--target", "127.0.0.1:" + node.port, "--data-dir",
        m.dataDir().toString(), "--instance", m.instance());
    assertEquals(0, r.exit(), r.err());
    return JSON.readTree(r.out());
  }

  /**
   * {@link #statusJson} of the node, asked again until it lists {@code count} reachable nodes or 40 s have passed
   * (the Receptionist spreads the other nodes' status actors by gossip); returns the last answer.
   */
  static JsonNode awaitReachable(Nodes.Node node, Member m, int count) throws Exception {
    long deadline = System.nanoTime() + MEMBERSHIP_LIMIT.toNanos();
    JsonNode status = statusJson(node, m);
    while (reachable(status) < count && System.nanoTime() < deadline) {
      Thread.sleep(500);
      status = statusJson(node, m);
    }
    return status;
  }

  static int reachable(JsonNode status) {
    int n = 0;
    for (JsonNode e : status.path("nodes")) {
      n += e.get("reachable").asBoolean() ? 1 : 0;
    }
    return n;
  }

  static JsonNode nodeEntry(JsonNode status, String address) {
    for (JsonNode e : status.get("nodes")) {
      if (e.get("address").asText().equals(address)) {
        return e;
      }
    }
    throw new AssertionError("no node " + address + " in " + status);
  }

  /** The node's Python workers as /proc shows them: its descendants that run snakepit_worker and are no shim. */
  static Set<Integer> pythonPids(Nodes.Node node) {
    Set<Integer> pids = new HashSet<>();
    for (Procs.Proc p : Nodes.tree(node)) {
      String cmdline = Procs.cmdline(p.pid());
      if (cmdline.contains("snakepit_worker") && !cmdline.contains("snakepit-shim")) {
        pids.add(p.pid());
      }
    }
    return pids;
  }

  private static List<String> cmd(List<String> jvm, Path dataDir, String... args) {
    List<String> cmd = Nodes.java(jvm.toArray(String[]::new));
    cmd.addAll(List.of("-jar", Nodes.jar().toString(), "serve", "--data-dir", dataDir.toString()));
    cmd.addAll(List.of(args));
    return cmd;
  }

  static Nodes.Node start(Member m, Path conf, String seeds) throws Exception {
    return start(m, conf, seeds, 1);
  }

  /** Starts member {@code m} with {@code workers} workers in its pool "default" (and the pools {@code conf} has). */
  static Nodes.Node start(Member m, Path conf, String seeds, int workers) throws Exception {
    return Nodes.serveIn(m.dataDir(), "--workers", Integer.toString(workers), "--instance", m.instance(), "--config",
        conf.toString(), "--cluster-port", Integer.toString(m.clusterPort()), "--seed", seeds);
  }

  private static Nodes.Node startUnchecked(Member m, Path conf, String seeds, int workers) {
    try {
      return start(m, conf, seeds, workers);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * Starts three members, each with its configuration file, and waits until the first sees all three Up: the first
   * seed starts the cluster, the other two join it together. The nodes started so far are in {@code into}, for the
   * caller's cleanup, even when a start fails.
   */
  static void startThree(List<Member> members, List<Path> confs, int workers, List<Nodes.Node> into)
      throws Exception {
    String seeds = seeds(members);
    into.add(start(members.get(0), confs.get(0), seeds, workers));
    CompletableFuture<Nodes.Node> b = CompletableFuture.supplyAsync(() -> startUnchecked(members.get(1),
        confs.get(1), seeds, workers));
    CompletableFuture<Nodes.Node> c = CompletableFuture.supplyAsync(() -> startUnchecked(members.get(2),
        confs.get(2), seeds, workers));
    try {
      into.add(b.join());
    } finally {
      into.add(c.join());
    }
    Set<String> all = new HashSet<>();
    members.forEach(m -> all.add(m.address()));
    awaitCluster(into.get(0), c0 -> upMembers(c0).equals(all), "all three members Up");
  }

  /** The {@code --seed} list of {@code members}: each one's loopback cluster address. */
  static String seeds(List<Member> members) {
    return String.join(",", members.stream().map(m -> "127.0.0.1:" + m.clusterPort()).toList());
  }

  /** Three members named {@code prefix-a}, {@code -b}, {@code -c}, each with a fresh data directory and port. */
  static List<Member> members(String prefix) throws IOException {
    List<Member> members = new ArrayList<>();
    for (String name : List.of(prefix + "-a", prefix + "-b", prefix + "-c")) {
      members.add(new Member(name, Files.createTempDirectory("snakepit-" + name), Nodes.freePort()));
    }
    return members;
  }

  /** The persistence id of a node's registry: this host's name and its instance. */
  static String persistenceId(Member m) throws IOException {
    return "snakepit-registry|" + Files.readString(Path.of("/proc/sys/kernel/hostname")).trim() + "|" + m.instance();
  }

  /** Journal rows by persistence id, in the shared database. */
  private static Map<String, Long> journalRows(PostgresServer pg) throws SQLException {
    Map<String, Long> rows = new TreeMap<>();
    try (Connection c = DriverManager.getConnection(pg.jdbcUrl(), pg.user(), pg.password());
        Statement s = c.createStatement();
        ResultSet r = s.executeQuery("SELECT persistence_id, count(*) FROM event_journal"
            + " WHERE persistence_id LIKE 'snakepit-registry|%|cluster-%' GROUP BY persistence_id")) {
      while (r.next()) {
        rows.put(r.getString(1), r.getLong(2));
      }
    }
    return rows;
  }

  /**
   * Node {@code node}'s /metrics list every member's pool "default" with its capacity (1 worker, concurrency 1), the
   * cluster's metric names with their labels, and the members by status, within the membership limit (the other
   * nodes' loads come every load-interval).
   */
  private static void metricsListEveryNode(Nodes.Node node, List<Member> members) throws Exception {
    String base = HttpPages.base(node, HTTP);
    long deadline = System.nanoTime() + MEMBERSHIP_LIMIT.toNanos();
    String text = "";
    while (System.nanoTime() < deadline) {
      text = CLIENT.send(HttpRequest.newBuilder(URI.create(base + "/metrics")).timeout(Duration.ofSeconds(5)).build(),
          HttpResponse.BodyHandlers.ofString()).body();
      String scraped = text;
      if (members.stream().allMatch(m -> Scrapes.value(scraped, "snakepit_cluster_pool_capacity",
          Map.of("node", m.address(), "pool", "default")) == 1.0)
          && Scrapes.value(scraped, "snakepit_cluster_members", Map.of("status", "up")) == 3.0) {
        break;
      }
      Thread.sleep(200);
    }
    for (Member m : members) {
      assertEquals(1.0, Scrapes.value(text, "snakepit_cluster_pool_capacity", Map.of("node", m.address(), "pool",
          "default")), m.address() + " in:\n" + text);
      assertEquals(0.0, Scrapes.value(text, "snakepit_cluster_pool_calls", Map.of("node", m.address(), "pool",
          "default")), m.address() + " in:\n" + text);
    }
    assertEquals(3.0, Scrapes.value(text, "snakepit_cluster_members", Map.of("status", "up")), text);
    assertEquals(0.0, Scrapes.value(text, "snakepit_cluster_members", Map.of("status", "unreachable")), text);
    for (Map.Entry<String, List<String>> metric : NodeMetrics.CLUSTER_PROMETHEUS_NAMES.entrySet()) {
      for (String label : metric.getValue()) {
        assertTrue(Pattern.compile("^" + metric.getKey() + "\\{[^}]*" + label + "=\"", Pattern.MULTILINE)
            .matcher(text).find(), metric.getKey() + " without label " + label + " in:\n" + text);
      }
    }
  }

  /** Polls the node's /health until its {@code cluster} section satisfies {@code done}, at most 40 s. */
  static JsonNode awaitCluster(Nodes.Node node, Predicate<JsonNode> done, String what) throws Exception {
    String base = HttpPages.base(node, HTTP);
    long deadline = System.nanoTime() + MEMBERSHIP_LIMIT.toNanos();
    JsonNode cluster = null;
    while (System.nanoTime() < deadline) {
      HttpResponse<String> r = CLIENT.send(HttpRequest.newBuilder(URI.create(base + "/health"))
          .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
      cluster = JSON.readTree(r.body()).get("cluster");
      assertTrue(cluster != null, "/health has no cluster section: " + r.body());
      if (done.test(cluster)) {
        return cluster;
      }
      Thread.sleep(200);
    }
    throw new AssertionError("not " + what + " within " + MEMBERSHIP_LIMIT.toSeconds() + " s; last seen " + cluster);
  }

  static Set<String> upMembers(JsonNode cluster) {
    Set<String> up = new HashSet<>();
    cluster.get("members").forEach(m -> {
      if (m.get("status").asText().equals("Up")) {
        up.add(m.get("address").asText());
      }
    });
    return up;
  }

  static Set<String> addresses(JsonNode list) {
    Set<String> out = new HashSet<>();
    list.forEach(e -> out.add(e.isObject() ? e.get("address").asText() : e.asText()));
    return out;
  }

  /** The TCP ports process {@code pid} listens on: its socket inodes matched against /proc/net/tcp and tcp6. */
  private static Set<Integer> listeningPorts(int pid) throws IOException {
    Set<String> inodes = new HashSet<>();
    try (var fds = Files.list(Path.of("/proc", Integer.toString(pid), "fd"))) {
      for (Path fd : fds.toList()) {
        try {
          String target = Files.readSymbolicLink(fd).toString();
          if (target.startsWith("socket:[")) {
            inodes.add(target.substring("socket:[".length(), target.length() - 1));
          }
        } catch (IOException gone) {
          // closed meanwhile
        }
      }
    }
    Set<Integer> ports = new HashSet<>();
    for (String table : List.of("/proc/net/tcp", "/proc/net/tcp6")) {
      List<String> lines = Files.readAllLines(Path.of(table));
      for (String line : lines.subList(1, lines.size())) {
        String[] f = line.trim().split("\\s+");
        // local_address is HEXIP:HEXPORT, st 0A is LISTEN, the inode is the tenth field.
        if (f[3].equals("0A") && inodes.contains(f[9])) {
          ports.add(Integer.parseInt(f[1].substring(f[1].indexOf(':') + 1), 16));
        }
      }
    }
    assertNotEquals(0, ports.size(), "process " + pid + " listens on no TCP port at all");
    return ports;
  }
}
