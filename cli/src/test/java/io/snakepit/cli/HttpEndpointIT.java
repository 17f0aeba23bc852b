package io.snakepit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.grpc.ManagedChannel;
import io.snakepit.proto.ExecuteRequest;
import io.snakepit.proto.ExecuteResponse;
import io.snakepit.proto.GatewayGrpc;
import io.snakepit.testing.Scrapes;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.Test;

/**
 * {@code serve --http}: /metrics scraped over HTTP after real calls, /health while the node serves and while its only
 * worker is gone, and an address other hosts can reach held to the gateway's rules.
 */
class HttpEndpointIT {
  private static final Duration LIMIT = Duration.ofSeconds(30);
  private static final Pattern LINE = Pattern.compile(
      "http: /metrics, /health and the dashboard / on (http://127\\.0\\.0\\.1:(\\d+))(, with the gateway's token)?");
  private final HttpPages pages = new HttpPages(LIMIT);

  private HttpResponse<String> get(String url, String... headers) throws Exception {
    return pages.get(url, headers);
  }


  private static String base(Nodes.Node node) {
    return HttpPages.base(node, LINE);
  }


  private static void call(ManagedChannel gateway, String tool, String argsJson, boolean ok) {
    ExecuteResponse r = GatewayGrpc.newBlockingStub(gateway).execute(ExecuteRequest.newBuilder().setTool(tool)
        .setArgsJson(argsJson).build());
    assertEquals(ok, r.hasValue(), tool + ": " + r);
  }

  /** The scrape once the sample of {@code name} with {@code labels} reads {@code expected} (or the last one). */
  private String scrapeWhen(String url, String name, Map<String, String> labels, double expected)
      throws Exception {
    long deadline = System.nanoTime() + LIMIT.toNanos();
    String text = get(url).body();
    while (Scrapes.value(text, name, labels) != expected && System.nanoTime() < deadline) {
      Thread.sleep(50);
      text = get(url).body();
    }
    assertEquals(expected, Scrapes.value(text, name, labels), name + labels + " in:\n" + text);
    return text;
  }

  @Test
  void metricsCountTheCallsMadeAndHealthSaysReady() throws Exception {
    try (Nodes.Node node = Nodes.serve("--workers", "2")) {
      String base = base(node);
      ManagedChannel gateway = node.channel();
      try {
        for (int i = 0; i < 3; i++) {
          call(gateway, "ping", "{}", true);
        }
        call(gateway, "fail", "{}", false);
      } finally {
        gateway.shutdownNow();
      }
      HttpResponse<String> metrics = get(base + "/metrics");
      assertEquals(200, metrics.statusCode());
      assertEquals("text/plain; version=0.0.4; charset=utf-8",
          metrics.headers().firstValue("Content-Type").orElse(""));
      String text = scrapeWhen(base + "/metrics", "snakepit_calls_total",
          Map.of("pool", "default", "tool", "ping", "outcome", "ok"), 3);
      text = scrapeWhen(base + "/metrics", "snakepit_calls_total",
          Map.of("pool", "default", "tool", "fail", "outcome", "error"), 1);
      assertEquals(3, Scrapes.value(text, "snakepit_call_duration_seconds_count",
          Map.of("pool", "default", "tool", "ping")));
      assertEquals(0, Scrapes.value(text, "snakepit_calls_total",
          Map.of("pool", "default", "tool", "ping", "outcome", "failed")));
      assertEquals(2, Scrapes.value(text, "snakepit_workers", Map.of("pool", "default", "state", "idle")));
      assertEquals(2, Scrapes.value(text, "snakepit_worker_start_duration_seconds_count", Map.of("pool", "default")));
      assertEquals(0, Scrapes.value(text, "snakepit_queue_depth", Map.of("pool", "default")));
      assertEquals(0, Scrapes.value(text, "snakepit_circuit_open", Map.of("pool", "default")));
      assertEquals(0, Scrapes.value(text, "snakepit_settled_total", Map.of("outcome", "killed")));
      assertTrue(Scrapes.value(text, "snakepit_worker_rss_bytes", Map.of("pool", "default")) > 2_000_000, text);
      Scrapes.assertEveryContractName(text);

      HttpResponse<String> health = get(base + "/health");
      assertEquals(200, health.statusCode(), health.body());
      assertEquals("application/json", health.headers().firstValue("Content-Type").orElse(""));
      JsonNode body = new ObjectMapper().readTree(health.body());
      assertEquals("ready", body.get("status").asText(), health.body());
      assertEquals(2, body.get("pools").get("default").get("ready").asInt(), health.body());
      HttpResponse<String> missing = get(base + "/nothing");
      assertEquals(404, missing.statusCode());
      assertEquals("no /nothing here: the node serves /metrics, /health, /status, /api/history, /api/events and the"
          + " dashboard at /\n", missing.body());
    }
  }

  @Test
  void healthIsUnavailableWhileThePoolHasNoWorker() throws Exception {
    // One crash taints the slot: its replacement waits 60 s, long enough to see the pool without a worker.
    try (Nodes.Node node = Nodes.serveIn(Files.createTempDirectory("snakepit-data"), List.of(
        "-Dsnakepit.pools.default.taint.crashes=1", "-Dsnakepit.pools.default.restart-backoff.min=60s",
        "-Dsnakepit.pools.default.restart-backoff.max=60s"), "--workers", "1")) {
      String base = base(node);
      int python = Nodes.tree(node).stream().filter(p -> io.snakepit.testing.Procs.cmdline(p.pid())
          .contains("snakepit_worker") && !io.snakepit.testing.Procs.cmdline(p.pid()).contains("snakepit-shim"))
          .findFirst().orElseThrow().pid();
      ProcessHandle.of(python).orElseThrow().destroyForcibly();
      long deadline = System.nanoTime() + LIMIT.toNanos();
      HttpResponse<String> health = get(base + "/health");
      while (health.statusCode() != 503 && System.nanoTime() < deadline) {
        Thread.sleep(50);
        health = get(base + "/health");
      }
      assertEquals(503, health.statusCode(), health.body());
      JsonNode body = new ObjectMapper().readTree(health.body());
      assertEquals("unavailable", body.get("status").asText());
      assertEquals(0, body.get("pools").get("default").get("ready").asInt(), health.body());
      scrapeWhen(base + "/metrics", "snakepit_worker_exits_total", Map.of("pool", "default", "reason", "killed"), 1);
    }
  }

