package io.snakepit.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.snakepit.shim.HostSupport;
import io.snakepit.shim.ShimBinary;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
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
        "Lines: 'check NAME: ok|no: DETAIL', then 'mode NAME: supported' or 'mode NAME: not supported: WHY'. The"
            + " first, 'check shim:', says which shim binary a node here runs and how it is obtained (shipped in the"
            + " jar for this architecture, or compiled here with cc from the source the jar carries).",
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
    ShimCheck shim = ShimCheck.probe();
    List<String> lines = new ArrayList<>();
    lines.add(shim.check().line());
    lines.addAll(report.lines());
    output.print(toJson(shim, report), lines);
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

  /** The shim a node here would run, or why there is none, as a check line. */
  private record ShimCheck(HostSupport.Check check, ShimBinary.Shim shim) {
    static ShimCheck probe() {
      try {
        ShimBinary.Shim shim = ShimBinary.probe();
        return new ShimCheck(new HostSupport.Check("shim", true, shim.describe()), shim);
      } catch (RuntimeException e) {
        // One line: a failed compile's message quotes the compiler's lines.
        return new ShimCheck(new HostSupport.Check("shim", false, e.getMessage().replaceAll("\\s*\n\\s*", " ")),
            null);
      }
    }
  }

  private static ObjectNode toJson(ShimCheck shimCheck, HostSupport report) {
    ObjectMapper mapper = new ObjectMapper();
    ObjectNode root = mapper.createObjectNode();
    ArrayNode checks = root.putArray("checks");
    List<HostSupport.Check> all = new ArrayList<>();
    all.add(shimCheck.check());
    all.addAll(report.checks());
    for (HostSupport.Check c : all) {
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
    ShimBinary.Shim shim = shimCheck.shim();
    if (shim != null) {
      ObjectNode s = root.putObject("shim");
      s.put("arch", shim.arch()).put("origin", shim.origin().name().toLowerCase(Locale.ROOT))
          .put("static", shim.statically()).put("size", shim.size());
      ArrayNode compiler = s.putArray("compiler");
      shim.compiler().forEach(compiler::add);
    } else {
      root.putNull("shim");
    }
    return root;
  }
}
