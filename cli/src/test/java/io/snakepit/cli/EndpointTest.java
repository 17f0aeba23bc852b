package io.snakepit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine.TypeConversionException;

/** {@code --listen} and {@code --target} values: their forms, and which addresses only this host can reach. */
class EndpointTest {
  private final Endpoint.Converter parse = new Endpoint.Converter();

  private boolean loopback(String value) {
    return ((Endpoint.Tcp) parse.convert(value)).loopback();
  }

  @Test
  void tcpUnixAndBracketedIpv6AddressesParse() {
    assertEquals(new Endpoint.Tcp("127.0.0.1", 50051), parse.convert("127.0.0.1:50051"));
    assertEquals(new Endpoint.Tcp("::1", 7), parse.convert("[::1]:7"));
    assertEquals("[::1]:7", parse.convert("[::1]:7").toString());
    assertEquals(new Endpoint.Unix(Path.of("data/g.sock")), parse.convert("unix:data/g.sock"));
    assertEquals(new Endpoint.Unix(Path.of("/run/g.sock")), parse.convert("unix:///run/g.sock"));
    assertEquals("unix:/run/g.sock", parse.convert("unix:/run/g.sock").toString());
  }

  @Test
  void malformedValuesShowBothForms() {
    for (String bad : List.of("50051", ":50051", "host:port", "host:70000", "unix:")) {
      TypeConversionException e = assertThrows(TypeConversionException.class, () -> parse.convert(bad), bad);
      assertTrue(e.getMessage().contains("unix:PATH") && e.getMessage().contains("'" + bad + "'"), e.getMessage());
    }
  }

  @Test
  void onlyLoopbackAddressesAndLocalhostCountAsLocal() {
    for (String local : List.of("127.0.0.1:1", "127.8.9.10:1", "[::1]:1", "localhost:1", "LOCALHOST:1",
        "[::ffff:127.0.0.1]:1")) {
      assertTrue(loopback(local), local);
    }
    for (String exposed : List.of("0.0.0.0:1", "[::]:1", "10.0.0.1:1", "192.168.1.1:1", "example.com:1",
        "localhost.example.com:1", "127.0.0.1.nip.io:1")) {
      assertFalse(loopback(exposed), exposed);
    }
  }
}
