"""An adapter whose setup() raises: the worker exits 4 without reporting ready."""

from snakepit_worker.examples.basic import BasicAdapter


class SetupFailsAdapter(BasicAdapter):
    def setup(self):
        raise RuntimeError("setup failed on purpose (snakepit_worker.examples.setup_fails)")
