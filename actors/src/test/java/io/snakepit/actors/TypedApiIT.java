package io.snakepit.actors;

import static io.snakepit.testing.Awaits.await;
import static io.snakepit.testing.Awaits.failure;
import static io.snakepit.testing.GeneratorProgress.progress;
import static io.snakepit.testing.GeneratorProgress.settledCount;
import static io.snakepit.testing.GeneratorProgress.waitFor;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.typed.ActorSystem;
import akka.stream.javadsl.Sink;
import akka.stream.javadsl.SinkQueueWithCancel;
import akka.stream.javadsl.Source;
import com.fasterxml.jackson.core.type.TypeReference;
import io.snakepit.CallOptions;
import io.snakepit.InvalidArgumentsException;
import io.snakepit.Pool;
import io.snakepit.PythonException;
import io.snakepit.Result;
import io.snakepit.ResultMappingException;
import io.snakepit.testing.TestNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The typed API and the backpressured stream, with real Python: records in and out through Jackson, results that do
 * not map, and a generator that is proven (by the count it writes to a file) to pause while the stream's consumer
 * does, and to be cancelled when the consumer takes only part of it.
 */
class TypedApiIT {
  /** The test adapter's directory, put on the pool's python-path (failsafe runs in the module's directory). */
  private static final Path ADAPTERS = Path.of("src/test/python").toAbsolutePath();

  @RegisterExtension
  static final TestNode NODE = TestNode.of("typed", """
      snakepit.pools.flow {
        workers = 1
        adapter = "snakepit_flow_adapter:FlowAdapter"
        python-path = ["%s"]
      }
      """.formatted(ADAPTERS), Duration.ofSeconds(60));

  /**
   * How far ahead of its consumer a generator of 4 KiB items may get: about 250 items were measured (grpc-java's 1 MiB
   * HTTP/2 window, the source's 16, the sink's buffer); its window tuning may grow the window to 8 MiB (about 2 000
   * items). Far below the 100 000 it would yield unchecked.
   */
  static final int BOUND = 2_500;

  private static Pool pool;
  private static ActorSystem<?> system;

  @TempDir
  Path dir;

  record Point(int x, int y) {}

  record Shape(String name, List<Point> points, Instant at, Optional<String> note) {}

  record Item(int i, String pad) {}

  @BeforeAll
  static void start() {
    pool = NODE.pool("flow");
    system = NODE.kit().system();
  }

  @Test
  void aRecordGoesInAndTheSameRecordComesOut() throws Exception {
    Shape shape = new Shape("triangle", List.of(new Point(0, 0), new Point(3, 0), new Point(0, 4)),
        Instant.parse("2026-12-01T10:15:30.5Z"), Optional.of("right-angled"));
    assertEquals(shape, await(pool.execute("echo", shape, Shape.class)));
    Shape bare = new Shape("dot", List.of(new Point(1, 1)), Instant.EPOCH, Optional.empty());
    assertEquals(bare, await(pool.execute("echo", bare, Shape.class)));
  }

  @Test
  void aListOfRecordsComesBackThroughATypeReference() throws Exception {
    assertEquals(List.of(new Point(0, 0), new Point(1, 1), new Point(2, 4)),
        await(pool.execute("points", Map.of("n", 3), new TypeReference<List<Point>>() {})));
    assertEquals(Map.of("n", 7), await(pool.execute("echo", Map.of("n", 7), Map.class)));
  }

  @Test
  void aResultThatDoesNotMapNamesTheToolTheTypeAndWhatJacksonSaid() throws Exception {
    ResultMappingException e = assertInstanceOf(ResultMappingException.class,
        failure(pool.execute("points", Map.of("n", 2), Point.class)));
    assertEquals("points", e.tool());
    assertEquals(Point.class.getName(), e.resultType());
    assertTrue(e.getMessage().contains("tool 'points'") && e.getMessage().contains(Point.class.getName())
        && e.getMessage().contains("from Array value") && e.getMessage().contains("[{\"x\": 0, \"y\": 0}"),
        e.getMessage());

    ResultMappingException field = assertInstanceOf(ResultMappingException.class,
        failure(pool.execute("echo", Map.of("name", "x", "points", "none"), Shape.class)));
    assertTrue(field.getMessage().contains("(at $.points)"), field.getMessage());
  }

  @Test
  void argumentsThatDoNotSerializeFailAtOnceAndNothingIsSent() throws Exception {
    CompletableFuture<?> unserializable = pool.execute("echo", new Object(), Map.class).toCompletableFuture();
    // Failed before anything reached the pool: the stage is already complete.
    assertTrue(unserializable.isCompletedExceptionally(), "the call was not refused at once");
    InvalidArgumentsException e = assertInstanceOf(InvalidArgumentsException.class, failure(unserializable));
    assertTrue(e.getMessage().contains("java.lang.Object") && e.getMessage().contains("nothing was sent"),
        e.getMessage());

    CompletableFuture<?> text = pool.execute("echo", "{\"n\": 1}", Map.class).toCompletableFuture();
    assertTrue(text.isCompletedExceptionally(), "a String argument was not refused at once");
    assertTrue(failure(text).getMessage().contains("not a JSON object"), failure(text)::getMessage);

    Throwable streamed = failure(pool.stream("produce", List.of(1, 2), Item.class).runWith(Sink.seq(), system));
    assertInstanceOf(InvalidArgumentsException.class, streamed);
  }

