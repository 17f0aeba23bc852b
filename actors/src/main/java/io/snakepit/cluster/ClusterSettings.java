package io.snakepit.cluster;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import io.snakepit.settings.LoopbackHost;
import io.snakepit.settings.SettingPaths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A node's cluster settings, {@code snakepit.cluster} (the flags of {@code serve} set them): where the node listens
 * for other nodes and which nodes it joins through. Without a port the node runs alone with Akka's local provider,
 * and none of this applies. It exists so that the Akka configuration of a clustered node (provider, artery, seeds,
 * the split brain resolver, serialization) is made in one place, from settings checked with messages that say what
 * to fix.
 *
 * @param host the address other nodes reach this one at, and where it listens
 * @param port the TCP port of artery, the cluster's transport
 * @param seeds the nodes to join through; this node's own address first starts a new cluster
 * @param joinTimeout how long the node waits to become a member before it gives up
 * @param insecure whether a host other nodes can reach may carry cluster traffic unencrypted
 * @param tls the TLS files of cluster traffic, or null for none (clear text)
 */
public record ClusterSettings(String host, int port, List<Seed> seeds, Duration joinTimeout, boolean insecure,
    ClusterTls tls) {

  /** Whether a node with {@code config} runs with the cluster provider, read without loading a class of the cluster's. */
  public static boolean clustered(Config config) {
    String provider = config.getString("akka.actor.provider");
    return provider.equals("cluster") || provider.equals("akka.cluster.ClusterActorRefProvider");
  }
  /** The setting that turns clustering on. */
  public static final String PORT = "snakepit.cluster.port";
  /** Where a node listens for other nodes. */
  public static final String HOST = "snakepit.cluster.host";
  /** The nodes to join through. */
  public static final String SEEDS = "snakepit.cluster.seeds";

  // Only an address literal is judged by its value: a name other than localhost may resolve anywhere.
  // [IPV6]:PORT or HOST:PORT.
  private static final Pattern HOST_PORT =
      Pattern.compile("\\[([0-9A-Fa-f:.]+)]:(\\d{1,5})|([^:\\[\\]\\s]+):(\\d{1,5})");

  public ClusterSettings {
    seeds = List.copyOf(seeds);
  }

  /**
   * One seed node.
   *
   * @param host its cluster host
   * @param port its cluster port
   */
  public record Seed(String host, int port) {
    /** Its Akka address in the actor system {@code system}. */
    public String address(String system) {
      return "akka://" + system + "@" + hostPort();
    }

    /** {@code HOST:PORT}, IPv6 in brackets. */
    public String hostPort() {
      return (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
    }
  }

  /**
   * The settings under {@code snakepit}, or empty when the node runs alone (no {@code cluster.port}).
   *
   * @throws IllegalArgumentException naming the flag and the setting, the bad value and the fix
   */
  public static Optional<ClusterSettings> fromConfig(Config snakepit) {
    Config c = snakepit.getConfig("cluster");
    List<String> seedTexts = c.hasPath("seeds") ? c.getStringList("seeds") : List.of();
    if (!c.hasPath("port")) {
      if (!seedTexts.isEmpty()) {
        throw new IllegalArgumentException("--seed / " + SEEDS + " is " + seedTexts + " but no cluster port is set:"
            + " give --cluster-port PORT (" + PORT + ") too, or no seeds to run the node alone");
      }
      if (c.hasPath("tls.cert") && !c.getString("tls.cert").isBlank()) {
        throw new IllegalArgumentException("--cluster-tls-cert / snakepit.cluster.tls.cert is set but no cluster port"
            + " is: give --cluster-port PORT (" + PORT + ") and --seed too, or no cluster TLS to run the node alone");
      }
      return Optional.empty();
    }
    int port;
    try {
      port = c.getInt("port");
    } catch (ConfigException.WrongType e) {
      throw new IllegalArgumentException("--cluster-port / " + PORT + " is '" + c.getValue("port").unwrapped()
          + "': give a TCP port from 1 to 65535, e.g. 25520");
    }
    if (port < 1 || port > 65535) {
      throw new IllegalArgumentException("--cluster-port / " + PORT + " is " + port
          + ": give a TCP port from 1 to 65535, e.g. 25520");
    }
    String host = c.getString("host").trim();
    if (host.isEmpty() || host.contains(" ") || host.contains("/")) {
      throw new IllegalArgumentException("--cluster-host / " + HOST + " is '" + host + "': give the address other"
          + " nodes reach this one at, e.g. 10.0.0.5 or node1.example.net");
    }
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1);
    }
    List<Seed> seeds = new ArrayList<>();
    for (String s : seedTexts) {
      seeds.add(parseSeed(s));
    }
    if (seeds.isEmpty()) {
      String self = new Seed(host, port).hostPort();
      throw new IllegalArgumentException("--cluster-port " + port + " needs --seed HOST:PORT[,HOST:PORT...] (" + SEEDS
          + "): the nodes to join through. To start a new cluster, give this node's own address first: --seed "
          + self);
    }
    Duration joinTimeout = c.getDuration("join-timeout");
    if (joinTimeout.isNegative() || joinTimeout.isZero()) {
      throw new IllegalArgumentException("snakepit.cluster.join-timeout is " + joinTimeout + ": give a positive"
          + " duration, e.g. 60s");
    }
    ClusterTls tls = tls(snakepit);
    if (tls != null) {
      tls.check();
    }
    return Optional.of(new ClusterSettings(host, port, seeds, joinTimeout, c.getBoolean("insecure"), tls));
  }

  /** The files of {@code cluster.tls}, or null when none is set; all three or none. */
  private static ClusterTls tls(Config snakepit) {
    Config t = snakepit.getConfig("cluster.tls");
    List<String> given = new ArrayList<>();
    List<String> missing = new ArrayList<>();
    for (String k : List.of("cert", "key", "ca")) {
      String flag = "--cluster-tls-" + k;
      if (t.hasPath(k) && !t.getString(k).isBlank()) {
        given.add(flag + " " + t.getString(k));
      } else {
        missing.add(flag + " FILE (snakepit.cluster.tls." + k + ")");
      }
    }
    if (given.isEmpty()) {
      return null;
    }
    if (!missing.isEmpty()) {
      throw new IllegalArgumentException("cluster TLS needs three files, the node's certificate, its key and the CA"
          + " that issued every node's certificate; only " + String.join(" and ", given) + " given: give "
          + String.join(" and ", missing) + " too (docs/SECURITY.md, \"The cluster port\")");
    }
    SettingPaths paths = SettingPaths.of(snakepit);
    return new ClusterTls(paths.path(snakepit, "cluster.tls.cert"), paths.path(snakepit, "cluster.tls.key"),
        paths.path(snakepit, "cluster.tls.ca"), t.getBoolean("hostname-verification"));
  }

  /** Parses one seed, {@code HOST:PORT} or {@code [IPV6]:PORT}. */
  static Seed parseSeed(String text) {
    Matcher m = HOST_PORT.matcher(text.trim());
    if (!m.matches()) {
      throw new IllegalArgumentException("--seed / " + SEEDS + ": '" + text + "' is not HOST:PORT: give the"
          + " cluster address of a node, e.g. 10.0.0.5:25520 or [fd00::5]:25520, several separated by commas");
    }
    String host = m.group(1) != null ? m.group(1) : m.group(3);
    int port = Integer.parseInt(m.group(2) != null ? m.group(2) : m.group(4));
    if (port < 1 || port > 65535) {
      throw new IllegalArgumentException("--seed / " + SEEDS + ": '" + text + "' has port " + port
          + ": give a TCP port from 1 to 65535");
    }
    return new Seed(host, port);
  }

  /** These settings with {@code insecure} changed. */
  public ClusterSettings withInsecure(boolean insecure) {
    return new ClusterSettings(host, port, seeds, joinTimeout, insecure, tls);
  }

  /** These settings with {@code port} changed. */
  public ClusterSettings withPort(int port) {
    return new ClusterSettings(host, port, seeds, joinTimeout, insecure, tls);
  }

  /** These settings with {@code tls} changed (null: clear text). */
  public ClusterSettings withTls(ClusterTls tls) {
    return new ClusterSettings(host, port, seeds, joinTimeout, insecure, tls);
  }

  /** This node's own address as a seed would name it. */
  public Seed self() {
    return new Seed(host, port);
  }

  /** Whether only this host can reach {@link #host()}: 127.0.0.0/8, ::1 or localhost. */
  public boolean loopback() {
    return LoopbackHost.is(host);
  }

  /**
   * Why the node must not listen for other nodes as configured, or null if it may. Without TLS, cluster traffic is
   * clear text: a host other hosts can reach needs TLS or an explicit {@code --insecure}
   * ({@code snakepit.cluster.insecure}).
   */
  public String refusal() {
    if (loopback() || insecure || tls != null) {
      return null;
    }
    return "--cluster-host " + host + " can be reached from other hosts, and cluster traffic between nodes (every"
        + " call's arguments and results, once pools span nodes) would cross the network in clear text, where"
        + " anyone who reaches the port can join. Give --cluster-tls-cert FILE --cluster-tls-key FILE"
        + " --cluster-tls-ca FILE (snakepit.cluster.tls) to encrypt it and admit only nodes with a certificate of"
        + " that CA, or --insecure (snakepit.cluster.insecure = on) if a private network or a VPN protects the nodes,"
        + " or use a loopback host (see docs/CLUSTER.md)";
  }

  /** The warning a node that listens for other nodes in clear text prints at every start, or null. */
  public String warning() {
    if (loopback() || tls != null) {
      return null;
    }
    return "snakepit: warning: cluster traffic on " + self().hostPort() + " is not encrypted"
        + " (--insecure / snakepit.cluster.insecure): only a private network or a VPN may carry it";
  }

  /**
   * The Akka settings of a clustered node in the actor system {@code system}, to lay over its configuration: the
   * cluster provider, artery over TCP on host:port (over TLS with {@link #tls()}, see {@link ClusterTls#akka()}), the seed nodes, the split brain resolver as the downing
   * provider, and no Java serialization. The resolver's strategy and stable-after stay as configured under
   * {@code akka.cluster.split-brain-resolver} (Akka's default keep-majority, 20s).
   */
  public Config akka(String system) {
    Config transport = tls == null ? ConfigFactory.empty() : tls.akka();
    return transport.withFallback(ConfigFactory.parseMap(Map.of(
        "akka.actor.provider", "cluster",
        "akka.remote.artery.transport", "tcp",
        "akka.remote.artery.canonical.hostname", host,
        "akka.remote.artery.canonical.port", port,
        "akka.actor.allow-java-serialization", "off",
        "akka.actor.warn-about-java-serializer-usage", "on",
        "akka.cluster.downing-provider-class", "akka.cluster.sbr.SplitBrainResolverProvider"))
        .withValue("akka.cluster.seed-nodes",
            ConfigValueFactory.fromIterable(seeds.stream().map(s -> s.address(system)).toList())));
  }

  /** {@code config} with this node's cluster settings over it (see {@link #akka(String)}). */
  public Config over(Config config, String system) {
    return akka(system).withFallback(config);
  }
}
