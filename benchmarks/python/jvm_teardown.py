"""How long the kernel takes to tear down a JVM killed with SIGKILL, by its heap and options.

    python3 benchmarks/python/jvm_teardown.py MIB [RUNS] [-- JVM OPTIONS...]

Starts a JVM that fills MIB MiB of heap, sends it SIGKILL and times until its pidfd says it has exited: the moment its
pipes are closed too, which is when a node's workers' shims learn that the node is gone (docs/PERFORMANCE.md, Kill).
Prints each run and the median, with the JVM's resident size. Linux, Python 3.9+ (os.pidfd_open), java on PATH.
"""
import os
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import time

FILLER = """
public class Filler {
  public static void main(String[] args) throws Exception {
    int chunks = Integer.parseInt(args[0]) * 16;
    byte[][] keep = new byte[chunks][];
    for (int i = 0; i < chunks; i++) {
      keep[i] = new byte[1 << 16];
    }
    System.out.println("ready " + keep.length);
    System.out.flush();
    Thread.sleep(600_000);
  }
}
"""


def once(source, mib, options):
    jvm = subprocess.Popen(["java", *options, source, str(mib)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        line = jvm.stdout.readline()
        if not line.startswith(b"ready"):
            raise SystemExit(f"the JVM did not fill {mib} MiB (options {options}): {jvm.stderr.read().decode()[-2000:]}")
        with open(f"/proc/{jvm.pid}/status") as status:
            rss = next(int(l.split()[1]) for l in status if l.startswith("VmRSS:")) // 1024
        pidfd = os.pidfd_open(jvm.pid)
        start = time.perf_counter()
        os.kill(jvm.pid, signal.SIGKILL)
        poll = select.poll()
        poll.register(pidfd, select.POLLIN)
        if not poll.poll(60_000):
            raise SystemExit(f"the JVM {jvm.pid} had not exited 60 s after SIGKILL")
        took = (time.perf_counter() - start) * 1000
        os.close(pidfd)
        return took, rss
    finally:
        if jvm.poll() is None:
            jvm.kill()
        jvm.wait(60)


def main(argv):
    options = argv[argv.index("--") + 1:] if "--" in argv else []
    args = argv[:argv.index("--")] if "--" in argv else argv
    if not args:
        raise SystemExit(__doc__)
    mib, runs = int(args[0]), int(args[1]) if len(args) > 1 else 5
    with tempfile.TemporaryDirectory() as tmp:
        source = os.path.join(tmp, "Filler.java")
        with open(source, "w") as f:
            f.write(FILLER)
        results = [once(source, mib, options) for _ in range(runs)]
    print(f"{mib} MiB of heap, options {' '.join(options) or 'none'}: RSS {results[0][1]} MiB; SIGKILL to exit:"
          f" median {statistics.median(r[0] for r in results):.1f} ms, runs "
          + ", ".join(f"{r[0]:.1f}" for r in results))


if __name__ == "__main__":
    main(sys.argv[1:])
