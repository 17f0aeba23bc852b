package io.snakepit.shim;

/**
 * How a worker's Python process ended, from the raw {@code waitpid} status the shim reports (NuProcess's own exit
 * codes cannot tell {@code exit(9)} from death by SIGKILL).
 *
 * @param raw the raw wait status
 * @param exitCode the exit code when the process exited, else -1
 * @param signal the signal that killed it, else 0
 * @param coreDumped whether a core was dumped
 */
public record ExitStatus(int raw, int exitCode, int signal, boolean coreDumped) {

  /** Decodes a raw Linux wait status. */
  public static ExitStatus fromRaw(int raw) {
    int termSig = raw & 0x7f;
    if (termSig == 0) {
      return new ExitStatus(raw, (raw >> 8) & 0xff, 0, false);
    }
    return new ExitStatus(raw, -1, termSig, (raw & 0x80) != 0);
  }

  /** Whether the process was killed by a signal rather than exiting. */
  public boolean signaled() {
    return signal != 0;
  }

  /** A short human description, e.g. "exited with code 9" or "killed by signal 9 (SIGKILL)". */
  public String describe() {
    if (!signaled()) {
      return "exited with code " + exitCode;
    }
    return "killed by signal " + signal + " (" + Signals.name(signal) + ")" + (coreDumped ? ", core dumped" : "");
  }

  @Override
  public String toString() {
    return describe();
  }
}
