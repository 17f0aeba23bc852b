package io.snakepit.testing;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.snakepit.shim.HostSupport;
import io.snakepit.shim.PrivateDirectory;

/**
 * What a test needs of the host (root, runc, PostgreSQL), checked with JUnit assumptions: a test skips, saying what is
 * missing and how to get it, only where the host lacks it. .ci/run installs everything and runs as root, so CI skips
 * none of them.
 */
public final class Requires {
  private Requires() {}

  /** Root, for {@code what} (cgroups, namespaces, mounts, other users' files). */
  public static void root(String what) {
    assumeTrue(PrivateDirectory.uid() == 0, what + " needs root: run the tests as root (.ci/run does)");
  }

  /** The OCI runtime {@code runc} on PATH. */
  public static void runc() {
    assumeTrue(HostSupport.onPath("runc").isPresent(), "runc not found on PATH (" + System.getenv("PATH")
        + "): apt-get install runc");
  }

  /** What the isolation mode {@code mode} needs: root for cgroup, namespaces and runc; runc for runc. */
  public static void isolationMode(String mode) {
    if (!mode.equals("process")) {
      root(mode + " isolation mode");
    }
    if (mode.equals("runc")) {
      runc();
    }
  }

  /** The {@code openssl} command, with which TLS tests make their certificates. */
  public static void openssl() {
    assumeTrue(HostSupport.onPath("openssl").isPresent(), "openssl not found on PATH (" + System.getenv("PATH")
        + "): apt-get install openssl");
  }

  /** PostgreSQL's server binaries, from which the tests start a private server. */
  public static void postgres() {
    PostgresServer.missing().ifPresent(why -> assumeTrue(false, why));
  }
}
