package io.snakepit.actors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.snakepit.PythonException;
import io.snakepit.Result;
import io.snakepit.Snakepit;
import io.snakepit.WorkerStartException;
import io.snakepit.testing.Procs;
import io.snakepit.testing.TestNodes;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The worker on the oldest grpcio and protobuf its metadata allows (python/pyproject.toml, snakepit_worker/floor.py):
 * Debian 12's Python with its python3-grpcio 1.51.1 and python3-protobuf 3.21.12 (Python release 4.21.12) serves
 * calls from the JVM; below the floor, the pool's start fails naming the versions and the pip command.
 */
class PythonFloorIT {
  private static final String GRPCIO_FLOOR = "1.51.1";
  private static final String PROTOBUF_FLOOR = "4.21.12";
  private static final String DEBIAN_PYTHON = "/usr/bin/python3";
  private static final ObjectMapper JSON = new ObjectMapper();

  @Test
  void debiansPythonAtTheFloorServesCallsFromTheJvm() throws Exception {
    String found = versionsOf(DEBIAN_PYTHON);
    assumeTrue((GRPCIO_FLOOR + " " + PROTOBUF_FLOOR).equals(found), DEBIAN_PYTHON + " has grpcio and protobuf '"
        + found + "', not the floor " + GRPCIO_FLOOR + " " + PROTOBUF_FLOOR
        + ": on Debian 12, apt-get install python3-grpcio python3-protobuf (.ci/run does)");
    ActorTestKit kit = ActorTestKit.create("floor", TestNodes.config(
        "snakepit.pools.default { workers = 2, python = \"" + DEBIAN_PYTHON + "\" }"));
    try {
      Snakepit snakepit = Snakepit.get(kit.system());
      snakepit.ready().toCompletableFuture().get(60, TimeUnit.SECONDS);
      String args = "{\"text\": \"h\u00e9\", \"n\": [1, 2]}";
      assertEquals(JSON.readTree(args), JSON.readTree(call(snakepit, "echo", args).json()));
      List<String> items = new ArrayList<>();
      snakepit.executeStream("stream", "{\"count\": 3}", r -> items.add(r.json()))
          .toCompletableFuture().get(30, TimeUnit.SECONDS);
      assertEquals(3, items.size(), items.toString());
      ExecutionException failed = assertThrows(ExecutionException.class,
          () -> call(snakepit, "fail", "{\"message\": \"at the floor\"}"));
      PythonException error = assertInstanceOf(PythonException.class, failed.getCause());
      assertEquals("at the floor", error.pythonMessage());

      // The worker really runs Debian's Python on Debian's grpcio and protobuf (C++ implementation), not the venv's.
      int pid = Integer.parseInt(call(snakepit, "pid", "{}").json());
      assertTrue(Procs.cmdline(pid).startsWith(DEBIAN_PYTHON + " "), Procs.cmdline(pid));
      String maps = Files.readString(Path.of("/proc/" + pid + "/maps"), StandardCharsets.UTF_8);
      assertTrue(maps.contains("/usr/lib/python3/dist-packages/grpc/_cython/cygrpc"), "grpcio is not Debian's");
      assertTrue(maps.contains("/usr/lib/python3/dist-packages/google/protobuf/"), "protobuf is not Debian's");
    } finally {
      kit.shutdownTestKit();
    }
  }

  @Test
  void belowTheFloorThePoolsStartFailsNamingTheVersionsAndThePipCommand(@TempDir Path dir) throws Exception {
    // A grpc package that only says it is 1.40 stands in for an old grpcio, which no index here offers: the worker
    // reads the version before anything else of grpc. python-path puts it before the venv's site-packages.
    Files.createDirectories(dir.resolve("grpc"));
    Files.writeString(dir.resolve("grpc/__init__.py"), "__version__ = '1.40.0'\n");
    ActorTestKit kit = ActorTestKit.create("belowfloor", TestNodes.config(
        "snakepit.pools.default { workers = 1, python-path = [\"" + dir + "\"] }"));
    try {
      ExecutionException e = assertThrows(ExecutionException.class,
          () -> Snakepit.get(kit.system()).ready().toCompletableFuture().get(60, TimeUnit.SECONDS));
      WorkerStartException error = assertInstanceOf(WorkerStartException.class, e.getCause());
      String text = error.getMessage() + "\n" + String.join("\n", error.stderrTail());
      assertTrue(error.getMessage().contains("exited with code 5 before it was ready"), error.getMessage());
      assertTrue(text.contains("has grpcio 1.40.0 and protobuf "), text);
      assertTrue(text.contains("needs grpcio >= " + GRPCIO_FLOOR + " and protobuf >= " + PROTOBUF_FLOOR), text);
      assertTrue(text.contains("-m pip install 'grpcio>=" + GRPCIO_FLOOR + "' 'protobuf>=" + PROTOBUF_FLOOR + "'"),
          text);
      assertTrue(Procs.awaitGone(Procs.withInstance(TestNodes.INSTANCE), Duration.ofSeconds(10)).isEmpty(),
          "the failed pool left processes: " + Procs.withInstance(TestNodes.INSTANCE));
    } finally {
      kit.shutdownTestKit();
    }
  }

  private static Result call(Snakepit snakepit, String tool, String args) throws Exception {
    return snakepit.execute(tool, args).toCompletableFuture().get(30, TimeUnit.SECONDS);
  }

  /** "GRPCIO PROTOBUF" as {@code python} imports them, or why it cannot. */
  private static String versionsOf(String python) throws Exception {
    if (!Files.isExecutable(Path.of(python))) {
      return "(no " + python + ")";
    }
    Process p = new ProcessBuilder(python, "-c",
        "import grpc, google.protobuf as p; print(grpc.__version__, p.__version__)")
        .redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
    if (!p.waitFor(30, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      return "(" + python + " did not answer within 30 s)";
    }
    return p.exitValue() == 0 ? out : "(cannot import them: " + out.lines().reduce((a, b) -> b).orElse("") + ")";
  }
}
