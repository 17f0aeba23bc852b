package io.snakepit;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.snakepit.testing.EventCatalog;
import java.io.IOException;
import org.junit.jupiter.api.Test;

/** docs/EVENTS.md is the catalog of {@link SnakepitEvent}: a row for every record, and no row for anything else. */
class EventCatalogTest {

  @Test
  void everyEventHasARowAndEveryRowAnEvent() throws IOException {
    assertEquals(EventCatalog.declared(), EventCatalog.catalogued(), "docs/EVENTS.md and SnakepitEvent disagree");
  }

  @Test
  void theCatalogReadsEveryRow() throws IOException {
    assertEquals(22, EventCatalog.catalogued().size(), EventCatalog.catalogued().toString());
  }
}