  @Test
  void theSourceDeliversEveryItemInOrderTypedOrAsResults() throws Exception {
    List<Item> items = await(pool.stream("produce", produce(50, 3, dir.resolve("typed")), Item.class)
        .runWith(Sink.seq(), system));
    assertEquals(50, items.size());
    for (int i = 0; i < 50; i++) {
      assertEquals(new Item(i, "xxx"), items.get(i));
    }
    List<Result> results = await(pool.stream("produce", "{\"count\": 3, \"size\": 1, \"progress\": \""
        + dir.resolve("json") + "\"}").runWith(Sink.seq(), system));
    assertEquals(List.of("{\"i\": 0, \"pad\": \"x\"}", "{\"i\": 1, \"pad\": \"x\"}", "{\"i\": 2, \"pad\": \"x\"}"),
        results.stream().map(Result::json).toList());
    assertEquals("50 finished", progress(dir.resolve("typed")));
  }

  @Test
  void aToolThatRaisesFailsTheSourceAfterItsItems() throws Exception {
    Map<String, Object> args = new java.util.HashMap<>(produce(10, 1, dir.resolve("failing")));
    args.put("fail_after", 4);
    List<Item> seen = new java.util.concurrent.CopyOnWriteArrayList<>();
    Throwable e = failure(pool.stream("produce", args, Item.class).runWith(Sink.foreach(seen::add), system));
    PythonException python = assertInstanceOf(PythonException.class, e);
    assertEquals("ValueError", python.pythonType());
    assertEquals(4, seen.size());
  }

  @Test
  void aSourceNeverMaterializedSendsNothing() throws Exception {
    Path untouched = dir.resolve("never");
    Source<Item, ?> source = pool.stream("produce", produce(5, 1, untouched), Item.class);
    // The pool's one worker serves calls in order: a call made after the source was built has been served.
    assertEquals(Map.of("n", 1), await(pool.execute("echo", Map.of("n", 1), Map.class)));
    assertFalse(Files.exists(untouched), "the tool ran although its source was never materialized");
    assertEquals(5, await(source.runWith(Sink.seq(), system)).size());
    assertEquals("5 finished", progress(untouched));
  }

  @Test
  void theGeneratorPausesWhileTheConsumerDoesAndResumesWithIt() throws Exception {
    int count = 100_000;
    Path progress = dir.resolve("paused");
    SinkQueueWithCancel<Item> queue = pool.stream("produce", produce(count, 4096, progress), Item.class,
        CallOptions.defaults().withTimeout(Duration.ofMinutes(5))).runWith(Sink.queue(), system);
    for (int i = 0; i < 10; i++) {
      assertEquals(i, pull(queue).i());
    }
    int paused = settledCount(progress);
    System.out.println("TypedApiIT: with the consumer paused after 10 items, the generator stopped at " + paused
        + " items of 4 KiB");
    assertTrue(paused < BOUND, "the generator ran on to " + paused + " items while the consumer took 10");
    assertTrue(progress(progress).endsWith("running"), progress(progress));
    for (int i = 10; i < count; i++) {
      Item item = pull(queue);
      assertEquals(i, item.i());
      assertEquals(4096, item.pad().length());
    }
    assertEquals(Optional.empty(), queue.pull().toCompletableFuture().get(30, TimeUnit.SECONDS));
    assertEquals(count + " finished", progress(progress));
  }

  @Test
  void takingFiveCancelsTheCallInPythonAndTheWorkerServesTheNext() throws Exception {
    Path progress = dir.resolve("taken");
    List<Item> five = await(pool.stream("produce", produce(100_000, 4096, progress), Item.class).take(5)
        .runWith(Sink.seq(), system));
    assertEquals(List.of(0, 1, 2, 3, 4), five.stream().map(Item::i).toList());
    String end = waitFor(progress, s -> s.contains("closed"));
    System.out.println("TypedApiIT: after take(5), the generator ended as: " + end);
    assertTrue(end.endsWith("closed cancelled=True"), end);
    assertTrue(Integer.parseInt(end.split(" ")[0]) < BOUND, end);
    // The pool's only worker is free again.
    assertEquals(List.of(new Point(0, 0)), await(pool.execute("points", Map.of("n", 1),
        new TypeReference<List<Point>>() {})));
  }

  private static Map<String, Object> produce(int count, int size, Path progress) {
    return Map.of("count", count, "size", size, "progress", progress.toString());
  }

  private static Item pull(SinkQueueWithCancel<Item> queue) throws Exception {
    return queue.pull().toCompletableFuture().get(30, TimeUnit.SECONDS).orElseThrow();
  }
}
