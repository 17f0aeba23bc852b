package io.snakepit.actors.supervision;

/** What else a supervisor restarts when one child is to be restarted (OTP's {@code strategy} flag). */
public enum Strategy {
  /** Only that child. */
  ONE_FOR_ONE,
  /** Every child: the others are stopped in reverse start order, then all are started again in start order. */
  ONE_FOR_ALL,
  /**
   * That child and the children started after it: those are stopped in reverse start order, then it and they are
   * started again in start order.
   */
  REST_FOR_ONE,
  /**
   * One child spec is a template; children are only started at run time, each from the template with an argument
   * ({@link Supervisor.StartFromTemplate}), and each restarted on its own as in {@link #ONE_FOR_ONE}. They are all
   * stopped at once, in no order, when the supervisor stops.
   */
  SIMPLE_ONE_FOR_ONE
}
