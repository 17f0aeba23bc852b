package io.snakepit.actors;

import com.typesafe.config.Config;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingClientCall;
import io.grpc.ForwardingClientCallListener;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.AbstractExecutorService;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.IntConsumer;
import java.util.function.Supplier;
import java.util.function.UnaryOperator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the node does when one of its threads runs out of memory ({@code snakepit.on-out-of-memory}): it reports the
 * error (the thread, what the thread was doing, the error with its causes), then halts the JVM with
 * {@link #EXIT_STATUS} ({@code exit}, the default) or goes on ({@code keep-running}).
 *
 * <p>gRPC and {@link java.util.concurrent.CompletableFuture} catch errors thrown in their callbacks and turn them into
 * a cancelled call or a failed future that nobody reads; so every place that runs such callbacks (executors, channels,
 * the gateway's handlers) passes what it caught through {@link #handle}. The halt skips shutdown hooks on purpose: a
 * JVM out of memory may not finish an orderly stop, and each worker's shim takes its tree down when its stdin closes.
 */
public final class OutOfMemory {
  /** The JVM's exit status after an {@link OutOfMemoryError} under {@code on-out-of-memory = exit}. */
  public static final int EXIT_STATUS = 4;

  /** The setting, under the config root. */
  public static final String SETTING = "snakepit.on-out-of-memory";

  /** What to do once the error is reported. */
  public enum Action {
    EXIT, KEEP_RUNNING;

    /** Parses {@code exit} or {@code keep-running}; anything else names the setting and its values. */
    public static Action parse(String value) {
      return switch (value.trim().toLowerCase(Locale.ROOT)) {
        case "exit" -> EXIT;
        case "keep-running" -> KEEP_RUNNING;
        default -> throw new IllegalArgumentException(SETTING + " = \"" + value + "\" is not a choice: set it to exit"
            + " (report, then halt the JVM with status " + EXIT_STATUS + ") or keep-running (report, go on)");
      };
    }

    @Override
    public String toString() {
      return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }
  }

  private static final Logger LOG = LoggerFactory.getLogger(OutOfMemory.class);

  // Freed on the first OutOfMemoryError, so that reporting it has room to allocate.
  @SuppressWarnings("unused")
  private static volatile byte[] reserve = new byte[256 * 1024];

  private final Action action;
  private final Consumer<String> report;
  private final IntConsumer halt;
  // One JVM, one halt: the first handler to see an error reports it and halts; later ones return at once.
  private static final AtomicBoolean JVM_HALTING = new AtomicBoolean();

  private final AtomicBoolean halting;

  /**
   * A handler that reports through {@code report} (the full text, stack traces included) and exits through
   * {@code halt}, once for all handlers sharing {@code halting}; for tests. {@link #of} is the real one.
   */
  OutOfMemory(Action action, Consumer<String> report, IntConsumer halt, AtomicBoolean halting) {
    this.action = action;
    this.report = report;
    this.halt = halt;
    this.halting = halting;
  }

  /** The handler for {@code action}: it logs the error (and writes one line to stderr), and halts the JVM. */
  public static OutOfMemory of(Action action) {
    return new OutOfMemory(action, text -> log(text, action == Action.EXIT), status -> Runtime.getRuntime().halt(status),
        JVM_HALTING);
  }

  /** The handler {@code snakepit.on-out-of-memory} in {@code config} (the whole configuration) asks for. */
  public static OutOfMemory fromConfig(Config config) {
    return of(Action.parse(config.getString(SETTING)));
  }

  /** What this handler does after reporting. */
  public Action action() {
    return action;
  }

  /**
   * If {@code error} is an {@link OutOfMemoryError}, or was caused by one: reports it as having happened in the
   * current thread while {@code doing}, then halts the JVM or goes on per the action, and returns true. Otherwise
   * returns false and does nothing.
   */
  public boolean handle(Throwable error, String doing) {
    OutOfMemoryError oom = outOfMemory(error);
    if (oom == null) {
      return false;
    }
    reserve = null;
    if (action == Action.EXIT && !halting.compareAndSet(false, true)) {
      return true; // another thread is already reporting and halting
    }
    String what = "out of memory in thread [" + Thread.currentThread().getName() + "] while " + doing + ": " + oom
        + (error == oom ? "" : " (the cause of " + error.getClass().getName() + ")");
    String then = action == Action.EXIT
        ? "; exiting with status " + EXIT_STATUS + " (" + SETTING + " = exit): every worker's shim then takes its"
            + " process tree down. Give the JVM more heap (-Xmx), or lower the pools' max-message-size, workers or"
            + " concurrency; " + SETTING + " = keep-running keeps the node running instead"
        : "; running on (" + SETTING + " = keep-running): calls may fail until memory is freed. Give the JVM more heap"
            + " (-Xmx), or lower the pools' max-message-size, workers or concurrency";
    try {
      report.accept(what + then + System.lineSeparator() + stackTrace(error));
    } catch (Throwable reporting) {
      // Reporting itself ran out of memory: the one line below is all that can be said.
      System.err.println("snakepit: " + what + then);
    }
    if (action == Action.EXIT) {
      System.err.flush();
      halt.accept(EXIT_STATUS);
    }
    return true;
  }

  /** {@code task}, with what it throws passed through {@link #handle}; an error handled here is not rethrown. */
  public Runnable guard(Runnable task, Supplier<String> doing) {
    return () -> {
      try {
        task.run();
      } catch (RuntimeException | Error e) {
        if (!handle(e, doing.get())) {
          throw e;
        }
      }
    };
  }

  /** {@code executor}, running each task through {@link #guard}. */
  public ExecutorService guard(ExecutorService executor, String doing) {
    return new GuardedExecutor(executor, task -> guard(task, () -> doing));
  }

  /**
   * A bounded pool of daemon threads named {@code threadPrefix-N} (twice the cores, at least 4; idle ones end after
   * 30 s) for gRPC callbacks, its tasks guarded as {@link #guard(ExecutorService, String)} does.
   */
  public ExecutorService callbackPool(String threadPrefix, String doing) {
    int threads = Math.max(4, Runtime.getRuntime().availableProcessors() * 2);
    AtomicInteger n = new AtomicInteger();
    ThreadPoolExecutor executor = new ThreadPoolExecutor(threads, threads, 30, TimeUnit.SECONDS,
        new LinkedBlockingQueue<>(), r -> {
          Thread t = new Thread(r, threadPrefix + "-" + n.incrementAndGet());
          t.setDaemon(true);
          return t;
        });
    executor.allowCoreThreadTimeOut(true);
    return guard(executor, doing);
  }

  /**
   * A default uncaught-exception handler: an out-of-memory error goes through {@link #handle}, anything else to
   * {@code next} (or, without one, to stderr as the JVM would print it).
   */
  public Thread.UncaughtExceptionHandler uncaughtHandler(Thread.UncaughtExceptionHandler next) {
    return (thread, error) -> {
      if (!handle(error, "running (the error was not caught)")) {
        if (next != null) {
          next.uncaughtException(thread, error);
        } else {
          System.err.print("Exception in thread \"" + thread.getName() + "\" ");
          error.printStackTrace();
        }
      }
    };
  }

  /**
   * A client interceptor for the channel to {@code peer}: a call that gRPC closed because of an out-of-memory error
   * (its status's cause) goes through {@link #handle}.
   */
  public ClientInterceptor clientInterceptor(String peer) {
    return new ClientInterceptor() {
      @Override
      public <Q, R> ClientCall<Q, R> interceptCall(MethodDescriptor<Q, R> method, CallOptions options, Channel next) {
        return new ForwardingClientCall.SimpleForwardingClientCall<>(next.newCall(method, options)) {
          @Override
          public void start(Listener<R> listener, Metadata headers) {
            super.start(new ForwardingClientCallListener.SimpleForwardingClientCallListener<>(listener) {
              @Override
              public void onClose(Status status, Metadata trailers) {
                if (status.getCause() != null) {
                  handle(status.getCause(), "calling " + method.getBareMethodName() + " on " + peer);
                }
                super.onClose(status, trailers);
              }
            }, headers);
          }
        };
      }
    };
  }

  private static OutOfMemoryError outOfMemory(Throwable error) {
    for (Throwable t = error, seen = null; t != null && t != seen; seen = t, t = t.getCause()) {
      if (t instanceof OutOfMemoryError oom) {
        return oom;
      }
    }
    return null;
  }

  private static String stackTrace(Throwable error) {
    StringWriter s = new StringWriter();
    error.printStackTrace(new PrintWriter(s));
    return s.toString();
  }

  private static void log(String text, boolean halting) {
    LOG.error(text.stripTrailing());
    if (halting) {
      // The log may be asynchronous, and a halt does not wait for it: one line goes to stderr directly.
      int firstLine = text.indexOf(System.lineSeparator());
      System.err.println("snakepit: " + (firstLine < 0 ? text : text.substring(0, firstLine)));
    }
  }

  /** An executor that wraps each task before handing it on. */
  private static final class GuardedExecutor extends AbstractExecutorService {
    private final ExecutorService delegate;
    private final UnaryOperator<Runnable> wrap;

    GuardedExecutor(ExecutorService delegate, UnaryOperator<Runnable> wrap) {
      this.delegate = delegate;
      this.wrap = wrap;
    }

    @Override
    public void execute(Runnable task) {
      delegate.execute(wrap.apply(task));
    }

    @Override
    public void shutdown() {
      delegate.shutdown();
    }

    @Override
    public List<Runnable> shutdownNow() {
      return delegate.shutdownNow();
    }

    @Override
    public boolean isShutdown() {
      return delegate.isShutdown();
    }

    @Override
    public boolean isTerminated() {
      return delegate.isTerminated();
    }

    @Override
    public boolean awaitTermination(long timeout, TimeUnit unit) throws InterruptedException {
      return delegate.awaitTermination(timeout, unit);
    }
  }

  /** For {@link GuardedDispatcherExecutor}: an executor wrapping each task with a description of it. */
  static ExecutorService guard(OutOfMemory handler, ExecutorService executor, Function<Runnable, String> describe) {
    return new GuardedExecutor(executor, task -> handler.guard(task, () -> describe.apply(task)));
  }
}
