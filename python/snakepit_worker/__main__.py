"""python -m snakepit_worker --adapter pkg.module:Class --socket PATH [--calls-socket PATH] [--threads N]
                            [--stop-grace S] [--max-message-size BYTES] [--python-logs LEVEL]
                            [--restore-state FILE]

Exit codes:
  0   stopped gracefully (SIGTERM, SIGINT or a Shutdown call)
  1   the graceful stop failed: teardown() raised, or it all took longer than the grace + 1 s
  2   bad command line, or the adapter spec names no Adapter subclass
  3   importing the adapter's module failed
  4   the adapter could not be initialised: its constructor or setup() raised
  6   the adapter's restore(state) raised, or --restore-state names a file that holds no JSON object
  5   the server could not start: grpcio or protobuf missing or older than the floor (see
      snakepit_worker.floor), the generated stubs missing, socket unusable, readiness
      descriptor unusable
  70  the parent (the shim) is gone
"""

import os

# Before anything imports numpy or torch: one worker process is one unit of parallelism, so
# native thread pools must not multiply by the number of cores. The user's own settings win.
for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
              "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(_name, "1")
# Before grpc is imported: with gRPC's fork handlers on (grpcio's default), a tool that forks
# (multiprocessing, os.fork) while the server runs may hang or lose its child; with them off, a
# forked child is a plain copy that must simply not use gRPC.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "0")

import argparse  # noqa: E402
import importlib  # noqa: E402
import logging  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
import traceback  # noqa: E402
from types import TracebackType  # noqa: E402
from typing import List, NoReturn, Optional  # noqa: E402

from snakepit_worker import _deferred  # noqa: E402

# Before grpc is imported: the worker's server is thread-based, so grpc's asyncio API is loaded only
# if something reads from it.
_deferred.defer(*_deferred.GRPC_ASYNCIO)

from snakepit_worker import floor, watchdog  # noqa: E402
from snakepit_worker.adapter import (  # noqa: E402
    AdapterImportError, AdapterSpecError, load_adapter_class)

EXIT_USAGE = 2
EXIT_ADAPTER_IMPORT = 3
EXIT_ADAPTER_INIT = 4
EXIT_SERVER = 5
EXIT_RESTORE = 6

READY_FD_ENV = "SNAKEPIT_READY_FD"

log = logging.getLogger("snakepit_worker")


def main(argv: Optional[List[str]] = None) -> None:
    options = _parse_command_line(argv)
    _configure_logging(options.log_level)
    try:
        sys.stdout.reconfigure(line_buffering=True)  # the shim relays stdout line by line
    except (AttributeError, ValueError):
        pass
    # Until the server is up there is nothing to stop gracefully: SIGINT kills like SIGTERM.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    ready_fd = _take_ready_fd()
    watchdog.watch_parent()
    if os.environ["GRPC_ENABLE_FORK_SUPPORT"].lower() in ("1", "true", "yes"):
        log.warning("GRPC_ENABLE_FORK_SUPPORT=%s: tools that fork while the server runs may "
                    "hang; unset it to let the worker turn it off",
                    os.environ["GRPC_ENABLE_FORK_SUPPORT"])

    wrong = floor.problem()  # before the stubs: an old protobuf fails there with less to go on
    if wrong is not None:
        _fail(EXIT_SERVER, wrong)
    try:
        from snakepit_worker import server
    except Exception as e:  # noqa: B902 - the stubs missing or broken
        _fail(EXIT_SERVER, "cannot start the gRPC server: %s: %s" % (type(e).__name__, e))

    from snakepit_worker import logs
    logs.install(options.python_logs)

    spec = options.adapter
    try:
        adapter_class = load_adapter_class(spec)
    except AdapterSpecError as e:
        _fail(EXIT_USAGE, str(e))
    except AdapterImportError as e:
        print("snakepit_worker: cannot load adapter '%s': %s" % (spec, e), file=sys.stderr)
        cause = e.__cause__
        traceback.print_exception(type(cause), cause, _adapter_frames(cause.__traceback__),
                                  file=sys.stderr)
        watchdog.exit_now(EXIT_ADAPTER_IMPORT)

    try:
        adapter = adapter_class()
        adapter.setup()
    except BaseException as e:  # noqa: B902 - includes SystemExit from setup()
        print("snakepit_worker: adapter '%s' failed to initialise: %s: %s"
              % (spec, type(e).__name__, e), file=sys.stderr)
        traceback.print_exc()
        watchdog.exit_now(EXIT_ADAPTER_INIT)

    if options.restore_state is not None:
        _restore(adapter, spec, options.restore_state)

    stop = watchdog.GracefulStop(options.stop_grace)
    servicer = server.WorkerServicer(adapter, spec, options.threads, stop.request,
                                     options.max_message_size)
    try:
        grpc_server = server.build_server(servicer, options.socket, options.threads,
                                          options.max_message_size)
        if options.calls_socket is not None:
            from snakepit_worker.call_socket import CallListener
            CallListener(servicer, options.calls_socket, options.threads,
                         options.max_message_size).start()
        grpc_server.start()
    except (server.SocketError, OSError, RuntimeError) as e:
        _fail(EXIT_SERVER, str(e))
    stop.install_signal_handlers()
    if ready_fd is not None:
        try:
            os.write(ready_fd, b"READY\n")
            os.close(ready_fd)
        except OSError as e:
            _fail(EXIT_SERVER, "cannot write READY to descriptor %d (%s=%d): %s"
                  % (ready_fd, READY_FD_ENV, ready_fd, e))
    log.info("serving %s on %s (pid %d)", spec, options.socket, os.getpid())
    stop.wait_then_stop(grpc_server, adapter)


