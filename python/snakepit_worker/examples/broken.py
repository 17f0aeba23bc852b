"""A module whose import fails: the worker exits 3 without reporting ready.

Never import this module outside that test.
"""

import module_that_does_not_exist  # noqa: F401 - the failure is the point

from snakepit_worker import Adapter


class BrokenAdapter(Adapter):
    """Never reached: the import above fails first."""
