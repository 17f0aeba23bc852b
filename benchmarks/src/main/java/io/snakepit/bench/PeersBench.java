package io.snakepit.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.snakepit.Pool;
import io.snakepit.shim.ProcStat;
import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Peers: what a user would pick instead of a snakepit pool, on the same trivial tool, the same number of Python
 * processes and the same closed-loop callers. A hand-rolled Java pool over {@link ProcessBuilder} speaking
 * newline-delimited JSON (benchmarks/python/ndjson_worker.py), and Python's own {@code ProcessPoolExecutor}
 * (benchmarks/python/ppe_bench.py, which times itself). Each run measures the three back to back.
 */
final class PeersBench implements Bench {
  /** Python processes in every system. */
  static final int WORKERS = 2;
  /** Closed-loop callers: two per process, so a call is always waiting when one finishes. */
  static final int CALLERS = 4;

  private static final String SNAKEPIT = "snakepit pool";
  private static final String NDJSON = "hand-rolled Java pool, NDJSON over pipes";
  private static final String PPE = "ProcessPoolExecutor, driven from Python";

  @Override
  public List<Measurement> run(Context c) throws Exception {
    double window = c.quick() ? 0.5 : 3;
    Map<String, List<Double>> rate = samples();
    Map<String, List<Double>> p50 = samples();
    Map<String, List<Double>> p99 = samples();
    // concurrency = 1: neither peer can run two calls in one process at once, so snakepit does not either here.
    try (Node node = Node.start(c, "p { workers = " + WORKERS + ", concurrency = 1 }");
        NdjsonPool ndjson = NdjsonPool.start(c, WORKERS);
        PpeDriver ppe = PpeDriver.start(c, WORKERS, CALLERS)) {
      node.awaitReady();
      Pool pool = node.snakepit.pool("p");
      ClosedLoop.Call snakepitCall = () -> {
        String json = pool.execute("ping", "{}").toCompletableFuture().get().json();
        if (!json.contains("pong")) {
          throw new IllegalStateException("ping answered " + json);
        }
      };
      // Warm-up, not measured. The pool's JVM path (actors, futures, Netty) keeps getting faster for 10 to 15 s of
      // load in a JVM that has not run it before; the peers' Java side is a few lines and settles within a second.
      ClosedLoop.run(CALLERS, c.quick() ? 0.5 : 15, snakepitCall);
      ClosedLoop.run(CALLERS, c.quick() ? 0.5 : 2, ndjson::ping);
      ppe.measure(c.quick() ? 0.5 : 2);
      for (int run = 0; run < c.runs(); run++) {
        record(rate, p50, p99, SNAKEPIT, ClosedLoop.run(CALLERS, window, snakepitCall));
        record(rate, p50, p99, NDJSON, ClosedLoop.run(CALLERS, window, ndjson::ping));
        JsonNode own = ppe.measure(window);
        rate.get(PPE).add(own.get("calls_per_s").asDouble());
        p50.get(PPE).add(own.get("p50_us").asDouble());
        p99.get(PPE).add(own.get("p99_us").asDouble());
      }
    }
    List<Measurement> out = new ArrayList<>();
    for (String peer : List.of(NDJSON, PPE)) {
      String key = peer.equals(NDJSON) ? "ndjson" : "ppe";
      String versus = peer.equals(NDJSON) ? "a hand-rolled NDJSON pool" : "ProcessPoolExecutor";
      out.add(peer("peers." + key + ".throughput", "Peers: throughput", "calls/s vs " + versus, "calls/s", rate,
          peer));
      out.add(peer("peers." + key + ".p50", "Peers: latency", "p50 vs " + versus, "µs", p50, peer));
      out.add(peer("peers." + key + ".p99", "Peers: latency", "p99 vs " + versus, "µs", p99, peer));
    }
    return out;
  }

