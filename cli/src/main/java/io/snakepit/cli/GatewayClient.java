package io.snakepit.cli;

import com.typesafe.config.ConfigFactory;
import io.grpc.ChannelCredentials;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Status;
import io.grpc.TlsChannelCredentials;
import io.grpc.stub.MetadataUtils;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.AccessDeniedException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Map;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * How {@code snakepit call}, {@code load}, {@code scale} and {@code status} reach a gateway: its address, its TLS, and
 * its token.
 *
 * <p>The token comes from {@code --token-file FILE}; else from {@code --data-dir DIR} when given; else from the
 * {@code SNAKEPIT_TOKEN} variable; else from the default data directory, {@code data}. The file is
 * {@code DIR/gateway-INSTANCE.token}, as the node writes it.
 */
final class GatewayClient {
  static final String TOKEN_VARIABLE = "SNAKEPIT_TOKEN";
  private static final String DEFAULT_DATA_DIR = "data";

  @Option(names = "--target", paramLabel = "HOST:PORT|unix:PATH", converter = Endpoint.Converter.class,
      defaultValue = "127.0.0.1:50051", description = "The node's gateway (default: ${DEFAULT-VALUE}).")
  Endpoint target;

  @Spec(Spec.Target.MIXEE)
  CommandSpec mixee;

  @Option(names = "--data-dir", paramLabel = "DIR",
      description = "The node's --data-dir, where it wrote its gateway token. Without it: " + TOKEN_VARIABLE
          + ", else " + DEFAULT_DATA_DIR + ".")
  Path dataDir;

  @Option(names = "--instance", paramLabel = "NAME",
      description = "The node's --instance, which names its token file (default: snakepit.instance, \"default\").")
  String instance;

  @Option(names = "--token-file", paramLabel = "FILE",
      description = "Read the gateway token from FILE instead (before " + TOKEN_VARIABLE + " and --data-dir).")
  Path tokenFile;

  @Option(names = "--tls", description = "Call over TLS, trusting the JVM's CA certificates.")
  boolean tls;

  @Option(names = "--tls-ca", paramLabel = "FILE",
      description = "Call over TLS, trusting the CA certificates in FILE (PEM).")
  Path tlsCa;

  @Option(names = "--tls-cert", paramLabel = "FILE",
      description = "A client certificate (PEM) for a gateway that requires one (mutual TLS).")
  Path tlsCert;

  @Option(names = "--tls-key", paramLabel = "FILE", description = "The private key of --tls-cert (PEM, PKCS#8).")
  Path tlsKey;

  /**
   * The token to send, or why there is none.
   *
   * @param value the token, or null
   * @param problem why no token could be read, naming the file and the ways to give one; null with a value
   */
  record Token(String value, String problem) {}

  /** Reads the token from the first source given; the environment is a parameter so tests can set it. */
  Token token(Map<String, String> env) {
    if (tokenFile != null && dataDir != null) {
      throw new ParameterException(mixee.commandLine(), "--token-file and --data-dir both say where the token is:"
          + " give one of them");
    }
    Path file = tokenFile;
    if (file == null) {
      String fromEnv = env.get(TOKEN_VARIABLE);
      if (dataDir == null && fromEnv != null && !fromEnv.isBlank()) {
        return new Token(fromEnv.strip(), null);
      }
      String name = instance != null ? instance : ConfigFactory.load().getString("snakepit.instance");
      file = GatewayToken.file(dataDir != null ? dataDir : Path.of(DEFAULT_DATA_DIR), name);
    }
    Path shown = file.toAbsolutePath().normalize();
    String ways = "give the node's token with --data-dir DIR (the node's --data-dir), --token-file FILE or the "
        + TOKEN_VARIABLE + " variable";
    try {
      return new Token(GatewayToken.read(file), null);
    } catch (NoSuchFileException e) {
      return new Token(null, "no gateway token at " + shown + ": a node writes it there when it starts with that"
          + " --data-dir (unless it was given serve --token-file: then pass that file); " + ways);
    } catch (AccessDeniedException e) {
      return new Token(null, "cannot read the gateway token at " + shown + ": permission denied, only the node's"
          + " user may read it; call as that user, or " + ways);
    } catch (IOException e) {
      return new Token(null, "cannot read the gateway token at " + shown + " (" + e + "); " + ways);
    }
  }

