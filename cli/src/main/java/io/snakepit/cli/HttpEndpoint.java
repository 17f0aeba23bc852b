package io.snakepit.cli;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsParameters;
import com.sun.net.httpserver.HttpsServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.TrustManagerFactory;

/**
 * The node's HTTP endpoint ({@code serve --http}): {@code /metrics} in Prometheus' text format, {@code /health}, and
 * {@code /status} (its pools and workers as JSON, {@code io.snakepit.NodeStatus}).
 * On a loopback address it serves anyone on the host; on another it follows the gateway's rules: TLS with the
 * gateway's certificate (or {@code --insecure}, with a warning), and every request must carry the gateway's token as
 * {@code Authorization: Bearer TOKEN}.
 */
final class HttpEndpoint {
  /** The value of {@code --http} (or {@code snakepit.http.address}) that turns the endpoint off. */
  static final String OFF = "off";
  /** Prometheus' text exposition format, version 0.0.4. */
  static final String METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8";

  /** How the node is, for {@code /health}: ready or not, and the JSON body that says so. */
  record Health(boolean ready, String json) {}

  private final HttpServer server;
  private final Endpoint.Tcp address;
  private final ExecutorService executor;
  private final String scheme;
  private final boolean tokenRequired;

  private HttpEndpoint(HttpServer server, Endpoint.Tcp address, ExecutorService executor, String scheme,
      boolean tokenRequired) {
    this.server = server;
    this.address = address;
    this.executor = executor;
    this.scheme = scheme;
    this.tokenRequired = tokenRequired;
  }

  /** Parses {@code --http}'s value: a TCP address, or null for {@code off}; the message shows the forms. */
  static Endpoint.Tcp parse(String value, String setting) {
    if (value.equalsIgnoreCase(OFF)) {
      return null;
    }
    Endpoint e;
    try {
      e = new Endpoint.Converter().convert(value);
    } catch (RuntimeException ex) {
      throw new IllegalArgumentException(setting + " '" + value + "' is neither HOST:PORT (for example"
          + " 127.0.0.1:8558) nor off");
    }
    if (!(e instanceof Endpoint.Tcp tcp)) {
      throw new IllegalArgumentException(setting + " '" + value + "': the HTTP endpoint listens on TCP only; give"
          + " HOST:PORT (for example 127.0.0.1:8558), or off");
    }
    return tcp;
  }

  /**
   * Why the node must not serve HTTP on {@code address} as configured, or null if it may: as for the gateway, an
   * address other hosts can reach needs TLS or an explicit {@code --insecure}.
   */
  static String refusal(Endpoint.Tcp address, Gateway.Tls tls, boolean insecure) {
    if (address != null && !address.loopback() && tls == null && !insecure) {
      return "--http " + address + " can be reached from other hosts, and the HTTP endpoint would serve it"
          + " without TLS: give --tls-cert FILE and --tls-key FILE (and --tls-client-ca FILE to require client"
          + " certificates), or --insecure if something else protects that network, or keep it on 127.0.0.1"
          + " (see docs/SECURITY.md)";
    }
    return null;
  }

  /** The warning {@code --insecure} prints at every start for a reachable HTTP address, or null. */
  static String insecureWarning(Endpoint.Tcp address, Gateway.Tls tls, boolean insecure) {
    if (address == null || address.loopback() || tls != null || !insecure) {
      return null;
    }
    return "snakepit: warning: --insecure: the HTTP endpoint serves " + address + " without TLS; its token and the"
        + " metrics cross the network in clear text. Use --tls-cert and --tls-key unless a TLS proxy or a private"
        + " network protects it";
  }

  /**
   * Starts serving on {@code address}. {@code auth} checks requests when the address is not a loopback one (null
   * until the node has written its token: such requests are answered 503 until then); {@code metrics} writes the
   * scrape, {@code health} the node's state, {@code status} its pools and workers as JSON.
   */
  static HttpEndpoint start(Endpoint.Tcp address, Gateway.Tls tls, Supplier<GatewayAuth> auth,
      Supplier<String> metrics, Supplier<Health> health, Supplier<String> status) throws IOException {
    InetSocketAddress bind = new InetSocketAddress(address.host(), address.port());
    HttpServer server;
    try {
      if (tls != null) {
        HttpsServer https = HttpsServer.create(bind, 16);
        SSLContext context = sslContext(tls);
        boolean mutual = tls.clientCa() != null;
        https.setHttpsConfigurator(new HttpsConfigurator(context) {
          @Override
          public void configure(HttpsParameters params) {
            SSLParameters p = context.getDefaultSSLParameters();
            p.setNeedClientAuth(mutual);
            params.setSSLParameters(p);
          }
        });
        server = https;
      } else {
        server = HttpServer.create(bind, 16);
      }
    } catch (IOException e) {
      throw new IOException("the HTTP endpoint cannot listen on " + address + ": " + e.getMessage() + ". Give"
          + " another --http HOST:PORT, or --http off", e);
    }
    boolean tokenRequired = !address.loopback();
    // Two threads: a scrape and a health probe at once; a scrape reads /proc and a few maps, and never blocks long.
    ExecutorService executor = Executors.newFixedThreadPool(2, r -> {
      Thread t = new Thread(r, "snakepit-http");
      t.setDaemon(true);
      return t;
    });
    server.setExecutor(executor);
    server.createContext("/", exchange -> {
      try (exchange) {
        handle(exchange, tokenRequired ? auth : () -> null, tokenRequired, metrics, health, status);
      }
    });
    server.start();
    return new HttpEndpoint(server, address, executor, tls == null ? "http" : "https", tokenRequired);
  }

