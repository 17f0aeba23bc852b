package io.snakepit.testing;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * The progress file a test adapter's generator writes ("N running", "N finished", "N closed cancelled=..."), read by
 * the streaming tests of one node and of a cluster alike: how far the generator got, and whether it paused (its
 * sends blocked by backpressure) or ended.
 */
public final class GeneratorProgress {
  private GeneratorProgress() {}

  /** The file's line, without its padding; "" while it does not exist. */
  public static String progress(Path file) throws Exception {
    return Files.exists(file) ? Files.readString(file).trim() : "";
  }

  /** The generator's count once it has stayed the same for 2 s (its sends are blocked), within 60 s. */
  public static int settledCount(Path file) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    String last = progress(file);
    long since = System.nanoTime();
    while (System.nanoTime() < deadline) {
      Thread.sleep(100);
      String now = progress(file);
      if (!now.equals(last)) {
        last = now;
        since = System.nanoTime();
      } else if (!now.isEmpty() && System.nanoTime() - since > TimeUnit.SECONDS.toNanos(2)) {
        return Integer.parseInt(now.split(" ")[0]);
      }
    }
    throw new AssertionError("the generator never paused within 60 s: its progress reads " + last);
  }

  /** The file's line once {@code done} holds for it, within 30 s. */
  public static String waitFor(Path file, Predicate<String> done) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (System.nanoTime() < deadline) {
      String now = progress(file);
      if (done.test(now)) {
        return now;
      }
      Thread.sleep(50);
    }
    throw new AssertionError("the progress file did not reach the expected state within 30 s: " + progress(file));
  }
}
