package io.snakepit.testing;

import io.snakepit.shim.ProcStat;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** What /proc says about processes: the ground truth tests assert on, rather than what the code believes. */
public final class Procs {

  private Procs() {}

  /** A process as identified by pid and start time, so that a reused pid never counts as the same process. */
  public record Proc(int pid, long startTime) {
    /** Whether this very process is alive (not a zombie). */
    public boolean alive() {
      return ProcStat.isAlive(pid, startTime);
    }

    @Override
    public String toString() {
      return pid + " (" + cmdline(pid) + ")";
    }
  }

  /** The process with this pid now, if any. */
  public static Optional<Proc> of(int pid) {
    return ProcStat.read(pid).filter(s -> s.state() != 'Z').map(s -> new Proc(pid, s.startTime()));
  }

  /** The command line of a process, spaces between arguments. */
  public static String cmdline(int pid) {
    try {
      return new String(Files.readAllBytes(Path.of("/proc/" + pid + "/cmdline")), StandardCharsets.UTF_8)
          .replace('\0', ' ').trim();
    } catch (IOException e) {
      return "?";
    }
  }

  /** The value of an environment variable of a process, if it can be read. */
  public static Optional<String> environ(int pid, String name) {
    return ProcStat.environ(pid).map(env -> env.get(name));
  }

  /** Every live process whose environment carries {@code SNAKEPIT_INSTANCE=instance}. */
  public static List<Proc> withInstance(String instance) {
    List<Proc> found = new ArrayList<>();
    for (ProcStat p : ProcStat.all()) {
      if (p.state() != 'Z' && environ(p.pid(), "SNAKEPIT_INSTANCE").filter(instance::equals).isPresent()) {
        found.add(new Proc(p.pid(), p.startTime()));
      }
    }
    return found;
  }

  /** Every live descendant of {@code root} (not root itself). */
  public static List<Proc> descendants(int root) {
    List<ProcStat> all = ProcStat.all();
    Map<Integer, List<ProcStat>> children = new LinkedHashMap<>();
    for (ProcStat p : all) {
      children.computeIfAbsent(p.ppid(), k -> new ArrayList<>()).add(p);
    }
    List<Proc> result = new ArrayList<>();
    List<Integer> frontier = new ArrayList<>(List.of(root));
    while (!frontier.isEmpty()) {
      int pid = frontier.remove(frontier.size() - 1);
      for (ProcStat child : children.getOrDefault(pid, List.of())) {
        if (child.state() != 'Z') {
          result.add(new Proc(child.pid(), child.startTime()));
        }
        frontier.add(child.pid());
      }
    }
    return result;
  }

  /** Waits until none of {@code procs} is alive; returns those still alive at the deadline. */
  public static List<Proc> awaitGone(List<Proc> procs, Duration within) throws InterruptedException {
    long deadline = System.nanoTime() + within.toNanos();
    List<Proc> alive = procs.stream().filter(Proc::alive).toList();
    while (!alive.isEmpty() && System.nanoTime() < deadline) {
      Thread.sleep(10);
      alive = alive.stream().filter(Proc::alive).toList();
    }
    return alive;
  }

  /** Sends a signal by number to one process. */
  public static void kill(int pid, int signal) throws IOException, InterruptedException {
    Process p = new ProcessBuilder("bash", "-c", "kill -" + signal + " " + pid).inheritIO().start();
    if (!p.waitFor(10, java.util.concurrent.TimeUnit.SECONDS) || p.exitValue() != 0) {
      p.destroyForcibly();
      throw new IOException("kill -" + signal + " " + pid + " failed");
    }
  }

  /** The Sig* line of /proc/PID/status (e.g. "SigBlk") as a bit mask. */
  public static long signalMask(int pid, String field) throws IOException {
    for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
      if (line.startsWith(field + ":")) {
        return Long.parseUnsignedLong(line.substring(field.length() + 1).trim(), 16);
      }
    }
    throw new IOException(field + " not found in /proc/" + pid + "/status");
  }
}
