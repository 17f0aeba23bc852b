package io.snakepit;

/**
 * The pool's circuit breaker is open: its workers kept failing (crashes, failed starts, transport errors, deadlines),
 * so calls fail at once instead of feeding them. After the reset timeout one probe call goes through; its success
 * closes the circuit.
 */
public final class CircuitOpenException extends SnakepitException {
  private static final long serialVersionUID = 1L;

  public CircuitOpenException(String message) {
    super(message);
  }
}
