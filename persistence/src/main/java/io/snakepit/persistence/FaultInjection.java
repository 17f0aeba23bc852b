package io.snakepit.persistence;

/**
 * Crash points for the tests that prove the registry converges: with the system property
 * {@code snakepit.registry.halt-at} set to a point's name, the JVM halts there as a {@code kill -9} would stop it.
 * Points: {@code after-reserve}, {@code before-spawned-write}, {@code after-kill}.
 */
public final class FaultInjection {
  private static final String PROPERTY = "snakepit.registry.halt-at";

  private FaultInjection() {}

  /** Halts the JVM if the property names {@code point}. */
  public static void haltIfAsked(String point) {
    if (point.equals(System.getProperty(PROPERTY))) {
      Runtime.getRuntime().halt(97);
    }
  }
}
