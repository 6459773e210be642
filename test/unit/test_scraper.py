"""Scraper arm kinematics, pass planning and the scraping controller (no physics)."""

import json
import math

import pytest

from spacemine_ros.core.control.scraper import (
    ArmGeometry, ROLES, ScrapeRequest, ScraperController, ScraperMeasurement, ScraperParams,
    ScraperState)

GEOMETRY = ArmGeometry()
PERIOD = 0.05
TOOL_SHARE = 0.8  # of the safe capacity, for all tools (AnchoringParams.tool_share)


@pytest.mark.parametrize('radius,z', [(1.2, -0.03), (0.6, -0.1), (0.9, 0.25), (1.25, 0.0)])
def test_inverse_kinematics_round_trips(radius, z):
    shoulder, elbow = GEOMETRY.inverse(radius, z)
    x, y, height = GEOMETRY.forward(0.0, shoulder, elbow)
    assert x - GEOMETRY.shoulder_x == pytest.approx(radius, abs=1e-9)
    assert y == pytest.approx(0.0, abs=1e-12) and height == pytest.approx(z, abs=1e-9)


@pytest.mark.parametrize('request_kwargs,reason', [
    (dict(cut_depth=-0.01), 'cut_depth must be > 0'),
    (dict(cut_depth=math.nan), 'finite'),
    (dict(reach=2.5), 'outside the reachable area'),
    (dict(reach=0.8, pass_length=0.5), 'closer than'),
    (dict(passes=9, pass_spacing=0.4), 'slew'),
    (dict(pass_length=0.0), 'pass_length must be > 0'),
])
def test_bad_requests_are_refused_with_a_reason(request_kwargs, reason):
    controller = ScraperController()
    accepted, message = controller.start(ScrapeRequest(**request_kwargs), True, 200.0)
    assert not accepted and reason in message
    assert controller.state == ScraperState.IDLE


def test_a_goal_s_zeros_are_the_request_s_own_and_its_area_sets_the_passes():
    request = ScrapeRequest(passes=2, pass_length=0.5, pass_spacing=0.4)
    assert request.for_goal(GEOMETRY) == request
    assert request.for_goal(GEOMETRY, passes=1, pass_length=0.3) == ScrapeRequest(
        passes=1, pass_length=0.3, pass_spacing=0.4)
    assert request.for_goal(GEOMETRY, area=0.5).passes == 3  # 0.2 m^2 a pass


@pytest.mark.parametrize('goal,reason', [
    (dict(passes=51), 'passes must be within 1..50'),
    (dict(pass_length=5.0), 'pass_length must be within'),
    (dict(area=-1.0), 'area must be within'),
    (dict(area=500.0), 'area must be within'),
    (dict(area=4.0), 'slew'),  # more passes than the slew range holds
])
def test_a_goal_the_arm_cannot_do_is_refused_with_a_reason(goal, reason):
    with pytest.raises(ValueError, match=reason):
        ScrapeRequest().for_goal(GEOMETRY, **goal)


def test_refuses_to_start_unanchored_or_without_capacity():
    assert ScraperController().start(ScrapeRequest(), False, 200.0)[0] is False
    assert 'capacity' in ScraperController().start(ScrapeRequest(), True, 0.0)[1]


def test_the_blade_force_limit_is_the_allowance_granted():
    controller = ScraperController()
    arm = IdealArm(blade_force=lambda tip: 500.0 if tip[2] < 0.0 else 0.0)
    assert controller.request_force == 0.0
    controller.start(ScrapeRequest(passes=1), True, 160.0)
    assert controller.request_force == controller.params.max_blade_force
    limits = run(controller, arm, capacity=75.0, seconds=20.0)
    assert max(limits) == pytest.approx(60.0)


