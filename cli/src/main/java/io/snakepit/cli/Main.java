package io.snakepit.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code snakepit} command. */
@Command(name = "snakepit", mixinStandardHelpOptions = true, version = "snakepit 0.1.0",
    description = "Supervised pools of Python workers for the JVM.",
    subcommands = {ServeCommand.class, CallCommand.class, LoadCommand.class, ReapCommand.class, ScaleCommand.class,
        DoctorCommand.class, AuditCommand.class, StatusCommand.class, DetachCommand.class})
public final class Main implements Runnable {

  public static void main(String[] args) {
    // Initialise logging before any thread logs: SLF4J otherwise replays early calls with a warning on stderr.
    org.slf4j.LoggerFactory.getLogger(Main.class);
    // call and load read @FILE themselves (its JSON whole); picocli's own @file would split it into arguments.
    System.exit(new CommandLine(new Main()).setExpandAtFiles(false).execute(args));
  }

  @Override
  public void run() {
    CommandLine.usage(this, System.out);
  }
}
