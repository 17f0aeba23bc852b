package io.snakepit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class TypedJsonTest {
  private static final ObjectMapper MAPPER = Pool.defaultObjectMapper();

  record Point(int x, int y) {}

  record Wrapper(String value) {}

  record Timed(Instant at, Duration took, Optional<String> note) {}

  @Test
  void recordsMapsAndNullBecomeKeywordArguments() {
    assertEquals("{\"x\":1,\"y\":2}", TypedJson.arguments(MAPPER, "t", new Point(1, 2)));
    assertEquals("{\"n\":1}", TypedJson.arguments(MAPPER, "t", Map.of("n", 1)));
    assertEquals("", TypedJson.arguments(MAPPER, "t", null));
  }

  @Test
  void javaTimeIsIsoTextAndOptionalIsItsValueOrNull() {
    assertEquals("{\"at\":\"2026-12-01T10:15:30Z\",\"took\":\"PT1.5S\",\"note\":null}", TypedJson.arguments(MAPPER,
        "t", new Timed(Instant.parse("2026-12-01T10:15:30Z"), Duration.ofMillis(1500), Optional.empty())));
  }

  @Test
  void aStringIsAJsonStringAndIsRefusedWithTheWayToSendJsonText() {
    InvalidArgumentsException e = assertThrows(InvalidArgumentsException.class,
        () -> TypedJson.arguments(MAPPER, "echo", "{\"n\": 1}"));
    assertTrue(e.getMessage().contains("tool 'echo'") && e.getMessage().contains("java.lang.String")
        && e.getMessage().contains("not a JSON object") && e.getMessage().contains("execute(tool, String argsJson)"),
        e.getMessage());
    assertThrows(InvalidArgumentsException.class, () -> TypedJson.arguments(MAPPER, "t", List.of(1, 2)));
  }

  @Test
  void argumentsJacksonCannotSerializeNameTheTypeAndKeepJacksonsError() {
    InvalidArgumentsException e = assertThrows(InvalidArgumentsException.class,
        () -> TypedJson.arguments(MAPPER, "echo", new Object()));
    assertInstanceOf(JsonProcessingException.class, e.getCause());
    assertTrue(e.getMessage().contains("java.lang.Object") && e.getMessage().contains("No serializer found"),
        e.getMessage());
  }

  @Test
  void resultsMapToRecordsListsAndSingleComponentRecords() {
    assertEquals(new Point(3, 4), TypedJson.result(MAPPER, "t", Result.ofJson("{\"x\": 3, \"y\": 4}"),
        MAPPER.constructType(Point.class)));
    assertEquals(List.of(new Point(0, 1)), TypedJson.result(MAPPER, "t", Result.ofJson("[{\"x\": 0, \"y\": 1}]"),
        MAPPER.constructType(new TypeReference<List<Point>>() {})));
    assertEquals(new Wrapper("v"), TypedJson.result(MAPPER, "t", Result.ofJson("{\"value\": \"v\"}"),
        MAPPER.constructType(Wrapper.class)));
    assertEquals("pong", TypedJson.result(MAPPER, "t", Result.ofJson("\"pong\""), MAPPER.constructType(String.class)));
    assertNull(TypedJson.result(MAPPER, "t", Result.ofJson("null"), MAPPER.constructType(Point.class)));
  }

  @Test
  void bytesAreBytesAndAResultIsItself() {
    Result bytes = Result.ofBytes(new byte[] {1, 2});
    assertArrayEquals(new byte[] {1, 2}, TypedJson.result(MAPPER, "t", bytes, MAPPER.constructType(byte[].class)));
    assertSame(bytes, TypedJson.result(MAPPER, "t", bytes, MAPPER.constructType(Result.class)));
    ResultMappingException e = assertThrows(ResultMappingException.class,
        () -> TypedJson.result(MAPPER, "blob", bytes, MAPPER.constructType(Point.class)));
    assertTrue(e.getMessage().contains("2 raw bytes") && e.getMessage().contains("byte[]"), e.getMessage());
  }

  @Test
  void aResultThatDoesNotMapSaysWhereAndQuotesTheResult() {
    ResultMappingException e = assertThrows(ResultMappingException.class, () -> TypedJson.result(MAPPER, "points",
        Result.ofJson("[{\"x\": 0, \"y\": \"zero\"}]"), MAPPER.constructType(new TypeReference<List<Point>>() {})));
    assertEquals("points", e.tool());
    assertEquals("java.util.List<" + Point.class.getName() + ">", e.resultType());
    assertTrue(e.getMessage().contains("(at $[0].y)") && e.getMessage().contains("\"zero\"")
        && e.getMessage().contains("int"), e.getMessage());
    assertEquals("ResultMapping", e.kind());

    String big = "{\"x\": \"" + "a".repeat(500) + "\"}";
    ResultMappingException clipped = assertThrows(ResultMappingException.class,
        () -> TypedJson.result(MAPPER, "t", Result.ofJson(big), MAPPER.constructType(Point.class)));
    assertTrue(clipped.getMessage().contains("... (" + big.length() + " chars)"), clipped.getMessage());
  }
}
