package io.snakepit.actors.worker;

import java.nio.charset.StandardCharsets;

/**
 * Turns a worker's output bytes into text for a log line or an output file. Python may write anything (binary data,
 * another encoding, a multi-byte character cut in two), and a silent U+FFFD would hide what it wrote: every byte that
 * is not part of well-formed UTF-8 becomes {@code \xNN}, as do control characters other than tab (they could rewrite a
 * terminal or forge a log line). Never throws.
 */
final class OutputText {
  private OutputText() {}

  /** The text of {@code bytes[from, to)}, escaped as the class comment says. */
  static String of(byte[] bytes, int from, int to) {
    if (plainAscii(bytes, from, to)) {
      return new String(bytes, from, to - from, StandardCharsets.ISO_8859_1);
    }
    StringBuilder out = new StringBuilder(to - from + 16);
    int i = from;
    while (i < to) {
      int b = bytes[i] & 0xff;
      if (b < 0x80) {
        if (b < 0x20 && b != '\t' || b == 0x7f) {
          escape(out, b);
        } else {
          out.append((char) b);
        }
        i++;
        continue;
      }
      int n = sequenceLength(bytes, i, to);
      if (n == 0) {
        escape(out, b);
        i++;
      } else {
        out.append(new String(bytes, i, n, StandardCharsets.UTF_8));
        i += n;
      }
    }
    return out.toString();
  }

  /** Printable ASCII only: the common case, copied without a look at each character's class. */
  private static boolean plainAscii(byte[] bytes, int from, int to) {
    for (int i = from; i < to; i++) {
      byte b = bytes[i];
      if (b < 0x20 && b != '\t' || b == 0x7f) { // bytes >= 0x80 are negative
        return false;
      }
    }
    return true;
  }

  /**
   * The length of the well-formed UTF-8 sequence starting at {@code i} (2 to 4), or 0: no overlong forms, no
   * surrogates, nothing past U+10FFFF, no sequence cut short.
   */
  private static int sequenceLength(byte[] bytes, int i, int to) {
    int lead = bytes[i] & 0xff;
    int n;
    int min;
    int max = 0xbf;
    if (lead >= 0xc2 && lead <= 0xdf) {
      n = 2;
      min = 0x80;
    } else if (lead == 0xe0) {
      n = 3;
      min = 0xa0; // below: overlong
    } else if (lead == 0xed) {
      n = 3;
      min = 0x80;
      max = 0x9f; // above: surrogates
    } else if (lead >= 0xe1 && lead <= 0xef) {
      n = 3;
      min = 0x80;
    } else if (lead == 0xf0) {
      n = 4;
      min = 0x90;
    } else if (lead >= 0xf1 && lead <= 0xf3) {
      n = 4;
      min = 0x80;
    } else if (lead == 0xf4) {
      n = 4;
      min = 0x80;
      max = 0x8f; // above: past U+10FFFF
    } else {
      return 0;
    }
    if (i + n > to) {
      return 0;
    }
    int second = bytes[i + 1] & 0xff;
    if (second < min || second > max) {
      return 0;
    }
    for (int k = 2; k < n; k++) {
      int c = bytes[i + k] & 0xff;
      if (c < 0x80 || c > 0xbf) {
        return 0;
      }
    }
    return n;
  }

  private static void escape(StringBuilder out, int b) {
    out.append("\\x").append(Character.forDigit(b >> 4, 16)).append(Character.forDigit(b & 0xf, 16));
  }
}
