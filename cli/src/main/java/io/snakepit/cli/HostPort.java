package io.snakepit.cli;

import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/**
 * A {@code HOST:PORT} pair from the command line.
 *
 * @param host the host name or address
 * @param port the TCP port
 */
record HostPort(String host, int port) {

  @Override
  public String toString() {
    return host + ":" + port;
  }

  /** Parses {@code HOST:PORT}, with a message that shows the expected form. */
  static final class Converter implements ITypeConverter<HostPort> {
    @Override
    public HostPort convert(String value) {
      int colon = value.lastIndexOf(':');
      try {
        int port = Integer.parseInt(value.substring(colon + 1));
        if (colon <= 0 || port < 0 || port > 65535) {
          throw new NumberFormatException();
        }
        return new HostPort(value.substring(0, colon), port);
      } catch (RuntimeException e) {
        throw new TypeConversionException("'" + value + "' is not HOST:PORT (for example 127.0.0.1:50051)");
      }
    }
  }
}
