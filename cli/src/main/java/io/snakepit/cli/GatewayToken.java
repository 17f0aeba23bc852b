package io.snakepit.cli;

import io.snakepit.shim.PrivateDirectory;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SeekableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.HexFormat;
import java.util.Map;
import java.util.Set;

/**
 * The secret a gateway admits calls with. A node makes a new one at every start and writes it to
 * {@code DATA_DIR/gateway-INSTANCE.token}, readable by the node's user only, unless it is given one to share with
 * other nodes ({@code serve --token-file}, {@link #given}); clients send it as the metadata
 * {@code authorization: Bearer TOKEN}.
 */
final class GatewayToken {
  private static final SecureRandom RANDOM = new SecureRandom();
  private static final Set<PosixFilePermission> OWNER_ONLY = PosixFilePermissions.fromString("rw-------");
  /** The shortest token a node takes from a file: 32 characters, at least 16 random bytes written in hex. */
  static final int MIN_LENGTH = 32;
  private static final int GROUP_OTHER_BITS = 0077;

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

  /**
   * Reads the token an operator gave the node in {@code file} (a Kubernetes Secret, a file copied to every host of a
   * cluster), after checking it with lstat as {@link #create} treats its own: a regular file, not a symbolic link,
   * owned by the node's user, with no group or other permission (0600 or 0400), holding at least
   * {@value #MIN_LENGTH} characters on its first line.
   *
   * @param setting how the operator named the file, for the message ({@code --token-file / snakepit...})
   * @throws IllegalArgumentException naming the file, what is wrong with it and the fix
   */
  static String given(Path file, String setting) {
    String fix = " Give the node a file of its own user's, mode 0600 or 0400, holding one line of at least "
        + MIN_LENGTH + " random characters, e.g. (umask 077; openssl rand -hex 32 > FILE)";
    String named = setting + " " + file;
    Map<String, Object> a;
    try {
      a = Files.readAttributes(file, "unix:uid,mode,isRegularFile,isSymbolicLink", LinkOption.NOFOLLOW_LINKS);
    } catch (NoSuchFileException e) {
      throw new IllegalArgumentException(named + ": no such file." + fix);
    } catch (IOException e) {
      throw new IllegalArgumentException(named + ": cannot read it (" + e + ")." + fix);
    }
    if ((Boolean) a.get("isSymbolicLink")) {
      throw new IllegalArgumentException(named + " is a symbolic link, which the node will not follow (whoever"
          + " can change the link chooses the token): give the path of the file itself." + fix);
    }
    if (!(Boolean) a.get("isRegularFile")) {
      throw new IllegalArgumentException(named + " is not a regular file." + fix);
    }
    int owner = (Integer) a.get("uid");
    if (owner != PrivateDirectory.uid()) {
      throw new IllegalArgumentException(named + " is owned by uid " + owner + ", not by the node's user (uid "
          + PrivateDirectory.uid() + "), so someone else may change it: chown it to the node's user." + fix);
    }
    int mode = (Integer) a.get("mode") & 07777;
    if ((mode & GROUP_OTHER_BITS) != 0) {
      throw new IllegalArgumentException(named + " has mode " + PrivateDirectory.octal(mode) + ": group or others"
          + " may read or write the token: make it the node's user's only, chmod 0400 " + file);
    }
    String token;
    try {
      token = read(file);
    } catch (IOException e) {
      throw new IllegalArgumentException(named + ": cannot read it (" + e + ")." + fix);
    }
    if (token.isEmpty()) {
      throw new IllegalArgumentException(named + " is empty." + fix);
    }
    if (token.length() < MIN_LENGTH) {
      throw new IllegalArgumentException(named + " holds a token of " + token.length() + " characters, fewer than"
          + " the " + MIN_LENGTH + " the node takes." + fix);
    }
    return token;
  }

  /** Reads a token written by {@link #create}, or set by hand: the file's first line, trimmed. */
  static String read(Path file) throws IOException {
    String text = Files.readString(file, StandardCharsets.US_ASCII).strip();
    int end = text.indexOf('\n');
    return end < 0 ? text : text.substring(0, end).strip();
  }
}
