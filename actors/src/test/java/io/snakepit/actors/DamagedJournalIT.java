package io.snakepit.actors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import io.snakepit.persistence.Registry;
import io.snakepit.persistence.Settlement;
import io.snakepit.persistence.SettlementReport;
import io.snakepit.testing.NodeProcess;
import io.snakepit.testing.Procs;
import io.snakepit.testing.TestNodes;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The journal is the primary record, never the only one: when it is damaged, rolled back or gone, settlement still
 * finds the trees a dead JVM left by the markers in their environment, and says what happened to the journal.
 */
class DamagedJournalIT {

  /** What happens to the journal file between the JVM's death and the next start. */
  enum Damage {
    /** Random bytes from offset 8192 to the end: H2 falls back to an older state without a word. */
    OVERWRITTEN,
    /** Cut to half its length. */
    TRUNCATED,
    /** Random bytes all over, headers included: H2 cannot open it at all. */
    GARBAGE,
    /** The whole data directory removed: no journal, no lock file. */
    DELETED;

    void apply(Path dataDir, String instance) throws IOException {
      Path file = dataDir.resolve("registry-" + instance + ".mv.db");
      assertTrue(Files.isRegularFile(file), "no journal at " + file);
      Random random = new Random(42);
      switch (this) {
        case OVERWRITTEN -> overwrite(file, 8192, random);
        case TRUNCATED -> {
          try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(f.length() / 2);
          }
        }
        case GARBAGE -> overwrite(file, 0, random);
        case DELETED -> deleteTree(dataDir);
      }
    }
  }

  private static void overwrite(Path file, long from, Random random) throws IOException {
    try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
      byte[] noise = new byte[(int) (f.length() - from)];
      random.nextBytes(noise);
      f.seek(from);
      f.write(noise);
    }
  }

  private static void deleteTree(Path dir) throws IOException {
    try (Stream<Path> paths = Files.walk(dir)) {
      for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
        Files.delete(p);
      }
    }
  }

  private static String dataDir(Path dir) {
    return "snakepit.data-dir = \"" + dir + "\"\n";
  }

  private static final String FORKING = """
      snakepit.pools.default { workers = 2, adapter = "snakepit_worker.examples.forking:ForkingAdapter" }
      """;

  private static List<Procs.Proc> orphansOfAKilledNode(String overrides) throws Exception {
    List<Procs.Proc> orphans = NodeProcess.orphansOfAKilledNode(overrides, 2);
    assertTrue(orphans.size() >= 6, "expected orphans to survive the kill, found " + orphans);
    return orphans;
  }

  private static SettlementReport settle(String overrides) {
    ActorTestKit kit = ActorTestKit.create("registry", TestNodes.config(overrides));
    try {
      Registry r = Registry.open(kit.system(), kit.system().settings().config().getConfig("snakepit"));
      return r.settle(false).toCompletableFuture().get(60, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new AssertionError(e);
    } finally {
      kit.shutdownTestKit();
    }
  }

  @ParameterizedTest
  @EnumSource(Damage.class)
  void everyOrphanIsSettledAndTheDamageReportedWhateverHappenedToTheJournal(Damage damage) throws Exception {
    Path dir = Files.createTempDirectory("snakepit-damaged-");
    String overrides = dataDir(dir) + FORKING;
    List<Procs.Proc> orphans = orphansOfAKilledNode(overrides);
    damage.apply(dir, TestNodes.INSTANCE);

    SettlementReport report = settle(overrides);

    assertEquals(List.of(), Procs.awaitGone(orphans, Duration.ofSeconds(10)), "orphans left: " + report.table());
    assertEquals(2, report.count(Settlement.KILLED), report.table());
    assertFalse(report.journalWarnings().isEmpty(), "no word about the journal: " + report.summary());
    assertTrue(report.summary().contains("JOURNAL: "), report.summary());
    String file = dir.resolve("registry-" + TestNodes.INSTANCE + ".mv.db").toString();
    assertTrue(report.journalWarnings().stream().anyMatch(w -> w.contains(file) || w.contains(".lock")),
        "the warning names no file: " + report.journalWarnings());
    if (damage == Damage.GARBAGE) {
      try (Stream<Path> files = Files.list(dir)) {
        assertTrue(files.anyMatch(p -> p.getFileName().toString().contains(".mv.db.damaged-")),
            "the unreadable journal was not kept aside");
      }
    }
    // The node that follows finds a sound journal: nothing to report, nothing open.
    SettlementReport next = settle(overrides);
    assertEquals(List.of(), next.journalWarnings(), next.summary());
    assertEquals(0, next.rows().size(), next.table());
    deleteTree(dir);
  }

  @Test
  void aSoundJournalIsNotReportedAsDamaged() throws Exception {
    Path dir = Files.createTempDirectory("snakepit-sound-");
    String overrides = dataDir(dir) + FORKING;
    List<Procs.Proc> orphans = orphansOfAKilledNode(overrides);

    SettlementReport report = settle(overrides);

    assertEquals(List.of(), Procs.awaitGone(orphans, Duration.ofSeconds(10)), report.table());
    assertEquals(List.of(), report.journalWarnings(), report.summary());
    assertEquals(0, report.untracked(), report.table());
    assertEquals(2, report.count(Settlement.KILLED), report.table());
    deleteTree(dir);
  }

  @Test
  void aLiveNodeOfTheSameNameWithAnotherDataDirectoryIsNeverTouched() throws Exception {
    Path live = Files.createTempDirectory("snakepit-live-");
    Path other = Files.createTempDirectory("snakepit-other-");
    try (NodeProcess node = NodeProcess.start(List.of(), dataDir(live) + FORKING, "spawn_tree", "2")) {
      assertTrue(node.ready(), node.lines + node.stderr());
      List<Procs.Proc> tree = Procs.descendants(node.pid());
      assertTrue(tree.size() >= 10, tree.toString());

      // Same instance name, another data directory: an empty journal and every one of those processes in /proc.
      SettlementReport report = settle(dataDir(other) + "snakepit.instance = \"" + TestNodes.INSTANCE + "\"\n");

      assertEquals(0, report.rows().size(), report.table());
      Thread.sleep(500);
      assertEquals(List.of(), tree.stream().filter(p -> !p.alive()).toList(), "processes of the live node died");
    }
    deleteTree(live);
    deleteTree(other);
  }

  @Test
  void treesWithTheInstanceMarkerButNoRegistryMarkerAreLeftAlone() throws Exception {
    Path dir = Files.createTempDirectory("snakepit-foreign-");
    String nonce = UUID.randomUUID().toString().substring(0, 16);
    ProcessBuilder pb = new ProcessBuilder("sleep", "60");
    pb.environment().put("SNAKEPIT_INSTANCE", TestNodes.INSTANCE);
    pb.environment().put("SNAKEPIT_NONCE", nonce);
    Process foreign = pb.start();
    try {
      SettlementReport report = settle(dataDir(dir));
      assertEquals(0, report.rows().size(), report.table());
      assertTrue(foreign.isAlive(), "a process without this registry's marker was signalled");
    } finally {
      foreign.destroyForcibly();
      foreign.waitFor(10, TimeUnit.SECONDS);
      deleteTree(dir);
    }
  }
}
