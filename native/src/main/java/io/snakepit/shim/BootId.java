package io.snakepit.shim;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** The kernel's boot id: it changes at every boot, so it tells whether a recorded pid can still mean anything. */
public final class BootId {
  private static final String CURRENT = read();

  private BootId() {}

  /** The boot id of the running kernel. */
  public static String current() {
    return CURRENT;
  }

  private static String read() {
    try {
      return Files.readString(Path.of("/proc/sys/kernel/random/boot_id")).trim();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read /proc/sys/kernel/random/boot_id", e);
    }
  }
}
