package io.snakepit;

/**
 * A typed call's result (or a typed stream's item) arrived, but does not map to the type the caller asked for: the
 * message names the tool, the type, what Jackson said and how the result began. The tool ran; the worker is fine.
 */
public final class ResultMappingException extends SnakepitException {
  private static final long serialVersionUID = 1L;
  private final String tool;
  private final String resultType;

  public ResultMappingException(String tool, String resultType, String message, Throwable cause) {
    super(message, cause);
    this.tool = tool;
    this.resultType = resultType;
  }

  /** The tool whose result did not map. */
  public String tool() {
    return tool;
  }

  /** The type asked for, as Java writes it (e.g. {@code java.util.List<com.example.Point>}). */
  public String resultType() {
    return resultType;
  }
}
