"""--restore-state: the state a slot's last worker left, handed to the new adapter before any call."""

import pytest

from snakepit_worker import Adapter, watchdog
from snakepit_worker import __main__ as worker_main


class Counter(Adapter):
    def __init__(self):
        self.count = 0

    def restore(self, state):
        self.count = state["count"]


class Refusing(Counter):
    def restore(self, state):
        raise ValueError("cannot take a count of %d" % state["count"])


class NoRestore(Adapter):
    pass


@pytest.fixture
def exits(monkeypatch):
    """watchdog.exit_now raises instead of ending the test's process."""
    def exit_now(code):
        raise SystemExit(code)
    monkeypatch.setattr(watchdog, "exit_now", exit_now)


def state_file(tmp_path, text):
    path = tmp_path / "w-0-2.state.json"
    path.write_text(text)
    return str(path)


def test_the_adapter_restores_the_state_before_it_serves(tmp_path, exits):
    adapter = Counter()
    worker_main._restore(adapter, "tests:Counter", state_file(tmp_path, '{"count": 7}'))
    assert adapter.count == 7


@pytest.mark.parametrize("adapter, text, expected", [
    (Refusing(), '{"count": 3}', "failed to restore the state of the worker it replaces: ValueError: cannot take"),
    (NoRestore(), '{"count": 3}', "defines no restore(self, state): define restore"),
    (Counter(), '[3]', "the state is a JSON list, not an object"),
    (Counter(), '{"count": ', "cannot read the state to restore from"),
])
def test_a_state_that_cannot_be_restored_ends_the_start_with_exit_6_saying_why(
        tmp_path, exits, capsys, adapter, text, expected):
    with pytest.raises(SystemExit) as ended:
        worker_main._restore(adapter, "tests:Adapter", state_file(tmp_path, text))
    assert ended.value.code == worker_main.EXIT_RESTORE == 6
    assert expected in capsys.readouterr().err
