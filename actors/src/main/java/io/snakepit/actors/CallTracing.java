package io.snakepit.actors;

import akka.actor.typed.ActorSystem;
import com.typesafe.config.Config;
import io.opentelemetry.api.GlobalOpenTelemetry;
import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.propagation.ContextPropagators;
import io.opentelemetry.exporter.otlp.http.trace.OtlpHttpSpanExporter;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.resources.Resource;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.export.BatchSpanProcessor;
import io.opentelemetry.api.trace.propagation.W3CTraceContextPropagator;
import io.snakepit.CallTimeoutException;
import io.snakepit.WorkerCallException;
import io.snakepit.WorkerCrashedException;
import java.time.Duration;
import java.util.Locale;
import java.util.Objects;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;

/**
 * The node's calls as OpenTelemetry spans: one CLIENT span {@code snakepit.call <tool>} per call, a child of the
 * caller's context, ended with the call's outcome; its W3C {@code traceparent} goes to the worker with the request.
 *
 * <p>The OpenTelemetry used is the one an embedder hands over ({@link #use}), else the SDK the node built for
 * {@code snakepit.tracing.exporter = otlp}, else {@link GlobalOpenTelemetry} once something has set it (it is never
 * read before, so that an application may still set it after the node started). With none of these, no span is
 * made: a caller's own valid span context still goes to the worker as its traceparent.
 */
public final class CallTracing {
  /** The instrumentation scope of the node's spans. */
  public static final String SCOPE = "io.snakepit";
  static final AttributeKey<String> POOL = AttributeKey.stringKey("snakepit.pool");
  static final AttributeKey<String> TOOL = AttributeKey.stringKey("snakepit.tool");
  static final AttributeKey<String> WORKER = AttributeKey.stringKey("snakepit.worker");
  static final AttributeKey<String> CALL_ID = AttributeKey.stringKey("snakepit.call_id");
  static final AttributeKey<String> OUTCOME = AttributeKey.stringKey("snakepit.outcome");

  /** A call that is not traced: no span, no traceparent. */
  public static final Call NONE = new Call(null, "");

  private volatile Tracer tracer;

  /** Tracing that uses {@code openTelemetry}, or (null) the global one once it is set. */
  public CallTracing(OpenTelemetry openTelemetry) {
    if (openTelemetry != null) {
      use(openTelemetry);
    }
  }

  /**
   * The tracing of {@code system}'s node, per {@code snakepit.tracing} (reference.conf documents it): with
   * {@code exporter = otlp}, an SDK of the node's own that sends its spans over OTLP/HTTP and is closed (its last
   * spans flushed) when the actor system terminates.
   */
  public static CallTracing of(ActorSystem<?> system) {
    return of(system.settings().config(), system.getWhenTerminated());
  }

  /** As {@link #of(ActorSystem)}, from the whole configuration; an SDK it builds is closed when {@code stop} completes. */
  static CallTracing of(Config root, CompletionStage<?> stop) {
    Config config = root.getConfig("snakepit.tracing");
    String exporter = config.getString("exporter").toLowerCase(Locale.ROOT);
    switch (exporter) {
      case "none":
        return new CallTracing(null);
      case "otlp":
        OpenTelemetrySdk sdk = otlp(config, root.getString("snakepit.instance"));
        stop.thenRun(sdk::close);
        return new CallTracing(sdk);
      default:
        throw new IllegalArgumentException("snakepit.tracing.exporter = \"" + exporter + "\" is not known: set it"
            + " to none (no export; spans go to GlobalOpenTelemetry or the OpenTelemetry handed to"
            + " Snakepit.useOpenTelemetry) or otlp (OTLP over HTTP to snakepit.tracing.endpoint)");
    }
  }

