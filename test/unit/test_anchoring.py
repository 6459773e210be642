"""Anchor capacity models (core.models.anchors) and the anchoring sequence (core.control)."""

import json
import math

from hypothesis import given, strategies as st
import pytest

from spacemine_ros.core.control.anchoring import (
    allocate, AnchoringController, AnchoringParams, AnchoringState, ForceBudget)
from spacemine_ros.core.models.anchors import anchor_capacity, AnchorType
from spacemine_ros.core.models.body import Regolith

DT = 0.05


def test_microspines_hold_on_rock_not_in_rubble(bodies, anchor_types):
    spine = anchor_types['microspine']
    bennu = bodies['bennu']
    assert anchor_capacity(spine, 'rock', bennu.regolith, 4e-5, spine.embed_depth) == 160.0
    assert anchor_capacity(spine, 'regolith', bennu.regolith, 4e-5, spine.embed_depth) == 0.0


def test_screws_hold_almost_nothing_in_cohesionless_microgravity_rubble(bodies, anchor_types):
    screw = anchor_types['screw']
    bennu = bodies['bennu']
    in_bennu = anchor_capacity(screw, 'regolith', bennu.regolith, 4e-5, screw.embed_depth)
    assert in_bennu < 0.01
    lunar_like = Regolith(1500.0, 500.0, math.radians(42))
    assert anchor_capacity(screw, 'regolith', lunar_like, 4e-5, screw.embed_depth) > 20.0
    assert anchor_capacity(screw, 'rock', lunar_like, 4e-5, screw.embed_depth) == 0.0


def test_screw_capacity_grows_with_gravity_depth_and_cohesion(anchor_types):
    screw = anchor_types['screw']
    soil = Regolith(1500.0, 100.0, math.radians(35))
    low = anchor_capacity(screw, 'regolith', soil, 1e-4, 0.25)
    assert anchor_capacity(screw, 'regolith', soil, 1.6, 0.25) > low
    assert anchor_capacity(screw, 'regolith', soil, 1e-4, 0.1) < low
    assert anchor_capacity(screw, 'regolith', Regolith(1500.0, 200.0, math.radians(35)),
                           1e-4, 0.25) > low


def test_anchor_types_reject_nonsense():
    with pytest.raises(ValueError, match='unknown model'):
        AnchorType('x', 'glue', 0.1, 0.01)
    with pytest.raises(ValueError, match='diameter'):
        AnchorType('x', 'screw', 0.1, 0.01)


class Rig:
    """Anchors that engage at the drive speed and pull out above their capacity."""

    def __init__(self, capacities, embed_depth=0.02, speed=0.005):
        self.capacities = list(capacities)
        self.embeds = [0.0] * len(capacities)
        self.armed = [True] * len(capacities)
        self.speed = speed
        self.embed_depth = embed_depth
        self.position = (0.0, 0.0, 0.6)
        self.external = [0.0] * len(capacities)

    def apply(self, commands):
        loads = []
        for i, command in enumerate(commands):
            if not self.armed[i]:
                if command.embed_depth == 0.0:
                    self.armed[i] = True
                loads.append(0.0)
                continue
            step = max(min(command.embed_depth - self.embeds[i], self.speed * DT),
                       -self.speed * DT)
            self.embeds[i] += step
            load = command.tension + self.external[i]
            if self.embeds[i] > 0.5 * self.embed_depth and load > self.capacities[i]:
                self.embeds[i], self.armed[i] = 0.0, False
            loads.append(load)
        return loads


def run(controller, rig, seconds, time=0.0):
    loads = [0.0] * controller.count
    for _ in range(int(seconds / DT)):
        commands = controller.update(time, list(rig.embeds), loads, rig.position)
        loads = rig.apply(commands)
        time += DT
    return time


def params(**overrides):
    return AnchoringParams(**{'embed_depth': 0.02, 'nominal_capacity': 160.0, **overrides})


