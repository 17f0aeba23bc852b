package io.snakepit.bench;

import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.snakepit.proto.ExecuteRequest;
import io.snakepit.proto.ExecuteResponse;
import io.snakepit.proto.GatewayGrpc;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.ToDoubleFunction;
import java.util.regex.Matcher;

/**
 * Restart: the time from the start of a restart of {@code snakepit serve} (the project's jar, a JVM of its own) until
 * the next serve with the same data directory and instance has answered a first {@code ping} through its gateway. A
 * planned restart ({@code snakepit detach}: the workers wait, the next serve adopts them) against a cold one (SIGTERM:
 * the workers stop, the next serve starts fresh ones) and a take-over ({@code serve --take-over} launched while the old
 * serve still serves: it asks the old one to detach once its own JVM is up, and adopts), the three taking turns in each
 * run, for two adapters: the basic one (imports only) and one whose setup() sleeps 2 s, standing in for a model load.
 * docs/PERFORMANCE.md, "Restart".
 */
final class RestartBench implements Bench {
  static final int WORKERS = 2;
  private static final Duration POLL = Duration.ofMillis(5);
  private static final Duration READY_LIMIT = Duration.ofMinutes(2);
  private static final String PLANNED = "planned: snakepit detach, the next serve adopts";
  private static final String COLD = "cold: SIGTERM, the next serve starts fresh workers";
  private static final String TAKE_OVER = "take-over: serve --take-over launched while the old serve serves";

  /** An adapter measured, and the key of its measurements. */
  private record Case(String key, String adapter, String what) {}

  private static final List<Case> CASES = List.of(
      new Case("basic", "snakepit_worker.examples.basic:BasicAdapter", "basic adapter (imports only)"),
      new Case("model", "snakepit_worker.examples.slow_start:SlowStartAdapter",
          "adapter whose setup() takes 2 s (a model load)"));

  /**
   * One restart, its moments in nanoseconds from its start (the detach command's launch, or SIGTERM): the old serve's
   * signal (its detaching line; 0 for SIGTERM), its exit, the next serve's launch, its settled and ready lines, and
   * the first answered call.
   */
  private record Restart(double signalled, double exited, double launched, double settled, double ready, double answered) {
    double ms(double nanos) {
      return nanos / 1e6;
    }
  }

  @Override
  public List<Measurement> run(Context c) throws Exception {
    Path jar = c.nodeJar("restart");
    List<Measurement> out = new ArrayList<>();
    for (Case k : CASES) {
      out.addAll(measure(c, jar, k));
    }
    return out;
  }

  private static List<Measurement> measure(Context c, Path jar, Case k) throws Exception {
    String instance = c.freshInstance("bench");
    Path data = Files.createDirectories(c.scratch().resolve("restart-" + instance));
    List<Restart> planned = new ArrayList<>();
    List<Restart> cold = new ArrayList<>();
    List<Restart> takeOver = new ArrayList<>();
    Served node = Served.start(c, jar, k.adapter(), data, instance, false);
    try {
      node.awaitReady();
      node.firstAnswer(); // also warms this JVM's client path before anything counts
      for (int run = 0; run < c.runs(); run++) {
        planned.add(restart(c, jar, k, node, true));
        node = node.next;
        cold.add(restart(c, jar, k, node, false));
        node = node.next;
        takeOver.add(takeOver(c, jar, k, node));
        node = node.next;
      }
    } finally {
      while (node.next != null) { // a restart that failed half-way: its next serve is the one running
        node = node.next;
      }
      try {
        node.stopAndCheck();
      } finally {
        List<ProcessTree.Proc> left = ProcessTree.withInstance(instance);
        if (!left.isEmpty()) {
          ProcessTree.kill(left);
          throw new IllegalStateException(left.size() + " processes of instance " + instance + " outlived the"
              + " restart benchmark's last node (killed): " + left);
        }
      }
    }
    return measurements(k, planned, cold, takeOver);
  }