class IdealArm:
    """Joints that follow the command at the commanded speed, like the sim's drives.

    blade_force(tip) is the soil's resistance; the drives stop the blade where it would
    exceed the commanded force limit, and a blocked tip (a rock) stops it at the limit.
    """

    def __init__(self, blade_force=lambda tip: 0.0, blocked=lambda tip: False):
        self.joints = dict.fromkeys(ROLES, 0.0)
        self.blade_force = blade_force
        self.blocked = blocked
        self.force = 0.0
        self.time = 0.0

    def apply(self, command):
        new = {}
        for name in ROLES:
            step = command.velocities.get(name, 0.5) * PERIOD
            delta = command.positions[name] - self.joints[name]
            new[name] = self.joints[name] + max(-step, min(step, delta))
        tip = ScraperController().tip(new)
        if self.blocked(tip) or self.blade_force(tip) > command.force_limit:
            self.force = command.force_limit
        else:
            self.joints, self.force = new, self.blade_force(tip)
        self.time += PERIOD


def run(controller, arm, other_load=0.0, capacity=250.0, seconds=300.0):
    # The anchoring controller's grant: the tools' share of the safe capacity, less what
    # it has granted the drill (other_load).
    allowance = max(TOOL_SHARE * capacity - other_load, 0.0)
    limits = []
    for _ in range(int(seconds / PERIOD)):
        measurement = ScraperMeasurement(arm.time, dict(arm.joints), arm.force)
        command = controller.update(measurement, True, allowance)
        limits.append(command.force_limit)
        if controller.state in (ScraperState.DONE, ScraperState.FAULT):
            break
        arm.apply(command)
    return limits


def test_a_job_cuts_each_pass_at_depth_and_dumps_after_each():
    controller = ScraperController()
    arm = IdealArm()
    deepest = []
    original_update = controller.update

    def spy(measurement, anchored, allowance):
        if controller.state == ScraperState.CUTTING:
            deepest.append((controller.pass_index, controller.tip(measurement.joints)[2]))
        return original_update(measurement, anchored, allowance)

    controller.update = spy
    request = ScrapeRequest(passes=2, cut_depth=0.04)
    assert controller.start(request, True, 250.0)[0]
    run(controller, arm)
    assert controller.state == ScraperState.DONE
    assert {index for index, _ in deepest} == {0, 1}
    assert min(z for _, z in deepest) == pytest.approx(-0.04, abs=0.002)


def test_blade_force_limit_is_what_the_drill_leaves_of_the_budget():
    # The allowance granted is the budget less the drill's share (run()).
    controller = ScraperController(ScraperParams(max_blade_force=500.0))
    controller.start(ScrapeRequest(), True, 250.0)
    limits = run(controller, IdealArm(), other_load=150.0, seconds=5.0)
    assert max(limits) == pytest.approx(0.8 * 250.0 - 150.0)


def test_force_near_the_limit_makes_the_cut_shallower():
    # Force grows with depth: 100 N per cm below ground; the limit is 0.8 * 250 = 200 N.
    controller = ScraperController()
    arm = IdealArm(blade_force=lambda tip: max(-tip[2], 0.0) * 1e4)
    controller.start(ScrapeRequest(cut_depth=0.05, passes=1), True, 250.0)
    run(controller, arm, seconds=120.0)
    assert controller.state == ScraperState.DONE
    assert controller.peak_force <= 200.0
    assert controller.jams == 0  # it kept cutting, shallower, rather than stalling


def test_a_jam_is_cleared_by_lifting_over_it():
    def rock(tip):  # 8 cm wide, standing 5 cm above the ground, across the pass
        return 0.97 < tip[1] < 1.05 and tip[2] < 0.05

    controller = ScraperController()
    controller.start(ScrapeRequest(passes=1), True, 250.0)
    run(controller, IdealArm(blocked=rock), seconds=200.0)
    assert controller.jams == 1
    assert controller.state == ScraperState.DONE


def test_repeated_jams_fault_the_scraper_and_hold_the_arm():
    controller = ScraperController(ScraperParams(max_jams=1))
    controller.start(ScrapeRequest(passes=1), True, 250.0)
    # A boulder 8 cm tall covering the rest of the pass: every plunge jams.
    arm = IdealArm(blocked=lambda tip: tip[2] < 0.08 and tip[1] < 1.19)
    run(controller, arm, seconds=200.0)
    assert controller.state == ScraperState.FAULT
    assert 'jammed' in controller.reason
    hold = controller.update(ScraperMeasurement(arm.time + 1, dict(arm.joints), 200.0), True,
                             TOOL_SHARE * 250.0)
    assert hold.force_limit == 0.0 and hold.positions == arm.joints


