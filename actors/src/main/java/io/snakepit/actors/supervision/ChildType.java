package io.snakepit.actors.supervision;

/** What a child is (OTP's {@code type} key of a child spec). */
public enum ChildType {
  /** Any actor. It counts as started once its setup has returned. */
  WORKER,
  /**
   * A nested {@link Supervisor}, made by {@link ChildSpec#supervisor}. It counts as started once its own children have
   * all started, so a tree starts depth first and in order.
   */
  SUPERVISOR
}
