package io.snakepit.actors;

import static io.snakepit.testing.Awaits.await;
import static io.snakepit.testing.Awaits.failure;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.stream.javadsl.Sink;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.context.Scope;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import io.snakepit.PythonException;
import io.snakepit.Result;
import io.snakepit.Snakepit;
import io.snakepit.testing.TestNode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletionStage;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Tracing: a call made inside a span reaches Python with a traceparent of the same trace, whose parent span is the
 * node's CLIENT span for the call; that span is the caller's child, carries the call's attributes and ends with its
 * outcome. Over both call channels and for streams.
 */
class TracingIT {
  @RegisterExtension
  static final TestNode NODE = TestNode.of("tracing", """
      snakepit.pools.default { workers = 1, concurrency = 4 }
      snakepit.pools.unary { workers = 1, concurrency = 4, call-channel = unary }
      """, Duration.ofSeconds(60));
  private static final InMemorySpanExporter SPANS = InMemorySpanExporter.create();
  private static OpenTelemetrySdk sdk;
  private static Snakepit snakepit;

  @BeforeAll
  static void start() {
    sdk = OpenTelemetrySdk.builder()
        .setTracerProvider(SdkTracerProvider.builder().addSpanProcessor(SimpleSpanProcessor.create(SPANS)).build())
        .build();
    snakepit = NODE.snakepit().useOpenTelemetry(sdk);
  }

  @AfterAll
  static void stop() {
    sdk.close();
  }

  @BeforeEach
  void clear() {
    SPANS.reset();
  }

  @Test
  void aMultiplexedCallCarriesTheCallersTraceIntoPython() throws Exception {
    tracedCall("default", "traceparent", () -> snakepit.pool("default").execute("traceparent", ""));
  }

  @Test
  void aUnaryRpcCallCarriesTheCallersTraceIntoPython() throws Exception {
    tracedCall("unary", "traceparent", () -> snakepit.pool("unary").execute("traceparent", ""));
  }

  @Test
  void aUnaryRpcAlsoSendsTheTraceparentHeader() throws Exception {
    Span parent = sdk.getTracer("test").spanBuilder("parent").startSpan();
    CompletionStage<Result> header;
    try (Scope ignored = parent.makeCurrent()) {
      header = snakepit.pool("unary").execute("traceparent_header", "");
    } finally {
      parent.end();
    }
    String sent = json(await(header));
    assertTrue(sent.startsWith("00-" + parent.getSpanContext().getTraceId() + "-"), sent);
    List<SpanData> spans = finished(2);
    assertTrue(spans.stream().anyMatch(s -> sent.contains("-" + s.getSpanId() + "-")
        && s.getName().equals("snakepit.call traceparent_header")), "the header is the node's span: " + spans);
  }

  @Test
  void aStreamCarriesTheCallersTraceIntoPython() throws Exception {
    tracedCall("default", "stream_traceparent", () -> snakepit.pool("default")
        .stream("stream_traceparent", "{\"count\": 2}")
        .runWith(Sink.seq(), NODE.kit().system())
        .thenApply(items -> {
          assertEquals(2, items.size());
          assertEquals(items.get(0).json(), items.get(1).json());
          return items.get(0);
        }));
  }

  @Test
  void aCallWithoutAParentIsARootSpanAndPythonSeesItsContext() throws Exception {
    String traceparent = json(await(snakepit.pool("default").execute("traceparent", "")));
    SpanData node = onlySpan();
    assertEquals("00-" + node.getTraceId() + "-" + node.getSpanId() + "-"
        + node.getSpanContext().getTraceFlags().asHex(), traceparent);
    assertTrue(node.getSpanContext().isSampled());
    assertTrue(!node.getParentSpanContext().isValid(), "a root span: " + node.getParentSpanContext());
  }

  @Test
  void aFailedCallEndsItsSpanWithTheOutcomeAndTheError() throws Exception {
    PythonException e = assertInstanceOf(PythonException.class,
        failure(snakepit.pool("unary").execute("fail", "{\"message\": \"traced\"}")));
    assertTrue(e.getMessage().contains("traced"), e.getMessage());
    SpanData span = onlySpan();
    assertEquals("snakepit.call fail", span.getName());
    assertEquals("error", span.getAttributes().get(CallTracing.OUTCOME), "the tool raised: the worker is fine");
    assertEquals(StatusCode.ERROR, span.getStatus().getStatusCode());
    assertEquals(1, span.getEvents().size(), "the exception is recorded: " + span.getEvents());
  }

  /** Calls {@code call} inside a parent span; checks what Python read and the node's span. */
  private void tracedCall(String pool, String tool, Supplier<CompletionStage<Result>> call) throws Exception {
    Span parent = sdk.getTracer("test").spanBuilder("parent").startSpan();
    CompletionStage<Result> stage;
    try (Scope ignored = parent.makeCurrent()) {
      stage = call.get();
    } finally {
      parent.end();
    }
    String traceparent = json(await(stage));
    List<SpanData> spans = new ArrayList<>(finished(2));
    spans.removeIf(s -> s.getName().equals("parent"));
    assertEquals(1, spans.size(), spans::toString);
    SpanData node = spans.get(0);
    String traceId = parent.getSpanContext().getTraceId();
    String[] parts = traceparent.split("-");
    assertEquals(4, parts.length, traceparent);
    assertEquals(traceId, parts[1], "Python's trace id is the caller's: " + traceparent);
    assertEquals(node.getSpanId(), parts[2], "Python's parent is the node's span: " + traceparent);
    assertNotEquals(parent.getSpanContext().getSpanId(), parts[2]);
    assertEquals(parent.getSpanContext().getSpanId(), node.getParentSpanId());
    assertEquals(traceId, node.getTraceId());
    assertEquals("snakepit.call " + tool, node.getName());
    assertEquals(SpanKind.CLIENT, node.getKind());
    assertEquals(pool, node.getAttributes().get(CallTracing.POOL));
    assertEquals(tool, node.getAttributes().get(CallTracing.TOOL));
    String worker = node.getAttributes().get(CallTracing.WORKER);
    assertTrue(worker != null && !worker.isEmpty(), "worker: " + worker);
    assertTrue(node.getAttributes().get(CallTracing.CALL_ID).matches("c\\d+"), node.getAttributes().toString());
    assertEquals("ok", node.getAttributes().get(CallTracing.OUTCOME));
    assertTrue(node.hasEnded());
  }

  /** The one span exported, waiting for it: the span ends just after the caller's stage completes. */
  private static SpanData onlySpan() throws InterruptedException {
    List<SpanData> spans = finished(1);
    assertEquals(1, spans.size(), spans::toString);
    return spans.get(0);
  }

  /** The spans exported once there are {@code n} (or after 10 s). */
  private static List<SpanData> finished(int n) throws InterruptedException {
    long end = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (SPANS.getFinishedSpanItems().size() < n && System.nanoTime() < end) {
      Thread.sleep(10);
    }
    return SPANS.getFinishedSpanItems();
  }

  private static String json(Result r) {
    return r.json().replace("\"", "");
  }
}
