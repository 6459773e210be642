"""The anchoring sequence and the anchors' force budget.

The anchors' capacity models are core.models.anchors.
"""

from dataclasses import dataclass
import enum
import math

from spacemine_ros.core.validation import in_range, non_negative, positive


class AnchoringState(enum.Enum):
    """States of the anchoring sequence."""

    STOWED = 'STOWED'
    DEPLOYING = 'DEPLOYING'
    PROOF_TESTING = 'PROOF_TESTING'
    ANCHORED = 'ANCHORED'
    RELEASING = 'RELEASING'
    FAULT = 'FAULT'


@dataclass
class AnchoringParams:
    """Limits and settings of the anchoring sequence (SI units)."""

    embed_depth: float  # m commanded per anchor
    nominal_capacity: float  # N per anchor, from the capacity model
    safety_factor: float = 2.0  # on proven capacity
    proof_fraction: float = 0.8  # proof load as a fraction of nominal capacity
    preload: float = 5.0  # N tension kept on each anchor
    proof_ramp_time: float = 2.0  # s to ramp to the proof load
    proof_hold_time: float = 2.0  # s to hold it
    embed_tolerance: float = 0.001  # m
    deploy_timeout: float = 60.0  # s per anchor
    max_reseats: int = 2  # attempts per anchor after a failed proof test
    creep_tolerance: float = 0.002  # m of anchor creep allowed during the proof hold
    slip_tolerance: float = 0.01  # m of rig displacement while anchored
    tool_share: float = 0.8  # share of the safe capacity all tools together may load

    def validate(self):
        """Raise ValueError with a reason if a value is out of range."""
        positive('embed_depth', self.embed_depth, 'm')
        non_negative('nominal_capacity', self.nominal_capacity, 'N')
        in_range('safety_factor', self.safety_factor, 1.0, 10.0)
        in_range('proof_fraction', self.proof_fraction, 0.1, 1.0)
        non_negative('preload', self.preload, 'N')
        positive('proof_ramp_time', self.proof_ramp_time, 's')
        non_negative('proof_hold_time', self.proof_hold_time, 's')
        positive('embed_tolerance', self.embed_tolerance, 'm')
        positive('deploy_timeout', self.deploy_timeout, 's')
        in_range('max_reseats', self.max_reseats, 0, 100)
        positive('creep_tolerance', self.creep_tolerance, 'm')
        positive('slip_tolerance', self.slip_tolerance, 'm')
        in_range('tool_share', self.tool_share, 0.0, 1.0)
        if self.preload >= self.proof_fraction * self.nominal_capacity:
            raise ValueError(
                f'preload {self.preload:g} N must be below the proof load '
                f'{self.proof_fraction * self.nominal_capacity:g} N')
        return self


@dataclass
class AnchorCommand:
    """What one anchor drive is told to do."""

    embed_depth: float  # m target
    tension: float  # N axial tension to apply