  /**
   * Restarts {@code old} by launching {@code serve --take-over} beside it (the restart's start), until the new serve's
   * first answered ping; the old serve must detach (its detaching line) and exit 0, the new one adopt every worker.
   * The next serve is left in {@code old.next}. {@code launched} is 0: the launch is the start.
   */
  private static Restart takeOver(Context c, Path jar, Case k, Served old) throws Exception {
    List<ProcessTree.Proc> trees = old.workerTrees();
    if (trees.isEmpty()) {
      throw new IllegalStateException("the node " + old.jvm.pid() + " has no worker processes of instance "
          + old.instance + " to take over");
    }
    CompletableFuture<Long> exit = old.jvm.onExit().thenApply(p -> System.nanoTime());
    long t0 = System.nanoTime();
    Served next = Served.start(c, jar, k.adapter(), old.data, old.instance, true);
    old.next = next;
    String ready = next.awaitReady();
    long answered = next.firstAnswer();
    if (!old.jvm.waitFor(60, TimeUnit.SECONDS)) {
      throw new IllegalStateException("the node " + old.jvm.pid() + " still ran 60 s after serve --take-over started"
          + "; its log: " + old.log());
    }
    if (old.jvm.exitValue() != 0) {
      throw new IllegalStateException("the node " + old.jvm.pid() + " exited " + old.jvm.exitValue()
          + " after serve --take-over, not 0: " + old.log());
    }
    if (!ready.contains(", adopted " + WORKERS + ", ")) {
      throw new IllegalStateException("serve --take-over did not adopt the " + WORKERS + " workers, so this would"
          + " time a cold start: " + ready + "; its log: " + next.log());
    }
    List<ProcessTree.Proc> gone = trees.stream().filter(p -> !p.alive()).toList();
    if (!gone.isEmpty()) {
      throw new IllegalStateException("processes of the adopted trees ended in a take-over: " + gone);
    }
    old.closeChannel();
    double signalled = old.detachingAt - t0;
    if (signalled < 0) {
      throw new IllegalStateException("the node " + old.jvm.pid() + " printed no detaching line: " + old.log());
    }
    return new Restart(signalled, exit.get(10, TimeUnit.SECONDS) - t0, 0, next.settled.getNow(-1L) - t0,
        next.readyAt - t0, answered - t0);
  }

  /**
   * Restarts {@code old}: {@code snakepit detach} (planned) or SIGTERM (cold), then the next serve on the same data
   * directory and instance, until its first answered ping. The next serve is left in {@code old.next}.
   */
  private static Restart restart(Context c, Path jar, Case k, Served old, boolean planned) throws Exception {
    List<ProcessTree.Proc> trees = old.workerTrees();
    if (trees.isEmpty()) {
      throw new IllegalStateException("the node " + old.jvm.pid() + " has no worker processes of instance "
          + old.instance + " to restart with");
    }
    long t0 = System.nanoTime();
    if (!planned) {
      old.jvm.destroy(); // SIGTERM, as a service manager stops a node
      return restarted(c, jar, k, old, trees, t0, null);
    }
    Process detach = new ProcessBuilder(java(), "-jar", jar.toString(), "detach", "--data-dir", old.data.toString(),
        "--instance", old.instance, "--timeout", "60").redirectErrorStream(true)
        .redirectOutput(c.scratch().resolve("detach-" + old.instance + ".log").toFile()).start();
    try {
      return restarted(c, jar, k, old, trees, t0, detach);
    } finally {
      if (detach.isAlive()) { // a restart that failed: the detach command is not left behind
        ChildDeadline.reap(detach);
      }
    }
  }

