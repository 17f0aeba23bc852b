package io.snakepit.shim;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The fields of {@code /proc/PID/stat} that identify a process and place it in the tree.
 *
 * @param pid the process id
 * @param state the one-letter state ('Z' for a zombie)
 * @param ppid the parent's pid
 * @param pgrp the process group
 * @param session the session id
 * @param startTime field 22: clock ticks after boot at which the process started
 */
public record ProcStat(int pid, char state, int ppid, int pgrp, int session, long startTime) {

  /** Reads one process's stat, or empty if it is gone (or unreadable). */
  public static Optional<ProcStat> read(int pid) {
    try {
      return Optional.of(parse(pid, Files.readString(Path.of("/proc", Integer.toString(pid), "stat"))));
    } catch (IOException | RuntimeException e) {
      return Optional.empty();
    }
  }

  /** Every process visible in /proc right now. */
  public static List<ProcStat> all() {
    List<ProcStat> result = new ArrayList<>();
    try (DirectoryStream<Path> dirs = Files.newDirectoryStream(Path.of("/proc"), p -> isNumber(p.getFileName()))) {
      for (Path dir : dirs) {
        read(Integer.parseInt(dir.getFileName().toString())).ifPresent(result::add);
      }
    } catch (IOException e) {
      throw new IllegalStateException("cannot list /proc: " + e.getMessage(), e);
    }
    return result;
  }

  /** Whether this exact process (same pid, same start time) is still alive and not a zombie. */
  public static boolean isAlive(int pid, long startTime) {
    return read(pid).filter(s -> s.startTime == startTime && s.state != 'Z' && s.state != 'X').isPresent();
  }

  /** The environment a process started with (root, or the same user, may read it); empty if unreadable. */
  public static Optional<Map<String, String>> environ(int pid) {
    try {
      byte[] raw = Files.readAllBytes(Path.of("/proc", Integer.toString(pid), "environ"));
      Map<String, String> env = new HashMap<>();
      for (String entry : new String(raw, StandardCharsets.UTF_8).split("\0")) {
        int eq = entry.indexOf('=');
        if (eq > 0) {
          env.put(entry.substring(0, eq), entry.substring(eq + 1));
        }
      }
      return Optional.of(env);
    } catch (IOException | RuntimeException e) {
      return Optional.empty();
    }
  }

  /** A process's resident memory (VmRSS of /proc/PID/status) in bytes; 0 if it is gone. */
  public static long residentBytes(int pid) {
    try {
      for (String line : Files.readAllLines(Path.of("/proc", Integer.toString(pid), "status"))) {
        if (line.startsWith("VmRSS:")) {
          return Long.parseLong(line.substring(6).trim().split("\\s+")[0]) * 1024;
        }
      }
    } catch (IOException | RuntimeException e) {
      // Gone.
    }
    return 0;
  }

  /**
   * The CPU time a process has used so far, user and system (fields 14 and 15 of /proc/PID/stat), in seconds; -1
   * if it is gone. Its children's time is not in it.
   */
  public static double cpuSeconds(int pid) {
    try {
      String stat = Files.readString(Path.of("/proc", Integer.toString(pid), "stat"));
      String[] f = stat.substring(stat.lastIndexOf(')') + 2).trim().split(" ");
      // f[0] is field 3: utime (14) is f[11], stime (15) f[12].
      return (Long.parseLong(f[11]) + Long.parseLong(f[12])) / (double) CLOCK_TICKS;
    } catch (IOException | RuntimeException e) {
      return -1;
    }
  }

  /** How long ago this process started, from its start time and the system's uptime. */
  public Duration age() {
    try {
      String uptime = Files.readString(Path.of("/proc/uptime")).trim().split(" ")[0];
      double seconds = Double.parseDouble(uptime) - (double) startTime / CLOCK_TICKS;
      return Duration.ofMillis(Math.max(0L, (long) (seconds * 1000)));
    } catch (IOException e) {
      return Duration.ZERO;
    }
  }

  /** How long before {@code nowTicks} (see {@link #nowTicks()}) a process with {@code startTime} started. */
  public static Duration age(long startTime, long nowTicks) {
    return Duration.ofMillis(Math.max(0L, (nowTicks - startTime) * 1000 / CLOCK_TICKS));
  }

  /** Now, in the unit of {@link #startTime()}: clock ticks since boot. */
  public static long nowTicks() {
    try {
      String uptime = Files.readString(Path.of("/proc/uptime")).trim().split(" ")[0];
      return (long) (Double.parseDouble(uptime) * CLOCK_TICKS);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read /proc/uptime", e);
    }
  }

  /** Clock ticks per second (USER_HZ), the unit of field 22; 100 on every mainstream Linux build. */
  private static final long CLOCK_TICKS = 100;

  static ProcStat parse(int pid, String stat) {
    // comm (field 2) is in parentheses and may itself hold spaces and parentheses: split after the last ')'.
    int close = stat.lastIndexOf(')');
    String[] f = stat.substring(close + 2).trim().split(" ");
    // f[0] is field 3 (state); field n is f[n - 3].
    return new ProcStat(pid, f[0].charAt(0), Integer.parseInt(f[1]), Integer.parseInt(f[2]),
        Integer.parseInt(f[3]), Long.parseLong(f[19]));
  }

  private static boolean isNumber(Path name) {
    String s = name.toString();
    for (int i = 0; i < s.length(); i++) {
      if (!Character.isDigit(s.charAt(i))) {
        return false;
      }
    }
    return !s.isEmpty();
  }
}
