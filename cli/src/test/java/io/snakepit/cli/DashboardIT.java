package io.snakepit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.grpc.ManagedChannel;
import io.snakepit.proto.ExecuteRequest;
import io.snakepit.proto.GatewayGrpc;
import io.snakepit.testing.Procs;
import io.snakepit.testing.TestNodes;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.time.Duration;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.Test;

/**
 * The dashboard over plain HTTP (the browser test is {@link DashboardBrowserIT}): its files and their headers, the
 * history and events JSON of a real node, and the token rule on an address other hosts can reach.
 */
class DashboardIT {
  private static final Duration LIMIT = Duration.ofSeconds(30);
  private static final Pattern LINE = Pattern.compile(
      "http: /metrics, /health and the dashboard / on (http://[0-9.]+:(\\d+))(, with the gateway's token)?");
  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
  private final HttpPages pages = new HttpPages(LIMIT);
  private final ObjectMapper json = new ObjectMapper();

  private HttpResponse<String> get(String url, String... headers) throws Exception {
    return pages.get(url, headers);
  }


  private static String base(Nodes.Node node) {
    return HttpPages.base(node, LINE);
  }


  private static String header(HttpResponse<?> r, String name) {
    return r.headers().firstValue(name).orElse("");
  }

  /** The headers every answer of the endpoint carries. */
  private static void assertCarefulHeaders(HttpResponse<?> r) {
    assertEquals("nosniff", header(r, "X-Content-Type-Options"), r.uri().toString());
    assertEquals("no-store", header(r, "Cache-Control"), r.uri().toString());
    assertTrue(header(r, "Content-Security-Policy").startsWith("default-src 'self';"), r.uri().toString());
    assertEquals("DENY", header(r, "X-Frame-Options"), r.uri().toString());
  }

  @Test
  void thePageItsFilesAndItsJsonAreServedWithCarefulHeaders() throws Exception {
    try (Nodes.Node node = Nodes.serveIn(Files.createTempDirectory("snakepit-data"),
        // The audit log off: the events come from the node's taps, not from the log.
        List.of("-Dsnakepit.http.dashboard.sample-interval=500ms", "-Dsnakepit.audit.enabled=off"),
        "--workers", "2")) {
      String base = base(node);
      assertFalse(Files.exists(node.dataDir.resolve("audit")), "the audit log is off");
      HttpResponse<String> page = get(base + "/");
      assertEquals(200, page.statusCode());
      assertEquals("text/html; charset=utf-8", header(page, "Content-Type"));
      assertCarefulHeaders(page);
      assertTrue(page.body().contains("<script src=\"dashboard.js\" defer></script>"), page.body());
      assertFalse(Pattern.compile("<script(?![^>]*\\bsrc=)").matcher(page.body()).find(),
          "the page holds no inline script: " + page.body());
      HttpResponse<String> script = get(base + "/dashboard.js");
      assertEquals(200, script.statusCode());
      assertEquals("text/javascript; charset=utf-8", header(script, "Content-Type"));
      assertFalse(script.body().contains("innerHTML"), "the script never puts the node's data in as HTML");
      assertCarefulHeaders(script);
      assertEquals("text/css; charset=utf-8", header(get(base + "/dashboard.css"), "Content-Type"));

      List<Integer> pythons = Nodes.tree(node).stream().map(Procs.Proc::pid)
          .filter(pid -> Procs.cmdline(pid).contains("snakepit_worker") && !Procs.cmdline(pid).contains("shim"))
          .toList();
      assertEquals(2, pythons.size(), Nodes.tree(node)::toString);
      HttpResponse<String> events = get(base + "/api/events");
      assertEquals(200, events.statusCode());
      assertEquals("application/json", header(events, "Content-Type"));
      assertCarefulHeaders(events);
      JsonNode list = json.readTree(events.body());
      assertEquals(TestNodes.INSTANCE, list.get("instance").asText());
      List<Integer> ready = StreamSupport.stream(list.get("events").spliterator(), false)
          .filter(e -> e.get("event").asText().equals("WorkerReady")).map(e -> e.get("pid").asInt()).sorted()
          .toList();
      assertEquals(pythons.stream().sorted().toList(), ready, "the WorkerReady events name the real workers");
      // Newest first, in the order they were published (two workers' events can be stamped a hair out of order).
      JsonNode all = list.get("events");
      assertEquals("WorkerReserved", all.get(all.size() - 1).get("event").asText(), "the oldest last: " + list);
      assertTrue(List.of("WorkerReady", "PoolReady").contains(all.get(0).get("event").asText()),
          "the newest first: " + list);

      ManagedChannel gateway = node.channel();
      try {
        for (int i = 0; i < 5; i++) {
          GatewayGrpc.newBlockingStub(gateway).execute(ExecuteRequest.newBuilder().setTool("ping")
              .setArgsJson("{}").build());
        }
        GatewayGrpc.newBlockingStub(gateway).execute(ExecuteRequest.newBuilder().setTool("fail")
            .setArgsJson("{}").build());
      } finally {
        gateway.shutdownNow();
      }
      long deadline = System.nanoTime() + LIMIT.toNanos();
      JsonNode history = json.readTree(get(base + "/api/history").body());
      // The history serves whole samples: the failed call may land in a later one than the others.
      while ((calls(history, "ok") < 5 || calls(history, "error") < 1) && System.nanoTime() < deadline) {
        Thread.sleep(200);
        history = json.readTree(get(base + "/api/history").body());
      }
      assertEquals(5, calls(history, "ok"), history.toString());
      assertEquals(1, calls(history, "error"), history.toString());
      assertEquals(0.5, history.get("intervalSeconds").asDouble());
      assertEquals(900, history.get("historySeconds").asLong());
      JsonNode pool = history.get("pools").get(0);
      assertEquals("default", pool.get("name").asText());
      JsonNode busy = StreamSupport.stream(pool.get("samples").spliterator(), false)
          .filter(s -> s.get("calls").get("ok").asLong() > 0).findFirst().orElseThrow();
      assertTrue(busy.get("callsPerSecond").asDouble() > 0, busy.toString());
      assertTrue(busy.get("latencyMs").get("p50").asDouble() > 0, busy.toString());
      assertTrue(busy.get("latencyMs").get("p99").asDouble() >= busy.get("latencyMs").get("p50").asDouble(),
          busy.toString());

      assertEquals(404, get(base + "/api/nothing").statusCode());
      HttpResponse<String> post = http.send(HttpRequest.newBuilder(URI.create(base + "/api/events"))
          .POST(HttpRequest.BodyPublishers.noBody()).timeout(LIMIT).build(), HttpResponse.BodyHandlers.ofString());
      assertEquals(405, post.statusCode());
    }
  }

