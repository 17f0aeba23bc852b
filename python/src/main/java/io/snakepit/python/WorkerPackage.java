package io.snakepit.python;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.List;

/**
 * The {@code snakepit_worker} package (sources and the message classes generated from proto/) carried in this jar. It
 * is unpacked into a directory named after its digest, which then goes first on the workers' PYTHONPATH; the user's
 * Python needs only grpcio 1.51.1 and protobuf 4.21.12 or newer. The jar also carries the package as a wheel
 * ({@link #wheel()}), for those who install it with pip themselves.
 */
public final class WorkerPackage {
  private static final String BASE = "/io/snakepit/python/";

  /**
   * The script in the unpacked directory that starts a worker ({@code PYTHON SCRIPT ARGS}). Run as a script it puts its
   * own directory, which holds nothing importable, first on sys.path, where {@code python -m} would put the working
   * directory.
   */
  public static final String LAUNCHER = "bin/snakepit_worker";

  private WorkerPackage() {}

  /** The script that starts a worker from the package unpacked at {@code unpacked} (see {@link #LAUNCHER}). */
  public static Path launcher(Path unpacked) {
    return unpacked.resolve(LAUNCHER);
  }

  /** The wheel's file name, e.g. {@code snakepit_worker-0.1.0-py3-none-any.whl}. */
  public static String wheelName() {
    try (InputStream in = WorkerPackage.class.getResourceAsStream(BASE + "wheel.name")) {
      if (in == null) {
        throw new IllegalStateException("the snakepit-python jar has no wheel.name: it was built without its"
            + " Python step. Rebuild with: mvn -DskipTests install");
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8).strip();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The wheel's bytes: {@code pip install} them (saved under {@link #wheelName()}) into the workers' Python. */
  public static byte[] wheel() {
    String name = wheelName();
    try (InputStream in = WorkerPackage.class.getResourceAsStream(BASE + name)) {
      if (in == null) {
        throw new IllegalStateException("the snakepit-python jar names the wheel " + name + " but does not carry it;"
            + " rebuild with: mvn -DskipTests install");
      }
      return in.readAllBytes();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Writes the wheel into {@code dir} under its own name (which pip needs) and returns its path. */
  public static Path writeWheel(Path dir) {
    try {
      Files.createDirectories(dir);
      return Files.write(dir.resolve(wheelName()), wheel());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write the snakepit_worker wheel into " + dir + ": " + e.getMessage(), e);
    }
  }

  /** Unpacks the package under {@code cacheDir} (once per digest) and returns the directory to put on PYTHONPATH. */
  public static synchronized Path unpack(Path cacheDir) {
    List<String> index = readIndex();
    String digest = index.get(0);
    Path root = cacheDir.resolve("python-" + digest);
    Path complete = root.resolve(".complete");
    if (Files.exists(complete)) {
      return root;
    }
    try {
      Files.createDirectories(cacheDir);
      Path staging = Files.createTempDirectory(cacheDir, ".python-");
      for (String file : index.subList(1, index.size())) {
        Path target = staging.resolve(file);
        Files.createDirectories(target.getParent());
        try (InputStream in = WorkerPackage.class.getResourceAsStream(BASE + "dist/" + file)) {
          if (in == null) {
            throw new IllegalStateException("snakepit-python jar lists " + file + " but does not carry it");
          }
          Files.copy(in, target, StandardCopyOption.REPLACE_EXISTING);
        }
      }
      Files.createFile(staging.resolve(".complete"));
      try {
        Files.move(staging, root, StandardCopyOption.ATOMIC_MOVE);
      } catch (IOException raced) {
        // Another JVM unpacked the same digest first; its copy is as good as ours.
        if (!Files.exists(complete)) {
          throw raced;
        }
        deleteTree(staging);
      }
      return root;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot unpack the snakepit_worker package into " + cacheDir + ": "
          + e.getMessage() + ". Set snakepit.cache-dir to a writable directory.", e);
    }
  }

  private static List<String> readIndex() {
    try (InputStream in = WorkerPackage.class.getResourceAsStream(BASE + "dist.index")) {
      if (in == null) {
        throw new IllegalStateException("the snakepit-python jar has no dist.index: it was built without its"
            + " Python step. Rebuild with: mvn -DskipTests install");
      }
      List<String> lines = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8)).lines()
          .filter(l -> !l.isBlank()).toList();
      if (lines.size() < 2) {
        throw new IllegalStateException("the snakepit-python jar's dist.index is empty: rebuild the project");
      }
      return lines;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static void deleteTree(Path dir) throws IOException {
    try (var paths = Files.walk(dir)) {
      for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }
}
