"""The supervisor's power sharing: grants by priority, what each consumer obeys.

allocate() shares what is available among the consumers in priority order, each
getting at most its demand, so the sum never exceeds the supply. No rclpy.
"""

import math

from spacemine_ros.core.control import states as S
from spacemine_ros.core.models.power import CONSUMERS


def allocate(available, demands, priorities=CONSUMERS, base_load=0.0):
    """Return {consumer: W} sharing `available` by priority; never more than it in sum.

    The base load is served first; then each consumer in priority order gets the smaller
    of its demand and what is left. Consumers without a demand get 0.
    """
    left = max(0.0, available - base_load) if math.isfinite(available) else 0.0
    grants = {}
    for name in priorities:
        demand = demands.get(name, 0.0)
        demand = demand if math.isfinite(demand) and demand > 0.0 else 0.0
        grants[name] = min(demand, left)
        left -= grants[name]
    return grants


# Where each consumer's grant goes: (subsystem kind, the parameter of its controller that
# it obeys). A rig with two drills or scrapers splits their consumer's grant evenly.
OBEYING = {'drill': ('drill', 'power_budget'), 'scraper': ('scraper', 'power_budget'),
           'conveyors': ('material_line', 'conveyor_power_budget'),
           'separator': ('material_line', 'separator_power_budget'),
           'furnace': ('furnace', 'power_budget')}
SHARE_STEP = 0.05  # a rise of a share worth sending, relative to the share sent


class PowerShares:
    """The supervisor's power sharing on one rig: demands, grants, and what to send.

    demands() sums each consumer's demand over its units on the rig; shares(available)
    allocates by priority and returns {controller: {parameter: W}} of the shares that
    changed enough to be worth sending (sent() records what was, table() all of it).
    """

    def __init__(self, config, rig):
        self.config = config
        self.units = {consumer: [s.controller for s in rig.by_kind(kind)]
                      for consumer, (kind, _) in OBEYING.items()}
        self.last = {}  # (controller, parameter) -> W sent
        self.grants = {}

    def demands(self, active=None):
        """Return {consumer: W} the rig's units of each consumer ask for at most.

        active: the consumers at work (None: all); the others ask for nothing, so what
        an idle drill would be granted goes to the furnace.
        """
        return {consumer: self.config.demand(consumer) * len(units)
                if active is None or consumer in active else 0.0
                for consumer, units in self.units.items()}

    def shares(self, available, active=None):
        """Return {controller: {parameter: W}} of shares to send now (changed ones)."""
        self.grants = allocate(available, self.demands(active), self.config.priorities,
                               self.config.base_load)
        changed = {}
        for consumer, units in self.units.items():
            if not units:
                continue
            share = self.grants[consumer] / len(units)
            parameter = OBEYING[consumer][1]
            for controller in units:
                last = self.last.get((controller, parameter))
                # A cut goes out at once (the supply must never be overdrawn); a rise
                # waits until it is worth a parameter set.
                if last is None or share < last - 1e-6 or \
                        share - last > SHARE_STEP * max(last, 1.0):
                    changed.setdefault(controller, {})[parameter] = share
        return changed

    def sent(self, controller, values):
        """Record the shares a controller was sent."""
        for parameter, share in values.items():
            self.last[(controller, parameter)] = share

    def forget(self, controller):
        """Forget what a controller was sent (a restarted node has its own defaults)."""
        self.last = {key: share for key, share in self.last.items() if key[0] != controller}

    def table(self):
        """Return every share sent so far as (controller, parameter, W), in a fixed order."""
        return sorted((controller, parameter, share)
                      for (controller, parameter), share in self.last.items())


# What each kind of step puts to work, and the controller states that draw power.
STEP_CONSUMERS = {'drill': ('drill',), 'scrape': ('scraper',),
                  'material_line': ('conveyors', 'separator'), 'smelt': ('furnace',)}
WORKING_STATES = {'drill': S.DRILL_WORKING, 'scraper': S.SCRAPER_WORKING,
                  'conveyors': S.LINE_RUNNING, 'separator': S.LINE_RUNNING,
                  'furnace': S.FURNACE_WORKING}


def active_consumers(rig, states, step_type=''):
    """Return the consumers at work: the current step's, and any unit in a working state.

    states: {controller: state}; rig: the rig interface (which controller is which).
    """
    active = set(STEP_CONSUMERS.get(step_type, ()))
    for consumer, (kind, _) in OBEYING.items():
        if any(states.get(s.controller) in WORKING_STATES[consumer] for s in rig.by_kind(kind)):
            active.add(consumer)
    return active
