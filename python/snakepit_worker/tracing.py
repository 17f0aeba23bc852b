"""The worker's spans: one SERVER span per traced call, a child of the traceparent the JVM sent.

Imported only at the first call that carries a traceparent, and only when ``opentelemetry`` (the
API, package ``opentelemetry-api``) is importable: the worker needs neither otherwise. The spans go
to whatever tracer provider the process sets up (an adapter may configure the SDK and an exporter);
with the API alone they are no-ops, and the tool still reads ``current_call().traceparent``.
"""

from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

_TRACER_NAME = "snakepit_worker"


def _start(tool: str, call_id: str, traceparent: str):
    parent = propagate.extract({"traceparent": traceparent})
    return trace.get_tracer(_TRACER_NAME).start_span(
        "snakepit.tool " + tool, context=parent, kind=SpanKind.SERVER,
        attributes={"snakepit.tool": tool, "snakepit.call_id": call_id})


def current_span(tool: str, call_id: str, traceparent: str):
    """A context manager: the call's span, current while the tool runs, ended after."""
    return trace.use_span(_start(tool, call_id, traceparent), end_on_exit=True,
                          record_exception=False, set_status_on_exception=False)


def start_span(tool: str, call_id: str, traceparent: str):
    """The call's span, started; the caller ends it."""
    return _start(tool, call_id, traceparent)


def outcome(span, error_type, finished: bool = True) -> None:
    """Marks how the call ended: ok, the Python error type it answered with, or cancelled."""
    if error_type:
        span.set_attribute("snakepit.outcome", "error")
        span.set_attribute("snakepit.error_type", error_type)
        span.set_status(Status(StatusCode.ERROR, error_type))
    else:
        span.set_attribute("snakepit.outcome", "ok" if finished else "cancelled")
