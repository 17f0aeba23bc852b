package io.snakepit.actors.supervision;

import akka.actor.typed.ActorRef;
import java.util.Optional;

/**
 * One child as {@link Supervisor.WhichChildren} reports it (OTP's {@code {Id, Child, Type, Modules}}).
 *
 * @param id the child's id; for a simple_one_for_one child, the template's id, a dash and a sequence number
 * @param child the running actor, present only when {@code status} is {@link Status#RUNNING}; narrow it with
 *     {@code unsafeUpcast()} to the child's message type
 * @param status whether it runs
 * @param type worker or supervisor
 */
public record ChildInfo(String id, Optional<ActorRef<?>> child, Status status, ChildType type) {

  /** Whether a child's actor exists. */
  public enum Status {
    /** Its actor is alive (it may be starting, or stopping at the supervisor's request). */
    RUNNING,
    /** Its actor has ended and the supervisor is in the course of starting a new one (OTP's {@code restarting}). */
    RESTARTING,
    /** It has no actor and none is coming: it was terminated, or it was transient and ended normally. */
    UNDEFINED
  }
}