def test_deploys_in_sequence_proof_tests_and_reports_safe_capacity():
    controller = AnchoringController(4, params())
    rig = Rig([160.0] * 4)
    assert controller.safe_capacity == 0.0
    assert controller.deploy()[0]
    seen_active = []
    time = 0.0
    while controller.state != AnchoringState.ANCHORED and time < 200:
        time = run(controller, rig, DT, time)
        if controller.state == AnchoringState.DEPLOYING and controller.active not in seen_active:
            seen_active.append(controller.active)
    assert controller.state == AnchoringState.ANCHORED
    assert seen_active == [0, 1, 2, 3]
    assert controller.proven == [128.0] * 4
    assert controller.safe_capacity == pytest.approx(4 * (128.0 - 5.0) / 2.0)


def test_a_request_before_the_first_reading_times_from_that_reading():
    # On a wall clock the stamps are ~1.8e9 s: a deploy requested before any reading must
    # not count its timeout from zero.
    controller = AnchoringController(4, params())
    rig = Rig([160.0] * 4)
    assert controller.deploy()[0]
    run(controller, rig, 120.0, time=1.8e9)
    assert controller.state == AnchoringState.ANCHORED, controller.fault_reason


def test_a_weak_anchor_is_reseated_and_then_faults():
    controller = AnchoringController(4, params(max_reseats=1))
    rig = Rig([160.0, 100.0, 160.0, 160.0])
    controller.deploy()
    run(controller, rig, 200.0)
    assert controller.state == AnchoringState.FAULT
    assert 'anchor_1 failed its proof test' in controller.fault_reason
    assert controller.safe_capacity == 0.0


def test_pull_out_and_slip_while_anchored_raise_faults():
    controller = AnchoringController(4, params())
    rig = Rig([160.0] * 4)
    controller.deploy()
    time = run(controller, rig, 100.0)
    assert controller.state == AnchoringState.ANCHORED
    rig.external[2] = 500.0
    run(controller, rig, 0.2, time)
    assert controller.state == AnchoringState.FAULT
    assert 'anchor_2 pulled out' in controller.fault_reason

    controller = AnchoringController(4, params())
    rig = Rig([160.0] * 4)
    controller.deploy()
    time = run(controller, rig, 100.0)
    rig.position = (0.0, 0.0, 0.62)
    run(controller, rig, DT, time)
    assert controller.state == AnchoringState.FAULT
    assert 'slipped 20.0 mm' in controller.fault_reason


def test_release_stows_and_requests_are_checked():
    controller = AnchoringController(4, params())
    rig = Rig([160.0] * 4)
    controller.update(0.0, list(rig.embeds), [0.0] * 4, rig.position)
    assert controller.release() == (False, 'already stowed')
    controller.deploy()
    assert controller.deploy()[0] is False
    time = run(controller, rig, 100.0)
    assert controller.deploy() == (False, 'already anchored')
    assert controller.release()[0]
    run(controller, rig, 20.0, time)
    assert controller.state == AnchoringState.STOWED
    assert rig.embeds == [0.0] * 4


def test_params_are_validated_with_reasons():
    with pytest.raises(ValueError, match='safety_factor'):
        params(safety_factor=0.5).validate()
    with pytest.raises(ValueError, match='preload'):
        params(preload=200.0).validate()
    with pytest.raises(ValueError, match='finite'):
        params(slip_tolerance=float('nan')).validate()


def test_the_force_budget_is_shared_max_min_fair_and_never_overgranted():
    # One tool alone may use the whole budget; two that want more than half get half each.
    assert allocate(240.0, {'drill': 400.0}) == {'drill': 240.0}
    assert allocate(240.0, {'drill_a': 400.0, 'drill_b': 400.0}) == {
        'drill_a': 120.0, 'drill_b': 120.0}
    # A modest request is met in full; the rest goes to the others.
    assert allocate(240.0, {'drill': 400.0, 'scraper': 50.0}) == {
        'drill': 190.0, 'scraper': 50.0}
    # Idle tools get nothing; an unreadable request asks for everything; no budget, no force.
    assert allocate(240.0, {'drill': 0.0, 'scraper': 200.0}) == {'drill': 0.0, 'scraper': 200.0}
    assert allocate(240.0, {'a': math.nan, 'b': 400.0}) == {'a': 120.0, 'b': 120.0}
    assert allocate(math.nan, {'a': 10.0}) == {'a': 0.0}
    assert allocate(-5.0, {'a': 10.0}) == {'a': 0.0}


