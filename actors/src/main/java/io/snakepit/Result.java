package io.snakepit;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Objects;

/** What a Python tool returned: a JSON document, or raw bytes when the tool returned {@code bytes}. */
public final class Result {
  private final String json;
  private final byte[] bytes;

  private Result(String json, byte[] bytes) {
    this.json = json;
    this.bytes = bytes;
  }

  /** A JSON result. */
  public static Result ofJson(String json) {
    return new Result(json, null);
  }

  /** A raw-bytes result. */
  public static Result ofBytes(byte[] bytes) {
    return new Result(null, bytes.clone());
  }

  /** Whether the tool returned raw bytes. */
  public boolean isBytes() {
    return bytes != null;
  }

  /**
   * The result as JSON text.
   *
   * @throws IllegalStateException if the tool returned bytes
   */
  public String json() {
    if (json == null) {
      throw new IllegalStateException("this result is " + bytes.length + " raw bytes, not JSON: use bytes()");
    }
    return json;
  }

  /** The raw bytes, or the JSON text's UTF-8 bytes. */
  public byte[] bytes() {
    return bytes != null ? bytes.clone() : json.getBytes(StandardCharsets.UTF_8);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Result r && Objects.equals(json, r.json) && Arrays.equals(bytes, r.bytes);
  }

  @Override
  public int hashCode() {
    return json != null ? json.hashCode() : Arrays.hashCode(bytes);
  }

  @Override
  public String toString() {
    return json != null ? json : "<" + bytes.length + " bytes>";
  }
}