  /** The rest of a restart once it has begun at {@code t0}; {@code detach} is null for SIGTERM. */
  private static Restart restarted(Context c, Path jar, Case k, Served old, List<ProcessTree.Proc> trees, long t0,
      Process detach) throws Exception {
    boolean planned = detach != null;
    if (!old.jvm.waitFor(60, TimeUnit.SECONDS)) {
      throw new IllegalStateException("the node " + old.jvm.pid() + " still ran 60 s after "
          + (planned ? "snakepit detach" : "SIGTERM") + "; its log: " + old.log());
    }
    long exited = System.nanoTime();
    if (old.jvm.exitValue() != 0 && planned) {
      throw new IllegalStateException("the node " + old.jvm.pid() + " exited " + old.jvm.exitValue()
          + " after snakepit detach, not 0: " + old.log());
    }
    Served next = Served.start(c, jar, k.adapter(), old.data, old.instance, false);
    old.next = next;
    long launched = next.launched;
    String ready = next.awaitReady();
    long answered = next.firstAnswer();
    if (detach != null) {
      ChildDeadline.reap(detach);
      if (detach.exitValue() != 0) {
        throw new IllegalStateException("snakepit detach exited " + detach.exitValue() + ": "
            + Files.readString(c.scratch().resolve("detach-" + old.instance + ".log")));
      }
    }
    // Check that it measured what it says: the same trees serve on after a planned restart, none after a cold one.
    if (planned) {
      if (!ready.contains(", adopted " + WORKERS + ", ")) {
        throw new IllegalStateException("after snakepit detach the next serve did not adopt its " + WORKERS
            + " workers, so this would time a cold start: " + ready + "; its log: " + next.log());
      }
      List<ProcessTree.Proc> gone = trees.stream().filter(p -> !p.alive()).toList();
      if (!gone.isEmpty()) {
        throw new IllegalStateException("processes of the adopted trees ended in a planned restart: " + gone);
      }
    } else {
      if (ready.contains(", adopted ")) {
        throw new IllegalStateException("after SIGTERM the next serve adopted workers: " + ready);
      }
      List<ProcessTree.Proc> left = ProcessTree.awaitGone(trees, POLL, Duration.ofSeconds(10));
      if (!left.isEmpty()) {
        throw new IllegalStateException("the stopped node's worker trees outlived it by 10 s: " + left);
      }
    }
    old.closeChannel();
    double signalled = planned ? old.detachingAt - t0 : 0;
    if (signalled < 0) {
      throw new IllegalStateException("the node " + old.jvm.pid() + " printed no detaching line: " + old.log());
    }
    return new Restart(signalled, exited - t0, launched - t0, next.settled.getNow(-1L) - t0, next.readyAt - t0,
        answered - t0);
  }

  private static List<Measurement> measurements(Case k, List<Restart> planned, List<Restart> cold,
      List<Restart> takeOver) {
    String setup = WORKERS + " workers of the " + k.what() + ", serve --adopt-window 60s from cli/target/snakepit.jar,"
        + " the same data directory and instance throughout; planned and cold take turns in each run. From the"
        + " start of the restart (the detach command's launch, or SIGTERM) until the next serve answered a ping"
        + " through its gateway, polled from its ready line. The old serve has the signal when it prints its detaching"
        + " line (planned: the detach command's own JVM start before it), at once for SIGTERM. Planned: " + breakdown(planned) + ". Cold: "
        + breakdown(cold) + ". Take-over: " + breakdown(takeOver) + " (from serve --take-over's launch).";
    boolean model = k.key().equals("model");
    String reading = model
        ? " The workers' setup (2 s, the two side by side) and imports are what the planned restart saves; both"
            + " sides still pay the next serve's JVM start, and the planned side the detach command's."
        : " Both sides pay the next serve's JVM start, and the planned side also the detach command's; they"
            + " dominate here, as the basic workers start in about 0.2 s: the goal is about the model-load case.";
    List<Measurement> out = new ArrayList<>();
    out.add(new Measurement("restart." + k.key() + ".first-call", "Restart",
        "restart until the first answered call, " + k.what(), "ms",
        new Series(PLANNED, each(planned, r -> r.ms(r.answered()))),
        new Series(COLD, each(cold, r -> r.ms(r.answered()))),
        model ? Goal.ratioAtMost(0.2, "<= 0.2x the cold start") : Goal.none(), setup + reading));
    out.add(new Measurement("restart." + k.key() + ".jvm", "Restart",
        "of which the next serve's JVM start (launch to its settled line), " + k.what(), "ms",
        new Series(PLANNED, each(planned, r -> r.ms(r.settled() - r.launched()))),
        new Series(COLD, each(cold, r -> r.ms(r.settled() - r.launched()))), Goal.none(),
        "From the next serve's launch to its settled: line (the JVM, the configuration, the journal's opening and"
            + " the settlement; adoption comes after), in the same runs."));
    out.add(new Measurement("restart." + k.key() + ".after-settled", "Restart",
        "of which the next serve's settled line to the first answered call, " + k.what(), "ms",
        new Series(PLANNED, each(planned, r -> r.ms(r.answered() - r.settled()))),
        new Series(COLD, each(cold, r -> r.ms(r.answered() - r.settled()))), Goal.none(),
        "What adoption changes, in the same runs: the planned side attaches to the waiting workers, journals and"
            + " pings them; the cold side starts its workers (their imports and setup). Neither JVM's start is in"
            + " it."));
    out.add(new Measurement("restart." + k.key() + ".take-over.gap", "Restart",
        "time without service in a take-over, " + k.what(), "ms",
        new Series(TAKE_OVER, each(takeOver, r -> r.ms(r.answered() - r.signalled()))),
        new Series(COLD, each(cold, r -> r.ms(r.answered()))),
        model ? Goal.ratioAtMost(0.2, "<= 0.2x the cold start") : Goal.none(),
        "In the same runs: from the old serve's detaching line (it takes no new call from then on) until the"
            + " take-over serve answered a ping, against the cold restart's SIGTERM to first answer. The take-over"
            + " serve's JVM, configuration and actor system start while the old one still serves; what is left is"
            + " the old serve's detach and exit, the new one's journal opening, settlement and adoption."));
    out.add(new Measurement("restart." + k.key() + ".take-over.handover", "Restart",
        "take-over from the launch of serve --take-over until the first answered call, " + k.what(), "ms",
        new Series(TAKE_OVER, each(takeOver, r -> r.ms(r.answered()))),
        new Series(COLD, each(cold, r -> r.ms(r.answered()))), Goal.none(),
        "The whole handover in the same runs, the old serve serving for its first part: from serve --take-over's"
            + " launch until it answered a ping, against the cold restart's SIGTERM to first answer."));
    return out;
  }

