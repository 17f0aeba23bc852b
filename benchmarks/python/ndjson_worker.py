"""A peer of a snakepit worker: the hand-rolled kind, newline-delimited JSON over stdin and stdout.

Usage: ndjson_worker.py. Prints "ready", then reads one request per line, {"id": 7, "tool": "ping", "args": {}},
and answers each on one line, {"id": 7, "result": "pong"} or {"id": 7, "error": "ValueError: ..."}. Exits at EOF
on stdin. One call at a time: nothing here runs two requests at once.
"""

import json
import sys


def ping():
    return "pong"


TOOLS = {"ping": ping}


def main():
    out = sys.stdout
    out.write("ready\n")
    out.flush()
    for line in sys.stdin:
        request = json.loads(line)
        try:
            answer = {"id": request["id"], "result": TOOLS[request["tool"]](**request.get("args", {}))}
        except Exception as e:  # the caller learns what the tool raised; the worker goes on serving
            answer = {"id": request.get("id"), "error": "%s: %s" % (type(e).__name__, e)}
        out.write(json.dumps(answer) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
