package io.snakepit.shim;

import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import java.util.Optional;

/**
 * A pidfd: a handle on one process that stays bound to it even if its pid is reused, so that a process can be
 * verified and then signalled without a race. Where the kernel has no pidfd (before 5.3), {@link #open} falls back to
 * a plain pid and says so through {@link #supported()}.
 */
public final class Pidfd implements AutoCloseable {
  private static final long SYS_PIDFD_OPEN = 434;
  private static final long SYS_PIDFD_SEND_SIGNAL = 424;
  private static final int ESRCH = 3;
  private static final int ENOSYS = 38;

  /** The C library functions used here. */
  private interface LibC extends Library {
    LibC INSTANCE = Native.load("c", LibC.class);

    long syscall(long number, Object... args);

    int kill(int pid, int signal);

    int close(int fd);
  }

  private static volatile boolean supported = true;

  private final int pid;
  private int fd;

  private Pidfd(int pid, int fd) {
    this.pid = pid;
    this.fd = fd;
  }

  /** Whether this kernel offers pidfds (known after the first {@link #open}). */
  public static boolean supported() {
    return supported;
  }

  /**
   * Opens a handle on {@code pid}; empty if no such process exists. Verify the process (through /proc) after opening:
   * then a signal sent through the handle reaches the process that was verified or none.
   */
  public static Optional<Pidfd> open(int pid) {
    if (supported) {
      long fd = LibC.INSTANCE.syscall(SYS_PIDFD_OPEN, (long) pid, 0L);
      if (fd >= 0) {
        return Optional.of(new Pidfd(pid, (int) fd));
      }
      int errno = Native.getLastError();
      if (errno == ESRCH) {
        return Optional.empty();
      }
      if (errno != ENOSYS) {
        throw new IllegalStateException("pidfd_open(" + pid + ") failed with errno " + errno);
      }
      supported = false;
    }
    return ProcStat.read(pid).isPresent() ? Optional.of(new Pidfd(pid, -1)) : Optional.empty();
  }

  /** The pid this handle was opened on. */
  public int pid() {
    return pid;
  }

  /**
   * Sends {@code signal}; false if the process has already ended.
   *
   * @throws IllegalStateException if the signal could not be sent for another reason (permissions)
   */
  public boolean signal(int signal) {
    long rc = fd >= 0
        ? LibC.INSTANCE.syscall(SYS_PIDFD_SEND_SIGNAL, (long) fd, (long) signal, Pointer.NULL, 0L)
        : LibC.INSTANCE.kill(pid, signal);
    if (rc == 0) {
      return true;
    }
    int errno = Native.getLastError();
    if (errno == ESRCH) {
      return false;
    }
    throw new IllegalStateException("cannot send signal " + signal + " to pid " + pid + ": errno " + errno);
  }

  @Override
  public void close() {
    if (fd >= 0) {
      LibC.INSTANCE.close(fd);
      fd = -1;
    }
  }
}
