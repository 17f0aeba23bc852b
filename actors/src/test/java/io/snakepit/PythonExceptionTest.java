package io.snakepit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;

import org.junit.jupiter.api.Test;

/** Python exception types arrive as their own Java types, named so that none shadows a java.lang name. */
class PythonExceptionTest {

  private static PythonException of(String type) {
    return PythonException.of(type, "m", "Traceback");
  }

  @Test
  void typesThatShareAJavaLangNameArriveAsTheirPythonPrefixedTypes() {
    assertInstanceOf(PythonException.PythonRuntimeError.class, of("RuntimeError"));
    assertInstanceOf(PythonException.PythonAssertionError.class, of("AssertionError"));
    assertInstanceOf(PythonException.PythonMemoryError.class, of("MemoryError"));
  }

  @Test
  void subclassesMirrorPythonsHierarchy() {
    assertInstanceOf(PythonException.PythonLookupError.class, of("KeyError"));
    assertInstanceOf(PythonException.PythonLookupError.class, of("IndexError"));
    assertInstanceOf(PythonException.PythonRuntimeError.class, of("NotImplementedError"));
    assertInstanceOf(PythonException.PythonOSError.class, of("TimeoutError"));
    assertInstanceOf(PythonException.PythonOSError.class, of("FileNotFoundError"));
    assertInstanceOf(PythonException.PythonOSError.class, of("PermissionError"));
  }

  @Test
  void otherTypesArriveAsPlainPythonExceptionsNamingTheirType() {
    PythonException e = of("json.decoder.JSONDecodeError");
    assertSame(PythonException.class, e.getClass());
    assertEquals("json.decoder.JSONDecodeError", e.pythonType());
    assertEquals("json.decoder.JSONDecodeError: m", e.getMessage());
    assertEquals("PythonException", of("ValueError").kind());
  }
}
