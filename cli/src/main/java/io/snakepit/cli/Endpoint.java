package io.snakepit.cli;

import io.snakepit.settings.LoopbackHost;
import java.nio.file.Path;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/** Where a gateway listens or is called: {@code HOST:PORT} over TCP, or {@code unix:PATH}, a Unix socket. */
sealed interface Endpoint {

  /**
   * A TCP address.
   *
   * @param host the host name or address, IPv6 without brackets
   * @param port the TCP port
   */
  record Tcp(String host, int port) implements Endpoint {
    /** Whether only this host can reach the address: 127.0.0.0/8, ::1 or localhost. */
    boolean loopback() {
      return LoopbackHost.is(host);
    }

    @Override
    public String toString() {
      return (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
    }
  }

  /**
   * A Unix socket.
   *
   * @param path the socket file
   */
  record Unix(Path path) implements Endpoint {
    @Override
    public String toString() {
      return "unix:" + path;
    }
  }

  /** Parses {@code HOST:PORT}, {@code [IPV6]:PORT} or {@code unix:PATH}, with a message that shows the forms. */
  final class Converter implements ITypeConverter<Endpoint> {
    @Override
    public Endpoint convert(String value) {
      if (value.startsWith("unix:")) {
        String path = value.startsWith("unix://") ? value.substring("unix://".length()) : value.substring(5);
        if (path.isEmpty()) {
          throw new TypeConversionException("'" + value + "' names no socket file: use unix:PATH, for example"
              + " unix:data/gateway.sock");
        }
        return new Unix(Path.of(path));
      }
      int colon = value.lastIndexOf(':');
      try {
        String host = value.substring(0, colon);
        int port = Integer.parseInt(value.substring(colon + 1));
        if (host.startsWith("[") && host.endsWith("]")) {
          host = host.substring(1, host.length() - 1);
        }
        if (host.isEmpty() || port < 0 || port > 65535) {
          throw new NumberFormatException();
        }
        return new Tcp(host, port);
      } catch (RuntimeException e) {
        throw new TypeConversionException("'" + value + "' is neither HOST:PORT (for example 127.0.0.1:50051) nor"
            + " unix:PATH (for example unix:data/gateway.sock)");
      }
    }
  }
}
