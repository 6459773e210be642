"""One rig's diagnostics, aggregated: what its nodes report on the global /diagnostics.

Every node of every rig publishes its status on /diagnostics, named by its fully qualified
name (/rig1/drill, /rig1/field_bus/drill_bus). RigDiagnostics keeps the last status of
each node of one rig namespace and gives the rig's view in diagnostic_aggregator's form:
a top item named for the rig with the worst level and what is wrong, then each status
under it (/rig1/drill). A node silent for longer than stale_after is STALE, as the
aggregator marks it. Plain data in, plain data out: (name, level, message, values).
"""

from dataclasses import dataclass, field

OK, WARN, ERROR, STALE = 0, 1, 2, 3  # diagnostic_msgs/DiagnosticStatus levels
LEVEL_NAMES = {OK: 'OK', WARN: 'WARN', ERROR: 'ERROR', STALE: 'STALE'}


@dataclass
class Status:
    """A status as it goes into the aggregated view."""

    name: str
    level: int
    message: str
    values: dict = field(default_factory=dict)


class RigDiagnostics:
    """The aggregated diagnostics of one rig (see the module's docstring).

    namespace: the rig's ('' or '/rig1'); nodes: the names of its nodes (a status counts
    when its first name under the namespace is one of them: in the root namespace that
    tells the rig's from another rig's).
    """

    def __init__(self, namespace, nodes, stale_after=5.0):
        self.namespace = namespace.rstrip('/')
        self.rig = self.namespace.lstrip('/') or 'rig'
        self.nodes = set(nodes)
        self.stale_after = stale_after
        self.latest = {}  # name under the namespace -> (Status, time it came [s])

    def take(self, name, level, message, values, now):
        """Keep a status from /diagnostics if it is this rig's; return whether it was."""
        prefix = self.namespace + '/'
        if not name.startswith(prefix):
            return False
        relative = name[len(prefix):]
        if relative.split('/', 1)[0] not in self.nodes:
            return False
        level = level if level in LEVEL_NAMES else ERROR  # an unknown level is a fault
        self.latest[relative] = (Status(f'/{self.rig}/{relative}', level, message,
                                        dict(values)), now)
        return True

    def view(self, now):
        """Return [the rig's Status, then each node's] now, a silent node's STALE."""
        items, wrong = [], []
        for relative, (status, when) in sorted(self.latest.items()):
            if now - when > self.stale_after:
                status = Status(status.name, STALE, f'no status for {now - when:.0f} s '
                                f'(last: {status.message})', status.values)
            items.append(status)
            if status.level != OK:
                wrong.append(f'{relative} {LEVEL_NAMES[status.level]}: {status.message}')
        silent = sorted(self.nodes - {relative.split('/', 1)[0] for relative in self.latest})
        worst = max([s.level for s in items] + [STALE] * bool(silent), default=STALE)
        wrong += [f'{node} STALE: never reported' for node in silent]
        message = '; '.join(wrong) if wrong else f'all {len(items)} OK'
        counts = {LEVEL_NAMES[level]: str(sum(s.level == level for s in items))
                  for level in LEVEL_NAMES}
        return [Status(f'/{self.rig}', worst, message, counts)] + items
