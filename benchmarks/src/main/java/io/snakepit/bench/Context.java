package io.snakepit.bench;

import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * What every benchmark needs: the run's size, the Python to use, where to put scratch files, and fresh names.
 *
 * @param quick the smoke-test size: fewer runs and smaller counts; only correctness is asserted
 * @param runs how many times each measurement is repeated (at least 5 in a full run)
 * @param python the Python with grpcio and protobuf (the project's .venv)
 * @param root the repository's root (for the Python peers in benchmarks/python)
 * @param scratch a directory for data directories and sockets of this run
 */
public record Context(boolean quick, int runs, String python, Path root, Path scratch) {
  private static final AtomicInteger NAMES = new AtomicInteger();

  /** A name no other node of this run has: its instance lock and journal are its own. */
  public String freshInstance(String prefix) {
    return prefix + "-" + ProcessHandle.current().pid() + "-" + NAMES.incrementAndGet();
  }

  /** A file of benchmarks/python. */
  public Path peer(String file) {
    return root.resolve("benchmarks").resolve("python").resolve(file);
  }

  /**
   * The project's own jar, {@code cli/target/snakepit.jar}, for a benchmark that runs {@code snakepit serve} in a JVM
   * of its own; {@code benchmark} names it in the error when the jar was not built.
   */
  public Path nodeJar(String benchmark) {
    Path jar = root.resolve("cli/target/snakepit.jar");
    if (!java.nio.file.Files.isRegularFile(jar)) {
      throw new IllegalStateException("the " + benchmark + " benchmark runs the node from " + jar + ", which is"
          + " missing: build it first (mvn -B -q install -DskipTests, or ./snakepit once)");
    }
    return jar;
  }
}
