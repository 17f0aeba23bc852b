"""The call's W3C trace context: current_call().traceparent, and the worker's SERVER span around a tool
when opentelemetry (the API) is importable."""

import contextlib
import random

import pytest

from conftest import FakeContext
from snakepit_worker import Adapter, current_call, tool
from snakepit_worker import server
from snakepit_worker._proto import worker_pb2
from snakepit_worker.server import WorkerServicer

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
TRACEPARENT = "00-%s-%s-01" % (TRACE_ID, PARENT_ID)


class Tools(Adapter):
    @tool
    def traceparent(self):
        return current_call().traceparent

    @tool
    def current_span(self):
        """The span current while the tool runs, as ids."""
        from opentelemetry import trace
        context = trace.get_current_span().get_span_context()
        return {"trace": "%032x" % context.trace_id, "span": "%016x" % context.span_id}

    @tool
    def fail(self):
        raise ValueError("traced failure")

    @tool
    def items(self, n=2):
        for _ in range(n):
            yield current_call().traceparent


def servicer():
    return WorkerServicer(Tools(), "tests:Tools", 2, lambda grace, reason: None, None)


def execute(tool_name, traceparent=""):
    request = worker_pb2.ExecuteRequest(tool=tool_name, traceparent=traceparent)
    return servicer().Execute(request, FakeContext())


def stream(tool_name, traceparent=""):
    request = worker_pb2.ExecuteRequest(tool=tool_name, traceparent=traceparent)
    return list(servicer().ExecuteStream(request, FakeContext()))


def test_the_tool_reads_the_calls_traceparent_on_both_call_paths():
    assert execute("traceparent", TRACEPARENT).value.json == '"%s"' % TRACEPARENT
    items = stream("items", TRACEPARENT)
    assert [item.value.json for item in items] == ['"%s"' % TRACEPARENT] * 2
    frame = servicer().answer_frame(
        worker_pb2.ExecuteRequest(tool="traceparent", traceparent=TRACEPARENT).SerializeToString(), FakeContext())
    assert frame.value.json == '"%s"' % TRACEPARENT


def test_an_untraced_call_has_an_empty_traceparent_and_imports_no_tracing(monkeypatch):
    monkeypatch.setattr(server, "_tracing", None)
    assert execute("traceparent").value.json == '""'
    assert current_call().traceparent == ""
    assert server._tracing is None, "nothing is imported for a call without a traceparent"


# --- with opentelemetry: a span of the worker's per call ---------------------------------------------

class _Recorded:
    """What a span of the recording tracer saw."""

    def __init__(self, name, kind, parent, attributes, context):
        self.name, self.kind, self.parent, self.attributes = name, kind, parent, dict(attributes or {})
        self.context, self.status, self.ended = context, None, False


def _recording_tracer_provider(spans):
    """A tracer provider written against the API alone (no SDK), recording the spans it starts."""
    from opentelemetry import trace

    class Span(trace.NonRecordingSpan):
        def __init__(self, record):
            super().__init__(record.context)
            self.record = record

        def is_recording(self):
            return True

        def set_attribute(self, key, value):
            self.record.attributes[key] = value

        def set_status(self, status, description=None):
            self.record.status = status

        def end(self, end_time=None):
            self.record.ended = True

    class Tracer(trace.Tracer):
        def start_span(self, name, context=None, kind=trace.SpanKind.INTERNAL, attributes=None, links=None,
                       start_time=None, record_exception=True, set_status_on_exception=True):
            parent = trace.get_current_span(context).get_span_context()
            own = trace.SpanContext(parent.trace_id, random.getrandbits(64) or 1, is_remote=False,
                                    trace_flags=parent.trace_flags)
            record = _Recorded(name, kind, parent, attributes, own)
            spans.append(record)
            return Span(record)

        @contextlib.contextmanager
        def start_as_current_span(self, name, context=None, kind=trace.SpanKind.INTERNAL, **kwargs):
            with trace.use_span(self.start_span(name, context, kind), end_on_exit=True) as span:
                yield span

    class Provider(trace.TracerProvider):
        def get_tracer(self, *args, **kwargs):
            return Tracer()

    return Provider()


@pytest.fixture()
def spans(monkeypatch):
    pytest.importorskip("opentelemetry.trace", reason="opentelemetry-api is not installed in this Python: the"
                        " worker's own span is optional (pip install opentelemetry-api; .ci/run installs it)")
    from opentelemetry import trace
    recorded = []
    provider = _recording_tracer_provider(recorded)
    monkeypatch.setattr(trace, "get_tracer", lambda *args, **kwargs: provider.get_tracer())
    monkeypatch.setattr(server, "_tracing", None)
    return recorded


def test_a_traced_call_runs_inside_a_server_span_that_is_the_traceparents_child(spans):
    from opentelemetry.trace import SpanKind
    current = execute("current_span", TRACEPARENT).value.json
    assert len(spans) == 1, spans
    span = spans[0]
    assert span.name == "snakepit.tool current_span"
    assert span.kind == SpanKind.SERVER
    assert "%032x" % span.parent.trace_id == TRACE_ID
    assert "%016x" % span.parent.span_id == PARENT_ID
    assert span.parent.is_remote
    assert span.attributes["snakepit.tool"] == "current_span"
    assert span.attributes["snakepit.outcome"] == "ok"
    assert span.ended
    # The tool ran with the worker's span current: its own spans would be children of it.
    assert current == '{"trace": "%s", "span": "%016x"}' % (TRACE_ID, span.context.span_id)


def test_a_failing_tool_ends_its_span_as_an_error(spans):
    from opentelemetry.trace import StatusCode
    assert execute("fail", TRACEPARENT).error.type == "ValueError"
    assert spans[0].attributes["snakepit.outcome"] == "error"
    assert spans[0].attributes["snakepit.error_type"] == "ValueError"
    assert spans[0].status.status_code == StatusCode.ERROR
    assert spans[0].ended


def test_a_streaming_call_has_its_span_too_and_an_untraced_call_none(spans):
    assert len(stream("items", TRACEPARENT)) == 2
    assert [s.name for s in spans] == ["snakepit.tool items"]
    assert "%032x" % spans[0].parent.trace_id == TRACE_ID
    assert spans[0].ended and spans[0].attributes["snakepit.outcome"] == "ok"
    execute("traceparent")
    assert len(spans) == 1, "no span for a call without a traceparent"