  /** The medians of each step, for the note. */
  private static String breakdown(List<Restart> runs) {
    return String.format(Locale.ROOT, "the old serve had the signal after %.0f ms and exited after %.0f ms, next serve launched to settled %.0f ms, settled to"
            + " ready %.0f ms, ready to first answer %.0f ms (medians)",
        median(runs, r -> r.ms(r.signalled())), median(runs, r -> r.ms(r.exited())), median(runs, r -> r.ms(r.settled() - r.launched())),
        median(runs, r -> r.ms(r.ready() - r.settled())), median(runs, r -> r.ms(r.answered() - r.ready())));
  }

  private static double median(List<Restart> runs, ToDoubleFunction<Restart> value) {
    return new Series("", each(runs, value)).median();
  }

  private static List<Double> each(List<Restart> runs, ToDoubleFunction<Restart> value) {
    return runs.stream().map(value::applyAsDouble).toList();
  }

  private static String java() {
    return Path.of(System.getProperty("java.home"), "bin", "java").toString();
  }

  /** A serve in a JVM of its own, its settled and ready lines timed as its stdout prints them. */
  private static final class Served {
    final Process jvm;
    final long launched;
    final Path data;
    final String instance;
    final Path stdout;
    final Path stderr;
    final CompletableFuture<Long> settled = new CompletableFuture<>();
    final CompletableFuture<String> ready = new CompletableFuture<>();
    volatile long readyAt;
    volatile long detachingAt = Long.MIN_VALUE / 2;
    Served next;
    private ManagedChannel channel;

    private Served(Process jvm, long launched, Path data, String instance, Path stdout, Path stderr) {
      this.jvm = jvm;
      this.launched = launched;
      this.data = data;
      this.instance = instance;
      this.stdout = stdout;
      this.stderr = stderr;
    }

    static Served start(Context c, Path jar, String adapter, Path data, String instance, boolean takeOver)
        throws IOException {
      Path stdout = Files.createTempFile(c.scratch(), "restart-serve", ".out");
      Path stderr = Files.createTempFile(c.scratch(), "restart-serve", ".err");
      List<String> cmd = new ArrayList<>(List.of(java(), "-jar", jar.toString(), "serve", "--workers",
          Integer.toString(WORKERS), "--adapter", adapter, "--python", c.python(), "--data-dir", data.toString(),
          "--instance", instance, "--listen", "127.0.0.1:0", "--adopt-window", "60s"));
      if (takeOver) {
        cmd.add("--take-over");
      }
      long launched = System.nanoTime();
      Process jvm = new ProcessBuilder(cmd).redirectError(stderr.toFile()).start();
      Served s = new Served(jvm, launched, data, instance, stdout, stderr);
      Thread reader = new Thread(s::read, "restart-serve-stdout");
      reader.setDaemon(true);
      reader.start();
      return s;
    }

