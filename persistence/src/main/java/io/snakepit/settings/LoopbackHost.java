package io.snakepit.settings;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.regex.Pattern;

/**
 * Whether a configured host reaches this host only. The gateway, the HTTP endpoint and the cluster port all serve
 * without TLS only there, so they share this one rule.
 */
public final class LoopbackHost {
  // Only an address literal is judged by its value: a name other than localhost may resolve anywhere.
  private static final Pattern LITERAL = Pattern.compile("[0-9.]+|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*");

  private LoopbackHost() {}

  /** Whether only this host can reach {@code host}: 127.0.0.0/8, ::1 or localhost. */
  public static boolean is(String host) {
    if (host.equalsIgnoreCase("localhost")) {
      return true;
    }
    if (!LITERAL.matcher(host).matches()) {
      return false;
    }
    try {
      return InetAddress.getByName(host).isLoopbackAddress();
    } catch (UnknownHostException e) {
      return false;
    }
  }
}