class Bucket:
    """A bucket that empties at `rate` kg/s while tipped (0: the intake is full)."""

    def __init__(self, mass, rate):
        self.mass, self.rate = mass, rate

    def step(self, controller):
        if controller.state == ScraperState.DUMPING and controller.command.positions.get(
                'wrist', 0.0) > 1.0:
            self.mass = max(0.0, self.mass - self.rate * PERIOD)


def run_with_bucket(controller, arm, bucket, seconds=600.0):
    for _ in range(int(seconds / PERIOD)):
        measurement = ScraperMeasurement(arm.time, dict(arm.joints), arm.force, bucket.mass)
        command = controller.update(measurement, True, TOOL_SHARE * 250.0)
        if controller.state in (ScraperState.DONE, ScraperState.FAULT):
            return
        bucket.step(controller)
        arm.apply(command)


def test_a_bucket_that_empties_slowly_is_waited_for_until_it_is_empty():
    # The intake is nearly full: the bucket pours only as fast as the line makes room,
    # far longer than dump_timeout; it keeps getting lighter, so the scraper waits.
    controller = ScraperController(ScraperParams(dump_timeout=5.0))
    controller.start(ScrapeRequest(passes=1), True, 250.0)
    bucket = Bucket(3.65, rate=0.012)
    run_with_bucket(controller, IdealArm(), bucket, seconds=900.0)
    assert controller.state == ScraperState.DONE
    assert bucket.mass <= controller.params.bucket_empty_mass


def test_a_bucket_that_stops_emptying_is_a_fault_never_a_finished_job():
    controller = ScraperController(ScraperParams(dump_timeout=5.0))
    controller.start(ScrapeRequest(passes=1), True, 250.0)
    bucket = Bucket(3.65, rate=0.0)
    run_with_bucket(controller, IdealArm(), bucket)
    assert controller.state == ScraperState.FAULT
    assert 'the bucket stopped emptying: 3.650 kg' in controller.reason


def test_without_power_for_its_drives_the_arm_holds_then_goes_on_where_it_stood():
    controller = ScraperController(ScraperParams(power_budget=80.0))
    arm = IdealArm()
    controller.start(ScrapeRequest(passes=1), True, 250.0)
    run(controller, arm, seconds=3.0)
    state, joints = controller.state, dict(arm.joints)
    controller.params.power_budget = 5.0  # night: less than the drives' 30 W
    run(controller, arm, seconds=60.0)  # far longer than any of its timeouts
    assert controller.power_wait and controller.state == state
    assert arm.joints == pytest.approx(joints)  # nothing moved
    controller.params.power_budget = 80.0
    run(controller, arm)
    assert controller.state == ScraperState.DONE and not controller.power_wait