def _restore(adapter, spec: str, path: str) -> None:
    """Gives the adapter the state its slot's last worker left (before any call can arrive)."""
    import json
    restore = getattr(adapter, "restore", None)
    if restore is None:
        print("snakepit_worker: adapter '%s' was given the state of the worker it replaces (%s) but"
              " defines no restore(self, state): define restore, or turn off snapshots for this pool"
              % (spec, path), file=sys.stderr)
        watchdog.exit_now(EXIT_RESTORE)
    try:
        with open(path, "rb") as f:
            state = json.loads(f.read().decode("utf-8"))
        if not isinstance(state, dict):
            raise ValueError("the state is a JSON %s, not an object" % type(state).__name__)
    except (OSError, ValueError) as e:
        print("snakepit_worker: cannot read the state to restore from %s (--restore-state): %s"
              % (path, e), file=sys.stderr)
        watchdog.exit_now(EXIT_RESTORE)
    try:
        restore(state)
    except BaseException as e:  # noqa: B902 - includes SystemExit from restore()
        print("snakepit_worker: adapter '%s' failed to restore the state of the worker it replaces:"
              " %s: %s" % (spec, type(e).__name__, e), file=sys.stderr)
        traceback.print_exc()
        watchdog.exit_now(EXIT_RESTORE)
    log.info("restored the state of the worker this one replaces (%d bytes)", os.path.getsize(path))


def _parse_command_line(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m snakepit_worker",
        description="Serves the tools of one snakepit adapter over gRPC on a Unix socket.")
    parser.add_argument("--adapter", required=True, metavar="PKG.MODULE:CLASS",
                        help="the Adapter subclass to serve")
    parser.add_argument("--socket", required=True, metavar="PATH",
                        help="the Unix socket to listen on; a stale socket there is replaced")
    parser.add_argument("--calls-socket", default=None, metavar="PATH",
                        help="also take one-result calls on this Unix socket, many on one "
                             "connection (the JVM's call-channel = multiplexed); a stale socket "
                             "there is replaced")
    parser.add_argument("--threads", type=_positive_int, default=4, metavar="N",
                        help="tool calls that may run at once (default 4)")
    parser.add_argument("--stop-grace", type=_non_negative_float, default=2.0, metavar="SECONDS",
                        help="grace for calls in flight on SIGTERM or SIGINT (default 2)")
    parser.add_argument("--max-message-size", type=_positive_int, default=None, metavar="BYTES",
                        help="the largest request or answer; an answer over it is replaced by a "
                             "snakepit.MessageTooLarge error (default: no limit; the JVM passes "
                             "the pool's max-message-size)")
    parser.add_argument("--python-logs", default="INFO",
                        choices=("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL", "off"),
                        help="forward the root logger's records from this level up to the JVM as "
                             "structured records (default INFO); off: leave logging alone")
    parser.add_argument("--restore-state", default=None, metavar="FILE",
                        help="a JSON object to hand to the adapter's restore(state) after setup() "
                             "and before the first call: the state its slot's last worker left "
                             "(the JVM writes it when snapshots are on)")
    parser.add_argument("--log-level", default="INFO",
                        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
                        help="the worker's own log lines on stderr (default INFO)")
    return parser.parse_args(argv)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError("must be a whole number of at least 1, got %r" % text)
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError("must be a number of seconds, 0 or more, got %r" % text)
    return value


def _configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("snakepit_worker: %(message)s"))
    log.addHandler(handler)
    log.setLevel(level)
    log.propagate = False  # the root logger belongs to the adapter


def _take_ready_fd() -> Optional[int]:
    """The readiness descriptor, made close-on-exec; the variable is not passed to children."""
    text = os.environ.pop(READY_FD_ENV, None)
    if not text:
        return None
    try:
        fd = int(text)
        os.set_inheritable(fd, False)
    except (ValueError, OSError) as e:
        _fail(EXIT_SERVER, "%s=%r is not an open descriptor: %s" % (READY_FD_ENV, text, e))
    return fd


def _adapter_frames(tb: Optional[TracebackType]) -> Optional[TracebackType]:
    """Skips the frames of the worker's loader and of importlib that precede the adapter's."""
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if not (filename == load_adapter_class.__code__.co_filename
                or filename.startswith("<frozen importlib")
                or filename == importlib.__file__):
            break
        tb = tb.tb_next
    return tb


def _fail(code: int, message: str) -> NoReturn:
    print("snakepit_worker: %s" % message, file=sys.stderr)
    watchdog.exit_now(code)


if __name__ == "__main__":
    main()
