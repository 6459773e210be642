"""Wall-clock limits for tests: a safety net against hangs, never a timing assertion.

A test waits for a condition and goes on as soon as it holds, so a generous limit costs
nothing on a quiet machine and keeps a busy one (CI beside other jobs) from failing a
good test. Every wait limit in the suite goes through wall(); SPACEMINE_TEST_WALL_SCALE
(default 3) multiplies them all.
"""

import os

SCALE = float(os.environ.get('SPACEMINE_TEST_WALL_SCALE', '3'))


def wall(seconds):
    """Return a wait limit of `seconds` on a quiet machine, scaled for a busy one."""
    return seconds * SCALE
