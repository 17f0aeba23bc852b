package io.snakepit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.snakepit.testing.Commands;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code snakepit call}: arguments from a file and from stdin past the command line's limit, and every kind of error
 * as one {@code error: KIND: message} line, with nothing of grpc-java's.
 */
class CallIT {
  private static Nodes.Node node;
  private static Path dir;

  @BeforeAll
  static void serve() throws Exception {
    node = Nodes.serve("--workers", "1");
    dir = Files.createTempDirectory("snakepit-call");
  }

  @AfterAll
  static void stop() throws Exception {
    if (node != null) {
      node.close();
    }
  }

  private static List<String> callArgs(String... args) {
    List<String> cmd = new ArrayList<>(List.of("call", "--target", "127.0.0.1:" + node.port, "--data-dir",
        node.dataDir.toString()));
    cmd.addAll(List.of(args));
    return cmd;
  }

  private static Nodes.Run call(String... args) throws Exception {
    Nodes.Run r = Nodes.snakepit(callArgs(args).toArray(String[]::new));
    assertFalse(r.err().contains("io.grpc") || r.err().contains("Exception") || r.err().contains("DEADLINE_EXCEEDED")
        || r.err().contains("ClientCall"), r.err());
    return r;
  }

  /** A JSON object of about a megabyte, as Python's json.dumps writes it (echo returns it alike). */
  private static String megabyte() {
    return "{\"x\": \"" + "ab".repeat(512 * 1024) + "\"}";
  }

  @Test
  void argumentsOfAMegabyteComeFromAFile() throws Exception {
    Path args = dir.resolve("args.json");
    Files.writeString(args, megabyte());
    Nodes.Run r = call("echo", "@" + args);
    assertEquals(0, r.exit(), r.err());
    assertEquals(megabyte(), r.out());
  }

  @Test
  void argumentsOfAMegabyteComeFromStandardInput() throws Exception {
    Path args = dir.resolve("stdin.json");
    Files.writeString(args, megabyte());
    List<String> cmd = Nodes.java("-jar", Nodes.jar().toString());
    cmd.addAll(callArgs("echo", "-"));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectInput(args.toFile());
    pb.environment().remove(GatewayClient.TOKEN_VARIABLE);
    Commands.Result r = Commands.run(pb, Duration.ofSeconds(120), "call echo -");
    assertEquals(0, r.exit(), r.err());
    assertEquals(megabyte(), r.out().trim());
  }

  @Test
  void aLeadingAtIsWrittenDoubled() throws Exception {
    Nodes.Run r = call("echo", "@@{\"a\": 1}");
    assertEquals(1, r.exit());
    // The text @{"a": 1} went to the node as it is, and is not JSON.
    assertTrue(r.err().startsWith("error: snakepit.InvalidArguments: tool 'echo': args_json is not valid JSON ("),
        r.err());
    assertTrue(r.err().endsWith("): '@{\"a\": 1}'"), r.err());
  }

  @Test
  void aMissingArgumentsFileIsAnInvalidArgumentsLine() throws Exception {
    Path missing = dir.resolve("missing.json");
    Nodes.Run r = call("echo", "@" + missing);
    assertEquals(new Nodes.Run(1, "", "error: snakepit.InvalidArguments: cannot read the arguments from @" + missing
        + " (" + missing + "): no such file. Give a readable file of JSON, or the JSON itself (@@ for a leading @)"),
        r);
  }

  @Test
  void aTimeoutIsACallTimeoutLine() throws Exception {
    Nodes.Run r = call("--timeout", "1", "sleep", "{\"seconds\": 10}");
    assertEquals(new Nodes.Run(1, "", "error: snakepit.CallTimeout: tool 'sleep' gave no answer within --timeout 1 s"
        + " (the call is cancelled in Python). Raise --timeout SECONDS"), r);
  }

  @Test
  void anUnknownToolIsAnUnknownToolLine() throws Exception {
    Nodes.Run r = call("nope");
    assertEquals(1, r.exit());
    assertEquals(1, r.err().lines().count(), r.err());
    assertTrue(r.err().startsWith("error: snakepit.UnknownTool: unknown tool 'nope'"), r.err());
  }

  @Test
  void anUnknownPoolIsAnUnknownPoolLine() throws Exception {
    Nodes.Run r = call("--pool", "nope", "echo");
    assertEquals(1, r.exit());
    assertEquals(1, r.err().lines().count(), r.err());
    assertTrue(r.err().startsWith("error: snakepit.UnknownPool: no pool named 'nope' is configured; the pools are"
        + " default."), r.err());
  }

  @Test
  void aPythonExceptionIsItsTypeAndMessageThenItsTraceback() throws Exception {
    Nodes.Run r = call("fail", "{\"message\": \"no good\", \"kind\": \"TypeError\"}");
    assertEquals(1, r.exit());
    List<String> lines = r.err().lines().toList();
    assertEquals("error: TypeError: no good", lines.get(0));
    assertEquals("Traceback (most recent call last):", lines.get(1));
  }

  @Test
  void badJsonIsAnInvalidArgumentsLine() throws Exception {
    Nodes.Run r = call("echo", "{bad");
    assertEquals(1, r.exit());
    assertEquals(1, r.err().lines().count(), r.err());
    assertTrue(r.err().startsWith("error: snakepit.InvalidArguments: tool 'echo': args_json is not valid JSON ("),
        r.err());
  }

  @Test
  void anUnreachableNodeIsAnUnreachableLineAndExit2() throws Exception {
    int port = Nodes.freePort();
    Nodes.Run r = Nodes.snakepit("call", "--target", "127.0.0.1:" + port, "--token-file",
        node.tokenFile().toString(), "echo");
    assertEquals(new Nodes.Run(2, "", "error: snakepit.Unreachable: cannot reach a node at 127.0.0.1:" + port
        + " (Connection refused). Start one with ./snakepit serve, or point --target at one"), r);
  }
}
