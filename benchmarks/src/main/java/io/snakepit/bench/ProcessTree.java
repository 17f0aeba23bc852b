package io.snakepit.bench;

import io.snakepit.shim.ProcStat;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.locks.LockSupport;

/** Processes as /proc shows them, each named by pid and start time so that a reused pid never passes for it. */
final class ProcessTree {

  private ProcessTree() {}

  /** One process: its pid and its start time (field 22 of /proc/PID/stat). */
  record Proc(int pid, long startTime) {
    /** Whether this very process still runs (a zombie does not). */
    boolean alive() {
      return ProcStat.isAlive(pid, startTime);
    }

    String cmdline() {
      return ProcessTree.cmdline(pid);
    }

    @Override
    public String toString() {
      return pid + " (" + cmdline() + ")";
    }
  }

  /** Every live process below {@code root}, root excluded. */
  static List<Proc> descendants(long root) {
    Map<Integer, List<ProcStat>> byParent = new HashMap<>();
    for (ProcStat p : ProcStat.all()) {
      byParent.computeIfAbsent(p.ppid(), k -> new ArrayList<>()).add(p);
    }
    List<Proc> found = new ArrayList<>();
    ArrayDeque<Integer> todo = new ArrayDeque<>(List.of((int) root));
    while (!todo.isEmpty()) {
      for (ProcStat child : byParent.getOrDefault(todo.pop(), List.of())) {
        if (child.state() != 'Z') {
          found.add(new Proc(child.pid(), child.startTime()));
        }
        todo.push(child.pid());
      }
    }
    return found;
  }

  /** Every live process whose environment says {@code SNAKEPIT_INSTANCE=instance}. */
  static List<Proc> withInstance(String instance) {
    List<Proc> found = new ArrayList<>();
    for (ProcStat p : ProcStat.all()) {
      if (p.state() != 'Z' && ProcStat.environ(p.pid()).map(env -> instance.equals(env.get("SNAKEPIT_INSTANCE")))
          .orElse(false)) {
        found.add(new Proc(p.pid(), p.startTime()));
      }
    }
    return found;
  }

  /** This JVM's children that have exited and not been reaped. */
  static List<Integer> zombieChildren() {
    long self = ProcessHandle.current().pid();
    return ProcStat.all().stream().filter(p -> p.ppid() == self && p.state() == 'Z').map(ProcStat::pid).toList();
  }

  /**
   * Waits until none of {@code procs} runs, or {@code timeout} passes; returns those still running. It watches one
   * process at a time, checking it every {@code poll} until it is gone, then the next at once: the last one's end is
   * seen within a poll, while the watching costs next to no CPU (reading hundreds of /proc files every millisecond
   * would take a good part of a core from the processes it waits for).
   */
  static List<Proc> awaitGone(Collection<Proc> procs, Duration poll, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    List<Proc> left = new ArrayList<>(procs);
    while (!left.isEmpty()) {
      if (!left.get(left.size() - 1).alive()) {
        left.remove(left.size() - 1);
      } else if (System.nanoTime() >= deadline) {
        left.removeIf(p -> !p.alive());
        return left;
      } else {
        LockSupport.parkNanos(poll.toNanos());
      }
    }
    return left;
  }

  /**
   * SIGKILLs what a benchmark left running, each only while its pid still has the recorded start time: a reused pid
   * is left alone.
   */
  static void kill(Collection<Proc> procs) {
    for (Proc p : procs) {
      if (p.alive()) {
        ProcessHandle.of(p.pid()).ifPresent(ProcessHandle::destroyForcibly);
      }
    }
  }

  /** The command line, spaces between arguments; "?" once the process is gone. */
  static String cmdline(int pid) {
    try {
      return new String(Files.readAllBytes(Path.of("/proc", Integer.toString(pid), "cmdline")),
          StandardCharsets.UTF_8).replace('\0', ' ').trim();
    } catch (IOException e) {
      return "?";
    }
  }

  /** VmRSS of a process in KiB (0 once it is gone). */
  static double residentKiB(int pid) {
    return ProcStat.residentBytes(pid) / 1024.0;
  }
}
