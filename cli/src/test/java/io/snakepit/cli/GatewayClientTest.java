package io.snakepit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** Where {@code snakepit call} and {@code load} take the gateway token from, and what they say when it is missing. */
class GatewayClientTest {
  @TempDir
  Path dir;

  private static GatewayClient.Token token(Map<String, String> env, String... args) {
    CallCommand call = new CallCommand();
    new CommandLine(call).parseArgs(args);
    return call.gateway.token(env);
  }

  @Test
  void tokenFileBeatsDataDirWhichBeatsTheVariable() throws Exception {
    Path file = Files.writeString(dir.resolve("t"), "from-file\n");
    Files.writeString(GatewayToken.file(dir, "alpha"), "from-data-dir\n");
    Map<String, String> env = Map.of(GatewayClient.TOKEN_VARIABLE, "from-env");
    assertEquals("from-file", token(env, "--token-file", file.toString(), "ping").value());
    assertEquals("from-data-dir", token(env, "--data-dir", dir.toString(), "--instance", "alpha", "ping").value());
    assertEquals("from-env", token(env, "ping").value());
  }

  @Test
  void theInstanceNamesTheFileInTheDataDir() throws Exception {
    Files.writeString(GatewayToken.file(dir, "alpha"), "a\n");
    Files.writeString(GatewayToken.file(dir, "beta"), "b\n");
    assertEquals("b", token(Map.of(), "--data-dir", dir.toString(), "--instance", "beta", "ping").value());
  }

  @Test
  void aMissingTokenFileIsNamedWithTheThreeWaysToGiveOne() {
    GatewayClient.Token t = token(Map.of(), "--data-dir", dir.toString(), "--instance", "alpha", "ping");
    assertNull(t.value());
    assertTrue(t.problem().startsWith("no gateway token at " + dir.resolve("gateway-alpha.token")), t.problem());
    assertTrue(t.problem().contains("--data-dir DIR") && t.problem().contains("--token-file FILE")
        && t.problem().contains("SNAKEPIT_TOKEN"), t.problem());
  }

  @Test
  void tokenFileAndDataDirTogetherAreABadFlag() {
    CommandLine.ParameterException e = assertThrows(CommandLine.ParameterException.class,
        () -> token(Map.of(), "--data-dir", dir.toString(), "--token-file", "t", "ping"));
    assertTrue(e.getMessage().contains("--token-file and --data-dir"), e.getMessage());
  }
}
