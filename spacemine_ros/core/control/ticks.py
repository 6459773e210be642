"""The timing of a control period: its inputs assembled by stamp, and what it sends paced.

A controller's step for time t must see every input stamped t, whatever order the
messages arrive in; otherwise a run would depend on delivery timing.
"""


class TickAssembler:
    """Collects named inputs by stamp and hands out a complete tick once, in order."""

    def __init__(self, names, keep=8):
        self.names = frozenset(names)
        if not self.names:
            raise ValueError('at least one input name is required')
        self.keep = keep
        self.pending = {}  # stamp -> {name: value}
        self.last_stamp = None

    def add(self, name, stamp, value):
        """Record one input; return (stamp, {name: value}) when its tick is complete."""
        if name not in self.names:
            raise ValueError(f'unknown input {name!r}; expected one of {sorted(self.names)}')
        if self.last_stamp is not None and stamp <= self.last_stamp:
            return None  # late or repeated: that tick was already handled
        inputs = self.pending.setdefault(stamp, {})
        inputs[name] = value
        if len(inputs) < len(self.names):
            if len(self.pending) > self.keep:  # an input never came: drop the oldest
                del self.pending[min(self.pending)]
            return None
        for old in [s for s in self.pending if s <= stamp]:
            del self.pending[old]
        self.last_stamp = stamp
        return stamp, inputs


class Pacer:
    """Paces what is sent at most once per period of the node's clock: figures, a status.

    The clock is sim time in the simulation; a time before the last send (a world
    restored from its checkpoint) makes it due again.
    """

    def __init__(self, period):
        self.period = period
        self.sent_at = None

    def due(self, time):
        """Return whether a period has passed since the last send [s]."""
        return self.sent_at is None or not self.sent_at <= time < self.sent_at + self.period

    def take(self, time, force=False):
        """Return whether to send now (due, or forced); if so, count it as sent."""
        if not (force or self.due(time)):
            return False
        self.sent_at = time
        return True
