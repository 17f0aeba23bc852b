package io.snakepit.actors.supervision;

/**
 * Why a {@link Supervisor} failed: a child could not start, or children ended more often than the restart intensity
 * allows. The supervisor has stopped all its children, in reverse start order, before failing with it; its own parent
 * sees it as the cause of a {@code ChildFailed}.
 */
public final class SupervisorFailedException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** A failure with the child's error, if there is one, as the cause. */
  public SupervisorFailedException(String message, Throwable cause) {
    super(message, cause);
  }
}
