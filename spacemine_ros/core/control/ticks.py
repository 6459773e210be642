"""Assemble the inputs of one control period from messages that arrive separately.

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