def test_the_blade_works_within_the_power_share():
    # 200 N on the blade: 80 W less the drives' 30 W, at 70 %, allows 0.175 m/s of tip
    # speed; 40 W allows 0.035 m/s, below the 0.05 m/s cutting speed.
    arm = IdealArm(blade_force=lambda tip: 200.0 if tip[2] < 0.0 else 0.0)
    speeds = {}
    for budget in (80.0, 40.0):
        controller = ScraperController(ScraperParams(power_budget=budget,
                                                     max_blade_force=500.0))
        controller.start(ScrapeRequest(passes=1), True, 1000.0)
        tips = []
        for _ in range(int(60.0 / PERIOD)):
            measurement = ScraperMeasurement(arm.time, dict(arm.joints), arm.force)
            command = controller.update(measurement, True, 500.0)
            if controller.state == ScraperState.CUTTING:
                tips.append(controller.tip(measurement.joints))
            arm.apply(command)
        steps = [math.dist(a, b) / PERIOD for a, b in zip(tips, tips[1:])]
        speeds[budget] = sorted(steps)[len(steps) // 2]
        arm = IdealArm(blade_force=lambda tip: 200.0 if tip[2] < 0.0 else 0.0)
    assert speeds[40.0] == pytest.approx((40.0 - 30.0) * 0.7 / 200.0, rel=0.3)
    assert speeds[80.0] == pytest.approx(0.05, rel=0.3)  # the cutting speed, not power


def test_an_interrupted_job_started_again_goes_on_where_it_stood():
    controller = ScraperController()
    arm = IdealArm()
    request = ScrapeRequest(passes=2)
    controller.start(request, True, 250.0)
    while controller.pass_index == 0 or controller.state != ScraperState.CUTTING:
        run(controller, arm, seconds=PERIOD)
    run(controller, arm, seconds=1.0)
    reached = controller.tip(arm.joints)[1]
    record = json.loads(json.dumps(controller.record()))  # as a restart finds it
    assert record['pass_index'] == 1 and record['radius'] >= reached
    again = ScraperController()
    again.recall(record)
    accepted, message = again.start(request, True, 250.0)
    assert accepted and 'pass 2 of 2' in message
    assert again.target[1] == pytest.approx(record['radius'])  # not the pass start
    run(again, arm)
    assert again.state == ScraperState.DONE and again.progress is None
    # A new job starts afresh; a record that does not fit is ignored.
    fresh = ScraperController()
    fresh.recall(record)
    assert 'scraping 3 passes' in fresh.start(ScrapeRequest(passes=3), True, 250.0)[1]
    odd = ScraperController()
    odd.recall({'job': {'passes': 'many'}, 'pass_index': 0})
    assert odd.progress is None


def test_a_job_rewound_to_an_earlier_instant_goes_on_from_there():
    controller = ScraperController()
    arm = IdealArm()
    request = ScrapeRequest(passes=1)
    controller.start(request, True, 250.0)
    while controller.state != ScraperState.CUTTING:
        run(controller, arm, seconds=PERIOD)
    run(controller, arm, seconds=0.5)
    earlier = json.loads(json.dumps(controller.record()))
    run(controller, arm, seconds=2.0)
    assert controller.record()['radius'] < earlier['radius']
    controller.input_lost('rig_sim silent')
    controller.reset()
    assert 'pass 1 from' in controller.rewind(earlier)
    accepted, message = controller.start(request, True, 250.0)
    assert accepted and controller.target[1] == pytest.approx(earlier['radius'])
    run(controller, arm)
    assert controller.state == ScraperState.DONE
    # A finished job whose stow was undone stays finished; no job then is no job now.
    stowing = dict(earlier, stowing=True)
    assert controller.rewind(stowing) == 'no job under way then'
    assert controller.progress is None
    assert controller.rewind({}) == 'no job under way then'


def test_a_dump_taken_up_again_later_times_its_progress_from_then():
    # A job stopped while its bucket was emptying over the intake (an e-stop, a node
    # restarted) and started again long after: the arm is at the intake already, and the
    # bucket's progress is timed from the new start, not from before the stop.
    controller = ScraperController()
    arm = IdealArm()
    request = ScrapeRequest(passes=1)
    controller.start(request, True, 250.0)
    while controller.state != ScraperState.DUMPING:
        run(controller, arm, seconds=PERIOD)
    mass = 1.4

    def dump(seconds, emptying):
        nonlocal mass
        for _ in range(int(seconds / PERIOD)):
            command = controller.update(ScraperMeasurement(arm.time, dict(arm.joints), 0.0,
                                                           mass), True, 200.0)
            if controller.state in (ScraperState.DONE, ScraperState.FAULT):
                return
            arm.apply(command)
            tipped = abs(arm.joints['wrist'] - controller.params.dump_angle) < 0.01
            if emptying and tipped:
                mass = max(0.0, mass - 0.02 * PERIOD)  # a slow intake: 20 g/s
    dump(20.0, emptying=False)  # a full intake: 20 s tipped, not lighter yet
    assert controller.state == ScraperState.DUMPING and mass == 1.4
    controller.input_lost('rig_sim silent')  # stopped where it is, tipped at the intake
    controller.reset()
    arm.time += 120.0  # the rig is back two minutes later
    accepted, message = controller.start(request, True, 250.0)
    assert accepted and 'going on with the job' in message
    assert controller.state == ScraperState.DUMPING
    dump(5.0, emptying=False)  # not lighter yet: 5 s is not the 30 s it may take
    assert controller.state == ScraperState.DUMPING, controller.reason
    dump(300.0, emptying=True)
    assert controller.state != ScraperState.FAULT, controller.reason
    assert mass <= 0.01