  private static void handle(HttpExchange exchange, Supplier<GatewayAuth> tokens, boolean tokenRequired,
      Supplier<String> metrics, Supplier<Health> health, Supplier<String> status) throws IOException {
    String method = exchange.getRequestMethod();
    String path = exchange.getRequestURI().getPath();
    GatewayAuth auth = tokens.get();
    if (tokenRequired && auth == null) {
      exchange.getResponseHeaders().set("Retry-After", "5");
      reply(exchange, 503, "text/plain; charset=utf-8", "the node is starting and has not written its token yet:"
          + " retry once serve has printed its ready: line\n");
      return;
    }
    if (tokenRequired && !auth.admits(exchange.getRequestHeaders().getFirst("Authorization"))) {
      exchange.getResponseHeaders().set("WWW-Authenticate", "Bearer");
      reply(exchange, 401, "text/plain; charset=utf-8", (exchange.getRequestHeaders().containsKey("Authorization")
          ? "the token this request carries is not this node's. " : "this request carries no token. ")
          + auth.howTo() + "\n");
      return;
    }
    if (!method.equals("GET") && !method.equals("HEAD")) {
      exchange.getResponseHeaders().set("Allow", "GET, HEAD");
      reply(exchange, 405, "text/plain; charset=utf-8", method + " is not served: use GET\n");
      return;
    }
    switch (path) {
      case "/metrics" -> reply(exchange, 200, METRICS_TYPE, metrics.get());
      case "/health" -> {
        Health h = health.get();
        reply(exchange, h.ready() ? 200 : 503, "application/json", h.json() + "\n");
      }
      case "/status" -> reply(exchange, 200, "application/json", status.get() + "\n");
      default -> reply(exchange, 404, "text/plain; charset=utf-8", "no " + path + " here: the node serves"
          + " /metrics, /health and /status\n");
    }
  }

  private static void reply(HttpExchange exchange, int status, String type, String body) throws IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    exchange.getResponseHeaders().set("Content-Type", type);
    exchange.getResponseHeaders().set("Cache-Control", "no-store");
    boolean head = exchange.getRequestMethod().equals("HEAD");
    exchange.sendResponseHeaders(status, head ? -1 : bytes.length);
    if (!head) {
      try (OutputStream out = exchange.getResponseBody()) {
        out.write(bytes);
      }
    }
  }

  /** Where it listens, with the port it got: {@code http://127.0.0.1:8558}. */
  String describe() {
    return scheme + "://" + new Endpoint.Tcp(address.host(), server.getAddress().getPort());
  }

  /** Whether requests must carry the gateway's token (the address is not a loopback one). */
  boolean tokenRequired() {
    return tokenRequired;
  }

  /** Stops serving, giving a request under way up to a second. */
  void stop() {
    server.stop(1);
    executor.shutdownNow();
    try {
      executor.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** The gateway's certificate and key (PEM, the key PKCS#8), and its client CA if any, as a JDK TLS context. */
  private static SSLContext sslContext(Gateway.Tls tls) throws IOException {
    try {
      CertificateFactory x509 = CertificateFactory.getInstance("X.509");
      List<? extends Certificate> chain;
      try (InputStream in = Files.newInputStream(tls.cert())) {
        chain = List.copyOf(x509.generateCertificates(in));
      }
      if (chain.isEmpty()) {
        throw new IOException("--tls-cert " + tls.cert() + " holds no certificate: give a PEM certificate chain");
      }
      KeyStore keys = KeyStore.getInstance("PKCS12");
      keys.load(null, null);
      char[] none = new char[0];
      keys.setKeyEntry("node", privateKey(tls), none, chain.toArray(Certificate[]::new));
      KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
      kmf.init(keys, none);
      TrustManagerFactory tmf = null;
      if (tls.clientCa() != null) {
        KeyStore trusted = KeyStore.getInstance("PKCS12");
        trusted.load(null, null);
        try (InputStream in = Files.newInputStream(tls.clientCa())) {
          int i = 0;
          for (Certificate ca : x509.generateCertificates(in)) {
            trusted.setCertificateEntry("ca" + i++, ca);
          }
        }
        tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trusted);
      }
      SSLContext context = SSLContext.getInstance("TLS");
      context.init(kmf.getKeyManagers(), tmf == null ? null : tmf.getTrustManagers(), null);
      return context;
    } catch (GeneralSecurityException e) {
      throw new IOException("the HTTP endpoint cannot use --tls-cert " + tls.cert() + " and --tls-key " + tls.key()
          + ": " + e.getMessage() + ". Give a PEM certificate chain and its PKCS#8 PEM key (BEGIN PRIVATE KEY)", e);
    }
  }

  private static PrivateKey privateKey(Gateway.Tls tls) throws IOException, GeneralSecurityException {
    String pem = Files.readString(tls.key(), StandardCharsets.US_ASCII);
    int begin = pem.indexOf("-----BEGIN PRIVATE KEY-----");
    int end = pem.indexOf("-----END PRIVATE KEY-----");
    if (begin < 0 || end < begin) {
      throw new IOException("--tls-key " + tls.key() + " is not a PKCS#8 PEM key (BEGIN PRIVATE KEY); convert it with"
          + " openssl pkcs8 -topk8 -nocrypt -in KEY -out KEY.pk8");
    }
    byte[] der = Base64.getMimeDecoder().decode(pem.substring(begin + 27, end));
    GeneralSecurityException last = null;
    for (String algorithm : List.of("RSA", "EC", "Ed25519", "Ed448")) {
      try {
        return KeyFactory.getInstance(algorithm).generatePrivate(new PKCS8EncodedKeySpec(der));
      } catch (GeneralSecurityException e) {
        last = e;
      }
    }
    throw new GeneralSecurityException("its key is none of RSA, EC, Ed25519 or Ed448", last);
  }
}
