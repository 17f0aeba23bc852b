"""Adapters that take their time getting ready: for tests of the start deadline."""

import os
import time

from snakepit_worker.examples.basic import BasicAdapter


class NeverReadyAdapter(BasicAdapter):
    """setup() never returns, so the worker never reports ready."""

    def setup(self):
        while True:
            time.sleep(3600)


class SlowStartAdapter(BasicAdapter):
    """setup() sleeps SNAKEPIT_EXAMPLE_SETUP_SECONDS (default 2) before the worker is ready."""

    def setup(self):
        time.sleep(float(os.environ.get("SNAKEPIT_EXAMPLE_SETUP_SECONDS", "2")))