  @Test
  void anAddressOtherHostsCanReachIsRefusedWithoutTlsOrInsecure() throws Exception {
    Path dataDir = Files.createTempDirectory("snakepit-data").resolve("never");
    int port = Nodes.freePort();
    List<String> cmd = Nodes.java("-jar", Nodes.jar().toString(), "serve", "--data-dir", dataDir.toString(),
        "--listen", "127.0.0.1:" + Nodes.freePort(), "--http", "0.0.0.0:" + port);
    Nodes.Run run = Nodes.run(cmd, Map.of(), "serve --http 0.0.0.0");
    assertEquals(2, run.exit(), run.err());
    assertTrue(run.err().contains("--http 0.0.0.0:" + port + " can be reached from other hosts, and the HTTP"
        + " endpoint would serve it without TLS: give --tls-cert FILE and --tls-key FILE"), run.err());
    assertFalse(Files.exists(dataDir), "a refused start made the data directory");

    Nodes.Run bad = Nodes.run(Nodes.java("-jar", Nodes.jar().toString(), "serve", "--data-dir", dataDir.toString(),
        "--http", "unix:/tmp/x.sock"), Map.of(), "serve --http unix:");
    assertEquals(2, bad.exit(), bad.err());
    assertTrue(bad.err().contains("the HTTP endpoint listens on TCP only"), bad.err());
  }

  @Test
  void withInsecureAReachableAddressServesOnlyRequestsWithTheToken() throws Exception {
    int port = Nodes.freePort();
    try (Nodes.Node node = Nodes.serve("--workers", "1", "--http", "0.0.0.0:" + port, "--insecure")) {
      assertEquals("http: /metrics, /health and the dashboard / on http://0.0.0.0:" + port
          + ", with the gateway's token", node.httpLine);
      assertTrue(node.stderr().stream().anyMatch(l -> l.startsWith("snakepit: warning: --insecure: the HTTP"
          + " endpoint serves 0.0.0.0:" + port + " without TLS")), node.stderr()::toString);
      String url = "http://127.0.0.1:" + port + "/metrics";
      HttpResponse<String> none = get(url);
      assertEquals(401, none.statusCode());
      assertTrue(none.body().startsWith("this request carries no token. The node wrote its token to "), none.body());
      assertEquals(401, get(url, "Authorization", "Bearer not-the-token").statusCode());
      String token = GatewayToken.read(node.tokenFile());
      HttpResponse<String> ok = get(url, "Authorization", "Bearer " + token);
      assertEquals(200, ok.statusCode(), ok.body());
      assertTrue(ok.body().contains("snakepit_workers{"), ok.body());
    }
  }

  @Test
  void withTheGatewaysCertificateAReachableAddressServesHttpsWithTheToken() throws Exception {
    io.snakepit.testing.Requires.openssl();
    Path pki = Files.createTempDirectory("snakepit-pki");
    Nodes.Run made = Nodes.run(List.of("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        "-subj", "/CN=snakepit-test-http", "-addext", "subjectAltName=IP:127.0.0.1",
        "-keyout", pki.resolve("server.key").toString(), "-out", pki.resolve("server.pem").toString()), Map.of(),
        "openssl (apt-get install openssl)");
    assertEquals(0, made.exit(), "openssl could not make a test certificate: " + made.err());
    int port = Nodes.freePort();
    try (Nodes.Node node = Nodes.serve("--workers", "1", "--http", "0.0.0.0:" + port,
        "--tls-cert", pki.resolve("server.pem").toString(), "--tls-key", pki.resolve("server.key").toString())) {
      assertEquals("http: /metrics, /health and the dashboard / on https://0.0.0.0:" + port
          + ", with the gateway's token", node.httpLine);
      KeyStore trusted = KeyStore.getInstance("PKCS12");
      trusted.load(null, null);
      try (var in = Files.newInputStream(pki.resolve("server.pem"))) {
        trusted.setCertificateEntry("node", CertificateFactory.getInstance("X.509").generateCertificate(in));
      }
      TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      tmf.init(trusted);
      SSLContext tls = SSLContext.getInstance("TLS");
      tls.init(null, tmf.getTrustManagers(), null);
      HttpClient https = HttpClient.newBuilder().sslContext(tls).connectTimeout(Duration.ofSeconds(10)).build();
      URI url = URI.create("https://127.0.0.1:" + port + "/health");
      assertEquals(401, https.send(HttpRequest.newBuilder(url).timeout(LIMIT).build(),
          HttpResponse.BodyHandlers.ofString()).statusCode());
      HttpResponse<String> ok = https.send(HttpRequest.newBuilder(url).timeout(LIMIT)
          .header("Authorization", "Bearer " + GatewayToken.read(node.tokenFile())).build(),
          HttpResponse.BodyHandlers.ofString());
      assertEquals(200, ok.statusCode(), ok.body());
      assertTrue(ok.body().startsWith("{\"status\":\"ready\""), ok.body());
    }
  }
}