  private static Measurement peer(String id, String group, String title, String unit,
      Map<String, List<Double>> samples, String peer) {
    Measurement m = new Measurement(id, group, title, unit, new Series(SNAKEPIT + " (same run)",
        samples.get(SNAKEPIT)), new Series(peer, samples.get(peer)), Goal.none(), "");
    Double ratio = m.ratio();
    boolean peerWins = ratio != null && (unit.equals("calls/s") ? ratio < 1 : ratio > 1);
    String verdict = peerWins
        ? "The peer wins here: on a tool that does nothing, the cost per call is all transport, and "
            + (peer.equals(NDJSON) ? "a line of JSON over a pipe" : "the executor's pickled call over a pipe")
            + " costs less than a gRPC call into grpcio's server (HTTP/2 framing, a thread handoff under the GIL)"
            + " plus the pool's actor hops; a tool that does real work pays that difference once per call."
        : "snakepit is ahead here.";
    String lacks = peer.equals(NDJSON)
        ? "What the hand-rolled pool lacks: supervision (a dead worker's caller gets an IOException and the slot is"
            + " lost for good), the exit status and traceback of a failure, deadlines and cancellation (a stuck tool"
            + " blocks its caller forever), isolation and limits, and any stop of its workers' children when the JVM"
            + " dies; a tool that prints to stdout breaks its protocol."
        : "What ProcessPoolExecutor lacks: a JVM caller at all (here the load runs in a third Python process,"
            + " under its GIL); one worker that dies breaks the whole executor (BrokenProcessPool) and fails every"
            + " pending call; no restart, no deadlines, no cancellation of a running call, and its workers are not"
            + " stopped if the driver is killed.";
    if (!unit.equals("calls/s")) {
      // The setup and what the peer lacks are in the calls/s row's note; a latency row says only what differs.
      return m.withNote("Latency includes the wait for a free process" + (peer.equals(PPE)
          ? "; the executor's is timed by its Python callers. " : ". ") + verdict);
    }
    return m.withNote(WORKERS + " Python processes, " + CALLERS + " closed-loop callers (each waits for its call"
        + " before the next), one call at a time per process (snakepit: concurrency = 1). " + verdict + " " + lacks);
  }

  private static Map<String, List<Double>> samples() {
    Map<String, List<Double>> m = new LinkedHashMap<>();
    for (String name : List.of(SNAKEPIT, NDJSON, PPE)) {
      m.put(name, new ArrayList<>());
    }
    return m;
  }

  private static void record(Map<String, List<Double>> rate, Map<String, List<Double>> p50,
      Map<String, List<Double>> p99, String name, ClosedLoop.Window w) {
    rate.get(name).add(w.callsPerSecond());
    p50.get(name).add(w.micros(50));
    p99.get(name).add(w.micros(99));
  }

  /**
   * Ends, by pid, every process that still carries {@code marker} in SNAKEPIT_INSTANCE: what a peer started and did
   * not stop by itself. Only processes this benchmark marked can match.
   */
  static void endMarked(String marker) throws InterruptedException {
    for (ProcStat p : ProcStat.all()) {
      if (marker.equals(ProcStat.environ(p.pid()).map(env -> env.get("SNAKEPIT_INSTANCE")).orElse(null))) {
        ProcessHandle.of(p.pid()).ifPresent(h -> {
          h.destroyForcibly();
          h.onExit().orTimeout(10, TimeUnit.SECONDS).exceptionally(e -> h).join();
        });
      }
    }
  }

  /** The hand-rolled peer: N processes, a queue of the idle ones, one request and one answer per line. */
  static final class NdjsonPool implements AutoCloseable {
    private final List<Worker> all = new ArrayList<>();
    private final List<Process> processes = new CopyOnWriteArrayList<>();
    private final BlockingQueue<Worker> idle;
    private final AtomicLong ids = new AtomicLong();
    private final String marker;
    /** No peer run takes this long: past it the workers are killed and a blocked read of an answer ends. */
    private final ChildDeadline lifetime = new ChildDeadline(processes, Duration.ofMinutes(20), "the NDJSON pool");

    private record Worker(Process process, BufferedWriter in, BufferedReader out) {}

    private NdjsonPool(int n, String marker) {
      this.idle = new ArrayBlockingQueue<>(n);
      this.marker = marker;
    }

