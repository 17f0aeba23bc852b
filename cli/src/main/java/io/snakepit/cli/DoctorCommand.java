package io.snakepit.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.snakepit.shim.HostSupport;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** {@code snakepit doctor}: prints which isolation modes this host supports, from {@link HostSupport}. */
@Command(name = "doctor", mixinStandardHelpOptions = true,
    description = {"Report which isolation modes this host supports, and why not where it does not. Each fact is"
        + " probed for real: probe cgroups are made and removed under the configured parent, unshare and the OCI"
        + " runtime's --version are run; no container and no systemd unit are started.",
        "Lines: 'check NAME: ok|no: DETAIL', then 'mode NAME: supported' or 'mode NAME: not supported: WHY'.",
        "Exit 0 when the report was made, 1 when a mode given with --require is not supported."})
final class DoctorCommand implements Callable<Integer> {
  private static final String ISOLATION = "snakepit.pool-defaults.isolation.";

  @Spec
  CommandSpec spec;

  @Option(names = "--require", paramLabel = "MODE",
      description = "Exit 1, saying why, unless this mode is supported (repeatable): process, cgroup, namespaces,"
          + " runc or systemd.")
  List<String> required = new ArrayList<>();

  @Option(names = "--cgroup-parent", paramLabel = "PATH",
      description = "Where the cgroup probe makes its cgroups (default: " + ISOLATION + "cgroup.parent).")
  String cgroupParent;

  @Mixin
  JsonOutput output;

  @Override
  public Integer call() throws Exception {
    for (String mode : required) {
      if (!HostSupport.MODES.contains(mode)) {
        throw new ParameterException(spec.commandLine(), "--require: mode '" + mode + "' is unknown: use one of "
            + String.join(", ", HostSupport.MODES));
      }
    }
    HostSupport report = HostSupport.probe(settings(ConfigFactory.load()));
    output.print(toJson(report), report.lines());
    int status = 0;
    for (String mode : required) {
      HostSupport.Verdict v = report.mode(mode).orElseThrow();
      if (!v.supported()) {
        System.err.println("snakepit doctor: mode " + mode + " is required and not supported here: " + v.detail());
        status = 1;
      }
    }
    return status;
  }

  /** The configured values, where the application's configuration sets them (they may be absent from old ones). */
  private HostSupport.Settings settings(Config config) {
    HostSupport.Settings d = HostSupport.Settings.DEFAULT;
    return new HostSupport.Settings(
        cgroupParent != null ? cgroupParent : string(config, "cgroup.parent", d.cgroupParent()),
        string(config, "runc.binary", d.ociRuntime()),
        string(config, "systemd.run", d.systemdRun()));
  }

  private static String string(Config config, String key, String otherwise) {
    return config.hasPath(ISOLATION + key) ? config.getString(ISOLATION + key) : otherwise;
  }

  private static ObjectNode toJson(HostSupport report) {
    ObjectMapper mapper = new ObjectMapper();
    ObjectNode root = mapper.createObjectNode();
    ArrayNode checks = root.putArray("checks");
    for (HostSupport.Check c : report.checks()) {
      checks.addObject().put("name", c.name()).put("ok", c.ok()).put("detail", c.detail());
    }
    ObjectNode modes = root.putObject("modes");
    for (HostSupport.Verdict v : report.modes()) {
      modes.putObject(v.mode()).put("supported", v.supported()).put("detail", v.detail());
    }
    HostSupport.CgroupSummary cg = report.cgroups();
    ObjectNode cgroups = root.putObject("cgroups");
    cgroups.put("unified", cg.unified().map(Object::toString).orElse(null));
    ArrayNode controllers = cgroups.putArray("controllers");
    cg.controllers().stream().sorted().forEach(controllers::add);
    cgroups.put("hybrid", cg.hybrid());
    ObjectNode limits = cgroups.putObject("limits");
    cg.limits().forEach((controller, l) -> limits.putObject(controller).put("via", l.via()).put("works", l.works()));
    return root;
  }
}
