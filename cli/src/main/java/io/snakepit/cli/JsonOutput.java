package io.snakepit.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import picocli.CommandLine.Option;

/** {@code --json}, shared by the commands that print a report (a picocli mixin), and the printing it chooses. */
final class JsonOutput {

  @Option(names = "--json", description = "Print the report as one JSON object instead of lines.")
  boolean json;

  /** Prints the report to stdout: as one indented JSON object with {@code --json}, else as its lines. */
  void print(ObjectNode asJson, List<String> asLines) throws JsonProcessingException {
    if (json) {
      System.out.println(new ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsString(asJson));
    } else {
      asLines.forEach(System.out::println);
    }
  }
}