  private static OpenTelemetrySdk otlp(Config config, String instance) {
    String endpoint = config.getString("endpoint");
    OtlpHttpSpanExporter exporter;
    try {
      exporter = OtlpHttpSpanExporter.builder()
          .setEndpoint(endpoint)
          .setTimeout(config.getDuration("timeout"))
          .build();
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("snakepit.tracing.endpoint = \"" + endpoint + "\" is not usable: "
          + e.getMessage() + "; set it to the collector's OTLP/HTTP traces URL, e.g. http://127.0.0.1:4318/v1/traces", e);
    }
    Duration delay = config.getDuration("export-delay");
    SdkTracerProvider provider = SdkTracerProvider.builder()
        .setResource(Resource.getDefault().merge(Resource.builder()
            .put("service.name", config.getString("service-name"))
            .put("service.instance.id", instance)
            .build()))
        .addSpanProcessor(BatchSpanProcessor.builder(exporter).setScheduleDelay(delay).build())
        .build();
    return OpenTelemetrySdk.builder()
        .setTracerProvider(provider)
        .setPropagators(ContextPropagators.create(W3CTraceContextPropagator.getInstance()))
        .build();
  }

  /** From now on, calls make their spans with {@code openTelemetry}. */
  public void use(OpenTelemetry openTelemetry) {
    tracer = Objects.requireNonNull(openTelemetry, "openTelemetry").getTracer(SCOPE);
  }

  private Tracer tracer() {
    Tracer t = tracer;
    if (t == null && GlobalOpenTelemetry.isSet()) {
      t = GlobalOpenTelemetry.get().getTracer(SCOPE);
      tracer = t;
    }
    return t;
  }

  /**
   * Starts call {@code callId}'s span in pool {@code pool}, a child of {@code parent} (the caller's context, taken
   * on the thread that submitted the call).
   */
  public Call start(Context parent, String pool, String tool, String callId) {
    Tracer t = tracer();
    if (t == null) {
      SpanContext caller = Span.fromContext(parent).getSpanContext();
      return caller.isValid() ? new Call(null, traceparent(caller)) : NONE;
    }
    Span span = t.spanBuilder("snakepit.call " + tool)
        .setParent(parent)
        .setSpanKind(SpanKind.CLIENT)
        .setAttribute(POOL, pool)
        .setAttribute(TOOL, tool)
        .setAttribute(CALL_ID, callId)
        .startSpan();
    SpanContext sc = span.getSpanContext();
    return new Call(span, sc.isValid() ? traceparent(sc) : "");
  }

  /** The W3C traceparent header of {@code sc} (version 00). */
  static String traceparent(SpanContext sc) {
    return "00-" + sc.getTraceId() + "-" + sc.getSpanId() + "-" + sc.getTraceFlags().asHex();
  }

  /**
   * One call's trace: its span (null when the node makes none) and the traceparent the worker receives (empty when
   * untraced).
   */
  public static final class Call {
    private final Span span;
    private final String traceparent;

    Call(Span span, String traceparent) {
      this.span = span;
      this.traceparent = traceparent;
    }

    /** The traceparent header value for the worker; empty when the call is not traced. */
    public String traceparent() {
      return traceparent;
    }

    /** The call went to worker {@code workerId} (again, for a retry). */
    public void worker(String workerId) {
      if (span != null) {
        span.setAttribute(WORKER, workerId);
      }
    }

    /** Ends the span once {@code promise} completes, with its outcome. */
    public void endWith(CompletableFuture<?> promise) {
      if (span != null) {
        promise.whenComplete((value, error) -> end(error));
      }
    }

    private void end(Throwable error) {
      String outcome = outcome(error);
      span.setAttribute(OUTCOME, outcome);
      if (error != null && !"cancelled".equals(outcome)) {
        Throwable cause = error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
        span.recordException(cause);
        span.setStatus(StatusCode.ERROR, cause.getClass().getSimpleName());
      }
      span.end();
    }

    /**
     * As the node's CallEnded event names it: ok; error (the tool raised, or the call was refused); timeout;
     * cancelled; failed (the worker failed it: its process died or its channel broke).
     */
    static String outcome(Throwable error) {
      if (error == null) {
        return "ok";
      }
      Throwable cause = error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
      if (cause instanceof CancellationException) {
        return "cancelled";
      }
      if (cause instanceof CallTimeoutException) {
        return "timeout";
      }
      return cause instanceof WorkerCallException || cause instanceof WorkerCrashedException ? "failed" : "error";
    }
  }
}
