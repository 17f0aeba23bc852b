package io.snakepit.actors.stream;

import akka.stream.Attributes;
import akka.stream.Outlet;
import akka.stream.SourceShape;
import akka.stream.stage.AbstractOutHandler;
import akka.stream.stage.AsyncCallback;
import akka.stream.stage.GraphStage;
import akka.stream.stage.GraphStageLogic;
import io.snakepit.Result;
import io.snakepit.actors.worker.StreamItems;
import java.util.ArrayDeque;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.function.IntConsumer;

/**
 * A source of one streaming call's items per materialization, with backpressure: it asks the call for at most
 * {@code window} items beyond those downstream has taken, so a downstream that stops pulling stops the call from
 * being read. Downstream cancelling cancels the call (or takes it out of the pool's queue); the call's failure fails
 * the stream; nothing is started before materialization.
 *
 * <p>Everything from the call (items, its start on a worker, its end) reaches the stage through one async callback,
 * so it is handled in the order it happened, on the stage's own thread.
 */
public final class CallSource extends GraphStage<SourceShape<Result>> {

  /** Starts one call: its items go to {@code items}, and its end completes (or fails) {@code promise}. */
  @FunctionalInterface
  public interface Start {
    void start(StreamItems items, CompletableFuture<Void> promise);
  }

  private final Outlet<Result> out;
  private final SourceShape<Result> shape;
  private final Start start;
  private final int window;

  /**
   * @param name the stage's name (the tool), for Akka's logs
   * @param window the most items asked for and not yet pushed downstream; at least 2
   */
  public CallSource(String name, int window, Start start) {
    if (window < 2) {
      throw new IllegalArgumentException("a call source's window must be at least 2 items, not " + window);
    }
    this.out = Outlet.create("snakepit.stream(" + name + ").out");
    this.shape = SourceShape.of(out);
    this.start = start;
    this.window = window;
  }

  @Override
  public SourceShape<Result> shape() {
    return shape;
  }

  @Override
  public GraphStageLogic createLogic(Attributes inheritedAttributes) {
    return new Logic();
  }

  /** What the call tells the stage, through its one callback. */
  private sealed interface Event {}

  private record Item(Result result) implements Event {}

  private record Started(IntConsumer demand) implements Event {}

  private record Ended(Throwable error) implements Event {}

  private final class Logic extends GraphStageLogic {
    private final ArrayDeque<Result> buffered = new ArrayDeque<>();
    private final CompletableFuture<Void> promise = new CompletableFuture<>();
    private IntConsumer demand;
    /** Items asked for and not yet arrived. */
    private int outstanding;
    private boolean ended;
    private Throwable failure;

    Logic() {
      super(shape);
      setHandler(out, new AbstractOutHandler() {
        @Override
        public void onPull() {
          deliver();
        }

        @Override
        public void onDownstreamFinish(Throwable cause) {
          promise.cancel(false);
          completeStage();
        }
      });
    }

    @Override
    public void preStart() {
      AsyncCallback<Event> events = createAsyncCallback(this::on);
      promise.whenComplete((done, error) -> events.invoke(new Ended(error)));
      start.start(new StreamItems() {
        @Override
        public void onItem(Result item) {
          events.invoke(new Item(item));
        }

        @Override
        public boolean paced() {
          return true;
        }

        @Override
        public void started(IntConsumer demand) {
          events.invoke(new Started(demand));
        }
      }, promise);
    }

    @Override
    public void postStop() {
      // The stream ended some other way (its materializer shut down, say): the call must not run on unread.
      promise.cancel(false);
    }

    private void on(Event event) {
      if (event instanceof Item item) {
        outstanding = Math.max(0, outstanding - 1);
        buffered.add(item.result());
        deliver();
      } else if (event instanceof Started started) {
        // A retried call starts over: what the earlier attempt was asked for no longer arrives.
        demand = started.demand();
        outstanding = 0;
        askForMore();
      } else if (event instanceof Ended end) {
        ended = true;
        failure = end.error() instanceof CompletionException wrapped && wrapped.getCause() != null
            ? wrapped.getCause() : end.error();
        deliver();
      }
    }

    private void deliver() {
      if (!buffered.isEmpty() && isAvailable(out)) {
        push(out, buffered.poll());
      }
      if (buffered.isEmpty() && ended) {
        if (failure != null) {
          failStage(failure);
        } else {
          completeStage();
        }
        return;
      }
      askForMore();
    }

    /** Keeps up to {@code window} items asked for or buffered, asking in batches of at least half of it. */
    private void askForMore() {
      if (demand == null || ended) {
        return;
      }
      int want = window - buffered.size() - outstanding;
      if (want >= window / 2) {
        outstanding += want;
        demand.accept(want);
      }
    }
  }
}
