package io.snakepit.cluster;

import akka.pki.pem.DERPrivateKeyLoader;
import akka.pki.pem.PEMDecoder;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.Map;

/**
 * TLS for cluster traffic ({@code snakepit.cluster.tls}, {@code serve --cluster-tls-cert/-key/-ca}): the node's
 * certificate, its private key and the CA every node's certificate is issued by, all PEM. It exists to map them onto
 * artery's {@code tls-tcp} transport with Akka's PEM-reading engine provider (mutual authentication always on), and
 * to check the files at start: Akka reads them only when the first connection is made, and would then only log why
 * every connection fails.
 *
 * @param cert the node's certificate (PEM), issued directly by {@code ca}
 * @param key its private key (PEM, RSA, PKCS#8 or PKCS#1, not encrypted)
 * @param ca the certificate of the CA that issued every node's certificate (PEM): a peer must present one it issued
 * @param hostnameVerification whether a connecting node also checks that the certificate of the node it connects to
 *     names that node's host (subjectAltName DNS or IP)
 */
public record ClusterTls(Path cert, Path key, Path ca, boolean hostnameVerification) {
  /** The flag and setting of each file, for messages. */
  static final String CERT = "--cluster-tls-cert / snakepit.cluster.tls.cert";
  static final String KEY = "--cluster-tls-key / snakepit.cluster.tls.key";
  static final String CA = "--cluster-tls-ca / snakepit.cluster.tls.ca";

  /** These settings with {@code hostnameVerification} changed. */
  public ClusterTls withHostnameVerification(boolean hostnameVerification) {
    return new ClusterTls(cert, key, ca, hostnameVerification);
  }

  /**
   * Reads the three files as Akka will, and checks that they fit together: the key is the certificate's, and the CA
   * signed the certificate.
   *
   * @throws IllegalArgumentException naming the flag, the setting, the file and the fix
   */
  public void check() {
    X509Certificate nodeCert = certificate(cert, CERT, "the node's certificate");
    X509Certificate caCert = certificate(ca, CA, "the certificate of the CA that issued every node's certificate");
    PrivateKey privateKey = privateKey();
    if (!privateKey.getAlgorithm().equals("RSA")) {
      throw new IllegalArgumentException(KEY + ": " + key + " holds a " + privateKey.getAlgorithm() + " key: Akka's"
          + " cluster TLS takes RSA keys only; make an RSA key, e.g. openssl req -newkey rsa:2048 -nodes ...");
    }
    if (!matches(privateKey, nodeCert)) {
      throw new IllegalArgumentException(KEY + ": " + key + " is not the private key of the certificate " + cert
          + " (" + CERT + "): give the key the certificate was made for");
    }
    try {
      nodeCert.verify(caCert.getPublicKey());
    } catch (GeneralSecurityException e) {
      throw new IllegalArgumentException(CERT + ": " + cert + " (" + nodeCert.getSubjectX500Principal().getName()
          + ") was not issued by the CA in " + ca + " (" + CA + ", " + caCert.getSubjectX500Principal().getName()
          + "): give the CA that signed it; Akka needs the node's certificate signed directly by that CA, not by an"
          + " intermediate one");
    }
  }

  /**
   * The Akka settings that turn artery's TLS on with these files: transport {@code tls-tcp}, Akka's
   * {@code RotatingKeysSSLEngineProvider} (it reads PEM files, and re-reads them after its cache time, so renewed
   * files are taken up without a restart), mutual authentication required.
   */
  public Config akka() {
    String engine = "akka.remote.artery.ssl.rotating-keys-engine.";
    return ConfigFactory.parseMap(Map.of(
        "akka.remote.artery.transport", "tls-tcp",
        "akka.remote.artery.ssl.ssl-engine-provider", "akka.remote.artery.tcp.ssl.RotatingKeysSSLEngineProvider",
        engine + "cert-file", cert.toAbsolutePath().toString(),
        engine + "key-file", key.toAbsolutePath().toString(),
        engine + "ca-cert-file", ca.toAbsolutePath().toString(),
        engine + "require-mutual-authentication", "on",
        engine + "hostname-verification", hostnameVerification ? "on" : "off"));
  }

  private static X509Certificate certificate(Path file, String flag, String what) {
    byte[] bytes = read(file, flag, what);
    try (InputStream in = new java.io.ByteArrayInputStream(bytes)) {
      X509Certificate c = (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
      c.checkValidity();
      return c;
    } catch (java.security.cert.CertificateExpiredException | java.security.cert.CertificateNotYetValidException e) {
      throw new IllegalArgumentException(flag + ": " + file + " is not valid now (" + e.getMessage() + "): renew it");
    } catch (CertificateException | IOException | ClassCastException e) {
      throw new IllegalArgumentException(flag + ": " + file + " is not a PEM certificate (" + e.getMessage() + "):"
          + " give " + what + " as PEM (-----BEGIN CERTIFICATE-----)");
    }
  }

  private PrivateKey privateKey() {
    String text = new String(read(key, KEY, "the node's private key"), StandardCharsets.US_ASCII);
    try {
      return DERPrivateKeyLoader.load(PEMDecoder.decode(text));
    } catch (RuntimeException e) {
      throw new IllegalArgumentException(KEY + ": " + key + " is not a private key Akka can read (" + e.getMessage()
          + "): give the node's RSA key as unencrypted PEM, PKCS#8 (-----BEGIN PRIVATE KEY-----) or PKCS#1;"
          + " openssl pkcs8 -topk8 -nocrypt -in old.key -out node.key converts one");
    }
  }

  private static byte[] read(Path file, String flag, String what) {
    try {
      return Files.readAllBytes(file);
    } catch (IOException e) {
      throw new IllegalArgumentException(flag + ": cannot read " + file + " (" + e.getClass().getSimpleName() + ": "
          + e.getMessage() + "): give the path of " + what + ", readable by the node's user");
    }
  }

  /** Whether {@code key} signs what the certificate's public key verifies. */
  private static boolean matches(PrivateKey key, X509Certificate cert) {
    try {
      byte[] probe = "snakepit cluster tls".getBytes(StandardCharsets.US_ASCII);
      Signature sign = Signature.getInstance("SHA256withRSA");
      sign.initSign(key);
      sign.update(probe);
      byte[] signature = sign.sign();
      Signature verify = Signature.getInstance("SHA256withRSA");
      verify.initVerify(cert.getPublicKey());
      verify.update(probe);
      return verify.verify(signature);
    } catch (GeneralSecurityException e) {
      return false;
    }
  }
}
