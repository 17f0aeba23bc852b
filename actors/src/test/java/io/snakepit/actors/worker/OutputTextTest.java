package io.snakepit.actors.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** Output bytes become text without loss or surprise: well-formed UTF-8 is kept, anything else is escaped. */
class OutputTextTest {

  private static String text(byte... bytes) {
    return OutputText.of(bytes, 0, bytes.length);
  }

  @Test
  void wellFormedUtf8IsKeptAsIs() {
    byte[] bytes = "größe €5 😀\tok".getBytes(StandardCharsets.UTF_8);
    assertEquals("größe €5 😀\tok", OutputText.of(bytes, 0, bytes.length));
  }

  @Test
  void bytesThatAreNotUtf8AreEscapedOneByOne() {
    assertEquals("a\\xffb\\xc3", text((byte) 'a', (byte) 0xff, (byte) 'b', (byte) 0xc3));
    // overlong '/', a surrogate, and a code point past U+10FFFF
    assertEquals("\\xc0\\xaf", text((byte) 0xc0, (byte) 0xaf));
    assertEquals("\\xed\\xa0\\x80", text((byte) 0xed, (byte) 0xa0, (byte) 0x80));
    assertEquals("\\xf4\\x90\\x80\\x80", text((byte) 0xf4, (byte) 0x90, (byte) 0x80, (byte) 0x80));
  }

  @Test
  void controlCharactersButTabAreEscaped() {
    assertEquals("a\\x1b[31m\\x0d\\x00\\x7f", text((byte) 'a', (byte) 27, (byte) '[', (byte) '3', (byte) '1',
        (byte) 'm', (byte) '\r', (byte) 0, (byte) 0x7f));
  }

  @Test
  void onlyTheGivenRangeIsRead() {
    byte[] bytes = "xxhelloxx".getBytes(StandardCharsets.US_ASCII);
    assertEquals("hello", OutputText.of(bytes, 2, 7));
  }
}
