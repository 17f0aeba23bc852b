package io.snakepit.bench;

import io.snakepit.shim.ProcStat;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The benchmark suite: {@code benchmarks/run [--quick] [--only id,id] [--runs N]}. Writes
 * {@code benchmarks/results/<date>.json} and {@code .md} (a quick run writes under benchmarks/target instead), and
 * fails when any process it started outlived its measurement.
 */
public final class Suite {

  /** A benchmark and its short key, for {@code --only} and the ids of its measurements. */
  record Entry(String id, Bench bench) {}

  /** Every benchmark, in the order they run. */
  static List<Entry> all() {
    return List.of(new Entry("start", new StartBench()), new Entry("isolation", StartBench::isolationModes),
        new Entry("dispatch", new DispatchBench()), new Entry("gateway", new GatewayBench()),
        new Entry("peers", new PeersBench()), new Entry("cluster", new ClusterBench()),
        new Entry("kill", new KillBench()), new Entry("settlement", new SettlementBench()),
        new Entry("cycles", new CyclesBench()), new Entry("memory", new MemoryBench()),
        new Entry("crashes", new CrashesBench()), new Entry("flood", new FloodBench()),
        new Entry("scale", new ScaleBench()), new Entry("stop", new StopBench()),
        new Entry("restart", new RestartBench()));
  }

  public static void main(String[] args) throws Exception {
    org.slf4j.LoggerFactory.getLogger(Suite.class); // logging first: SLF4J otherwise warns about replayed calls
    System.exit(run(args));
  }

  /** Runs the suite; returns the exit status: 0, or 1 when a process outlived its benchmark. */
  public static int run(String... args) throws Exception {
    List<String> argv = Arrays.asList(args);
    boolean quick = argv.contains("--quick");
    Set<String> only = Set.copyOf(value(argv, "--only").map(v -> List.of(v.split(","))).orElse(List.of()));
    int runs = value(argv, "--runs").map(Integer::parseInt).orElse(quick ? 2 : 5);
    Path root = Path.of(System.getProperty("snakepit.root", ".")).toAbsolutePath().normalize();
    String python = System.getProperty("snakepit.python", root.resolve(".venv/bin/python").toString());
    Path results = value(argv, "--results").map(Path::of).orElse(quick ? root.resolve("benchmarks/target/quick")
        : root.resolve("benchmarks/results"));
    Path scratch = Files.createTempDirectory("snakepit-bench");
    Context context = new Context(quick, runs, python, root, scratch);

    long started = System.nanoTime();
    List<Measurement> measurements = new ArrayList<>();
    List<String> leaks = new ArrayList<>();
    for (Entry bench : all()) {
      if (!only.isEmpty() && !only.contains(bench.id())) {
        continue;
      }
      System.out.println("== " + bench.id());
      List<Measurement> got = bench.bench().run(context);
      for (Measurement m : got) {
        System.out.println("  " + m.title() + ": " + Report.fmt(m.subject().median()) + " " + m.unit()
            + (m.ratio() == null ? "" : String.format(Locale.ROOT, " (%.2fx %s)", m.ratio(),
            m.baseline().name())) + (m.goalMet() == null ? "" : m.goalMet() ? " goal met" : " GOAL MISSED: "
            + m.goal().text()));
      }
      measurements.addAll(got);
      List<String> left = leftovers();
      if (!left.isEmpty()) {
        leaks.add(bench.id() + ": " + left);
      }
    }
    double seconds = (System.nanoTime() - started) / 1e9;
    String name = LocalDate.now() + (quick ? "-quick" : "");
    String command = "benchmarks/run" + (args.length == 0 ? "" : " " + String.join(" ", args));
    Map<String, String> machine = Machine.describe(python);
    new Report(name, command, machine, measurements, seconds).write(results);
    System.out.println("results: " + results.resolve(name + ".md") + " (" + Math.round(seconds) + " s)");
    if (!leaks.isEmpty()) {
      System.out.println("LEAKED: processes outlived their benchmark: " + leaks);
      return 1;
    }
    System.out.println("leaks: none (no process of a benchmark node outlived it)");
    return 0;
  }

  /** Live processes of this run's nodes (their instance names start with bench-PID-), and children of this JVM. */
  static List<String> leftovers() throws InterruptedException {
    String prefix = "bench-" + ProcessHandle.current().pid() + "-";
    long deadline = System.nanoTime() + 10_000_000_000L;
    List<String> left;
    do {
      left = new ArrayList<>();
      for (ProcStat p : ProcStat.all()) {
        if (p.state() == 'Z') {
          continue;
        }
        String instance = ProcStat.environ(p.pid()).map(env -> env.getOrDefault("SNAKEPIT_INSTANCE", ""))
            .orElse("");
        if (instance.startsWith(prefix) || p.ppid() == ProcessHandle.current().pid()) {
          left.add(p.pid() + " " + instance);
        }
      }
      if (!left.isEmpty()) {
        Thread.sleep(100);
      }
    } while (!left.isEmpty() && System.nanoTime() < deadline);
    return left;
  }

  private static Optional<String> value(List<String> args, String flag) {
    int i = args.indexOf(flag);
    return i >= 0 && i + 1 < args.size() ? Optional.of(args.get(i + 1)) : Optional.empty();
  }
}
