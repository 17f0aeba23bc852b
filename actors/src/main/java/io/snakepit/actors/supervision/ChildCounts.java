package io.snakepit.actors.supervision;

/**
 * A supervisor's children as {@link Supervisor.CountChildren} reports them (OTP's {@code count_children}).
 *
 * @param specs every child, running or not (for simple_one_for_one: every dynamic child)
 * @param active the children whose actor is alive
 * @param supervisors the children of type {@link ChildType#SUPERVISOR}, running or not
 * @param workers the children of type {@link ChildType#WORKER}, running or not
 */
public record ChildCounts(int specs, int active, int supervisors, int workers) {}
