package io.snakepit;

/**
 * The tool raised a Python exception; its type, message and traceback travel with it. Common Python types arrive as
 * the nested subclasses, each named {@code Python} + the Python type so none shadows a {@code java.lang} name
 * ({@link PythonValueError}, {@link PythonKeyError}, {@link PythonRuntimeError}, ...). They mirror Python's own
 * hierarchy where it matters ({@code KeyError} is a {@link PythonLookupError}, {@code TimeoutError} a
 * {@link PythonOSError}); any other type arrives as a plain {@code PythonException} with {@link #pythonType()} naming
 * it.
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
      case "ValueError" -> new PythonValueError(type, message, traceback);
      case "TypeError" -> new PythonTypeError(type, message, traceback);
      case "KeyError" -> new PythonKeyError(type, message, traceback);
      case "IndexError" -> new PythonIndexError(type, message, traceback);
      case "LookupError" -> new PythonLookupError(type, message, traceback);
      case "AttributeError" -> new PythonAttributeError(type, message, traceback);
      case "RuntimeError" -> new PythonRuntimeError(type, message, traceback);
      case "NotImplementedError" -> new PythonNotImplementedError(type, message, traceback);
      case "TimeoutError" -> new PythonTimeoutError(type, message, traceback);
      case "FileNotFoundError" -> new PythonFileNotFoundError(type, message, traceback);
      case "PermissionError" -> new PythonPermissionError(type, message, traceback);
      case "OSError" -> new PythonOSError(type, message, traceback);
      case "ZeroDivisionError" -> new PythonZeroDivisionError(type, message, traceback);
      case "AssertionError" -> new PythonAssertionError(type, message, traceback);
      case "MemoryError" -> new PythonMemoryError(type, message, traceback);
      default -> new PythonException(type, message, traceback);
    };
  }

  /** Python's {@code ValueError}. */
  public static class PythonValueError extends PythonException {
    private static final long serialVersionUID = 1L;

    PythonValueError(String type, String message, String traceback) {
      super(type, message, traceback);
    }
  }

  /** Python's {@code TypeError}. */
  public static class PythonTypeError extends PythonException {
    private static final long serialVersionUID = 1L;

    PythonTypeError(String type, String message, String traceback) {
      super(type, message, traceback);
    }
  }

  /** Python's {@code LookupError}, the base of {@link PythonKeyError} and {@link PythonIndexError}. */
  public static class PythonLookupError extends PythonException {
    private static final long serialVersionUID = 1L;

    PythonLookupError(String type, String message, String traceback) {
      super(type, message, traceback);
    }
  }

  /** Python's {@code KeyError}. */
  public static class PythonKeyError extends PythonLookupError {
    private static final long serialVersionUID = 1L;

    PythonKeyError(String type, String message, String traceback) {
      super(type, message, traceback);
    }
  }

  /** Python's {@code IndexError}. */
  public static class PythonIndexError extends PythonLookupError {
    private static final long serialVersionUID = 1L;

    PythonIndexError(String type, String message, String traceback) {
      super(type, message, traceback);
    }
  }

  /** Python's {@code AttributeError}. */
  public static class PythonAttributeError extends PythonException {
    private static final long serialVersionUID = 1L;

    PythonAttributeError(String type, String message, String traceback) {
      super(type, message, traceback);
    }
  }

  /** Python's {@code RuntimeError}, the base of {@link PythonNotImplementedError}. */
  public static class PythonRuntimeError extends PythonException {
    private static final long serialVersionUID = 1L;

    PythonRuntimeError(String type, String message, String traceback) {
      super(type, message, traceback);
    }
  }

  /** Python's {@code NotImplementedError}. */
  public static class PythonNotImplementedError extends PythonRuntimeError {
    private static final long serialVersionUID = 1L;

    PythonNotImplementedError(String type, String message, String traceback) {
      super(type, message, traceback);
    }
  }

  /** Python's {@code OSError}, the base of the file and timeout errors. */
  public static class PythonOSError extends PythonException {
    private static final long serialVersionUID = 1L;

    PythonOSError(String type, String message, String traceback) {
      super(type, message, traceback);
    }
  }

  /** Python's {@code TimeoutError} (raised by the tool; a call past its own deadline fails with CallTimeoutException). */
  public static class PythonTimeoutError extends PythonOSError {
    private static final long serialVersionUID = 1L;

    PythonTimeoutError(String type, String message, String traceback) {
      super(type, message, traceback);
    }
  }

  /** Python's {@code FileNotFoundError}. */
  public static class PythonFileNotFoundError extends PythonOSError {
    private static final long serialVersionUID = 1L;

    PythonFileNotFoundError(String type, String message, String traceback) {
      super(type, message, traceback);
    }
  }

  /** Python's {@code PermissionError}. */
  public static class PythonPermissionError extends PythonOSError {
    private static final long serialVersionUID = 1L;

    PythonPermissionError(String type, String message, String traceback) {
      super(type, message, traceback);
    }
  }

  /** Python's {@code ZeroDivisionError}. */
  public static class PythonZeroDivisionError extends PythonException {
    private static final long serialVersionUID = 1L;

    PythonZeroDivisionError(String type, String message, String traceback) {
      super(type, message, traceback);
    }
  }

  /** Python's {@code AssertionError}. */
  public static class PythonAssertionError extends PythonException {
    private static final long serialVersionUID = 1L;

    PythonAssertionError(String type, String message, String traceback) {
      super(type, message, traceback);
    }
  }

  /** Python's {@code MemoryError}. */
  public static class PythonMemoryError extends PythonException {
    private static final long serialVersionUID = 1L;

    PythonMemoryError(String type, String message, String traceback) {
      super(type, message, traceback);
    }
  }
}
