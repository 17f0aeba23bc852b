package io.snakepit;

/** The tool raised a Python exception; its type, message and traceback travel with it. */
public class PythonException extends SnakepitException {
  private static final long serialVersionUID = 1L;
  private final String pythonType;
  private final String pythonMessage;
  private final String traceback;

  public PythonException(String pythonType, String pythonMessage, String traceback) {
    super(pythonType + ": " + pythonMessage);
    this.pythonType = pythonType;
    this.pythonMessage = pythonMessage;
    this.traceback = traceback;
  }

  /** The exception's qualified Python type, e.g. {@code ValueError} or {@code json.decoder.JSONDecodeError}. */
  public String pythonType() {
    return pythonType;
  }

  /** {@code str(exception)} in Python. */
  public String pythonMessage() {
    return pythonMessage;
  }

  /** The formatted Python traceback. */
  public String traceback() {
    return traceback;
  }

  @Override
  public String kind() {
    return "PythonException";
  }
}
