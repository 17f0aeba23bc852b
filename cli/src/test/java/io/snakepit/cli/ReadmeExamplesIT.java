package io.snakepit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import io.snakepit.Snakepit;
import io.snakepit.testing.Commands;
import io.snakepit.testing.TestNodes;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Test;

/** The README's Java and Python examples, taken from README.md itself, compiled and run. */
class ReadmeExamplesIT {

  private static String block(String language) throws Exception {
    String readme = Files.readString(Path.of(System.getProperty("snakepit.test.root"), "README.md"));
    Matcher m = Pattern.compile("```" + language + "\\n(.*?)```", Pattern.DOTALL).matcher(readme);
    assertTrue(m.find(), "README.md has no ```" + language + " block");
    return m.group(1);
  }

  @Test
  void javaEmbeddingExampleCompilesAndPrintsTheEcho() throws Exception {
    Path dir = Files.createTempDirectory("readme-java");
    Files.writeString(dir.resolve("Example.java"), block("java"));
    JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
    ByteArrayOutputStream diagnostics = new ByteArrayOutputStream();
    int status = javac.run(null, diagnostics, diagnostics, "-d", dir.toString(),
        "-cp", System.getProperty("java.class.path"), dir.resolve("Example.java").toString());
    assertEquals(0, status, diagnostics.toString(StandardCharsets.UTF_8));

    List<String> cmd = Nodes.java("-cp", dir + ":" + System.getProperty("java.class.path"), "Example");
    // Its default data-dir ($XDG_STATE_HOME/snakepit: the registry's lock and journal) lands in a scratch directory.
    ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile()).redirectError(ProcessBuilder.Redirect.DISCARD);
    pb.environment().put("XDG_STATE_HOME", dir.resolve("state").toString());
    Commands.Result r = Commands.run(pb, java.time.Duration.ofSeconds(60), "the example");
    String out = r.out();
    assertEquals(0, r.exit(), out);
    assertTrue(out.lines().anyMatch("{\"greeting\": \"hello\"}"::equals), out);
    assertTrue(Files.isDirectory(dir.resolve("state/snakepit")), "the default data-dir was not used");
  }

  @Test
  void pythonAdapterExampleServesItsTools() throws Exception {
    Path dir = Files.createTempDirectory("readme-python");
    Files.writeString(dir.resolve("greeter.py"), block("python"));
    ActorTestKit kit = ActorTestKit.create("readme", TestNodes.config(
        "snakepit.pools.default { workers = 1, adapter = \"greeter:Greeter\", python-path = [\"" + dir + "\"] }"));
    try {
      Snakepit snakepit = Snakepit.get(kit.system());
      assertEquals("{\"greeting\": \"hello, JVM\"}",
          snakepit.execute("greet", "{\"name\": \"JVM\"}").toCompletableFuture().get(60, TimeUnit.SECONDS).json());
      List<String> items = new ArrayList<>();
      snakepit.executeStream("count", "{\"upto\": 3}", r -> items.add(r.json()))
          .toCompletableFuture().get(30, TimeUnit.SECONDS);
      assertEquals(List.of("0", "1", "2"), items);
    } finally {
      kit.shutdownTestKit();
    }
  }
}