    static NdjsonPool start(Context c, int n) throws Exception {
      NdjsonPool pool = new NdjsonPool(n, c.freshInstance("bench") + "-ndjson");
      try {
        for (int i = 0; i < n; i++) {
          ProcessBuilder b = new ProcessBuilder(c.python(), c.peer("ndjson_worker.py").toString())
              .redirectError(ProcessBuilder.Redirect.INHERIT);
          b.environment().put("SNAKEPIT_INSTANCE", pool.marker); // so the suite's leak check sees them too
          Process p = b.start();
          Worker w = new Worker(p, new BufferedWriter(new OutputStreamWriter(p.getOutputStream(),
              StandardCharsets.UTF_8)), new BufferedReader(new InputStreamReader(p.getInputStream(),
              StandardCharsets.UTF_8)));
          pool.all.add(w);
          pool.processes.add(p);
          String line = w.out().readLine();
          if (!"ready".equals(line)) {
            throw new IllegalStateException("ndjson_worker.py did not start: it said " + line);
          }
          pool.idle.add(w);
        }
        return pool;
      } catch (Exception e) {
        pool.close();
        throw e;
      }
    }

    /** One call of ping on the process that has been idle longest. */
    void ping() throws Exception {
      Worker w = idle.take();
      try {
        long id = ids.incrementAndGet();
        w.in().write("{\"id\": " + id + ", \"tool\": \"ping\", \"args\": {}}\n");
        w.in().flush();
        String answer = w.out().readLine();
        if (answer == null || !answer.startsWith("{\"id\": " + id + ", \"result\": \"pong\"")) {
          throw new IllegalStateException("ndjson_worker.py answered " + answer + " to call " + id);
        }
      } finally {
        idle.add(w);
      }
    }

    @Override
    public void close() throws Exception {
      for (Worker w : all) {
        try {
          w.in().close(); // EOF: the worker's loop ends
        } catch (IOException e) {
          // Already gone: nothing to tell it.
        }
      }
      for (Worker w : all) {
        ChildDeadline.reap(w.process());
      }
      lifetime.close();
      endMarked(marker);
    }
  }

  /** The Python-side peer: ppe_bench.py keeps its executor between windows and times each window itself. */
  static final class PpeDriver implements AutoCloseable {
    private final Process process;
    private final BufferedWriter in;
    private final BufferedReader out;
    private final String marker;
    private final ObjectMapper json = new ObjectMapper();
    /** No peer run takes this long: past it the driver is killed and a blocked read of a result ends. */
    private final ChildDeadline lifetime;

    private PpeDriver(Process process, String marker) {
      this.process = process;
      this.marker = marker;
      this.lifetime = ChildDeadline.of(process, Duration.ofMinutes(20), "the ProcessPoolExecutor driver");
      this.in = new BufferedWriter(new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8));
      this.out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
    }

    static PpeDriver start(Context c, int workers, int callers) throws Exception {
      String marker = c.freshInstance("bench") + "-ppe";
      ProcessBuilder b = new ProcessBuilder(c.python(), c.peer("ppe_bench.py").toString(),
          Integer.toString(workers), Integer.toString(callers)).redirectError(ProcessBuilder.Redirect.INHERIT);
      // Inherited by the executor's processes: the leak check and endMarked find them, though they are not ours.
      b.environment().put("SNAKEPIT_INSTANCE", marker);
      PpeDriver driver = new PpeDriver(b.start(), marker);
      try {
        String line = driver.out.readLine();
        if (!"ready".equals(line)) {
          throw new IllegalStateException("ppe_bench.py did not start: it said " + line);
        }
        return driver;
      } catch (Exception e) {
        driver.close();
        throw e;
      }
    }

    /** One window of the given length, as ppe_bench.py measured it. */
    JsonNode measure(double seconds) throws IOException {
      in.write(String.format(Locale.ROOT, "run %.3f%n", seconds));
      in.flush();
      String line = out.readLine();
      if (line == null) {
        throw new IllegalStateException("ppe_bench.py ended without measuring (its stderr is above)");
      }
      return json.readTree(line);
    }

    @Override
    public void close() throws Exception {
      try {
        in.close(); // EOF: the executor shuts down and its processes exit
      } catch (IOException e) {
        // Already gone.
      }
      lifetime.close();
      ChildDeadline.reap(process);
      endMarked(marker);
    }
  }
}
