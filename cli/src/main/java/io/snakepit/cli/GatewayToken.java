package io.snakepit.cli;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SeekableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.HexFormat;
import java.util.Set;

/**
 * The secret a gateway admits calls with. A node makes a new one at every start and writes it to
 * {@code DATA_DIR/gateway-INSTANCE.token}, readable by the node's user only; clients send it as the metadata
 * {@code authorization: Bearer TOKEN}.
 */
final class GatewayToken {
  private static final SecureRandom RANDOM = new SecureRandom();
  private static final Set<PosixFilePermission> OWNER_ONLY = PosixFilePermissions.fromString("rw-------");

  private GatewayToken() {}

  /** The token file of {@code instance}'s node with {@code dataDir}. */
  static Path file(Path dataDir, String instance) {
    return dataDir.resolve("gateway-" + instance + ".token");
  }

  /**
   * Makes a new token and writes it to {@code file}, replacing an older one. The file is created with mode 0600, so
   * no one else can read it even for a moment, and renamed into place, so a reader never sees it half written.
   */
  static String create(Path file) throws IOException {
    if (Files.isSymbolicLink(file)) {
      throw new IOException("the gateway token's path " + file + " is a symbolic link, which the node will not"
          + " follow: remove it (the node writes a new token there at every start)");
    }
    byte[] raw = new byte[32];
    RANDOM.nextBytes(raw);
    String token = Base64.getUrlEncoder().withoutPadding().encodeToString(raw);
    byte[] suffix = new byte[6];
    RANDOM.nextBytes(suffix);
    Path partial = file.resolveSibling("." + file.getFileName() + "." + HexFormat.of().formatHex(suffix));
    try (SeekableByteChannel out = Files.newByteChannel(partial, Set.of(StandardOpenOption.CREATE_NEW,
        StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS), PosixFilePermissions.asFileAttribute(OWNER_ONLY))) {
      out.write(ByteBuffer.wrap((token + "\n").getBytes(StandardCharsets.US_ASCII)));
    } catch (IOException e) {
      Files.deleteIfExists(partial);
      throw e;
    }
    // rename(2): replaces whatever is at file, a link included, without following it.
    Files.move(partial, file, StandardCopyOption.ATOMIC_MOVE);
    return token;
  }

  /** Reads a token written by {@link #create}, or set by hand: the file's first line, trimmed. */
  static String read(Path file) throws IOException {
    String text = Files.readString(file, StandardCharsets.US_ASCII).strip();
    int end = text.indexOf('\n');
    return end < 0 ? text : text.substring(0, end).strip();
  }
}
