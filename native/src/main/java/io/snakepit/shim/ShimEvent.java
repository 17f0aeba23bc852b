package io.snakepit.shim;

/** One line the shim wrote on its stdout, parsed (see docs/SHIM-PROTOCOL.md). */
public sealed interface ShimEvent {

  /** Python was forked. */
  record Spawned(int pid) implements ShimEvent {}

  /** Python signalled readiness; its identity as read from /proc. */
  record Ready(WorkerIdentity identity) implements ShimEvent {}

  /** A line of Python's stdout. */
  record Out(String text) implements ShimEvent {}

  /** A line of Python's stderr. */
  record Err(String text) implements ShimEvent {}

  /** A piece of a stdout line longer than the shim relays at once; the next stdout line goes on with it. */
  record OutPiece(String text) implements ShimEvent {}

  /** A piece of a stderr line longer than the shim relays at once; the next stderr line goes on with it. */
  record ErrPiece(String text) implements ShimEvent {}

  /** The Python executable could not be started. */
  record ExecFailed(int errno, String message) implements ShimEvent {}

  /** The shim's own system call failed; it is taking the tree down. */
  record ShimError(String message) implements ShimEvent {}

  /** Python is gone and so is the rest of its group: the last line. */
  record Exit(ExitStatus status) implements ShimEvent {}

  /** The shim listens on its control socket at {@code path}: after {@code LEAVE}, a next owner may attach there. */
  record Detached(long windowMs, String path) implements ShimEvent {}

  /** {@code DETACH} was refused or failed; the owner keeps the shim as before. */
  record DetachFailed(int errno, String message) implements ShimEvent {}

  /** The shim let its owner go: nothing more is read from it or written to it, and the window runs. */
  record Left(long windowMs) implements ShimEvent {}

  /** The first line on an adopting owner's connection: who the shim and its Python are, and whether READY came. */
  record Attached(WorkerIdentity identity, boolean ready) implements ShimEvent {}

  /** A line this version does not understand; kept for the log rather than dropped. */
  record Unknown(String line) implements ShimEvent {}

  /** Parses one line, without its newline. */
  static ShimEvent parse(String line) {
    int space = line.indexOf(' ');
    String verb = space < 0 ? line : line.substring(0, space);
    String rest = space < 0 ? "" : line.substring(space + 1);
    try {
      switch (verb) {
        case "OUT":
          return new Out(rest);
        case "ERR":
          return new Err(rest);
        case "OUT+":
          return new OutPiece(rest);
        case "ERR+":
          return new ErrPiece(rest);
        case "SPAWNED":
          return new Spawned(Integer.parseInt(rest.trim()));
        case "READY": {
          String[] f = rest.trim().split(" ");
          return new Ready(new WorkerIdentity(Integer.parseInt(f[0]), Integer.parseInt(f[1]), Long.parseLong(f[2]),
              f[3], Integer.parseInt(f[4]), Long.parseLong(f[5])));
        }
        case "EXECFAIL": {
          int sp = rest.indexOf(' ');
          return new ExecFailed(Integer.parseInt(sp < 0 ? rest : rest.substring(0, sp)),
              sp < 0 ? "" : rest.substring(sp + 1));
        }
        case "DETACHED": {
          int sp = rest.indexOf(' ');
          return new Detached(Long.parseLong(rest.substring(0, sp)), rest.substring(sp + 1));
        }
        case "DETACHFAIL": {
          int sp = rest.indexOf(' ');
          return new DetachFailed(Integer.parseInt(rest.substring(0, sp)), rest.substring(sp + 1));
        }
        case "LEFT":
          return new Left(Long.parseLong(rest.trim()));
        case "ATTACHED": {
          String[] f = rest.trim().split(" ");
          return new Attached(new WorkerIdentity(Integer.parseInt(f[0]), Integer.parseInt(f[1]), Long.parseLong(f[2]),
              f[3], Integer.parseInt(f[4]), Long.parseLong(f[5])), "1".equals(f[6]));
        }
        case "SHIMERR":
          return new ShimError(rest);
        case "EXIT": {
          String[] f = rest.trim().split(" ");
          return new Exit(ExitStatus.fromRaw(Integer.parseInt(f[0])));
        }
        default:
          return new Unknown(line);
      }
    } catch (RuntimeException e) {
      return new Unknown(line);
    }
  }
}
