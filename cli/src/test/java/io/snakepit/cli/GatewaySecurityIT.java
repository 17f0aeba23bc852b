package io.snakepit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.snakepit.proto.ExecuteRequest;
import io.snakepit.proto.GatewayGrpc;
import io.snakepit.proto.PingRequest;
import io.snakepit.testing.TestNodes;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/** The gateway admits only its owner: a token in the data directory, Unix sockets, and TLS off loopback. */
class GatewaySecurityIT {
  private static final int NOBODY = 65534;

  private static Nodes.Run call(Nodes.Node node, Map<String, String> env, String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of("call", "--target", "127.0.0.1:" + node.port));
    cmd.addAll(List.of(args));
    return Nodes.snakepit(env, cmd.toArray(String[]::new));
  }

  private static String mode(Path path) throws Exception {
    return PosixFilePermissions.toString(Files.getPosixFilePermissions(path,
        java.nio.file.LinkOption.NOFOLLOW_LINKS));
  }

  @Test
  void onlyACallThatCarriesTheNodesTokenGetsThrough() throws Exception {
    try (Nodes.Node node = Nodes.serve("--workers", "1")) {
      String token = GatewayToken.read(node.tokenFile());

      ManagedChannel bare = Grpc.newChannelBuilderForAddress("127.0.0.1", node.port,
          InsecureChannelCredentials.create()).build();
      try {
        GatewayGrpc.GatewayBlockingStub stub = GatewayGrpc.newBlockingStub(bare)
            .withDeadlineAfter(30, TimeUnit.SECONDS);
        StatusRuntimeException ping = assertThrows(StatusRuntimeException.class,
            () -> stub.ping(PingRequest.getDefaultInstance()));
        assertEquals(Status.Code.UNAUTHENTICATED, ping.getStatus().getCode());
        StatusRuntimeException execute = assertThrows(StatusRuntimeException.class,
            () -> stub.execute(ExecuteRequest.newBuilder().setTool("echo").setArgsJson("{}").build()));
        assertEquals(Status.Code.UNAUTHENTICATED, execute.getStatus().getCode());
        String why = execute.getStatus().getDescription();
        assertTrue(why.startsWith("this call carries no gateway token. The node wrote its token to "
            + node.tokenFile() + ", readable by the node's user only") && why.contains("--data-dir DIR")
            && why.contains("--token-file FILE") && why.contains("SNAKEPIT_TOKEN")
            && why.contains("authorization: Bearer TOKEN"), why);
      } finally {
        bare.shutdownNow();
      }

      Path missing = node.dataDir.resolve("no-such.token");
      Nodes.Run none = call(node, Map.of(), "--token-file", missing.toString(), "ping");
      assertEquals(1, none.exit(), none.err());
      assertTrue(none.err().startsWith("error: snakepit.Unauthenticated: this call carries no gateway token"), none.err());
      assertTrue(none.err().contains("\nerror: the call went without a token: no gateway token at " + missing + ": "),
          none.err());

      Nodes.Run wrong = call(node, Map.of(GatewayClient.TOKEN_VARIABLE, token.substring(1) + "x"), "ping");
      assertEquals(1, wrong.exit(), wrong.err());
      assertTrue(wrong.err().startsWith("error: snakepit.Unauthenticated: the gateway token this call carries is not this"
          + " node's"), wrong.err());
      assertEquals("", wrong.out());

      Path copy = Files.createTempFile("snakepit-token", ".txt");
      Files.writeString(copy, token + "\n");
      assertEquals(new Nodes.Run(0, "\"pong\"", ""), call(node, Map.of(), "--data-dir", node.dataDir.toString(),
          "ping"));
      assertEquals(new Nodes.Run(0, "\"pong\"", ""), call(node, Map.of(), "--token-file", copy.toString(), "ping"));
      assertEquals(new Nodes.Run(0, "\"pong\"", ""), call(node, Map.of(GatewayClient.TOKEN_VARIABLE, token),
          "ping"));
      // An explicit --data-dir is asked for and beats the variable; --token-file beats both.
      assertEquals(0, call(node, Map.of(GatewayClient.TOKEN_VARIABLE, "stale"), "--data-dir",
          node.dataDir.toString(), "ping").exit());
      assertEquals(0, call(node, Map.of(GatewayClient.TOKEN_VARIABLE, "stale"), "--token-file", copy.toString(),
          "ping").exit());
      Files.delete(copy);

      Nodes.Run load = Nodes.snakepit("load", "--target", "127.0.0.1:" + node.port, "--token-file",
          missing.toString(), "ping", "--concurrency", "1", "--requests", "1");
      assertEquals(1, load.exit(), load.err());
      assertTrue(load.err().startsWith("error: the node at 127.0.0.1:" + node.port + " refused the call:"
          + " UNAUTHENTICATED: this call carries no gateway token"), load.err());
      Nodes.Run loaded = Nodes.snakepit("load", "--target", "127.0.0.1:" + node.port, "--data-dir",
          node.dataDir.toString(), "ping", "--concurrency", "1", "--requests", "3");
      assertEquals(0, loaded.exit(), loaded.err());
      assertTrue(loaded.out().contains("ok: 3"), loaded.out());
    }
  }

  @Test
  void theTokenIsTheOwnersAloneNewAtEveryStartAndGoneAfterStop() throws Exception {
    Path dataDir = Files.createTempDirectory("snakepit-data").resolve("fresh");
    String first;
    try (Nodes.Node node = Nodes.serveIn(dataDir, "--workers", "1")) {
      Path file = node.tokenFile();
      assertEquals(GatewayToken.file(dataDir, TestNodes.INSTANCE).toAbsolutePath(), file);
      assertEquals("rw-------", mode(file));
      assertEquals("rwx------", mode(dataDir), "serve makes the data directory for its user alone");
      assertEquals(Files.getOwner(dataDir.getParent()), Files.getOwner(file));
      first = GatewayToken.read(file);
      assertTrue(first.matches("[A-Za-z0-9_-]{43}"), "expected 32 random bytes, base64url: " + first);
      assertEquals(List.of(file.getFileName().toString()), Files.list(dataDir)
          .map(p -> p.getFileName().toString()).filter(n -> n.contains("token")).toList(),
          "no partial token file is left beside it");
      node.process.destroy();
      assertTrue(node.process.waitFor(30, TimeUnit.SECONDS));
      assertFalse(Files.exists(file), "the token outlived its node");
    }
    try (Nodes.Node again = Nodes.serveIn(dataDir, "--workers", "1")) {
      assertNotEquals(first, GatewayToken.read(again.tokenFile()));
    }
  }

  @Test
  void aSymlinkWhereTheTokenGoesIsRefused() throws Exception {
    Path dataDir = Files.createTempDirectory("snakepit-data");
    Path target = Files.createTempFile("snakepit-victim", ".txt");
    Files.createSymbolicLink(GatewayToken.file(dataDir, TestNodes.INSTANCE), target);
    List<String> cmd = Nodes.java("-jar", Nodes.jar().toString(), "serve", "--workers", "1", "--listen",
        "127.0.0.1:" + Nodes.freePort(), "--data-dir", dataDir.toString());
    Nodes.Run run = Nodes.run(cmd, Map.of(), "serve");
    assertEquals(1, run.exit(), run.err());
    assertTrue(run.err().contains("is a symbolic link, which the node will not follow"), run.err());
    assertEquals("", Files.readString(target));
    assertFalse(run.out().contains("ready:"), run.out());
    Files.delete(target);
  }

  /** Needs root to become another user; run as {@code nobody}, the client gets neither the token nor a call. */
  @Test
  void anotherLocalUserCanNeitherReadTheTokenNorCallTheGateway() throws Exception {
    Assumptions.assumeTrue("root".equals(System.getProperty("user.name")),
        "becoming another user (setpriv --reuid) needs root; this JVM runs as " + System.getProperty("user.name"));
    Path shared = Files.createTempDirectory("snakepit-shared");
    Files.setPosixFilePermissions(shared, PosixFilePermissions.fromString("rwxr-xr-x"));
    Path jar = Files.copy(Nodes.jar(), shared.resolve("snakepit.jar"), StandardCopyOption.REPLACE_EXISTING);
    // A data directory others may enter, as an older node left it: the token file's own mode must hold.
    Path dataDir = Files.createDirectory(shared.resolve("data"));
    Path socket = dataDir.resolve("gateway.sock");
    int port = Nodes.freePort();
    try (Nodes.Node node = Nodes.serveOn(dataDir, port, "--workers", "1", "--listen", "127.0.0.1:" + port,
        "--listen", "unix:" + socket)) {
      List<String> asNobody = List.of("setpriv", "--reuid=" + NOBODY, "--regid=" + NOBODY, "--clear-groups", "--");
      List<String> cat = new ArrayList<>(asNobody);
      cat.addAll(List.of("cat", node.tokenFile().toString()));
      Nodes.Run read = Nodes.run(cat, Map.of(), "cat as nobody");
      assertNotEquals(0, read.exit());
      assertEquals("", read.out());
      assertTrue(read.err().contains("Permission denied"), read.err());

      List<String> call = new ArrayList<>(asNobody);
      call.addAll(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-XX:-UsePerfData",
          "-Dsnakepit.instance=" + TestNodes.INSTANCE, "-jar", jar.toString(), "call", "--target",
          "127.0.0.1:" + port, "--data-dir", dataDir.toString(), "ping"));
      Nodes.Run tcp = Nodes.run(call, Map.of(), "call as nobody");
      assertEquals(1, tcp.exit(), tcp.err());
      assertTrue(tcp.err().startsWith("error: snakepit.Unauthenticated: this call carries no gateway token"), tcp.err());
      assertTrue(tcp.err().contains("\nerror: the call went without a token: cannot read the gateway token at "
          + GatewayToken.file(dataDir, TestNodes.INSTANCE) + ": permission denied"), tcp.err());

      call.set(call.indexOf("127.0.0.1:" + port), "unix:" + socket);
      Nodes.Run unix = Nodes.run(call, Map.of(), "call through the socket as nobody");
      assertEquals(2, unix.exit(), unix.err());
      assertTrue(unix.err().startsWith("error: snakepit.Unreachable: cannot reach a node at unix:" + socket),
          unix.err());
      assertTrue(unix.err().contains("Permission denied"), unix.err());
    } finally {
      Files.deleteIfExists(jar);
    }
  }

  @Test
  void aUnixSocketServesCallsIsTheOwnersAloneAndGoesAwayOnStop() throws Exception {
    Path dataDir = Files.createTempDirectory("snakepit-data");
    Path sockets = Files.createTempDirectory("snakepit-sock");
    Path socket = sockets.resolve("gateway.sock");
    try (Nodes.Node node = Nodes.serveIn(dataDir, "--workers", "1", "--listen", "unix:" + socket)) {
      assertTrue(node.readyLine.contains(", gateway on 127.0.0.1:" + node.port + " and unix:" + socket
          + ", isolation "), node.readyLine);
      assertEquals("rw-------", mode(socket));
      assertEquals(List.of(socket), Files.list(sockets).toList(), "nothing but the socket is left beside it");
      Nodes.Run ok = Nodes.snakepit("call", "--target", "unix:" + socket, "--data-dir", dataDir.toString(),
          "echo", "{\"via\": \"unix\"}");
      assertEquals(new Nodes.Run(0, "{\"via\": \"unix\"}", ""), ok);
      Nodes.Run noToken = Nodes.snakepit("call", "--target", "unix:" + socket, "--token-file",
          dataDir.resolve("none").toString(), "ping");
      assertEquals(1, noToken.exit(), noToken.err());
      assertTrue(noToken.err().startsWith("error: snakepit.Unauthenticated: "), noToken.err());
      node.process.destroy();
      assertTrue(node.process.waitFor(30, TimeUnit.SECONDS));
      assertEquals(List.of(), Files.list(sockets).toList(), "the socket outlived its node");
    }
  }

  @Test
  void anAddressOtherHostsCanReachNeedsTlsOrInsecureAndBadTlsFlagsAreNamed() throws Exception {
    Path dataDir = Files.createTempDirectory("snakepit-data").resolve("never");
    int port = Nodes.freePort();
    Map<List<String>, String> cases = Map.of(
        List.of("--listen", "0.0.0.0:" + port), "--listen 0.0.0.0:" + port + " can be reached from other hosts,"
            + " and the gateway would serve it without TLS: give --tls-cert FILE and --tls-key FILE (and --tls-client-ca"
            + " FILE to require client certificates), or --insecure",
        List.of("--listen", "127.0.0.1:" + port, "--listen", "[::]:" + port), "--listen [::]:" + port + " can be"
            + " reached from other hosts",
        List.of("--tls-cert", "cert.pem"), "TLS needs both --tls-cert FILE and --tls-key FILE; only --tls-cert"
            + " cert.pem was given",
        List.of("--tls-client-ca", "ca.pem"), "--tls-client-ca needs --tls-cert and --tls-key",
        List.of("--insecure", "--tls-cert", "c.pem", "--tls-key", "k.pem"), "--insecure turns TLS off and"
            + " --tls-cert turns it on");
    for (Map.Entry<List<String>, String> c : cases.entrySet()) {
      List<String> cmd = Nodes.java("-jar", Nodes.jar().toString(), "serve", "--data-dir", dataDir.toString());
      cmd.addAll(c.getKey());
      Nodes.Run run = Nodes.run(cmd, Map.of(), "serve " + c.getKey());
      assertEquals(2, run.exit(), c.getKey() + ": " + run.err());
      assertTrue(run.err().contains(c.getValue()), c.getKey() + ": " + run.err());
    }
    assertFalse(Files.exists(dataDir), "a refused start made the data directory");
  }

  @Test
  void insecureServesOtherHostsWithAWarningAtEveryStart() throws Exception {
    Path dataDir = Files.createTempDirectory("snakepit-data");
    for (int start = 0; start < 2; start++) {
      int port = Nodes.freePort();
      try (Nodes.Node node = Nodes.serveOn(dataDir, port, "--workers", "1", "--listen", "0.0.0.0:" + port,
          "--insecure")) {
        assertTrue(node.readyLine.contains("gateway on 0.0.0.0:" + port), node.readyLine);
        List<String> warnings = node.stderr().stream().filter(l -> l.startsWith("snakepit: warning: --insecure:"))
            .toList();
        assertEquals(1, warnings.size(), "start " + start + ": " + node.stderr());
        assertTrue(warnings.get(0).contains("0.0.0.0:" + port + " without TLS"), warnings.get(0));
        assertEquals(new Nodes.Run(0, "\"pong\"", ""), call(node, Map.of(), "--data-dir", dataDir.toString(),
            "ping"));
      }
    }
  }

  @Test
  void tlsWithClientCertificatesAdmitsOnlyAClientThatPresentsOne() throws Exception {
    Path pki = Files.createTempDirectory("snakepit-pki");
    selfSigned(pki, "server", "subjectAltName=IP:127.0.0.1,DNS:localhost");
    selfSigned(pki, "client", "extendedKeyUsage=clientAuth");
    Path dataDir = Files.createTempDirectory("snakepit-data");
    try (Nodes.Node node = Nodes.serveIn(dataDir, "--workers", "1", "--tls-cert", pki.resolve("server.pem")
        .toString(), "--tls-key", pki.resolve("server.key").toString(), "--tls-client-ca",
        pki.resolve("client.pem").toString())) {
      String dir = dataDir.toString();
      String ca = pki.resolve("server.pem").toString();
      Nodes.Run mutual = call(node, Map.of(), "--data-dir", dir, "--tls-ca", ca, "--tls-cert",
          pki.resolve("client.pem").toString(), "--tls-key", pki.resolve("client.key").toString(), "echo",
          "{\"over\": \"tls\"}");
      assertEquals(new Nodes.Run(0, "{\"over\": \"tls\"}", ""), mutual);

      Nodes.Run noClientCert = call(node, Map.of(), "--data-dir", dir, "--tls-ca", ca, "ping");
      assertEquals(2, noClientCert.exit(), noClientCert.err());
      assertEquals("", noClientCert.out());
      Nodes.Run plaintext = call(node, Map.of(), "--data-dir", dir, "ping");
      assertEquals(2, plaintext.exit(), plaintext.err());
      Nodes.Run untrusted = call(node, Map.of(), "--data-dir", dir, "--tls", "--tls-cert",
          pki.resolve("client.pem").toString(), "--tls-key", pki.resolve("client.key").toString(), "ping");
      assertEquals(2, untrusted.exit(), untrusted.err());
      assertTrue(untrusted.err().contains("cannot reach a node"), untrusted.err());
    }
  }

  /** A self-signed certificate {@code NAME.pem} and its PKCS#8 key {@code NAME.key}, made by openssl. */
  private static void selfSigned(Path dir, String name, String extension) throws Exception {
    io.snakepit.testing.Requires.openssl();
    List<String> cmd = List.of("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        "-subj", "/CN=snakepit-test-" + name, "-addext", extension,
        "-keyout", dir.resolve(name + ".key").toString(), "-out", dir.resolve(name + ".pem").toString());
    Nodes.Run run = Nodes.run(cmd, Map.of(), "openssl (apt-get install openssl)");
    assertEquals(0, run.exit(), "openssl could not make a test certificate: " + run.err());
    assertTrue(Files.readString(dir.resolve(name + ".key"), StandardCharsets.US_ASCII)
        .startsWith("-----BEGIN PRIVATE KEY-----"), "expected a PKCS#8 key from openssl");
  }
}
