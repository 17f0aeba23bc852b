package io.snakepit.testing;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Certificates made by the real {@code openssl} for TLS tests: a CA, and node certificates it issues (RSA, PKCS#8
 * keys, one day). Made fresh in each test's directory, so nothing secret is committed.
 */
public final class TestCertificates {
  private TestCertificates() {}

  /** A certificate and its key, both PEM files. */
  public record Pair(Path cert, Path key) {}

  /** A self-signed CA {@code NAME.pem} with its key {@code NAME.key} in {@code dir}. */
  public static Pair ca(Path dir, String name) throws IOException, InterruptedException {
    Requires.openssl();
    Pair ca = new Pair(dir.resolve(name + ".pem"), dir.resolve(name + ".key"));
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=" + name,
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        "-keyout", ca.key().toString(), "-out", ca.cert().toString());
    return ca;
  }

  /**
   * A certificate {@code NAME.pem} with key {@code NAME.key} in {@code dir}, issued by {@code ca}, with subject
   * {@code CN=commonName} and the subjectAltName {@code san} (e.g. {@code IP:127.0.0.1,DNS:snakepit-cluster}).
   */
  public static Pair node(Path dir, String name, Pair ca, String commonName, String san)
      throws IOException, InterruptedException {
    Requires.openssl();
    Pair node = new Pair(dir.resolve(name + ".pem"), dir.resolve(name + ".key"));
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-CA", ca.cert().toString(),
        "-CAkey", ca.key().toString(), "-subj", "/CN=" + commonName, "-addext", "subjectAltName=" + san,
        "-addext", "basicConstraints=critical,CA:FALSE",
        "-keyout", node.key().toString(), "-out", node.cert().toString());
    return node;
  }

  /** Runs openssl with {@code args}, at most 60 s; fails with its output if it fails. */
  public static String openssl(String... args) throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>(List.of("openssl"));
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    p.getOutputStream().close();
    byte[] out = p.getInputStream().readAllBytes();
    if (!p.waitFor(60, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new IllegalStateException("openssl did not finish within 60 s: " + cmd);
    }
    String text = new String(out, StandardCharsets.UTF_8);
    if (p.exitValue() != 0) {
      throw new IllegalStateException("openssl failed (" + p.exitValue() + "): " + cmd + "\n" + text);
    }
    return text;
  }

  /** Writes {@code text} to {@code dir/name} and returns the path. */
  public static Path file(Path dir, String name, String text) throws IOException {
    return Files.writeString(dir.resolve(name), text);
  }
}
