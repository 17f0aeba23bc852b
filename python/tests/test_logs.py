"""Log records forwarded to the JVM: one marked line of ASCII JSON each, with the call they belong to."""

import json
import logging
import os

from snakepit_worker import call, logs


def _records(handler_fd_reader, count):
    data = b""
    while data.count(b"\n") < count:
        data += os.read(handler_fd_reader, 65536)
    lines = data.decode("ascii").split("\n")[:-1]  # not splitlines(): \x1e is a line boundary there
    assert all(line.startswith(logs.MARK) for line in lines), lines
    return [json.loads(line[len(logs.MARK):]) for line in lines]


def _logger(fd):
    named = logging.getLogger("test-logs-%d" % fd)
    named.propagate = False
    named.setLevel(logging.DEBUG)
    named.handlers = [logs.JvmHandler(fd)]
    return named


def test_a_record_is_one_marked_line_with_level_logger_and_message():
    r, w = os.pipe()
    try:
        named = _logger(w)
        named.warning("disk at %d%%", 93)
        (record,) = _records(r, 1)
        assert record == {"level": "WARNING", "logger": named.name, "message": "disk at 93%"}
    finally:
        os.close(r)
        os.close(w)


def test_inside_a_call_the_record_names_it_and_a_traceback_comes_whole_on_one_line():
    r, w = os.pipe()
    try:
        named = _logger(w)
        call._enter(None, "call-42")
        try:
            try:
                raise KeyError("missing\nkey")
            except KeyError:
                named.exception("lookup failed: é")
        finally:
            call._leave()
        (record,) = _records(r, 1)
        assert record["call"] == "call-42"
        assert record["level"] == "ERROR" and record["message"] == "lookup failed: é"
        assert record["exception"].startswith("Traceback") and "KeyError" in record["exception"]
    finally:
        os.close(r)
        os.close(w)


def test_off_installs_nothing_and_a_level_installs_one_handler_on_the_root():
    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    try:
        logs.install("off")
        assert root.handlers == before
        logs.install("DEBUG")
        added = [h for h in root.handlers if h not in before]
        assert len(added) == 1 and isinstance(added[0], logs.JvmHandler)
        assert root.level == logging.DEBUG
    finally:
        root.handlers = before
        root.setLevel(level)