@given(budget=st.floats(0.0, 1e5), requests=st.dictionaries(
    st.sampled_from(['a', 'b', 'c', 'd']), st.floats(-10.0, 1e5), min_size=1))
def test_allowances_add_up_to_at_most_the_budget_and_never_exceed_a_request(budget, requests):
    allowances = allocate(budget, requests)
    assert set(allowances) == set(requests)
    assert sum(allowances.values()) <= budget * (1 + 1e-12) + 1e-9
    for tool, allowance in allowances.items():
        assert 0.0 <= allowance <= max(requests[tool], 0.0) + 1e-9
    if sum(max(r, 0.0) for r in requests.values()) >= budget:
        assert sum(allowances.values()) == pytest.approx(budget)  # nothing left unused


def test_force_budget_reports_overload_and_names_unknown_tools():
    budget = ForceBudget(['drill', 'scraper'])
    budget.request('drill', 400.0)
    assert budget.allowances(160.0) == {'drill': 160.0, 'scraper': 0.0}
    budget.report_load('drill', 150.0)
    budget.report_load('scraper', -30.0)  # a reaction's sign does not matter to the anchors
    assert budget.total_load == 180.0 and budget.overload(160.0) == pytest.approx(20.0)
    budget.report_load('scraper', math.nan)
    assert budget.overload(160.0) == math.inf
    with pytest.raises(KeyError, match='grinder'):
        budget.request('grinder', 10.0)


def anchored_rig():
    """Return a rig anchored by a first controller, and that controller."""
    rig = Rig([160.0] * 4)
    first = AnchoringController(4, params())
    first.deploy()
    run(first, rig, 100.0)
    assert first.state == AnchoringState.ANCHORED
    return rig, first


def test_a_restarted_controller_holds_anchors_it_finds_deployed_and_reproves_them_in_place():
    rig, first = anchored_rig()
    restarted = AnchoringController(4, params())  # its process was killed and restarted
    commands = restarted.update(0.0, list(rig.embeds), [0.0] * 4, rig.position)
    assert restarted.state == AnchoringState.FAULT
    assert 'found deployed at start' in restarted.fault_reason
    assert restarted.safe_capacity == 0.0  # nothing proven by this controller yet
    # Held where they are, no test tension: nothing is pulled out or loaded.
    assert [c.embed_depth for c in commands] == pytest.approx(rig.embeds)
    assert all(c.tension <= restarted.params.preload for c in commands)
    deepest = list(rig.embeds)
    assert restarted.deploy()[0]
    time, lowest = 0.0, list(rig.embeds)
    loads = [0.0] * 4
    while restarted.state != AnchoringState.ANCHORED and time < 200.0:
        commands = restarted.update(time, list(rig.embeds), loads, rig.position)
        loads = rig.apply(commands)
        lowest = [min(a, b) for a, b in zip(lowest, rig.embeds)]
        time += DT
    assert restarted.state == AnchoringState.ANCHORED
    assert lowest == pytest.approx(deepest)  # no anchor was retracted on the way
    assert restarted.safe_capacity == pytest.approx(first.safe_capacity)


