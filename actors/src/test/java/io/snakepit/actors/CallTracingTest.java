package io.snakepit.actors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.TraceFlags;
import io.opentelemetry.api.trace.TraceState;
import io.opentelemetry.context.Context;
import io.snakepit.CallTimeoutException;
import java.util.concurrent.CancellationException;
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
}
