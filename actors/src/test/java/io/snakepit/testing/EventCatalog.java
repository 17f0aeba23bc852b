package io.snakepit.testing;

import io.snakepit.SnakepitEvent;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The event catalog (docs/EVENTS.md) as the tests read it: the names in its table's first column. */
public final class EventCatalog {
  private static final Pattern ROW = Pattern.compile("^\\| `(\\w+)` \\|", Pattern.MULTILINE);

  private EventCatalog() {}

  /** The events the catalog lists. */
  public static Set<String> catalogued() throws IOException {
    String text = Files.readString(Path.of("..", "docs", "EVENTS.md"));
    Set<String> names = new TreeSet<>();
    Matcher m = ROW.matcher(text);
    while (m.find()) {
      names.add(m.group(1));
    }
    return names;
  }

  /** The records of {@link SnakepitEvent}. */
  public static Set<String> declared() {
    Set<String> names = new TreeSet<>();
    Arrays.stream(SnakepitEvent.class.getPermittedSubclasses()).map(Class::getSimpleName).forEach(names::add);
    return names;
  }
}
