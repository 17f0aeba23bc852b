package io.snakepit.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * Commands run to their end within a limit. Their output goes to files, read once they ended: reading a pipe to its
 * end waits for as long as the child (or anything that inherited the pipe) lives, with no limit.
 */
public final class Commands {
  private Commands() {}

  /** What a finished command printed, and its exit status; {@code err} is empty when stderr went to stdout. */
  public record Result(int exit, String out, String err) {}

  /**
   * Starts {@code builder} and waits up to {@code limit} for it to end. A command still running then is killed, and
   * the test fails naming {@code what} and what the command printed so far.
   */
  public static Result run(ProcessBuilder builder, Duration limit, String what)
      throws IOException, InterruptedException {
    Path out = Files.createTempFile("command", ".out");
    Path err = Files.createTempFile("command", ".err");
    builder.redirectOutput(out.toFile());
    if (!builder.redirectErrorStream() && builder.redirectError() == ProcessBuilder.Redirect.PIPE) {
      builder.redirectError(err.toFile());
    }
    Process p = builder.start();
    try {
      if (!p.waitFor(limit.toMillis(), TimeUnit.MILLISECONDS)) {
        throw new AssertionError(what + " did not end within " + limit.toSeconds() + " s (killed); its stdout:\n"
            + Files.readString(out) + "\nits stderr:\n" + Files.readString(err));
      }
      return new Result(p.exitValue(), Files.readString(out), Files.readString(err));
    } finally {
      if (p.isAlive()) {
        p.descendants().forEach(ProcessHandle::destroyForcibly);
        p.destroyForcibly();
        p.waitFor(10, TimeUnit.SECONDS);
      }
      Files.deleteIfExists(out);
      Files.deleteIfExists(err);
    }
  }

  /** Ends {@code process} if it still runs: SIGTERM, then SIGKILL if it has not ended within 30 s. */
  public static void stop(Process process) throws InterruptedException {
    if (process.isAlive()) {
      process.destroy();
      if (!process.waitFor(30, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        process.waitFor(10, TimeUnit.SECONDS);
      }
    }
  }
}
