package io.snakepit.persistence;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.core.Version;
import org.junit.jupiter.api.Test;

class JacksonFloorTest {

  @Test
  void akkasOwnJacksonIsRefusedWithTheFix() {
    IllegalStateException e = assertThrows(IllegalStateException.class, () -> JacksonFloor.require(
        new Version(2, 11, 4, null, "com.fasterxml.jackson.core", "jackson-databind"), "file:/app/lib/x.jar"));
    assertTrue(e.getMessage().contains("resolved 2.11.4 (file:/app/lib/x.jar)"), e.getMessage());
    assertTrue(e.getMessage().contains("io.snakepit:snakepit-bom"), e.getMessage());
  }

  @Test
  void theBuildsOwnJacksonPasses() {
    assertDoesNotThrow(() -> JacksonFloor.require());
    assertDoesNotThrow(() -> JacksonFloor.require(
        new Version(2, 15, 0, null, "com.fasterxml.jackson.core", "jackson-databind"), "here"));
  }
}