class AnchoringController:
    """Deploys anchors one by one, preloads and proof-tests each, then watches them.

    Call deploy() / release() on operator request and update() once per control period
    with the measured anchor embed depths [m], their axial loads [N] and the rig base
    position [m]; it returns one AnchorCommand per anchor.
    """

    def __init__(self, anchor_count, params):
        if anchor_count < 1:
            raise ValueError('at least one anchor is required')
        self.params = params.validate()
        self.count = anchor_count
        self.state = AnchoringState.STOWED
        self.fault_reason = ''
        self.active = 0  # anchor being deployed or tested
        self.proven = [0.0] * anchor_count  # N held in proof test
        self.reseats = [0] * anchor_count
        self.targets = [0.0] * anchor_count
        self.tensions = [0.0] * anchor_count
        self.reference_position = None
        self.phase_start = None
        self.hold_start_embed = 0.0
        self._reseating = False
        self._last_position = (0.0, 0.0, 0.0)
        self._last_embeds = None  # each anchor's embedment at the last update [m]
        self.recalled = None  # an earlier controller's record, for the first reading
        self.deploy_pending = False  # deploy asked for before the first reading
        self.time = None  # of the last update; None until the first one

    # Operator requests -------------------------------------------------------------------
    def deploy(self):
        """Start the deployment sequence; returns (accepted, reason)."""
        if self.state in (AnchoringState.DEPLOYING, AnchoringState.PROOF_TESTING) or \
                self.deploy_pending:
            return False, 'deployment already in progress'
        if self.state == AnchoringState.ANCHORED:
            return False, 'already anchored'
        if self.state == AnchoringState.RELEASING:
            return False, 'release in progress; wait until stowed'
        if self._last_embeds is None:
            # Where the anchors stand is not known yet (a restarted controller may find
            # them in and holding): a sequence started now would retract them.
            self.deploy_pending = True
            return True, 'deploying at the first anchor reading'
        self.fault_reason = ''
        self.reseats = [0] * self.count
        # An anchor already in (found so at a restart, or left by a fault) is held where
        # it is until its turn, never pulled out first; one still engaged whose proof
        # test this controller (or its record) saw pass keeps that proof.
        embeds = self._last_embeds or [0.0] * self.count
        self.proven = [proof if self._engaged(embed) else 0.0
                       for proof, embed in zip(self.proven, embeds)]
        self.targets = [embed if embed > self.params.embed_tolerance else 0.0
                        for embed in embeds]
        self.tensions = [self.params.preload if proof > 0.0 else 0.0 for proof in self.proven]
        first = self._next_unproven(0)
        if first is None:
            self.state = AnchoringState.ANCHORED
            self.reference_position = tuple(self._last_position)
            return True, 'every anchor is in with its proof test passed: anchored'
        self._start_anchor(first)
        return True, f'deploying {self.proven.count(0.0)} of {self.count} anchors'

    def release(self):
        """Release every anchor (also the way out of a fault); returns (accepted, reason)."""
        self.deploy_pending = False
        if self.state == AnchoringState.STOWED and self._last_embeds is not None:
            return False, 'already stowed'
        self.state = AnchoringState.RELEASING
        self.targets = [0.0] * self.count
        self.tensions = [0.0] * self.count
        self.proven = [0.0] * self.count
        self.phase_start = self.time  # None before the first update: set by it
        return True, 'releasing anchors'

    # Outputs -------------------------------------------------------------------------------
    @property
    def safe_capacity(self):
        """Load the rig may put on its anchors [N]: proven capacity over the safety factor."""
        if self.state != AnchoringState.ANCHORED:
            return 0.0
        margin = sum(max(proof - self.params.preload, 0.0) for proof in self.proven)
        return margin / self.params.safety_factor

    @property
    def tool_budget(self):
        """Force all tools together may put on the anchors [N] (tool_share x safe capacity)."""
        return self.params.tool_share * self.safe_capacity

    def commands(self):
        """Return the current command of every anchor."""
        return [AnchorCommand(t, f) for t, f in zip(self.targets, self.tensions)]

    # The sequence --------------------------------------------------------------------------
    def _start_anchor(self, index):
        self.state = AnchoringState.DEPLOYING
        self.active = index
        self._reseating = False
        self.targets[index] = self.params.embed_depth
        self.tensions[index] = self.params.preload
        self.phase_start = self.time

    def input_lost(self, reason):
        """Fault if a sequence is under way: its measurements stopped coming (reason).

        Returns whether it faulted; at rest (stowed or anchored) nothing moves, and a
        deploy waiting for the first reading is called off.
        """
        self.deploy_pending = False
        if self.state not in (AnchoringState.DEPLOYING, AnchoringState.PROOF_TESTING,
                              AnchoringState.RELEASING):
            return False
        self._fault(reason)
        return True

    def _fault(self, reason):
        self.state = AnchoringState.FAULT
        self.fault_reason = reason
        # Hold what is engaged, but drop test tension: a fault must not pull harder. An
        # anchor on its way in stops where it is (its drive would go on driving it in
        # as soon as an e-stop is released, uncommanded).
        self.tensions = [min(t, self.params.preload) for t in self.tensions]
        if self._last_embeds is not None:
            self.targets = [min(target, embed) for target, embed in
                            zip(self.targets, self._last_embeds)]

    def _engaged(self, embed):
        return embed >= self.params.embed_depth - self.params.embed_tolerance

    def update(self, time, embeds, loads, base_position):
        """Advance the sequence with measurements taken at time [s]; return the commands."""
        if len(embeds) != self.count or len(loads) != self.count:
            raise ValueError(f'expected {self.count} anchor readings, got {len(embeds)}')
        self.time = time
        if self.phase_start is None:
            # A request before the first measurement (e.g. on a wall clock, where stamps
            # are large) starts its phase at the first measurement, not at time zero.
            self.phase_start = time
        self._last_position = tuple(base_position)
        first = self._last_embeds is None
        self._last_embeds = list(embeds)
        if first and self.state == AnchoringState.STOWED:
            self._adopt(embeds)
        if first and self.deploy_pending:
            self.deploy_pending = False
            self.deploy()  # on what the reading found: those in are held and kept
        state = self.state
        params = self.params
        if state == AnchoringState.DEPLOYING:
            index = self.active
            if self._reseating:
                if embeds[index] <= params.embed_tolerance:
                    self._start_anchor(index)
            elif self._engaged(embeds[index]):
                self.state = AnchoringState.PROOF_TESTING
                self.phase_start = time
                self.hold_start_embed = None
            elif time - self.phase_start > params.deploy_timeout:
                self._fault(f'anchor_{index} did not engage within {params.deploy_timeout:g} s '
                            f'(embed {embeds[index] * 1000:.1f} mm)')
        elif state == AnchoringState.PROOF_TESTING:
            self._proof_test(time, embeds)
        elif state == AnchoringState.ANCHORED:
            pulled = [i for i, embed in enumerate(embeds) if not self._engaged(embeds[i])]
            if pulled:
                self._fault(f'anchor_{pulled[0]} pulled out (load before failure '
                            f'{loads[pulled[0]]:.1f} N)')
            else:
                displacement = math.dist(base_position, self.reference_position)
                if displacement > params.slip_tolerance:
                    self._fault(f'rig slipped {displacement * 1000:.1f} mm '
                                f'(tolerance {params.slip_tolerance * 1000:.1f} mm)')
            if self.state == AnchoringState.FAULT:
                self.proven = [0.0] * self.count  # the hold is in doubt: prove them all
        elif state == AnchoringState.RELEASING:
            if all(embed <= params.embed_tolerance for embed in embeds):
                self.state = AnchoringState.STOWED
                self.reference_position = None
        return self.commands()

    def _next_unproven(self, start):
        return next((i for i in range(start, self.count) if self.proven[i] <= 0.0), None)

    def record(self):
        """Return what a restarted controller needs to take these anchors up (JSON).

        It changes only when a proof passes or the state changes: cheap to store.
        """
        return {'state': self.state.value, 'proven': list(self.proven),
                'reference': list(self.reference_position or ())}

    def recall(self, record):
        """Take up what an earlier controller of these anchors recorded (record()).

        Used at the first reading (see _adopt); a record that does not fit (another
        number of anchors, not numbers) is ignored.
        """
        proven = record.get('proven') if isinstance(record, dict) else None
        reference = record.get('reference') if isinstance(record, dict) else None
        numbers = (isinstance(proven, list) and len(proven) == self.count
                   and isinstance(reference, list) and len(reference) in (0, 3)
                   and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                           and math.isfinite(v) and v >= 0.0 for v in proven)
                   and all(isinstance(v, (int, float)) and math.isfinite(v)
                           for v in reference))
        self.recalled = {'state': record.get('state'), 'proven': [float(v) for v in proven],
                         'reference': tuple(reference)} if numbers else None

    def _adopt(self, embeds):
        """Take the anchors as the first reading finds them (a restart, not a landing).

        Stowed: nothing to do. All in, recorded ANCHORED by the controller before this
        one, and the rig where it was then: anchored, on the recorded proofs. Otherwise,
        any anchor in: hold every anchor where it is (nothing is pulled out, no tension
        beyond the preload) in FAULT until told: deploy proof-tests those without a
        standing proof, in place; release stows them.
        """
        params, tolerance = self.params, self.params.embed_tolerance
        recalled, self.recalled = self.recalled, None
        if all(embed <= tolerance for embed in embeds):
            return
        engaged = [self._engaged(embed) for embed in embeds]
        if recalled is not None:
            self.proven = [proof if ok else 0.0 for proof, ok in zip(recalled['proven'],
                                                                     engaged)]
            reference = recalled['reference']
            if recalled['state'] == 'ANCHORED' and all(engaged) and all(self.proven) and \
                    reference and math.dist(reference, self._last_position) <= \
                    params.slip_tolerance:
                self.state, self.reference_position = AnchoringState.ANCHORED, reference
                self.targets = [params.embed_depth] * self.count
                self.tensions = [params.preload] * self.count
                return
        self.targets = [embed if embed > tolerance else 0.0 for embed in embeds]
        self.tensions = [params.preload if ok else 0.0 for ok in engaged]
        self.state = AnchoringState.FAULT
        self.fault_reason = ('anchors found deployed at start (embeds ' + ', '.join(
            f'{embed * 1000:.1f}' for embed in embeds) + ' mm): deploy proof-tests those '
            'without a standing proof in place, release stows them')

    def _proof_test(self, time, embeds):
        params = self.params
        index = self.active
        proof_load = params.proof_fraction * params.nominal_capacity
        if not self._engaged(embeds[index]):
            # Pulled out under the proof load: reseat, or give up.
            self.tensions[index] = 0.0
            if self.reseats[index] >= params.max_reseats:
                self._fault(f'anchor_{index} failed its proof test at {proof_load:.1f} N '
                            f'after {self.reseats[index]} reseats')
                return
            self.reseats[index] += 1
            self.state = AnchoringState.DEPLOYING
            self._reseating = True
            self.targets[index] = 0.0
            self.phase_start = time
            return
        elapsed = time - self.phase_start
        ramp = min(elapsed / params.proof_ramp_time, 1.0)
        self.tensions[index] = params.preload + ramp * (proof_load - params.preload)
        if ramp < 1.0:
            return
        if self.hold_start_embed is None:
            self.hold_start_embed = embeds[index]
        if abs(embeds[index] - self.hold_start_embed) > params.creep_tolerance:
            creep = abs(embeds[index] - self.hold_start_embed)
            self._fault(f'anchor_{index} crept {creep * 1000:.1f} mm under the proof load')
            return
        if elapsed >= params.proof_ramp_time + params.proof_hold_time:
            self.proven[index] = proof_load
            self.tensions[index] = params.preload
            following = self._next_unproven(index + 1)
            if following is not None:
                self._start_anchor(following)
            else:
                self.state = AnchoringState.ANCHORED
                self.reference_position = tuple(self._last_position)


