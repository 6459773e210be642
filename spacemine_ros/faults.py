"""A sample's faults struck on a shift, and the rig's invariants watched over it.

Campaigns (spacemine_ros.campaign) draw each sample's faults (core.campaign.draw_faults)
and run its shift with a FaultSchedule and an Invariants watch as the shift's on_step:

    with Shift(...) as shift:
        faults = FaultSchedule(shift, draw_faults(campaign, index))
        watch = Invariants(shift, faults)
        figures = shift.run(on_step=lambda s: (faults(s), watch(s)))
        violations = watch.finish(figures)

The shift is a headless one, or the node graph's as graph_faults.GraphShift shows it
(a sample replayed on the graph: spacemine-shift --replay).

The invariants (each violation recorded with the sim instant and what was seen):

- the ledger balances exactly (|balance| <= BALANCE_EXACT kg) at the end;
- the drills' combined thrust stays within the anchors' tool budget (the anchoring
  controller's, at that instant), within THRUST_MARGIN, and no drill pushes unanchored;
- no anchor is pulled out, unless the sample slipped that anchor (its own fault);
- an e-stop leaves every actuator safe (no drive draws power, no joint moves) within
  ESTOP_SAFE_WITHIN sim s;
- the plan completes, or fails by its policy with a stated reason (not a limit reached,
  not an engine error).

No rclpy.
"""

import math

from spacemine_ros.headless import ShiftError
from spacemine_ros.sim.world import STILL

BALANCE_EXACT = 1e-9  # kg: the ledger's books are exact (sums of the same floats)
THRUST_MARGIN = 0.05  # share of the budget a regulated thrust may overshoot it by
THRUST_FLOOR = 1.0  # N: thrust below this is no push (a drive's holding force)
# s: how long thrust may stay above a budget that fell (an anchor lost, a share cut)
# before the drill has backed off: its controller sees the new budget at its next period
# and its feed drive unloads within a few more.
THRUST_REACTION = 0.5
ESTOP_SAFE_WITHIN = 0.5  # s of sim time: every actuator safe after an e-stop
# An operator whose reset is refused (a cause persists: a node still silent) tries again
# every RESET_RETRY s for RESET_PATIENCE s, then leaves the rig e-stopped.
RESET_RETRY = 1.0
RESET_PATIENCE = 600.0


class FaultSchedule:
    """Strike a sample's faults ([{kind, at, ...}] by instant) on a headless shift.

    Call it after each instant (the shift's on_step): what is due strikes then, and
    what ends (an e-stop's release, a node's restart) ends at its instant. `struck`
    lists what happened, with the sim instant and the outcome.
    """

    def __init__(self, shift, faults):
        self.shift = shift
        self.events = []  # (instant, order, what, fault)
        for order, fault in enumerate(faults):
            self.events.append((fault['at'], order, 'strike', fault))
            if 'duration' in fault and fault['kind'] in ('estop', 'node_restart'):
                self.events.append((fault['at'] + fault['duration'], order, 'end', fault))
        self.events.sort(key=lambda event: event[:2])
        for event in self.events:
            shift.stop_at(event[0])
        self.struck = []  # {at, kind, what, outcome}
        self.on_estop = None  # called with the instant of each e-stop (the invariants')

    def slipped(self):
        """Return the anchors this sample slipped."""
        return {e[3]['anchor'] for e in self.events
                if e[3]['kind'] == 'anchor_slip' and e[2] == 'strike'}

    def __call__(self, shift):
        """Strike what is due at the shift's instant; halt a shift nothing can change."""
        now = shift.world.time
        while self.events and shift.on_grid(self.events[0][0]) <= now + 1e-9:
            _, order, what, fault = self.events.pop(0)
            try:
                outcome = self._do(shift, what, fault)
            except (ShiftError, KeyError) as error:
                outcome = f'not struck: {error}'
            if outcome is None:  # a refused reset, to be tried again
                if now - fault['at'] - fault['duration'] < RESET_PATIENCE:
                    self.events.append((now + RESET_RETRY, order, what, fault))
                    self.events.sort(key=lambda event: event[:2])
                    shift.stop_at(now + RESET_RETRY)
                    continue
                outcome = f'the operator gave up resetting after {RESET_PATIENCE:g} s'
            self.struck.append({'at': round(now, 3), 'kind': fault['kind'], 'what': what,
                                'outcome': outcome})
        if not self.events and shift.mission.state == 'estopped' and \
                'operator' in shift.mission.causes:
            # The operator who latched it has gone: no one will reset it.
            shift.halt('the e-stop stays latched: the operator left without resetting it')

    def _do(self, shift, what, fault):
        kind = fault['kind']
        if kind == 'estop':
            if what == 'strike':
                accepted, reason = shift.operator_command('estop')
                if self.on_estop is not None:
                    self.on_estop(shift.world.time)
                return reason
            accepted, reason = shift.operator_command('reset')
            if not accepted:
                return None
            accepted, more = shift.operator_command('resume')
            return f'{reason}; resume: {more}' if accepted else f'{reason}; resume refused: {more}'
        if kind == 'brownout':
            shift.cut_power(fault['duration'])
            return f'power cut for {fault["duration"]:.3g} s'
        if kind == 'anchor_slip':
            shift.slip_anchor(fault['anchor'], fault['fraction'])
            return f'anchor {fault["anchor"]} keeps {fault["fraction"]:.0%} of its capacity'
        if kind == 'sensor_silent':
            shift.silence(fault['node'], fault['duration'])
            return f'{fault["node"]} blind for {fault["duration"]:.3g} s'
        if kind == 'device_silent':
            shift.device_silent(fault['node'], fault['duration'])
            return f'{fault["node"]}\'s devices silent for {fault["duration"]:.3g} s'
        if kind == 'node_restart':
            if what == 'strike':
                shift.kill(fault['node'])
                return f'{fault["node"]} killed'
            shift.restart(fault['node'])
            return f'{fault["node"]} restarted'
        raise ShiftError(f'unknown fault {kind!r}')