  /** The token, as {@link #token(Map)}, after printing {@link #clearTextWarning}'s warning, if any, to {@code err}. */
  Token token(Map<String, String> env, PrintStream err) {
    Token token = token(env);
    String warning = clearTextWarning(token);
    if (warning != null) {
      err.println(warning);
    }
    return token;
  }

  /** A channel builder for the target, with TLS if asked for and the token (if any) on every call. */
  ManagedChannelBuilder<?> channel(Token token) {
    ChannelCredentials credentials = credentials();
    ManagedChannelBuilder<?> builder = target instanceof Endpoint.Unix unix
        ? Grpc.newChannelBuilder("unix://" + unix.path().toAbsolutePath(), credentials)
        : Grpc.newChannelBuilderForAddress(((Endpoint.Tcp) target).host(), ((Endpoint.Tcp) target).port(),
            credentials);
    if (token.value() != null) {
      builder.intercept(MetadataUtils.newAttachHeadersInterceptor(GatewayAuth.header(token.value())));
    }
    return builder;
  }

  /** A warning when the token would cross a network in clear text, or null. */
  String clearTextWarning(Token token) {
    return token.value() != null && !tlsEnabled() && target instanceof Endpoint.Tcp tcp && !tcp.loopback()
        ? "warning: the gateway token goes to " + tcp + " in clear text: use --tls-ca FILE (or --tls) if the node"
            + " serves TLS" : null;
  }

  /**
   * Reports a failed call on {@code err}; returns the exit code: 2 if no node could be reached at the target, else 1.
   */
  int failed(Status status, Token token, PrintStream err) {
    if (status.getCode() == Status.Code.UNAVAILABLE) {
      String why = status.getDescription();
      if (status.getCause() != null && status.getCause().getMessage() != null) {
        why += ": " + status.getCause().getMessage();
      }
      err.println("error: cannot reach a node at " + target + " (" + why
          + "). Start one with ./snakepit serve, or point --target at one");
      return 2;
    }
    err.println("error: " + describe(status, token));
    return 1;
  }

  /**
   * The text for a failed call; an {@code UNAUTHENTICATED} one, when no token could be read, also says why on a line
   * of its own.
   */
  static String describe(Status status, Token token) {
    String text = status.getCode() + (status.getDescription() == null ? "" : ": " + status.getDescription());
    if (status.getCode() == Status.Code.UNAUTHENTICATED && token.problem() != null) {
      text += "\nerror: the call went without a token: " + token.problem();
    }
    return text;
  }

  private boolean tlsEnabled() {
    return tls || tlsCa != null || tlsCert != null;
  }

  /** TLS as the flags ask; a {@link ParameterException} (exit 2) names a missing or unreadable file. */
  private ChannelCredentials credentials() {
    if (!tlsEnabled()) {
      return InsecureChannelCredentials.create();
    }
    TlsChannelCredentials.Builder b = TlsChannelCredentials.newBuilder();
    if (tlsCa != null) {
      try {
        b.trustManager(tlsCa.toFile());
      } catch (IOException | RuntimeException e) {
        throw new ParameterException(mixee.commandLine(), "cannot use --tls-ca " + tlsCa + " (" + e.getMessage()
            + "): it must be a readable PEM file of CA certificates");
      }
    }
    if (tlsCert != null || tlsKey != null) {
      if (tlsCert == null || tlsKey == null) {
        throw new ParameterException(mixee.commandLine(), "a client certificate needs both --tls-cert FILE and"
            + " --tls-key FILE");
      }
      try {
        b.keyManager(tlsCert.toFile(), tlsKey.toFile());
      } catch (IOException | RuntimeException e) {
        throw new ParameterException(mixee.commandLine(), "cannot use --tls-cert " + tlsCert + " with --tls-key "
            + tlsKey + " (" + e.getMessage() + "): both must be readable PEM files, the key in PKCS#8");
      }
    }
    return b.build();
  }
}
