package io.snakepit.actors.worker;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;

/**
 * A log record a worker's Python forwarded (snakepit_worker/logs.py): a stderr line that starts with {@link #MARK},
 * then a JSON object. A line that only looks like one (cut, or not JSON) stays a line of raw output.
 *
 * @param level Python's level name (DEBUG, INFO, WARNING, ERROR, CRITICAL, or a custom one)
 * @param logger the Python logger's name
 * @param message the formatted message
 * @param call the id of the call it was logged in; empty outside a call
 * @param exception the formatted traceback; empty without one
 */
record PythonLogRecord(String level, String logger, String message, String call, String exception) {
  /** What starts a forwarded record's line: ASCII record separator and a tag. */
  static final String MARK = "\u001esnakepit-log ";
  private static final byte[] MARK_BYTES = MARK.getBytes(StandardCharsets.US_ASCII);
  private static final ObjectMapper JSON = new ObjectMapper();

  /** The record on {@code bytes[from, to)}, or null when the line is not one. */
  static PythonLogRecord parse(byte[] bytes, int from, int to) {
    if (to - from <= MARK_BYTES.length) {
      return null;
    }
    for (int i = 0; i < MARK_BYTES.length; i++) {
      if (bytes[from + i] != MARK_BYTES[i]) {
        return null;
      }
    }
    try {
      JsonNode o = JSON.readTree(bytes, from + MARK_BYTES.length, to - from - MARK_BYTES.length);
      if (o == null || !o.isObject() || !o.path("message").isTextual()) {
        return null;
      }
      String exception = o.path("exception").asText("");
      String stack = o.path("stack").asText("");
      return new PythonLogRecord(o.path("level").asText("INFO"), o.path("logger").asText("root"),
          o.path("message").asText(), o.path("call").asText(""),
          stack.isEmpty() ? exception : exception.isEmpty() ? stack : exception + "\n" + stack);
    } catch (IOException e) {
      return null;
    }
  }

  /** The record as one text: what a stderr tail (a start failure, a crash) shows of it. */
  String text() {
    return level + " " + logger + ": " + message + (exception.isEmpty() ? "" : "\n" + exception);
  }
}
