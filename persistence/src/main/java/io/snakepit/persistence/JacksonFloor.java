package io.snakepit.persistence;

import com.fasterxml.jackson.core.Version;
import java.security.CodeSource;

/**
 * Refuses to open the journal with a Jackson older than the one the registry's records need.
 *
 * <p>Why it exists: Akka 2.6 brings Jackson 2.11, and an application that depends on Akka's serializer directly may
 * resolve that version over the one Snakepit declares. With it, the registry's snapshots and events failed to load
 * only at the next start ({@code Cannot construct instance of ...WorkerRegistry$State (no Creators...)}), long after
 * the build that caused it. Checked at open, the mistake shows at the first start, with the fix.
 */
final class JacksonFloor {
  /** Jackson 2.12 learned records; the project is tested with 2.17 and, before it, 2.15. */
  static final Version FLOOR = new Version(2, 15, 0, null, "com.fasterxml.jackson.core", "jackson-databind");

  private JacksonFloor() {}

  /** @throws IllegalStateException if the jackson-databind on the classpath is older than {@link #FLOOR} */
  static void require() {
    require(com.fasterxml.jackson.databind.cfg.PackageVersion.VERSION,
        where(com.fasterxml.jackson.databind.ObjectMapper.class));
  }

  static void require(Version found, String jar) {
    if (found.compareTo(FLOOR) < 0) {
      throw new IllegalStateException("snakepit's journal needs jackson-databind " + FLOOR.getMajorVersion() + "."
          + FLOOR.getMinorVersion() + " or newer, and this application resolved " + found + " (" + jar + "), most"
          + " likely through Akka's akka-serialization-jackson. Import io.snakepit:snakepit-bom in your"
          + " dependencyManagement (before Akka's BOM), or declare com.fasterxml.jackson:jackson-bom 2.17.3 there;"
          + " see docs/EMBEDDING.md");
    }
  }

  private static String where(Class<?> type) {
    CodeSource source = type.getProtectionDomain().getCodeSource();
    return source == null || source.getLocation() == null ? "location unknown" : source.getLocation().toString();
  }
}