def allocate(budget, requests):
    """Share the tools' force budget [N] by their requests {tool: N}; return {tool: N}.

    Max-min fair: a tool asking for less than an equal share gets what it asks for, and
    what it leaves is shared among the others. The allowances never add up to more than
    the budget, so tools that each keep within their own keep the anchors within it. A
    request that is not a finite number is taken as a request for everything.
    """
    budget = max(budget, 0.0) if math.isfinite(budget) else 0.0
    wanted = sorted(((r if math.isfinite(r) else math.inf), tool)
                    for tool, r in requests.items())
    allowances, left = {}, budget
    for position, (request, tool) in enumerate(wanted):
        allowances[tool] = min(max(request, 0.0), left / (len(wanted) - position))
        left -= allowances[tool]
    return allowances


class ForceBudget:
    """The anchors' force budget, shared among the tools that load the anchors.

    Each tool says what force it wants (request, N: 0 when idle) and what it puts on the
    anchors now (load, N); allowances() grants each its share of the budget, and
    overload() says how far the reported loads together exceed it.
    """

    def __init__(self, tools):
        self.requests = dict.fromkeys(tools, 0.0)
        self.loads = dict.fromkeys(tools, 0.0)

    def request(self, tool, force):
        """Record a tool's request [N]; KeyError for a tool that is not in the budget."""
        if tool not in self.requests:
            raise KeyError(f'{tool} is not a tool of this rig')
        self.requests[tool] = force

    def report_load(self, tool, force):
        """Record a tool's load on the anchors [N]; an unreadable load counts as infinite."""
        if tool not in self.loads:
            raise KeyError(f'{tool} is not a tool of this rig')
        self.loads[tool] = abs(force) if math.isfinite(force) else math.inf

    def allowances(self, budget):
        """Return {tool: allowance [N]} for the budget."""
        return allocate(budget, self.requests)

    @property
    def total_load(self):
        """Sum of the tools' reported loads [N]."""
        return sum(self.loads.values())

    def overload(self, budget):
        """How far the tools' loads together exceed the budget [N] (0 if they do not)."""
        return max(self.total_load - max(budget, 0.0), 0.0)
