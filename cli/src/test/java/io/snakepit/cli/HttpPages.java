package io.snakepit.cli;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** A node's HTTP endpoint as the tests read it: where serve's {@code http:} line says it is, and GETs with a limit. */
final class HttpPages {
  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
  private final Duration limit;

  HttpPages(Duration limit) {
    this.limit = limit;
  }

  /** GET {@code url} with {@code headers} (name, value, ...), its body as text. */
  HttpResponse<String> get(String url, String... headers) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url)).timeout(limit);
    if (headers.length > 0) {
      b.headers(headers);
    }
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  /** The base URL in {@code node}'s http line, read with {@code line}, whose first group is the URL. */
  static String base(Nodes.Node node, Pattern line) {
    Matcher m = line.matcher(node.httpLine == null ? "" : node.httpLine);
    assertTrue(m.matches(), "the http line: " + node.httpLine);
    return m.group(1);
  }
}
