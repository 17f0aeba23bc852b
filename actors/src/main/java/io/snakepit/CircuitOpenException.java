package io.snakepit;

/**
 * The pool's circuit breaker is open: its workers kept failing (workers lost without a call, failed starts, transport
 * errors, deadlines), so calls fail at once instead of feeding them. After the reset timeout one probe call goes
 * through; its success closes the circuit. A crash while serving a call does not count: like a Python exception,
 * it is the tool's failure.
 */
public final class CircuitOpenException extends SnakepitException {
  private static final long serialVersionUID = 1L;

  public CircuitOpenException(String message) {
    super(message);
  }
}
