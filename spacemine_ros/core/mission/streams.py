"""Sensor streams as the supervisor's preflight judges them: rate and plausibility.

A StreamMonitor keeps the stamps of a stream's latest messages and what was wrong with
any of them. Its rate is measured on the stamps (the rig's clock: simulated time in the
simulation, the wall clock on hardware), so a simulation that runs faster or slower than
real time still shows its true rate. The plausibility checks are the physical ones a
reading must pass to be used: finite numbers, every expected joint, a unit quaternion.
No rclpy.
"""

from collections import deque
import math

QUATERNION_TOLERANCE = 1e-3  # |q| - 1 a pose may be off by


class StreamMonitor:
    """Stamps of a stream's last `window` messages and its latest problem."""

    def __init__(self, name, expected_rate, window=40):
        self.name = name
        self.expected_rate = expected_rate  # Hz
        self.stamps = deque(maxlen=window)
        self.problem = ''  # what was wrong with the latest implausible message
        self.problem_stamp = -math.inf

    def add(self, stamp, problem=''):
        """Note a message stamped `stamp` [s] and what was wrong with it ('' if nothing)."""
        if self.stamps and stamp <= self.stamps[-1]:
            self.stamps.clear()  # the clock went back (a restart): measure afresh
        self.stamps.append(stamp)
        if problem:
            self.problem, self.problem_stamp = problem, stamp

    def rate(self):
        """Return the measured rate [Hz] (nan with fewer than two messages)."""
        if len(self.stamps) < 2:
            return math.nan
        span = self.stamps[-1] - self.stamps[0]
        return (len(self.stamps) - 1) / span if span > 0 else math.inf

    def judge(self, least_fraction=0.5):
        """Return what is wrong with the stream now ('' if it is fine)."""
        problems = []
        rate = self.rate()
        if not rate >= least_fraction * self.expected_rate:
            measured = 'too few messages' if math.isnan(rate) else f'{rate:.1f} Hz'
            problems.append(f'{self.name} at {measured}, expected {self.expected_rate:g} Hz')
        if self.problem and self.stamps and self.problem_stamp >= self.stamps[0]:
            problems.append(f'{self.name} implausible: {self.problem}')
        return '; '.join(problems)


def joint_state_problem(names, positions, velocities, efforts, expected):
    """Return what is wrong with a JointState's arrays ('' if plausible).

    expected: the joint names the rig file says have state.
    """
    missing = [name for name in expected if name not in names]
    if missing:
        return f'no {", ".join(missing)}'
    sizes = {len(names), len(positions), len(velocities), len(efforts)}
    if len(sizes) != 1:
        return (f'arrays of different lengths (names {len(names)}, position '
                f'{len(positions)}, velocity {len(velocities)}, effort {len(efforts)})')
    bad = [name for name, *values in zip(names, positions, velocities, efforts)
           if not all(math.isfinite(v) for v in values)]
    return f'non-finite readings of {", ".join(bad)}' if bad else ''


def odometry_problem(position, orientation):
    """Return what is wrong with a pose (x, y, z) and quaternion (x, y, z, w) ('' if none)."""
    if not all(math.isfinite(v) for v in (*position, *orientation)):
        return 'non-finite pose'
    norm = math.sqrt(sum(v * v for v in orientation))
    if abs(norm - 1.0) > QUATERNION_TOLERANCE:
        return f'orientation quaternion of norm {norm:.4f}, not 1'
    return ''
