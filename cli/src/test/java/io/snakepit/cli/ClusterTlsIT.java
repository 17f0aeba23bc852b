package io.snakepit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.snakepit.testing.TestCertificates;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Two {@code snakepit serve} JVMs with certificates of one CA (made by openssl) join over artery's TLS, on a host
 * address other hosts can reach when this machine has one; a third, whose certificate another CA issued, is refused:
 * it does not join within its join-timeout and exits 1. Bad TLS files stop serve with exit status 2.
 */
class ClusterTlsIT {
  /** The seeds' and the stranger's certificates all carry this subject: they differ only by their CA. */
  private static final String SUBJECT = "snakepit-cluster";

  @Test
  void nodesWithCertificatesOfOneCaJoinOverTlsAndANodeOfAnotherCaIsRefused() throws Exception {
    Path dir = Files.createTempDirectory("snakepit-cluster-tls");
    String host = reachableHost();
    TestCertificates.Pair ca = TestCertificates.ca(dir, "cluster-ca");
    TestCertificates.Pair otherCa = TestCertificates.ca(dir, "other-ca");
    String san = "IP:" + host + ",IP:127.0.0.1,DNS:" + SUBJECT;
    TestCertificates.Pair certA = TestCertificates.node(dir, "node-a", ca, SUBJECT, san);
    TestCertificates.Pair certB = TestCertificates.node(dir, "node-b", ca, SUBJECT, san);
    TestCertificates.Pair certC = TestCertificates.node(dir, "node-c", otherCa, SUBJECT, san);
    int portA = Nodes.freePort();
    int portB = Nodes.freePort();
    String seeds = host + ":" + portA + "," + host + ":" + portB;
    String addressA = "snakepit@" + host + ":" + portA;
    String addressB = "snakepit@" + host + ":" + portB;
    try (Nodes.Node a = start("tls-a", host, portA, seeds, certA, ca.cert());
        Nodes.Node b = start("tls-b", host, portB, seeds, certB, ca.cert())) {
      for (Nodes.Node n : List.of(a, b)) {
        assertFalse(String.join("\n", n.stderr()).contains("is not encrypted"), String.join("\n", n.stderr()));
        ClusterIT.awaitCluster(n, c -> ClusterIT.upMembers(c).equals(Set.of(addressA, addressB)), "a and b Up");
      }
      assertTrue(a.readyLine.endsWith(", cluster " + addressA + " (1 member)")
          || a.readyLine.endsWith(", cluster " + addressA + " (2 members)"), a.readyLine);

      // Status crosses the TLS transport too: a's lists b's worker.
      Nodes.Run status = Nodes.snakepit("status", "--json", "--target", "127.0.0.1:" + a.port, "--data-dir",
          a.dataDir.toString(), "--instance", "tls-a");
      assertEquals(0, status.exit(), status.err());
      JsonNode fromA = new ObjectMapper().readTree(status.out());
      JsonNode entryB = ClusterIT.nodeEntry(fromA, addressB);
      long deadline = System.nanoTime() + 30_000_000_000L;
      while (!entryB.get("reachable").asBoolean() && System.nanoTime() < deadline) {
        Thread.sleep(500);
        status = Nodes.snakepit("status", "--json", "--target", "127.0.0.1:" + a.port, "--data-dir",
            a.dataDir.toString(), "--instance", "tls-a");
        entryB = ClusterIT.nodeEntry(new ObjectMapper().readTree(status.out()), addressB);
      }
      assertEquals("tls-b", entryB.path("instance").asText(), entryB.toString());
      Set<Integer> pidsB = new java.util.HashSet<>();
      entryB.get("pools").forEach(p -> p.get("workers").forEach(w -> pidsB.add(w.get("pid").asInt())));
      assertEquals(ClusterIT.pythonPids(b), pidsB, entryB.toString());

      // The port speaks TLS and asks for a client certificate: openssl with b's gets through, verifying a's chain.
      String port = host + ":" + portA;
      String withCert = TestCertificates.openssl("s_client", "-connect", port, "-CAfile", ca.cert().toString(),
          "-cert", certB.cert().toString(), "-key", certB.key().toString(), "-brief");
      assertTrue(withCert.contains("CONNECTION ESTABLISHED") && withCert.contains("Verification: OK"), withCert);
      assertTrue(withCert.contains(SUBJECT), withCert);

      // c trusts only its own CA, and a and b only theirs: c cannot join, and gives up after its join-timeout.
      int portC = Nodes.freePort();
      long started = System.nanoTime();
      Nodes.Run c = Nodes.run(cmd(List.of("-Dsnakepit.cluster.join-timeout=10s"), "tls-c", host, portC,
          host + ":" + portA, certC, otherCa.cert()), Map.of(), "serve tls-c");
      long tookMillis = (System.nanoTime() - started) / 1_000_000;
      assertEquals(1, c.exit(), c.out() + "\n" + c.err());
      assertTrue(c.err().contains("did not join the cluster within snakepit.cluster.join-timeout = 10 s")
          && c.err().contains("with cluster TLS") && c.err().contains(certC.cert().toString()), c.err());
      assertFalse(c.out().contains("ready:"), c.out());
      String addressC = "snakepit@" + host + ":" + portC;
      for (Nodes.Node n : List.of(a, b)) {
        Set<String> seen = ClusterIT.addresses(ClusterIT.awaitCluster(n, x -> true, "a cluster section")
            .get("members"));
        assertEquals(Set.of(addressA, addressB), seen, "the stranger became a member");
      }
      assertTrue(a.process.isAlive() && b.process.isAlive(), "a seed died");
      System.out.println("cluster tls: the node of another CA gave up after " + tookMillis + " ms (join-timeout 10 s)"
          + " on host " + host);
    }
  }

