package io.snakepit.actors;

import akka.Done;
import akka.actor.CoordinatedShutdown;
import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.Behavior;
import akka.actor.typed.DispatcherSelector;
import akka.actor.typed.PostStop;
import akka.actor.typed.javadsl.Adapter;
import akka.actor.typed.javadsl.AskPattern;
import akka.actor.typed.javadsl.Behaviors;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.typesafe.config.Config;
import io.snakepit.SnakepitEvent;
import io.snakepit.persistence.DataDirectory;
import io.snakepit.persistence.Registry;
import io.snakepit.settings.SettingPaths;
import io.snakepit.shim.PrivateDirectory;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.RecordComponent;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The node's audit log: every {@link SnakepitEvent} but the calls' (unless {@code snakepit.audit.calls = on}), one JSON
 * object a line, appended to {@code <data-dir>/audit/<instance>.jsonl} (directory 0700, files 0600), renamed to
 * {@code .jsonl.1} (older ones shifted, {@code keep} kept) once a line would take it past {@code max-size}. The format
 * is in docs/EVENTS.md.
 *
 * <p>A subscriber of the event stream on the blocking dispatcher: the actors that publish never wait for the disk.
 * Each line is written to the file as it comes (nothing is buffered in the JVM). A write that fails is counted
 * ({@link #lost()}) and logged at ERROR once until writing works again; the node goes on.
 */
public final class AuditLog {
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(AuditLog.class);
  private static final ObjectMapper MAPPER = new ObjectMapper();
  /** The events written only with {@code calls = on}: two per call, and a state kept every snapshot interval. */
  private static final Set<String> CALLS = Set.of(SnakepitEvent.CallStarted.class.getSimpleName(),
      SnakepitEvent.CallEnded.class.getSimpleName(), SnakepitEvent.StateSaved.class.getSimpleName());

  /** Asks the writer to answer once every event before it is written. */
  private record Drain(ActorRef<Done> replyTo) {}

  private final Path file;
  private final long maxSize;
  private final int keep;
  private final AtomicLong lost = new AtomicLong();
  private FileChannel out;
  private long size;
  private boolean failing;

  private AuditLog(Path file, long maxSize, int keep) {
    this.file = file;
    this.maxSize = maxSize;
    this.keep = keep;
  }

  /** The audit log of {@code instance} in {@code dataDir}: {@code audit/<instance>.jsonl}. */
  public static Path file(Path dataDir, String instance) {
    return dataDir.resolve("audit").resolve(instance + ".jsonl");
  }

  /**
   * Opens (creating them 0700 and 0600) the audit directory and file of {@code instance} in {@code dataDir}.
   *
   * @throws IllegalStateException if the data or audit directory is a symlink, another user's, or not a directory,
   *     naming it and the fix
   * @throws UncheckedIOException if they cannot be created or the file cannot be opened
   */
  public static AuditLog open(Path dataDir, String instance, long maxSize, int keep) {
    DataDirectory.prepare(dataDir).ifPresent(LOG::warn);
    Path dir = PrivateDirectory.claim(file(dataDir, instance).getParent(), PrivateDirectory.Access.READ,
        "the audit directory", "Remove it (the node makes it again, 0700), or set snakepit.data-dir to a directory of"
            + " this user's, or turn the audit log off (snakepit.audit.enabled = off)");
    try {
      if (((Integer) Files.getAttribute(dir, "unix:mode", LinkOption.NOFOLLOW_LINKS) & 0077) != 0) {
        PrivateDirectory.chmod(dir, PosixFilePermissions.fromString("rwx------"));
      }
      AuditLog log = new AuditLog(file(dataDir, instance), maxSize, keep);
      log.openFile();
      return log;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot open the audit log " + file(dataDir, instance) + ": " + e
          + ". Check that snakepit.data-dir is writable, or turn the audit log off (snakepit.audit.enabled = off)", e);
    }
  }

  /**
   * Starts the audit log of {@code system}'s node as {@code snakepit.audit} says (nothing when it is off): subscribed
   * now, so that it sees what the start settles, and drained in coordinated shutdown's before-actor-system-terminate
   * phase, after the pools' stop, so that every worker's exit is in the file when the node is gone.
   *
   * @return the log, or empty when snakepit.audit.enabled = off
   */
  static Optional<AuditLog> start(ActorSystem<?> system, Config snakepit, SettingPaths paths) {
    Config settings = snakepit.getConfig("audit");
    if (!settings.getBoolean("enabled")) {
      return Optional.empty();
    }
    long maxSize = settings.getBytes("max-size");
    int keep = settings.getInt("keep");
    if (maxSize < 1 || keep < 0) {
      throw new IllegalArgumentException("snakepit.audit.max-size is " + maxSize + " bytes and keep is " + keep
          + ": set max-size to a size such as 10MiB and keep to 0 or more");
    }
    AuditLog log = open(paths.path(snakepit, "data-dir"), Registry.instanceName(snakepit), maxSize, keep);
    ActorRef<Object> writer = system.systemActorOf(log.writer(), "snakepit-audit",
        DispatcherSelector.fromConfig("snakepit.blocking-dispatcher"));
    boolean calls = settings.getBoolean("calls");
    // One subscription per kind, so that calls (two events each) reach no mailbox while they are not written.
    for (Class<?> kind : SnakepitEvent.class.getPermittedSubclasses()) {
      if (calls || !CALLS.contains(kind.getSimpleName())) {
        Adapter.toClassic(system).eventStream().subscribe(Adapter.toClassic(writer), kind);
      }
    }
    CoordinatedShutdown.get(system).addTask(CoordinatedShutdown.PhaseBeforeActorSystemTerminate(),
        "snakepit-audit-drain", () -> AskPattern.<Object, Done>ask(writer, Drain::new, Duration.ofSeconds(5),
            system.scheduler()).exceptionally(e -> Done.done()));
    return Optional.of(log);
  }

  /** Where this log writes. */
  public Path file() {
    return file;
  }

  /** How many events could not be written since the start. */
  public long lost() {
    return lost.get();
  }

  private Behavior<Object> writer() {
    return Behaviors.receive(Object.class)
        .onMessage(SnakepitEvent.class, event -> {
          append(event);
          return Behaviors.same();
        })
        .onMessage(Drain.class, drain -> {
          drain.replyTo().tell(Done.done());
          return Behaviors.same();
        })
        .onSignal(PostStop.class, stop -> {
          close();
          return Behaviors.same();
        })
        .build();
  }

  /** Writes {@code event} as one line; a failure is counted and logged, never thrown. */
  public synchronized void append(SnakepitEvent event) {
    byte[] line;
    try {
      line = (MAPPER.writeValueAsString(json(event)) + "\n").getBytes(StandardCharsets.UTF_8);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("an event could not be made JSON: " + event, e);
    }
    try {
      if (out == null) {
        openFile();
      }
      if (size > 0 && size + line.length > maxSize) {
        rotate();
      }
      ByteBuffer buffer = ByteBuffer.wrap(line);
      while (buffer.hasRemaining()) {
        out.write(buffer);
      }
      size += line.length;
      if (failing) {
        failing = false;
        LOG.warn("the audit log {} is written again; {} events could not be written since the start", file,
            lost.get());
      }
    } catch (IOException | RuntimeException e) {
      long count = lost.incrementAndGet();
      closeQuietly();
      if (!failing) {
        failing = true;
        LOG.error("cannot write the audit log {}: {}. Events are not written (counted: {} so far) until it works"
            + " again; the node goes on. Check the free space and the permissions of {} (snakepit.data-dir), or"
            + " turn the audit log off (snakepit.audit.enabled = off)", file, e, count, file.getParent());
      }
    }
  }

  /** Closes the file; a later event opens it again. */
  public synchronized void close() {
    closeQuietly();
  }

  private void openFile() throws IOException {
    out = FileChannel.open(file, Set.of(StandardOpenOption.CREATE, StandardOpenOption.WRITE,
        StandardOpenOption.APPEND, LinkOption.NOFOLLOW_LINKS), PrivateDirectory.FILE_MODE);
    PrivateDirectory.restrictFile(file); // one an earlier node made under another umask, or copied in
    size = out.size();
  }

  /** The current file becomes .1, .1 becomes .2, ..., and the one past {@code keep} is deleted. */
  private void rotate() throws IOException {
    closeQuietly();
    if (keep == 0) {
      Files.deleteIfExists(file);
    } else {
      Files.deleteIfExists(rotated(file, keep));
      for (int i = keep - 1; i >= 1; i--) {
        if (Files.exists(rotated(file, i), LinkOption.NOFOLLOW_LINKS)) {
          Files.move(rotated(file, i), rotated(file, i + 1));
        }
      }
      Files.move(file, rotated(file, 1));
    }
    openFile();
  }

  /** The {@code n}th older file of the log {@code file}: {@code <instance>.jsonl.<n>}. */
  public static Path rotated(Path file, int n) {
    return file.resolveSibling(file.getFileName() + "." + n);
  }

  private void closeQuietly() {
    if (out != null) {
      try {
        out.close();
      } catch (IOException e) {
        // Nothing is buffered in the JVM: what was written is in the file already.
      }
      out = null;
    }
  }

  /**
   * {@code event} as the log writes it: time (ISO-8601, UTC), event (the record's name) and instance first, then its
   * other fields in snake_case, in the record's order; a duration as {@code <name>_ms}, an outcome in lower case.
   */
  public static ObjectNode json(SnakepitEvent event) {
    ObjectNode line = MAPPER.createObjectNode();
    line.put("time", event.time().toString());
    line.put("event", event.getClass().getSimpleName());
    line.put("instance", event.instance());
    for (RecordComponent c : event.getClass().getRecordComponents()) {
      if (c.getName().equals("time") || c.getName().equals("instance")) {
        continue;
      }
      Object value;
      try {
        value = c.getAccessor().invoke(event);
      } catch (IllegalAccessException | InvocationTargetException e) {
        throw new IllegalStateException("cannot read " + c.getName() + " of " + event, e);
      }
      String name = snakeCase(c.getName());
      if (value == null) {
        line.putNull(name);
      } else if (value instanceof Duration d) {
        line.put(name + "_ms", d.toMillis());
      } else if (value instanceof Integer i) {
        line.put(name, i);
      } else if (value instanceof Long l) {
        line.put(name, l);
      } else if (value instanceof Boolean b) {
        line.put(name, b);
      } else if (value instanceof Enum<?> e) {
        line.put(name, e.name().toLowerCase(Locale.ROOT));
      } else if (value instanceof List<?> list) {
        ArrayNode array = line.putArray(name);
        list.forEach(item -> {
          if (item instanceof Integer i) {
            array.add(i);
          } else {
            array.add(String.valueOf(item));
          }
        });
      } else {
        line.put(name, value.toString());
      }
    }
    return line;
  }

  private static String snakeCase(String camel) {
    return camel.replaceAll("([a-z0-9])([A-Z])", "$1_$2").toLowerCase(Locale.ROOT);
  }
}