def test_a_deploy_asked_of_a_restarted_controller_before_its_first_reading_keeps_anchors_in():
    # A supervisor retrying its step may ask before the restarted node has read the rig:
    # the anchors it cannot see yet must not be commanded out.
    rig, first = anchored_rig()
    deepest = list(rig.embeds)
    restarted = AnchoringController(4, params())
    accepted, message = restarted.deploy()
    assert accepted and 'first anchor reading' in message
    assert restarted.state == AnchoringState.STOWED  # nothing commanded yet
    time, lowest, loads = 0.0, list(rig.embeds), [0.0] * 4
    while restarted.state != AnchoringState.ANCHORED and time < 200.0:
        commands = restarted.update(time, list(rig.embeds), loads, rig.position)
        assert [c.embed_depth for c in commands] == pytest.approx(deepest)
        loads = rig.apply(commands)
        lowest = [min(a, b) for a, b in zip(lowest, rig.embeds)]
        time += DT
    assert restarted.state == AnchoringState.ANCHORED
    assert lowest == pytest.approx(deepest)
    # Released before its first reading, a restarted controller stows what it finds.
    again = AnchoringController(4, params())
    assert again.release()[0]
    run(again, rig, 30.0)
    assert again.state == AnchoringState.STOWED and rig.embeds == [0.0] * 4


def test_a_restart_with_anchors_part_way_in_holds_them_until_told():
    rig = Rig([160.0] * 4)
    rig.embeds = [0.02, 0.011, 0.0, 0.0]  # killed while deploying the second anchor
    controller = AnchoringController(4, params())
    commands = controller.update(0.0, list(rig.embeds), [0.0] * 4, rig.position)
    assert controller.state == AnchoringState.FAULT
    assert [c.embed_depth for c in commands] == pytest.approx(rig.embeds)
    assert controller.release()[0]
    run(controller, rig, 30.0)
    assert controller.state == AnchoringState.STOWED and rig.embeds == [0.0] * 4


def test_a_stowed_rig_at_start_stays_stowed():
    controller = AnchoringController(4, params())
    controller.update(0.0, [0.0] * 4, [0.0] * 4, (0.0, 0.0, 0.6))
    assert controller.state == AnchoringState.STOWED and controller.fault_reason == ''


def test_a_restart_with_the_record_of_its_anchors_takes_them_up_anchored():
    rig = Rig([160.0] * 4)
    first = AnchoringController(4, params())
    first.deploy()
    run(first, rig, 100.0)
    record = json.loads(json.dumps(first.record()))  # as stored on disk
    restarted = AnchoringController(4, params())
    restarted.recall(record)
    restarted.update(0.0, list(rig.embeds), [0.0] * 4, rig.position)
    assert restarted.state == AnchoringState.ANCHORED
    assert restarted.safe_capacity == pytest.approx(first.safe_capacity)
    # The record does not stand if the rig has moved since, or for other anchors.
    moved = AnchoringController(4, params())
    moved.recall(record)
    moved.update(0.0, list(rig.embeds), [0.0] * 4, (0.0, 0.05, 0.6))
    assert moved.state == AnchoringState.FAULT
    other = AnchoringController(3, params())
    other.recall(record)
    assert other.recalled is None


def test_a_restart_mid_deploy_proves_only_the_anchors_without_a_standing_proof():
    rig = Rig([160.0] * 4)
    first = AnchoringController(4, params())
    first.deploy()
    time = 0.0
    while first.proven.count(0.0) > 2:  # two anchors proven, the third on its way in
        time = run(first, rig, DT, time)
    time = run(first, rig, 1.0, time)
    restarted = AnchoringController(4, params())
    restarted.recall(first.record())
    restarted.update(time, list(rig.embeds), [0.0] * 4, rig.position)
    assert restarted.state == AnchoringState.FAULT
    assert restarted.deploy()[1] == 'deploying 2 of 4 anchors'
    seen = set()
    loads = [0.0] * 4
    while restarted.state != AnchoringState.ANCHORED and time < 400.0:
        commands = restarted.update(time, list(rig.embeds), loads, rig.position)
        loads = rig.apply(commands)
        if restarted.state == AnchoringState.PROOF_TESTING:
            seen.add(restarted.active)
        time += DT
    assert restarted.state == AnchoringState.ANCHORED and seen == {2, 3}
    assert restarted.safe_capacity == pytest.approx(4 * (128.0 - 5.0) / 2.0)
