package io.snakepit.shim;

import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * What an ELF executable's header and program headers say about where it runs: its word size, its machine, and
 * whether it needs a dynamic loader (a {@code PT_INTERP} or {@code PT_DYNAMIC} segment) or is statically linked.
 *
 * @param bits 32 or 64 (the header's class)
 * @param machine the header's {@code e_machine}: {@link #X86_64} or {@link #AARCH64} for the shipped shims
 * @param interpreter whether a {@code PT_INTERP} segment names a dynamic loader
 * @param dynamic whether a {@code PT_DYNAMIC} segment asks for dynamic linking
 */
record ElfImage(int bits, int machine, boolean interpreter, boolean dynamic) {
  /** {@code e_machine} of x86_64 ({@code EM_X86_64}). */
  static final int X86_64 = 62;
  /** {@code e_machine} of aarch64 ({@code EM_AARCH64}). */
  static final int AARCH64 = 183;

  private static final int PT_DYNAMIC = 2;
  private static final int PT_INTERP = 3;

  /** Whether the image runs without a dynamic loader or shared libraries. */
  boolean isStatic() {
    return !interpreter && !dynamic;
  }

  /** The machine as the jar's resource names say it ({@code x86_64}, {@code aarch_64}), else {@code e_machine N}. */
  String arch() {
    return switch (machine) {
      case X86_64 -> "x86_64";
      case AARCH64 -> "aarch_64";
      default -> "e_machine " + machine;
    };
  }

  /**
   * Reads the headers of an ELF file held in {@code bytes}.
   *
   * @throws IllegalArgumentException if the bytes are not an ELF file or its headers do not fit in them
   */
  static ElfImage read(byte[] bytes) {
    if (bytes.length < 52 || bytes[0] != 0x7f || bytes[1] != 'E' || bytes[2] != 'L' || bytes[3] != 'F') {
      throw new IllegalArgumentException("not an ELF file (no \\x7fELF magic in its first 4 bytes)");
    }
    int bits = switch (bytes[4]) {
      case 1 -> 32;
      case 2 -> 64;
      default -> throw new IllegalArgumentException("ELF class " + bytes[4] + " is neither 1 (32-bit) nor 2 (64-bit)");
    };
    ByteOrder order = switch (bytes[5]) {
      case 1 -> ByteOrder.LITTLE_ENDIAN;
      case 2 -> ByteOrder.BIG_ENDIAN;
      default -> throw new IllegalArgumentException("ELF data encoding " + bytes[5] + " is neither 1 (LSB) nor 2 (MSB)");
    };
    ByteBuffer b = ByteBuffer.wrap(bytes).order(order);
    try {
      int machine = Short.toUnsignedInt(b.getShort(18));
      long phoff = bits == 64 ? b.getLong(32) : Integer.toUnsignedLong(b.getInt(28));
      int phentsize = Short.toUnsignedInt(b.getShort(bits == 64 ? 54 : 42));
      int phnum = Short.toUnsignedInt(b.getShort(bits == 64 ? 56 : 44));
      boolean interpreter = false;
      boolean dynamic = false;
      for (int k = 0; k < phnum; k++) {
        long at = phoff + (long) k * phentsize;
        if (at < 0 || at + 4 > bytes.length) {
          throw new IllegalArgumentException("program header " + k + " at offset " + at + " lies past the file's end ("
              + bytes.length + " bytes)");
        }
        int type = b.getInt((int) at);
        interpreter |= type == PT_INTERP;
        dynamic |= type == PT_DYNAMIC;
      }
      return new ElfImage(bits, machine, interpreter, dynamic);
    } catch (IndexOutOfBoundsException | BufferUnderflowException e) {
      throw new IllegalArgumentException("ELF header cut short (" + bytes.length + " bytes)", e);
    }
  }
}