class Invariants:
    """Watch a headless shift for what must hold whatever its inputs and faults."""

    def __init__(self, shift, faults=None):
        self.shift = shift
        self.excused = faults.slipped() if faults is not None else set()
        if faults is not None:
            faults.on_estop = self.estop_at
        self.violations = []  # {invariant, at, detail}
        self.feeds = [spec.joint('feed').name for spec in shift.rig.by_kind('drill')]
        self.estops = []  # [latched at, safe at or None]
        self.peak_thrust_share = 0.0
        self.over_budget = None  # [since, peak share, thrust, budget] while above it
        self.pull_outs_seen = 0

    def estop_at(self, instant):
        """Note an e-stop latched at instant: check that all is safe within the bound."""
        self.estops.append([instant, None])
        period = self.shift.control_period
        for k in range(1, int(round(ESTOP_SAFE_WITHIN / period)) + 1):
            self.shift.stop_at(instant + k * period)
        self._check_estops(instant)

    def _violation(self, invariant, at, detail):
        self.violations.append({'invariant': invariant, 'at': round(at, 3), 'detail': detail})

    def __call__(self, shift):
        """Check what holds at every instant (thrust, pull-outs, e-stops)."""
        readings, now = shift.readings, shift.world.time
        if readings is not None:
            self._check_thrust(readings)
        self._check_pull_outs()
        self._check_estops(now)

    def _check_thrust(self, readings):
        efforts = dict(zip(readings.joint_names, readings.joint_efforts))
        thrust = sum(max(efforts.get(name, 0.0), 0.0) for name in self.feeds)
        anchoring = self.shift.anchoring
        budget = anchoring.controller.tool_budget if anchoring.anchored else 0.0
        if thrust <= THRUST_FLOOR:
            self.over_budget = None
            return
        share = thrust / budget if budget > 0.0 else math.inf
        self.peak_thrust_share = max(self.peak_thrust_share, share)
        if share <= 1.0 + THRUST_MARGIN:
            self.over_budget = None
            return
        over = self.over_budget
        if over is None:
            self.over_budget = over = [readings.time, share, thrust, budget, False]
        elif share > over[1]:
            over[1:4] = share, thrust, budget
        if not over[4] and readings.time - over[0] > THRUST_REACTION:
            over[4] = True  # one violation per episode
            self._violation('thrust within the anchors budget', over[0],
                            f'{over[2]:.1f} N of drill thrust against a budget of '
                            f'{over[3]:.1f} N' + ('' if over[3] else ' (not anchored)')
                            + f' for more than {THRUST_REACTION:g} s')

    def _check_pull_outs(self):
        pulled = self.shift.world.anchor_plugin.pulled_out
        for at, index, load, capacity in pulled[self.pull_outs_seen:]:
            if index not in self.excused:
                self._violation('no anchor pulled out', at,
                                f'anchor {index} pulled out at {load:.1f} N, its capacity '
                                f'{capacity:.1f} N')
        self.pull_outs_seen = len(pulled)

    def _check_estops(self, now):
        world = self.shift.world
        for estop in self.estops:
            latched, safe = estop
            if safe is not None:
                continue
            if world.estop and not world.unsafe():
                estop[1] = now
            elif now >= latched + ESTOP_SAFE_WITHIN - 1e-9:
                estop[1] = math.inf
                self._violation('e-stop to safe within 0.5 s', now,
                                f'latched at {latched:.2f} s; at {now:.2f} s still '
                                f'{world.unsafe() or "released"}')

    def finish(self, figures):
        """Check what is judged at the end; return every violation (a list of dicts)."""
        balance = figures.get('ledger_balance_kg', 0.0)
        if not (isinstance(balance, (int, float)) and abs(balance) <= BALANCE_EXACT):
            self._violation('ledger balance exact', self.shift.world.time,
                            f'balance {balance!r} kg')
        result, reason = figures.get('result'), figures.get('reason', '')
        mission = self.shift.mission
        if result != 'completed' and not (mission.state == 'aborted' and mission.reason):
            self._violation('the plan ends by its policy', self.shift.world.time,
                            f'{result}: {reason or "no reason given"}')
        return list(self.violations)

    def figures(self):
        """Return what the watch measured: e-stop latencies, peak thrust share, pull-outs."""
        latencies = [safe - latched for latched, safe in self.estops if safe is not None]
        return {'estop_latency_s': max(latencies) if latencies else float('nan'),
                'peak_thrust_share_of_budget': self.peak_thrust_share,
                'anchors_pulled_out': len(self.shift.world.anchor_plugin.pulled_out)}


__all__ = ['ESTOP_SAFE_WITHIN', 'FaultSchedule', 'Invariants', 'STILL']
