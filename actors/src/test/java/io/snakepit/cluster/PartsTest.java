package io.snakepit.cluster;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class PartsTest {
  private static final int PART = 1000;

  private static byte[] bytes(int n) {
    byte[] b = new byte[n];
    new Random(n).nextBytes(b);
    return b;
  }

  private static byte[] join(List<byte[]> parts, long limit) {
    Parts.Joining joining = new Parts.Joining(parts.size(), limit);
    byte[] whole = null;
    for (int i = 0; i < parts.size(); i++) {
      assertNull(whole, "joined before its last part");
      whole = joining.add(i, parts.size(), parts.get(i));
    }
    return whole;
  }

  @Test
  void exactlyOnePartIsOnePartAndOneByteOverIsTwo() {
    byte[] one = bytes(PART);
    List<byte[]> parts = Parts.split(one, PART);
    assertEquals(1, parts.size());
    assertArrayEquals(one, join(parts, PART));

    byte[] over = bytes(PART + 1);
    List<byte[]> two = Parts.split(over, PART);
    assertEquals(2, two.size());
    assertEquals(PART, two.get(0).length);
    assertEquals(1, two.get(1).length);
    assertArrayEquals(over, join(two, PART + 1));
    assertEquals(2, Parts.count(PART + 1, PART));
    assertEquals(1, Parts.count(PART, PART));
  }

  @Test
  void anEmptyMessageIsOneEmptyPart() {
    List<byte[]> parts = Parts.split(new byte[0], PART);
    assertEquals(1, parts.size());
    assertEquals(0, parts.get(0).length);
    assertArrayEquals(new byte[0], join(parts, 0));
  }

  @Test
  void aMessageOfExactlyTheLimitJoinsAndOneByteMoreIsRefused() {
    int limit = 10 * PART + 7;
    byte[] max = bytes(limit);
    List<byte[]> parts = Parts.split(max, PART);
    assertEquals(11, parts.size());
    assertArrayEquals(max, join(parts, limit));

    List<byte[]> over = Parts.split(bytes(limit + 1), PART);
    Parts.Joining joining = new Parts.Joining(over.size(), limit);
    for (int i = 0; i < over.size() - 1; i++) {
      assertNull(joining.add(i, over.size(), over.get(i)));
    }
    Parts.TooLarge e = assertThrows(Parts.TooLarge.class,
        () -> joining.add(over.size() - 1, over.size(), over.get(over.size() - 1)));
    assertTrue(e.getMessage().contains("limit of " + limit + " bytes"), e.getMessage());
    // A count no message within the limit can have is refused before any part is held.
    assertThrows(Parts.TooLarge.class, () -> new Parts.Joining(limit + 1, limit));
  }

  @Test
  void partsJoinInAnyOrder() {
    byte[] whole = bytes(7 * PART + 123);
    List<byte[]> parts = Parts.split(whole, PART);
    List<Integer> order = new ArrayList<>();
    for (int i = 0; i < parts.size(); i++) {
      order.add(i);
    }
    Collections.shuffle(order, new Random(42));
    assertTrue(order.get(order.size() - 1) != parts.size() - 1 || order.get(0) != 0, "not shuffled");
    Parts.Joining joining = new Parts.Joining(parts.size(), whole.length);
    byte[] joined = null;
    for (int i : order) {
      assertNull(joined);
      joined = joining.add(i, parts.size(), parts.get(i));
    }
    assertArrayEquals(whole, joined);
  }

  @Test
  void aRepeatedPartAWrongCountOrAnIndexOutsideIsRefused() {
    List<byte[]> parts = Parts.split(bytes(3 * PART), PART);
    Parts.Joining joining = new Parts.Joining(3, 3 * PART);
    assertNull(joining.add(1, 3, parts.get(1)));
    assertTrue(assertThrows(IllegalArgumentException.class, () -> joining.add(1, 3, parts.get(1))).getMessage()
        .contains("part 1 of 3 came twice"));
    assertTrue(assertThrows(IllegalArgumentException.class, () -> joining.add(0, 4, parts.get(0))).getMessage()
        .contains("the first named 3"));
    assertTrue(assertThrows(IllegalArgumentException.class, () -> joining.add(3, 3, parts.get(0))).getMessage()
        .contains("outside 0..2"));
    assertThrows(IllegalArgumentException.class, () -> new Parts.Joining(0, PART));
  }

  @Test
  void aDroppedPartialHoldsNothingAndTheSameCallJoinsAnew() {
    // What the endpoint and the caller do when a call ends with its parts half in: forget its Joining.
    byte[] whole = bytes(4 * PART);
    List<byte[]> parts = Parts.split(whole, PART);
    java.util.Map<String, Parts.Joining> partials = new java.util.HashMap<>();
    partials.put("r1", new Parts.Joining(parts.size(), whole.length));
    assertNull(partials.get("r1").add(0, parts.size(), parts.get(0)));
    assertNull(partials.get("r1").add(2, parts.size(), parts.get(2)));
    assertEquals(2 * PART, partials.get("r1").size());
    partials.remove("r1");
    assertTrue(partials.isEmpty());
    // Late parts of the dropped call start nothing by themselves; a new Joining needs all of them again.
    Parts.Joining again = new Parts.Joining(parts.size(), whole.length);
    assertNull(again.add(1, parts.size(), parts.get(1)));
    assertNull(again.add(3, parts.size(), parts.get(3)));
    assertEquals(2 * PART, again.size());
  }

  @Test
  void partsAreCopiesThatLeaveTheWholeAlone() {
    byte[] whole = bytes(2 * PART + 5);
    byte[] copy = whole.clone();
    List<byte[]> parts = Parts.split(whole, PART);
    parts.get(0)[0] ^= 1;
    assertArrayEquals(copy, whole);
    assertThrows(IllegalArgumentException.class, () -> Parts.split(whole, 0));
  }
}
