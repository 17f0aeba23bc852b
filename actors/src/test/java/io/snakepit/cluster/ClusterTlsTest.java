package io.snakepit.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.snakepit.testing.TestCertificates;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The cluster's TLS files, made by openssl: checked at start with messages that name the flag, and mapped to Akka. */
class ClusterTlsTest {
  private static Path dir;
  private static TestCertificates.Pair ca;
  private static TestCertificates.Pair node;
  private static TestCertificates.Pair stranger;
  private static TestCertificates.Pair otherCa;

  @BeforeAll
  static void certificates() throws Exception {
    dir = Files.createTempDirectory("snakepit-cluster-tls");
    ca = TestCertificates.ca(dir, "ca");
    otherCa = TestCertificates.ca(dir, "other-ca");
    node = TestCertificates.node(dir, "node", ca, "snakepit-cluster", "IP:127.0.0.1");
    stranger = TestCertificates.node(dir, "stranger", otherCa, "snakepit-cluster", "IP:127.0.0.1");
  }

  private static Config snakepit(String hocon) {
    return ConfigFactory.parseString(hocon).withFallback(ConfigFactory.defaultReference()).resolve()
        .getConfig("snakepit");
  }

  private static String cluster(String host, Path cert, Path key, Path caCert) {
    return "snakepit.cluster { port = 25520, host = \"" + host + "\", seeds = [\"" + host + ":25520\"], tls {"
        + (cert == null ? "" : " cert = \"" + cert + "\",") + (key == null ? "" : " key = \"" + key + "\",")
        + (caCert == null ? "" : " ca = \"" + caCert + "\"") + " } }";
  }

  private static String refused(Path cert, Path key, Path caCert) {
    return assertThrows(IllegalArgumentException.class, () -> ClusterSettings.fromConfig(
        snakepit(cluster("127.0.0.1", cert, key, caCert)))).getMessage();
  }

  @Test
  void threeGoodFilesTurnOnArteryTlsWithMutualAuthentication() {
    ClusterSettings c = ClusterSettings.fromConfig(snakepit(cluster("10.1.2.3", node.cert(), node.key(),
        ca.cert()))).orElseThrow();
    assertEquals(new ClusterTls(node.cert(), node.key(), ca.cert(), false), c.tls());
    // TLS makes a host other hosts reach acceptable, without the clear-text warning.
    assertNull(c.refusal());
    assertNull(c.warning());
    Config akka = c.over(ConfigFactory.load(), "snakepit");
    assertEquals("tls-tcp", akka.getString("akka.remote.artery.transport"));
    assertEquals("akka.remote.artery.tcp.ssl.RotatingKeysSSLEngineProvider",
        akka.getString("akka.remote.artery.ssl.ssl-engine-provider"));
    Config engine = akka.getConfig("akka.remote.artery.ssl.rotating-keys-engine");
    assertEquals(node.cert().toString(), engine.getString("cert-file"));
    assertEquals(node.key().toString(), engine.getString("key-file"));
    assertEquals(ca.cert().toString(), engine.getString("ca-cert-file"));
    assertTrue(engine.getBoolean("require-mutual-authentication"));
    assertEquals("10.1.2.3", akka.getString("akka.remote.artery.canonical.hostname"));
    assertFalse(engine.getBoolean("hostname-verification"));
    Config verifying = c.withTls(c.tls().withHostnameVerification(true)).over(ConfigFactory.load(), "snakepit");
    assertTrue(verifying.getBoolean("akka.remote.artery.ssl.rotating-keys-engine.hostname-verification"));
  }

  @Test
  void withoutTlsAHostOtherHostsReachIsRefusedNamingBothFixes() {
    String why = ClusterSettings.fromConfig(snakepit(cluster("10.1.2.3", null, null, null))).orElseThrow()
        .refusal();
    assertTrue(why.contains("--cluster-host 10.1.2.3") && why.contains("--cluster-tls-cert")
        && why.contains("--cluster-tls-ca") && why.contains("--insecure"), why);
  }

  @Test
  void aMissingFileIsNamedWithItsFlag() {
    String why = refused(node.cert(), node.key(), null);
    assertTrue(why.contains("give --cluster-tls-ca FILE (snakepit.cluster.tls.ca)") && why.contains("only --cluster-tls-cert "
        + node.cert()), why);
    Path absent = dir.resolve("absent.pem");
    String unreadable = refused(absent, node.key(), ca.cert());
    assertTrue(unreadable.startsWith("--cluster-tls-cert / snakepit.cluster.tls.cert: cannot read " + absent),
        unreadable);
  }

  @Test
  void filesThatAreNotPemOrDoNotFitTogetherAreRefusedSayingWhy() throws Exception {
    Path junk = TestCertificates.file(dir, "junk.pem", "not a certificate\n");
    String notCert = refused(junk, node.key(), ca.cert());
    assertTrue(notCert.startsWith("--cluster-tls-cert / snakepit.cluster.tls.cert: " + junk + " is not a PEM"
        + " certificate"), notCert);
    String notCa = refused(node.cert(), node.key(), junk);
    assertTrue(notCa.startsWith("--cluster-tls-ca / snakepit.cluster.tls.ca: " + junk), notCa);
    String notKey = refused(node.cert(), junk, ca.cert());
    assertTrue(notKey.startsWith("--cluster-tls-key / snakepit.cluster.tls.key: " + junk + " is not a private key")
        && notKey.contains("openssl pkcs8"), notKey);
    String wrongKey = refused(node.cert(), stranger.key(), ca.cert());
    assertTrue(wrongKey.contains(stranger.key() + " is not the private key of the certificate " + node.cert()),
        wrongKey);
    String wrongCa = refused(stranger.cert(), stranger.key(), ca.cert());
    assertTrue(wrongCa.contains(stranger.cert() + " (CN=snakepit-cluster) was not issued by the CA in " + ca.cert()),
        wrongCa);
  }

  @Test
  void tlsWithoutAClusterPortIsRefused() {
    String why = assertThrows(IllegalArgumentException.class, () -> ClusterSettings.fromConfig(snakepit(
        "snakepit.cluster.tls { cert = \"" + node.cert() + "\" }"))).getMessage();
    assertTrue(why.contains("--cluster-tls-cert") && why.contains("--cluster-port"), why);
  }
}
