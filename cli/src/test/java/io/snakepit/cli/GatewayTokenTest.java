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
}
