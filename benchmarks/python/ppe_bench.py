"""A peer of a snakepit pool driven from Python: concurrent.futures.ProcessPoolExecutor running a trivial function.

Usage: ppe_bench.py WORKERS CALLERS. Starts the executor's WORKERS processes, prints "ready", then for each line
"run SECONDS" on stdin runs CALLERS threads for that long, each submitting one call and waiting for its result
before the next (a closed loop, like the JVM's callers), and prints one JSON line:
{"calls": ..., "seconds": ..., "calls_per_s": ..., "p50_us": ..., "p99_us": ...}.
At EOF on stdin it shuts the executor down (its processes exit) and exits.
"""

import json
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor


def ping():
    return "pong"


def percentile(ordered, p):
    """Nearest rank, as the JVM side computes it."""
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[min(len(ordered), rank) - 1]


def measure(executor, callers, seconds):
    start = threading.Barrier(callers + 1)
    latencies = [[] for _ in range(callers)]

    def caller(mine):
        start.wait()
        while time.monotonic() < deadline:
            t0 = time.perf_counter_ns()
            if executor.submit(ping).result() != "pong":
                raise RuntimeError("ping did not answer pong")
            mine.append(time.perf_counter_ns() - t0)

    threads = [threading.Thread(target=caller, args=(latencies[i],)) for i in range(callers)]
    for t in threads:
        t.start()
    # The callers read the deadline only after the barrier, which opens once it is set.
    began = time.monotonic()
    deadline = began + seconds
    start.wait()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - began
    ordered = sorted(x for mine in latencies for x in mine)
    return {
        "calls": len(ordered),
        "seconds": elapsed,
        "calls_per_s": len(ordered) / elapsed,
        "p50_us": percentile(ordered, 50) / 1000,
        "p99_us": percentile(ordered, 99) / 1000,
    }


def main():
    workers, callers = int(sys.argv[1]), int(sys.argv[2])
    with ProcessPoolExecutor(max_workers=workers) as executor:
        # Every worker process started and answering before the first measurement.
        for f in [executor.submit(ping) for _ in range(workers * 4)]:
            f.result()
        print("ready", flush=True)
        for line in sys.stdin:
            command = line.split()
            if command[:1] != ["run"]:
                raise SystemExit("unknown command %r: expected 'run SECONDS'" % line.strip())
            print(json.dumps(measure(executor, callers, float(command[1]))), flush=True)


if __name__ == "__main__":
    main()