    /** Times the settled and ready lines as they come, and keeps every line in {@link #stdout}. */
    private void read() {
      try (BufferedReader out = new BufferedReader(new InputStreamReader(jvm.getInputStream(),
          StandardCharsets.UTF_8))) {
        for (String line = out.readLine(); line != null; line = out.readLine()) {
          long now = System.nanoTime();
          if (line.startsWith("settled:")) {
            settled.complete(now);
          } else if (line.startsWith("detaching:")) {
            detachingAt = now;
          } else if (line.startsWith("ready:")) {
            readyAt = now;
            ready.complete(line);
          }
          Files.writeString(stdout, line + "\n", StandardCharsets.UTF_8, StandardOpenOption.APPEND);
        }
      } catch (IOException e) {
        // the node is gone
      }
      settled.complete(-1L);
      ready.complete(null);
    }

    /** The ready line; fails with the node's log if it exits first or takes longer than the limit. */
    String awaitReady() throws Exception {
      String line;
      try {
        line = ready.get(READY_LIMIT.toSeconds(), TimeUnit.SECONDS);
      } catch (TimeoutException e) {
        throw new IllegalStateException("the node " + jvm.pid() + " was not ready within " + READY_LIMIT + ": "
            + log());
      }
      if (line == null) {
        throw new IllegalStateException("the node " + jvm.pid() + " ended without a ready line: " + log());
      }
      Matcher m = GatewayBench.READY.matcher(line);
      if (!m.matches() || settled.getNow(-1L) < 0) {
        throw new IllegalStateException("the node " + jvm.pid() + " printed no settled line or a ready line without"
            + " its gateway and token: " + line + "; " + log());
      }
      channel = GatewayBench.channel(m.group(1), Integer.parseInt(m.group(2)), Path.of(m.group(3)));
      return line;
    }

    /** Pings through the gateway until a call is answered (within a minute); returns when, in nanoTime. */
    long firstAnswer() throws Exception {
      GatewayGrpc.GatewayBlockingStub stub = GatewayGrpc.newBlockingStub(channel);
      ExecuteRequest ping = ExecuteRequest.newBuilder().setTool("ping").setArgsJson("{}").build();
      long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(1);
      StatusRuntimeException last = null;
      while (System.nanoTime() < deadline) {
        try {
          ExecuteResponse r = stub.withDeadlineAfter(30, TimeUnit.SECONDS).execute(ping);
          if (r.hasValue()) {
            return System.nanoTime();
          }
          throw new IllegalStateException("ping through the gateway of node " + jvm.pid() + " answered " + r);
        } catch (StatusRuntimeException e) {
          last = e;
          TimeUnit.NANOSECONDS.sleep(POLL.toNanos());
        }
      }
      throw new IllegalStateException("no ping through the gateway of node " + jvm.pid() + " was answered within a"
          + " minute of its ready line; the last error: " + last + "; " + log());
    }

    /** The processes of this instance's worker trees (shims and Pythons), by pid and start time. */
    List<ProcessTree.Proc> workerTrees() {
      return ProcessTree.withInstance(instance).stream().filter(p -> p.pid() != jvm.pid()).toList();
    }

    /** SIGTERM; then every process of the instance must be gone within 10 s. */
    void stopAndCheck() throws Exception {
      closeChannel();
      List<ProcessTree.Proc> trees = workerTrees();
      jvm.destroy();
      if (!jvm.waitFor(60, TimeUnit.SECONDS)) {
        jvm.destroyForcibly();
        jvm.waitFor(30, TimeUnit.SECONDS);
        throw new IllegalStateException("the node " + jvm.pid() + " still ran 60 s after SIGTERM (killed): " + log());
      }
      List<ProcessTree.Proc> left = ProcessTree.awaitGone(trees, POLL, Duration.ofSeconds(10));
      if (!left.isEmpty()) {
        throw new IllegalStateException("worker trees outlived their node by 10 s after SIGTERM: " + left);
      }
    }

    private void closeChannel() throws InterruptedException {
      if (channel != null) {
        channel.shutdownNow();
        channel.awaitTermination(10, TimeUnit.SECONDS);
        channel = null;
      }
    }

    String log() {
      try {
        String text = Files.readString(stdout) + Files.readString(stderr);
        return text.length() > 4000 ? "..." + text.substring(text.length() - 4000) : text;
      } catch (IOException e) {
        return "(no log: " + e.getMessage() + ")";
      }
    }
  }
}
