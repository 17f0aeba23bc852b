package io.snakepit.actors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.TraceFlags;
import io.opentelemetry.api.trace.TraceState;
import io.opentelemetry.context.Context;
import io.snakepit.CallTimeoutException;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import org.junit.jupiter.api.Test;

/** Without an OpenTelemetry to make spans, a caller's own span context still goes to the worker; else nothing. */
class CallTracingTest {
  private final CallTracing untraced = new CallTracing(null);

  @Test
  void withoutATracerTheCallersSpanContextIsTheTraceparent() {
    SpanContext caller = SpanContext.create("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7",
        TraceFlags.getSampled(), TraceState.getDefault());
    CallTracing.Call call = untraced.start(Context.root().with(Span.wrap(caller)), "p", "echo", "c1");
    assertEquals("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", call.traceparent());
  }

  @Test
  void withoutATracerOrACallerSpanNothingIsTraced() {
    assertSame(CallTracing.NONE, untraced.start(Context.root(), "p", "echo", "c1"));
    assertEquals("", CallTracing.NONE.traceparent());
  }

  @Test
  void outcomesAreNamedAsTheCallEndedEventNamesThem() {
    assertEquals("ok", CallTracing.Call.outcome(null));
    assertEquals("cancelled", CallTracing.Call.outcome(new CancellationException()));
    assertEquals("timeout", CallTracing.Call.outcome(new CompletionException(
        new CallTimeoutException("echo did not answer within 5 ms"))));
    assertEquals("error", CallTracing.Call.outcome(new IllegalStateException("x")));
  }

  @Test
  void anUnknownExporterOrABadEndpointIsRefusedNamingTheSetting() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> CallTracing.of(
        ConfigFactory.parseString("snakepit.tracing.exporter = jaeger").withFallback(ConfigFactory.load()),
        new CompletableFuture<Void>()));
    assertTrue(e.getMessage().contains("snakepit.tracing.exporter = \"jaeger\" is not known"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> CallTracing.of(ConfigFactory.parseString(
        "snakepit.tracing { exporter = otlp, endpoint = \"localhost:4318\" }").withFallback(ConfigFactory.load()),
        new CompletableFuture<Void>()));
    assertTrue(e.getMessage().contains("snakepit.tracing.endpoint = \"localhost:4318\" is not usable"),
        e.getMessage());
  }

  @Test
  void otlpBuildsAnSdkThatMakesSpansAndIsClosedAtStop() {
    CompletableFuture<Void> stop = new CompletableFuture<>();
    CallTracing tracing = CallTracing.of(ConfigFactory.parseString("snakepit.tracing.exporter = otlp")
        .withFallback(ConfigFactory.load()), stop);
    CallTracing.Call call = tracing.start(Context.root(), "p", "echo", "c1");
    assertTrue(call.traceparent().matches("00-[0-9a-f]{32}-[0-9a-f]{16}-0[13]"), call.traceparent());
    stop.complete(null);
  }
}