  /** The calls with {@code outcome} in every sample of the first pool. */
  private static long calls(JsonNode history, String outcome) {
    long n = 0;
    for (JsonNode s : history.get("pools").get(0).get("samples")) {
      n += s.get("calls").get(outcome).asLong();
    }
    return n;
  }

  @Test
  void aBadDashboardSettingStopsServeBeforeAnyWorker() throws Exception {
    java.nio.file.Path dataDir = Files.createTempDirectory("snakepit-data").resolve("never");
    List<String> cmd = Nodes.java("-Dsnakepit.http.dashboard.sample-interval=10ms", "-jar", Nodes.jar().toString(),
        "serve", "--data-dir", dataDir.toString(), "--listen", "127.0.0.1:" + Nodes.freePort(), "--http",
        "127.0.0.1:0");
    Nodes.Run run = Nodes.run(cmd, java.util.Map.of(), "serve with a bad dashboard setting");
    assertEquals(2, run.exit(), run.err());
    assertTrue(run.err().contains("snakepit.http.dashboard.sample-interval") && run.err().contains("it is 10ms"),
        run.err());
    assertFalse(Files.exists(dataDir), "a refused start made the data directory");
  }

  @Test
  void onAReachableAddressThePageIsServedWithoutTheTokenAndItsDataOnlyWithIt() throws Exception {
    int port = Nodes.freePort();
    try (Nodes.Node node = Nodes.serve("--workers", "1", "--http", "0.0.0.0:" + port, "--insecure")) {
      base(node);
      String local = "http://127.0.0.1:" + port;
      for (String file : List.of("/", "/dashboard.js", "/dashboard.css")) {
        HttpResponse<String> r = get(local + file);
        assertEquals(200, r.statusCode(), file + ": " + r.body());
        assertFalse(r.body().contains("default-0-"), file + " holds no data");
      }
      String token = GatewayToken.read(node.tokenFile());
      for (String data : List.of("/api/history", "/api/events")) {
        HttpResponse<String> none = get(local + data);
        assertEquals(401, none.statusCode(), data);
        assertEquals("Bearer", header(none, "WWW-Authenticate"));
        assertEquals(401, get(local + data, "Authorization", "Bearer not-the-token").statusCode(), data);
        HttpResponse<String> ok = get(local + data, "Authorization", "Bearer " + token);
        assertEquals(200, ok.statusCode(), data + ": " + ok.body());
        assertCarefulHeaders(ok);
        assertTrue(json.readTree(ok.body()).has("pools") || json.readTree(ok.body()).has("events"), ok.body());
      }
    }
  }
}
