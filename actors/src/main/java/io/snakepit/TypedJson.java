package io.snakepit;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JavaType;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.datatype.jdk8.Jdk8Module;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;

/** Java values to a tool's JSON arguments and its JSON results to Java values, for the typed calls of {@link Pool}. */
final class TypedJson {
  /** How much of a result that did not map its error quotes. */
  private static final int QUOTED = 200;

  private TypedJson() {}

  /** Records and POJOs, Optional, java.time (as ISO-8601 text, which Python's fromisoformat reads). */
  static ObjectMapper newDefaultMapper() {
    return JsonMapper.builder()
        .addModule(new Jdk8Module())
        .addModule(new JavaTimeModule())
        .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS)
        .disable(SerializationFeature.WRITE_DURATIONS_AS_TIMESTAMPS)
        .build();
  }

  /**
   * {@code args} as a JSON object of keyword arguments ("" for null: none).
   *
   * @throws InvalidArgumentsException if Jackson cannot serialize it, or it is not a JSON object
   */
  static String arguments(ObjectMapper mapper, String tool, Object args) {
    if (args == null) {
      return "";
    }
    String json;
    try {
      json = mapper.writeValueAsString(args);
    } catch (JsonProcessingException e) {
      throw new InvalidArgumentsException("tool '" + tool + "': its arguments (a " + args.getClass().getName()
          + ") cannot be serialized to JSON: " + e.getMessage() + "; nothing was sent. Pass a record, a Map or a"
          + " bean with getters, or a mapper that can serialize this type (Pool.withObjectMapper)", e);
    }
    if (!json.startsWith("{")) {
      throw new InvalidArgumentsException("tool '" + tool + "': its arguments (a " + args.getClass().getName()
          + ") serialize to " + clip(json) + ", not a JSON object; a tool takes keyword arguments, so pass a record,"
          + " a Map or a bean (JSON text you already have goes to execute(tool, String argsJson), or parse it to a"
          + " JsonNode first); nothing was sent");
    }
    return json;
  }

  /**
   * {@code result} as {@code type}: bytes stay bytes for {@code byte[]}, {@link Result} is returned as is.
   *
   * @throws ResultMappingException if it does not map
   */
  @SuppressWarnings("unchecked")
  static <T> T result(ObjectMapper mapper, String tool, Result result, JavaType type) {
    Class<?> raw = type.getRawClass();
    if (raw == Result.class) {
      return (T) result;
    }
    if (result.isBytes()) {
      if (raw == byte[].class) {
        return (T) result.bytes();
      }
      throw new ResultMappingException(tool, type.toCanonical(), "tool '" + tool + "' returned "
          + result.bytes().length + " raw bytes, not JSON, so they do not map to " + type.toCanonical()
          + "; ask for byte[] or Result", null);
    }
    try {
      return mapper.readValue(result.json(), type);
    } catch (JsonProcessingException e) {
      String why = e instanceof JsonMappingException m ? m.getOriginalMessage() + where(m) : e.getOriginalMessage();
      throw new ResultMappingException(tool, type.toCanonical(), "tool '" + tool + "' returned JSON that does not"
          + " map to " + type.toCanonical() + ": " + why + "; the result was " + clip(result.json())
          + ". Change the type to fit the result (or the tool), or pass a mapper configured for it"
          + " (Pool.withObjectMapper)", e);
    }
  }

  /** Where in the result Jackson stopped, as a JSON path like {@code $.points[2].x}; empty at the top. */
  private static String where(JsonMappingException e) {
    StringBuilder path = new StringBuilder("$");
    for (var ref : e.getPath()) {
      if (ref.getFieldName() != null) {
        path.append('.').append(ref.getFieldName());
      } else if (ref.getIndex() >= 0) {
        path.append('[').append(ref.getIndex()).append(']');
      }
    }
    return path.length() == 1 ? "" : " (at " + path + ")";
  }

  private static String clip(String json) {
    return json.length() <= QUOTED ? json : json.substring(0, QUOTED) + "... (" + json.length() + " chars)";
  }
}
