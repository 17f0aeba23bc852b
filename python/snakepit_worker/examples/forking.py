"""ForkingAdapter: tools that leave processes behind, for tests that none of them outlives the worker.

The children only sleep: a forked copy of a process running a gRPC server must not use gRPC, so
each one either sleeps in Python (multiprocessing) or execs `sleep` straight after fork.
"""

import multiprocessing
import os
import subprocess
import time

from snakepit_worker import tool
from snakepit_worker.examples.basic import BasicAdapter


class ForkingAdapter(BasicAdapter):
    """BasicAdapter plus tools that start long-lived descendants and return their pids."""

    def __init__(self):
        super().__init__()
        # Holding the handles keeps Python from reaping the children or warning about them.
        self._children = []

    @tool
    def spawn_tree(self, seconds=1000):
        """Starts three sleepers in the worker's process group, each in its own way."""
        sleeper = multiprocessing.get_context("fork").Process(
            target=time.sleep, args=(seconds,), name="snakepit-example-sleeper")
        sleeper.start()
        command = subprocess.Popen(["sleep", str(seconds)])
        self._children += [sleeper, command]
        return {
            "worker": os.getpid(),
            "multiprocessing": sleeper.pid,
            "subprocess": command.pid,
            "double_fork": _orphaned_sleep(seconds, new_session=False),
        }

    @tool
    def escape_session(self, seconds=1000):
        """Starts a sleeper that leaves the process group with setsid(); returns its pid."""
        return _orphaned_sleep(seconds, new_session=True)

    @tool
    def fork_bomb(self, seconds=30):
        """Runs a shell fork bomb for up to seconds, for tests of the pids limit; returns how long it ran.

        Refuses to run unless this worker is under a pids limit (isolation.limits.pids): without one it
        would take the host down.
        """
        limit = _pids_limit()
        if limit is None:
            raise RuntimeError("fork_bomb refuses to run without a pids limit (isolation.limits.pids)")
        started = time.monotonic()
        bomb = subprocess.Popen(["sh", "-c", "b() { b | b & }; b; sleep %d" % seconds])
        self._children.append(bomb)
        time.sleep(seconds)
        return time.monotonic() - started

    @tool
    def fork_compute(self, values):
        """Squares the values in a pool of two forked processes: forking while serving works."""
        with multiprocessing.get_context("fork").Pool(2) as pool:
            return pool.map(_square, values)


def _square(value):
    return value * value


def _orphaned_sleep(seconds, new_session):
    """Double-forks `sleep SECONDS`: its parent exits at once, so the grandchild is orphaned.

    Returns the grandchild's pid. Between fork and exec the children of this multithreaded process
    only fork, write to a pipe, setsid and exit: nothing that takes a lock. (The worker turns gRPC's
    fork handlers off; with them on, the intermediate child's fork crashes with SIGSEGV.)
    """
    read_end, write_end = os.pipe()
    middle = os.fork()
    if middle == 0:
        code = 0
        try:
            os.close(read_end)
            grandchild = os.fork()
            if grandchild == 0:
                code = 127
                if new_session:
                    os.setsid()
                os.execvp("sleep", ["sleep", str(seconds)])
            os.write(write_end, b"%d" % grandchild)
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as reader:
        reported = reader.read()
    _, status = os.waitpid(middle, 0)
    if not reported:
        raise RuntimeError("the intermediate child ended without reporting its child's pid (wait status %d)"
                           % status)
    return int(reported)


def _pids_limit():
    """The pids.max of this process's cgroup (v1 pids hierarchy or cgroup2), or None when there is none."""
    with open("/proc/self/cgroup") as f:
        entries = [line.rstrip("\n").split(":", 2) for line in f]
    candidates = []
    for _, controllers, path in entries:
        if "pids" in controllers.split(","):
            candidates.append("/sys/fs/cgroup/pids" + path)
        elif controllers == "":
            candidates += ["/sys/fs/cgroup" + path, "/sys/fs/cgroup/unified" + path]
    for directory in candidates:
        try:
            with open(os.path.join(directory, "pids.max")) as f:
                value = f.read().strip()
        except OSError:
            continue
        if value != "max":
            return int(value)
    return None
