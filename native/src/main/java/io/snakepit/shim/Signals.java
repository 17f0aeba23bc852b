package io.snakepit.shim;

/** Names of the Linux signals that matter when a worker dies. */
public final class Signals {
  public static final int SIGHUP = 1;
  public static final int SIGINT = 2;
  public static final int SIGABRT = 6;
  public static final int SIGBUS = 7;
  public static final int SIGKILL = 9;
  public static final int SIGSEGV = 11;
  public static final int SIGTERM = 15;

  private static final String[] NAMES = {
    "0", "SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT", "SIGBUS", "SIGFPE", "SIGKILL", "SIGUSR1",
    "SIGSEGV", "SIGUSR2", "SIGPIPE", "SIGALRM", "SIGTERM", "SIGSTKFLT", "SIGCHLD", "SIGCONT", "SIGSTOP", "SIGTSTP",
    "SIGTTIN", "SIGTTOU", "SIGURG", "SIGXCPU", "SIGXFSZ", "SIGVTALRM", "SIGPROF", "SIGWINCH", "SIGIO", "SIGPWR",
    "SIGSYS"
  };

  private Signals() {}

  /** The conventional name of a signal number, or "SIGRTMIN+n"/"signal n" past the classic ones. */
  public static String name(int signal) {
    if (signal > 0 && signal < NAMES.length) {
      return NAMES[signal];
    }
    return signal >= 34 && signal <= 64 ? "SIGRTMIN+" + (signal - 34) : "signal " + signal;
  }
}
