package io.snakepit.actors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.snakepit.InvalidArgumentsException;
import io.snakepit.MessageTooLargeException;
import io.snakepit.Pool;
import io.snakepit.Result;
import io.snakepit.Snakepit;
import io.snakepit.testing.Awaits;
import io.snakepit.testing.TestNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** max-message-size through the Java API: the typed exceptions, and what is checked before anything is sent. */
class MessageSizeIT {
  @RegisterExtension
  static final TestNode NODE = TestNode.of("msgsize", """
      snakepit.pools.default.workers = 1
      snakepit.pools.small { workers = 1, max-message-size = 1MiB }
      """, Duration.ofSeconds(60));
  /** Twenty-megabyte messages may take longer than a call's usual limit. */
  private static final Duration LIMIT = Duration.ofSeconds(60);
  private static Snakepit snakepit;
  private static Pool small;

  @BeforeAll
  static void start() {
    snakepit = NODE.snakepit();
    small = NODE.pool("small");
  }

  private static <T> T await(CompletionStage<T> stage) throws Exception {
    return Awaits.await(stage, LIMIT);
  }

  private static Throwable failure(CompletionStage<?> stage) throws Exception {
    return Awaits.failure(stage, LIMIT);
  }

  @Test
  void theLimitIsSixtyFourMebibytesByDefaultAndATwentyMegabyteResultArrivesWhole() throws Exception {
    assertEquals(64 << 20, snakepit.pool("default").maxMessageSize());
    assertEquals(1 << 20, small.maxMessageSize());
    byte[] bytes = await(snakepit.execute("blob", "{\"size\": 20000000}")).bytes();
    assertEquals(20_000_000, bytes.length);
    for (int i = 0; i < bytes.length; i += 9973) {
      assertEquals((byte) (i % 251), bytes[i], "byte " + i);
    }
  }

  @Test
  void aResultOverTheLimitIsMessageTooLargeAndTheWorkerStays() throws Exception {
    long pid = Long.parseLong(await(small.execute("pid", "")).json());
    Throwable e = failure(small.execute("blob", "{\"size\": 1500000}"));
    assertInstanceOf(MessageTooLargeException.class, e);
    assertTrue(e.getMessage().startsWith("tool 'blob' returned a result of 1500008 bytes (1.4 MiB), over the pool's"
        + " max-message-size of 1048576 bytes (1.0 MiB)"), e.getMessage());
    assertTrue(e.getMessage().contains("(snakepit.pools.small.max-message-size)"), e.getMessage());
    assertEquals(pid, Long.parseLong(await(small.execute("pid", "")).json()), "the worker was replaced");
  }

  @Test
  void aStreamedItemOverTheLimitEndsTheStreamWithMessageTooLarge() throws Exception {
    List<Result> items = new ArrayList<>();
    Throwable e = failure(small.executeStream("blob", "{\"size\": 1500000}", items::add));
    assertInstanceOf(MessageTooLargeException.class, e);
    assertEquals(List.of(), items);
    assertEquals(1000, await(small.execute("blob", "{\"size\": 1000}")).bytes().length);
  }

  @Test
  void argumentsOverTheLimitFailAtOnceAndTheToolNeverRuns() throws Exception {
    Path ran = Files.createTempDirectory("snakepit-msg").resolve("ran");
    String args = "{\"size\": 1, \"path\": \"" + ran + "\"}";
    CompletionStage<Result> call = small.execute("blob", args, new byte[2 << 20]);
    // Failed before the method returned: nothing was queued or sent.
    assertTrue(call.toCompletableFuture().isCompletedExceptionally());
    Throwable e = failure(call);
    assertInstanceOf(MessageTooLargeException.class, e);
    assertTrue(e.getMessage().contains("over pool 'small''s max-message-size of 1048576 bytes (1.0 MiB); nothing was"
        + " sent") && e.getMessage().endsWith("raise snakepit.pools.small.max-message-size"), e.getMessage());

    CompletableFuture<Void> stream = small.executeStream("echo", "{\"x\": \"" + "a".repeat(2 << 20) + "\"}",
        item -> { }).toCompletableFuture();
    assertTrue(stream.isCompletedExceptionally());
    assertInstanceOf(MessageTooLargeException.class, failure(stream));

    assertFalse(Files.exists(ran), "the tool ran");
    await(small.execute("blob", args, new byte[10]));
    assertEquals(List.of("blob 1"), Files.readAllLines(ran), "the same call under the limit runs the tool");
  }

  @Test
  void anUnpairedSurrogateIsInvalidArgumentsBeforeSending() throws Exception {
    CompletionStage<Result> call = small.execute("echo", "{\"x\": \"a\uD800b\"}");
    assertTrue(call.toCompletableFuture().isCompletedExceptionally());
    Throwable e = failure(call);
    assertInstanceOf(InvalidArgumentsException.class, e);
    assertEquals("tool 'echo': args_json holds an unpaired UTF-16 surrogate (U+D800) at index 8, which UTF-8 cannot"
        + " encode; escape it in the JSON (\\ud800) or remove it", e.getMessage());
    // A pair is one character: it goes through.
    assertEquals("{\"x\": \"a\uD83D\uDE00b\"}", await(small.execute("echo", "{\"x\": \"a\uD83D\uDE00b\"}")).json());
  }
}
