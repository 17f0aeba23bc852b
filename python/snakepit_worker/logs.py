"""Python's log records, forwarded to the JVM as structured records.

The handler writes each record to stderr as one line: a marker, then a JSON object (level,
logger, message, the call id of the call it was logged in, and the formatted exception). The
JVM's reader of the worker's stderr recognises the marker and logs the record under
``snakepit.python.<pool>`` at its level, with the pool, worker, pid and call id in the MDC; any
other stderr line stays a line of raw output. The JSON is ASCII (non-ASCII escaped), so a record
never carries bytes the JVM would have to guess at.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import traceback

from snakepit_worker.call import current_call

# Starts every forwarded record's line: ASCII record separator, then a tag no tool prints by chance.
MARK = "\x1esnakepit-log "

_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class JvmHandler(logging.Handler):
    """Writes each record to file descriptor 2 as one marked line of JSON."""

    def __init__(self, fd: int = 2):
        super().__init__()
        self._fd = fd
        self._write_lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = MARK + json.dumps(_fields(record), ensure_ascii=True, default=str) + "\n"
            data = line.encode("ascii")
            with self._write_lock:  # one write after another: records never interleave with each other
                while data:
                    data = data[os.write(self._fd, data):]
        except Exception:  # noqa: B902 - logging must not fail the call that logs
            self.handleError(record)


def _fields(record: logging.LogRecord) -> dict:
    fields = {"level": record.levelname, "logger": record.name, "message": record.getMessage()}
    call_id = current_call().call_id
    if call_id:
        fields["call"] = call_id
    if record.exc_info and record.exc_info[0] is not None:
        fields["exception"] = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
    elif record.exc_text:
        fields["exception"] = record.exc_text
    if record.stack_info:
        fields["stack"] = record.stack_info
    return fields


def install(level: str) -> None:
    """Forwards the root logger's records from ``level`` up (one of _LEVELS), or nothing ("off").

    Installed before the adapter is imported, so its import-time records are forwarded too; an
    adapter that calls logging.basicConfig() then finds the root configured and changes nothing.
    """
    if level == "off":
        return
    root = logging.getLogger()
    root.addHandler(JvmHandler())
    root.setLevel(level)
