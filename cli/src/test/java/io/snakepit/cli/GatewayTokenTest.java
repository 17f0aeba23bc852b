package io.snakepit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The gateway token's file: made for its owner alone, replaced whole, never through a link. */
class GatewayTokenTest {
  @TempDir
  Path dir;

  @Test
  void aTokenIsWrittenOwnerOnlyAndReadBack() throws Exception {
    Path file = GatewayToken.file(dir, "alpha");
    assertEquals(dir.resolve("gateway-alpha.token"), file);
    String token = GatewayToken.create(file);
    assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));
    assertEquals(token + "\n", Files.readString(file));
    assertEquals(token, GatewayToken.read(file));
    assertEquals(List.of(file), Files.list(dir).toList(), "no partial file is left");
  }

  @Test
  void eachStartReplacesTheTokenWithANewOne() throws Exception {
    Path file = GatewayToken.file(dir, "alpha");
    String first = GatewayToken.create(file);
    String second = GatewayToken.create(file);
    assertNotEquals(first, second);
    assertEquals(second, GatewayToken.read(file));
  }

  @Test
  void aSymbolicLinkAtThePathIsRefusedAndItsTargetLeftAlone() throws Exception {
    Path target = Files.writeString(dir.resolve("elsewhere"), "keep");
    Path file = Files.createSymbolicLink(GatewayToken.file(dir, "alpha"), target);
    IOException e = assertThrows(IOException.class, () -> GatewayToken.create(file));
    assertTrue(e.getMessage().contains(file + " is a symbolic link"), e.getMessage());
    assertEquals("keep", Files.readString(target));
  }

  @Test
  void aTokenWrittenByHandIsReadWithoutItsWhitespace() throws Exception {
    Path file = Files.writeString(dir.resolve("t"), "  abc-_123 \n\nsecond line\n");
    assertEquals("abc-_123", GatewayToken.read(file));
  }

  private Path given(String name, String mode, String text) throws IOException {
    Path file = dir.resolve(name);
    Files.writeString(file, text);
    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString(mode));
    return file;
  }

  @Test
  void aGivenTokenIsTheFilesFirstLineWhenOnlyItsOwnerMayReadIt() throws Exception {
    String token = "a".repeat(GatewayToken.MIN_LENGTH);
    assertEquals(token, GatewayToken.given(given("r.token", "r--------", token + "\nrest\n"), "--token-file"));
    assertEquals(token, GatewayToken.given(given("rw.token", "rw-------", "  " + token + "  "), "--token-file"));
  }

  @Test
  void aGivenTokenFileThatOthersMayReachOrThatIsShortIsRefusedNamingItAndTheFix() throws Exception {
    String token = "b".repeat(40);
    Path target = given("target.token", "r--------", token);
    Path link = Files.createSymbolicLink(dir.resolve("link.token"), target);
    List<List<String>> cases = List.of(
        List.of(given("g.token", "rw-r-----", token).toString(), "has mode 0640", "chmod 0400"),
        List.of(given("o.token", "rw----r--", token).toString(), "has mode 0604", "chmod 0400"),
        List.of(given("w.token", "rw--w----", token).toString(), "has mode 0620", "chmod 0400"),
        List.of(dir.resolve("absent.token").toString(), "no such file", "openssl rand -hex 32"),
        List.of(link.toString(), "is a symbolic link", "the file itself"),
        List.of(dir.toString(), "is not a regular file", "openssl rand -hex 32"),
        List.of(given("empty.token", "rw-------", " \n").toString(), "is empty", "openssl rand -hex 32"),
        List.of(given("short.token", "rw-------", "b".repeat(31)).toString(), "holds a token of 31 characters",
            "openssl rand -hex 32"));
    for (List<String> c : cases) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> GatewayToken.given(Path.of(c.get(0)), "snakepit.gateway.token-file"));
      assertTrue(e.getMessage().startsWith("snakepit.gateway.token-file " + c.get(0)), e.getMessage());
      assertTrue(e.getMessage().contains(c.get(1)) && e.getMessage().contains(c.get(2)), e.getMessage());
    }
  }
}