  @Test
  void badTlsFilesAndMissingTlsAreRefusedWithExitTwoNamingTheFlag() throws Exception {
    Path dir = Files.createTempDirectory("snakepit-cluster-tls-bad");
    TestCertificates.Pair ca = TestCertificates.ca(dir, "cluster-ca");
    TestCertificates.Pair node = TestCertificates.node(dir, "node", ca, SUBJECT, "IP:127.0.0.1");
    Path junk = TestCertificates.file(dir, "junk.key", "-----BEGIN PRIVATE KEY-----\nnot base64 at all\n");
    Path data = Files.createTempDirectory("snakepit-bad-tls");
    Nodes.Run badKey = Nodes.snakepit("serve", "--data-dir", data.toString(), "--cluster-port", "25520",
        "--seed", "127.0.0.1:25520", "--cluster-tls-cert", node.cert().toString(), "--cluster-tls-key",
        junk.toString(), "--cluster-tls-ca", ca.cert().toString());
    assertEquals(2, badKey.exit(), badKey.err());
    assertTrue(badKey.err().startsWith("snakepit: --cluster-tls-key / snakepit.cluster.tls.key: " + junk
        + " is not a private key"), badKey.err());
    Nodes.Run noCa = Nodes.snakepit("serve", "--data-dir", data.toString(), "--cluster-port", "25520",
        "--seed", "127.0.0.1:25520", "--cluster-tls-cert", node.cert().toString(), "--cluster-tls-key",
        node.key().toString());
    assertEquals(2, noCa.exit(), noCa.err());
    assertTrue(noCa.err().contains("--cluster-tls-ca FILE"), noCa.err());
    Nodes.Run open = Nodes.snakepit("serve", "--data-dir", data.toString(), "--cluster-port", "25520",
        "--cluster-host", "10.1.2.3", "--seed", "10.1.2.3:25520");
    assertEquals(2, open.exit(), open.err());
    assertTrue(open.err().contains("--cluster-tls-cert") && open.err().contains("--insecure"), open.err());
  }

  private static Nodes.Node start(String instance, String host, int port, String seeds, TestCertificates.Pair cert,
      Path ca) throws Exception {
    return Nodes.serveIn(Files.createTempDirectory("snakepit-" + instance), "--workers", "1", "--instance", instance,
        "--cluster-host", host, "--cluster-port", Integer.toString(port), "--seed", seeds,
        "--cluster-tls-cert", cert.cert().toString(), "--cluster-tls-key", cert.key().toString(),
        "--cluster-tls-ca", ca.toString());
  }

  private static List<String> cmd(List<String> jvm, String instance, String host, int port, String seeds,
      TestCertificates.Pair cert, Path ca) throws Exception {
    List<String> cmd = Nodes.java(jvm.toArray(String[]::new));
    cmd.addAll(List.of("-jar", Nodes.jar().toString(), "serve", "--data-dir",
        Files.createTempDirectory("snakepit-" + instance).toString(), "--workers", "1", "--http", "off",
        "--listen", "127.0.0.1:" + Nodes.freePort(), "--instance", instance, "--cluster-host", host,
        "--cluster-port", Integer.toString(port), "--seed", seeds, "--cluster-tls-cert", cert.cert().toString(),
        "--cluster-tls-key", cert.key().toString(), "--cluster-tls-ca", ca.toString()));
    return cmd;
  }

  /**
   * An IPv4 address of this host that is not loopback, so that the test also shows TLS admitting such a host; the
   * loopback address on a machine that has none.
   */
  private static String reachableHost() throws Exception {
    List<String> found = new ArrayList<>();
    for (NetworkInterface i : Collections.list(NetworkInterface.getNetworkInterfaces())) {
      if (!i.isUp() || i.isLoopback()) {
        continue;
      }
      for (InetAddress a : Collections.list(i.getInetAddresses())) {
        if (a instanceof Inet4Address && !a.isLoopbackAddress() && !a.isLinkLocalAddress()) {
          found.add(a.getHostAddress());
        }
      }
    }
    if (found.isEmpty()) {
      System.out.println("cluster tls: this machine has no IPv4 address but loopback; the nodes use 127.0.0.1");
      return "127.0.0.1";
    }
    return found.get(0);
  }
}
