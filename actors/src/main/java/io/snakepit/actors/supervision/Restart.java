package io.snakepit.actors.supervision;

/** When a child that has ended is started again (OTP's {@code restart} key of a child spec). */
public enum Restart {
  /** Always restarted, whether it stopped itself or failed. */
  PERMANENT,
  /**
   * Restarted only after an abnormal exit: the actor failed with an exception ({@code ChildFailed}). An actor that
   * stopped itself ({@code Behaviors.stopped()}) has ended normally and stays down.
   */
  TRANSIENT,
  /**
   * Never restarted, not even when a sibling's exit makes a one_for_all or rest_for_one supervisor stop it. Its spec is
   * removed as soon as it ends.
   */
  TEMPORARY
}
