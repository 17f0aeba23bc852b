/**
 * Supervisors with the semantics of Erlang/OTP's {@code supervisor} on Akka Typed: child specs (restart type, shutdown
 * spec, worker or supervisor), the strategies one_for_one, one_for_all, rest_for_one and simple_one_for_one, restart
 * intensity with escalation, start in order and stop in reverse order. {@link io.snakepit.actors.supervision.Supervisor}
 * is the behaviour, one per phase; its Javadoc says how OTP's terms map onto Akka's. The bookkeeping that needs no
 * mailbox is in package-private classes: the child table, the jobs (start, restart and stop sequences), the exits and
 * the restart decision, the restart intensity, and the queued requests. Internal.
 */
package io.snakepit.actors.supervision;
