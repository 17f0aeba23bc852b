package io.snakepit;

/**
 * The tool raised a Python exception; its type, message and traceback travel with it. Common Python types arrive as
 * the nested subclasses ({@link ValueError}, {@link KeyError}, {@link TimeoutError}, ...), which mirror Python's own
 * hierarchy where it matters ({@code KeyError} is a {@link LookupError}, {@code TimeoutError} an {@link OSError});
 * any other type arrives as a plain {@code PythonException} with {@link #pythonType()} naming it.
 */
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

  /** The typed exception for a Python type, or a plain {@code PythonException} for one without its own class. */
  public static PythonException of(String type, String message, String traceback) {
    return switch (type) {
      case "ValueError" -> new ValueError(type, message, traceback);
      case "TypeError" -> new TypeError(type, message, traceback);
      case "KeyError" -> new KeyError(type, message, traceback);
      case "IndexError" -> new IndexError(type, message, traceback);
      case "LookupError" -> new LookupError(type, message, traceback);
      case "AttributeError" -> new AttributeError(type, message, traceback);
      case "RuntimeError" -> new RuntimeError(type, message, traceback);
      case "NotImplementedError" -> new NotImplementedError(type, message, traceback);
      case "TimeoutError" -> new TimeoutError(type, message, traceback);
      case "FileNotFoundError" -> new FileNotFoundError(type, message, traceback);
      case "PermissionError" -> new PermissionError(type, message, traceback);
      case "OSError" -> new OSError(type, message, traceback);
      case "ZeroDivisionError" -> new ZeroDivisionError(type, message, traceback);
      case "AssertionError" -> new AssertionError(type, message, traceback);
      case "MemoryError" -> new MemoryError(type, message, traceback);
      default -> new PythonException(type, message, traceback);
    };
  }

  /** Python's {@code ValueError}. */
  public static class ValueError extends PythonException {
    private static final long serialVersionUID = 1L;

    ValueError(String type, String message, String traceback) {
      super(type, message, traceback);
    }
  }

  /** Python's {@code TypeError}. */
  public static class TypeError extends PythonException {
    private static final long serialVersionUID = 1L;

    TypeError(String type, String message, String traceback) {
      super(type, message, traceback);
    }
  }

  /** Python's {@code LookupError}, the base of {@link KeyError} and {@link IndexError}. */
  public static class LookupError extends PythonException {
    private static final long serialVersionUID = 1L;

    LookupError(String type, String message, String traceback) {
      super(type, message, traceback);
    }
  }

  /** Python's {@code KeyError}. */
  public static class KeyError extends LookupError {
    private static final long serialVersionUID = 1L;

    KeyError(String type, String message, String traceback) {
      super(type, message, traceback);
    }
  }

  /** Python's {@code IndexError}. */
  public static class IndexError extends LookupError {
    private static final long serialVersionUID = 1L;

    IndexError(String type, String message, String traceback) {
      super(type, message, traceback);
    }
  }

  /** Python's {@code AttributeError}. */
  public static class AttributeError extends PythonException {
    private static final long serialVersionUID = 1L;

    AttributeError(String type, String message, String traceback) {
      super(type, message, traceback);
    }
  }

  /** Python's {@code RuntimeError}, the base of {@link NotImplementedError}. */
  public static class RuntimeError extends PythonException {
    private static final long serialVersionUID = 1L;

    RuntimeError(String type, String message, String traceback) {
      super(type, message, traceback);
    }
  }

  /** Python's {@code NotImplementedError}. */
  public static class NotImplementedError extends RuntimeError {
    private static final long serialVersionUID = 1L;

    NotImplementedError(String type, String message, String traceback) {
      super(type, message, traceback);
    }
  }

  /** Python's {@code OSError}, the base of the file and timeout errors. */
  public static class OSError extends PythonException {
    private static final long serialVersionUID = 1L;

    OSError(String type, String message, String traceback) {
      super(type, message, traceback);
    }
  }

  /** Python's {@code TimeoutError} (raised by the tool; a call past its own deadline fails with CallTimeoutException). */
  public static class TimeoutError extends OSError {
    private static final long serialVersionUID = 1L;

    TimeoutError(String type, String message, String traceback) {
      super(type, message, traceback);
    }
  }

  /** Python's {@code FileNotFoundError}. */
  public static class FileNotFoundError extends OSError {
    private static final long serialVersionUID = 1L;

    FileNotFoundError(String type, String message, String traceback) {
      super(type, message, traceback);
    }
  }

  /** Python's {@code PermissionError}. */
  public static class PermissionError extends OSError {
    private static final long serialVersionUID = 1L;

    PermissionError(String type, String message, String traceback) {
      super(type, message, traceback);
    }
  }

  /** Python's {@code ZeroDivisionError}. */
  public static class ZeroDivisionError extends PythonException {
    private static final long serialVersionUID = 1L;

    ZeroDivisionError(String type, String message, String traceback) {
      super(type, message, traceback);
    }
  }

  /** Python's {@code AssertionError}. */
  public static class AssertionError extends PythonException {
    private static final long serialVersionUID = 1L;

    AssertionError(String type, String message, String traceback) {
      super(type, message, traceback);
    }
  }

  /** Python's {@code MemoryError}. */
  public static class MemoryError extends PythonException {
    private static final long serialVersionUID = 1L;

    MemoryError(String type, String message, String traceback) {
      super(type, message, traceback);
    }
  }
}
