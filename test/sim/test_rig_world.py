"""The PyBullet rig world: micro-gravity physics of anchoring and drilling (no ROS)."""

import dataclasses
import math

import pybullet
import pytest

from spacemine_ros.core.control.anchoring import AnchoringState
from spacemine_ros.core.control.drill import DrillState
from spacemine_ros.core.models.drilling import StrataColumn, Stratum
from spacemine_ros.core.config import load_yaml
from spacemine_ros.core.rig_interface import interface_from
from spacemine_ros.sim.world import default_rig_file, RigWorld
from test.sim import commands
from test.sim.rig import anchor, anchoring, rig_on, tool_loads

PERIOD = 0.05  # s: the rig's control period


@pytest.fixture
def bennu(bodies):
    return bodies['bennu']


def world_for(body, anchor_types, **kwargs):
    return RigWorld(body, anchor_types['microspine'], **kwargs)


def test_drilling_unanchored_pushes_the_rig_off_the_surface(bennu, anchor_types):
    with world_for(bennu, anchor_types) as world:
        for _ in range(int(20.0 / PERIOD)):
            commands.anchors(world, [0.0] * 4, [0.0] * 4)
            commands.drill(world, 0.01, 100.0, 10.0)
            world.advance(PERIOD)
        position, _ = world.base_pose()
        assert position[2] - 0.6 > 0.1  # lifted by more than 10 cm
        assert world.displacement() > 0.1
        assert world.drill.hole_depth < 0.02  # contact was lost almost at once


def test_rig_at_rest_stays_put_in_micro_gravity(bennu, anchor_types):
    with world_for(bennu, anchor_types) as world:
        for _ in range(int(10.0 / PERIOD)):
            commands.drill(world, 0.0, 0.0, 0.0)
            world.advance(PERIOD)
        assert world.displacement() < 1e-4


def test_anchored_rig_stays_within_millimetres_while_the_bit_reaches_depth(bennu, anchor_types):
    with world_for(bennu, anchor_types) as world:
        rig = anchor(rig_on(world, drill={'goal_depth': 0.15}))
        start = world.displacement()
        drill = rig.unit('drill').controller
        assert rig.goal('drill', 'drill_to_depth')[0]
        samples = []
        assert rig.run_until(lambda: drill.state in (DrillState.DONE, DrillState.FAULT),
                             300.0, on_step=tool_loads(samples))
        assert drill.state == DrillState.DONE
        assert world.drill.hole_depth >= 0.15
        assert world.max_displacement - start < 0.002
        assert anchoring(rig).state == AnchoringState.ANCHORED
        # Thrust never exceeded the safe capacity (or the drill's share of it).
        drilling = [(t, c) for t, _, c, _ in samples if t > 0]
        assert drilling and all(t <= 0.8 * c + 1e-6 for t, c in drilling)


def test_a_jam_in_the_rig_is_detected_backed_off_and_cleared(bennu, anchor_types):
    strata = StrataColumn([
        Stratum('boulder', 0.0, 0.05, 2.5e6, 0.6, 1800.0),
        Stratum('clast', 0.05, 0.08, 2.5e6, 0.6, 1800.0, wedge_torque=40.0),
        Stratum('boulder_core', 0.08, 2.0, 2.5e6, 0.6, 1800.0)])
    jammed = dataclasses.replace(bennu, strata=strata)
    with world_for(jammed, anchor_types) as world:
        rig = anchor(rig_on(world, drill={'goal_depth': 0.1}))
        drill = rig.unit('drill').controller
        assert rig.goal('drill', 'drill_to_depth')[0]
        rig.run_until(lambda: drill.state in (DrillState.DONE, DrillState.FAULT), 300.0)
        assert drill.state == DrillState.DONE
        assert drill.retries >= 1
        assert anchoring(rig).state == AnchoringState.ANCHORED


def rig_with(change):
    """Return the default rig file with change(data) applied."""
    data = load_yaml(default_rig_file())
    change(data)
    return interface_from(data, 'test rig')


def test_overload_pulls_an_anchor_out_and_the_sim_reports_it(bennu, anchor_types):
    def strong_feed(data):  # a feed drive that can push 2000 N
        data['subsystems']['drill']['joints'][0]['command']['effort']['max'] = 2000.0
    with world_for(bennu, anchor_types, capacity_spread=0.0, rig=rig_with(strong_feed)) as world:
        rig = anchor(rig_on(world))
        # Push far beyond the four anchors' 640 N, bypassing the drill controller.
        for _ in range(int(5.0 / PERIOD)):
            commands.drill(world, 0.01, 2000.0, 0.0)
            world.advance(PERIOD)
        readings = world.readings()
        assert not all(readings.anchor_engaged)
        anchoring(rig).update(readings.time, readings.anchor_embeds, readings.anchor_loads,
                              readings.base_position)
        assert anchoring(rig).state == AnchoringState.FAULT


@pytest.mark.parametrize('height, anchored', [(0.05, False), (0.003, True)])
def test_anchors_bite_only_the_ground_within_their_reach(bennu, anchor_types, height,
                                                         anchored):
    # A rig hovering 5 cm up (one that bounced; in micro-gravity it stays up longer than
    # a deploy takes) drives its 2 cm microspines into nothing; 3 mm up, they reach the
    # ground more than half their embed depth.
    with world_for(bennu, anchor_types) as world:
        position, orientation = world.base_pose()
        pybullet.resetBasePositionAndOrientation(
            world.rig, (position[0], position[1], position[2] + height), orientation,
            physicsClientId=world.client)
        rig = rig_on(world, anchoring={'deploy_timeout': 10.0})
        assert rig.goal('anchoring', 'deploy')[0]
        controller = anchoring(rig)
        rig.run_until(lambda: controller.state in (AnchoringState.FAULT,
                                                   AnchoringState.ANCHORED), 60.0)
        if anchored:
            assert controller.state == AnchoringState.ANCHORED
            assert all(world.readings().anchor_engaged)
        else:
            # Out in nothing, the proof load draws each try back out: never anchored.
            assert controller.state == AnchoringState.FAULT
            assert 'failed its proof test' in controller.fault_reason
            assert not any(world.readings().anchor_engaged)


def test_same_config_and_commands_give_the_same_result(bennu, anchor_types):
    results = []
    for _ in range(2):
        with world_for(bennu, anchor_types, seed=3) as world:
            rig = anchor(rig_on(world))
            assert rig.goal('drill', 'drill_to_depth')[0]
            rig.run_until(lambda: False, 10.0)
            results.append((world.base_pose(), world.drill.hole_depth,
                            [a.capacity_factor for a in world.anchors]))
    assert results[0] == results[1]


def test_bad_commands_are_refused_and_the_subsystem_holds(bennu, anchor_types):
    with world_for(bennu, anchor_types) as world:
        drill = world.plugins['drill']
        commands.drill(world, 0.01, 100.0, 10.0)
        assert drill.feed_speed == 0.01
        with pytest.raises(ValueError, match='drill_feed velocity must be a finite number'):
            commands.drill(world, float('nan'), 100.0, 10.0)
        assert drill.feed_speed == 0.0 and drill.spindle_speed == 0.0  # held, not half-set
        with pytest.raises(ValueError, match='anchor_0_joint target 0.3 m is beyond'):
            commands.anchors(world, [1.0] * 4, [0.0] * 4)  # the URDF stroke, then the design
        commands.drill(world, 1.0, 1e9, 1e9)  # clamped to the drives' limits (the rig file)
        assert drill.thrust_limit == drill.thrust_max == 500.0
        assert drill.feed_speed == 0.05 and drill.spindle_speed == 30.0


def test_command_timeout_and_estop_stop_the_drill(bennu, anchor_types):
    with world_for(bennu, anchor_types, command_timeout=0.2) as world:
        commands.drill(world, 0.02, 50.0, 5.0)
        world.advance(1.0)  # no fresh command for 1 s
        load = world.plugins['drill'].load
        assert load.spindle_speed == 0.0 and load.feed_advance == 0.0
        commands.drill(world, 0.02, 50.0, 5.0)
        world.set_estop(True)
        world.advance(PERIOD)
        assert world.plugins['drill'].load.spindle_speed == 0.0


def test_a_brownout_stops_every_drive_until_power_is_back(bennu, anchor_types):
    with world_for(bennu, anchor_types) as world:
        commands.drill(world, 0.02, 50.0, 5.0)
        world.advance(PERIOD)
        assert world.electrical_power() > 0.0
        world.set_brownout(True)
        for _ in range(5):
            commands.drill(world, 0.02, 50.0, 5.0)  # commanded, but not powered
            world.advance(PERIOD)
        assert world.plugins['drill'].load.spindle_speed == 0.0
        assert world.electrical_power() == 0.0
        world.set_brownout(False)
        commands.drill(world, 0.02, 50.0, 5.0)
        world.advance(PERIOD)
        assert world.electrical_power() > 0.0


def swing(rig, pose, seconds, commanded=True):
    """Step the anchored rig's world, physics step by physics step, for seconds.

    The arm is commanded to pose (if commanded) as the scraper controller commands it:
    joint speeds in proportion to what each has to go, the fastest at full speed. The
    anchors get their controller's commands. Returns the peak anchor load [N] and the
    blade's peak force [N].
    """
    world, arm = rig.world, rig.world.plugins['scraper']
    peak_load = peak_blade = 0.0
    farthest = max(abs(pose[role] - arm.arm[role]) for role in pose)
    speeds = {role: 0.5 * abs(pose[role] - arm.arm[role]) / farthest for role in pose}
    for _ in range(int(round(seconds / PERIOD))):
        if commanded:
            commands.scraper(world, pose, 0.0, speeds)
        anchors = anchoring(rig).commands()
        commands.anchors(world, [a.embed_depth for a in anchors], [a.tension for a in anchors])
        for _ in range(int(round(PERIOD / world.physics_dt))):
            world.advance(world.physics_dt)
            peak_load = max(peak_load, max(world.anchor_plugin.anchors,
                                           key=lambda a: a.load).load)
            peak_blade = max(peak_blade, max(abs(f) for f in arm.blade_force))
    return peak_load, peak_blade


def test_an_estop_brakes_the_swinging_arm_at_its_drives_acceleration_and_the_anchors_hold(
        bennu, anchor_types):
    """A stop is the start run backwards, not a dead stop.

    The drives brake the arm at the acceleration they start it with, so the base (and
    the anchors) feel no more than at the start, and the arm comes to rest along its
    path, v^2/2a further on (stopped dead, it kicked all four anchors out).
    """
    from spacemine_ros.sim.scraper import ARM_ACCELERATION
    with world_for(bennu, anchor_types) as world:
        rig = anchor(rig_on(world))
        arm = world.plugins['scraper']
        pose = {'slew': 0.8, 'shoulder': -0.5, 'elbow': 0.0, 'wrist': 0.0}  # up, aside
        start_load, start_blade = swing(rig, pose, 0.8)  # accelerating all the way
        fastest = max(abs(rate) for rate in arm.rates.values())
        assert fastest == pytest.approx(0.8 * ARM_ACCELERATION, rel=0.02)
        lead = max(arm.rates, key=lambda role: abs(arm.rates[role]))  # the most to go
        before = arm.arm[lead]
        world.set_estop(True)
        braking = fastest / ARM_ACCELERATION
        stop_load, stop_blade = swing(rig, pose, braking + 0.2, commanded=False)
        assert start_blade == stop_blade == 0.0  # nothing but the arm's own inertia
        assert not any(arm.rates.values())
        # The joint with the most to go ran on by its braking distance.
        assert abs(arm.arm[lead] - before) == pytest.approx(
            fastest ** 2 / (2.0 * ARM_ACCELERATION), rel=0.05)
        assert stop_load <= 1.1 * start_load
        anchors = world.anchor_plugin.anchors
        assert all(a.engaged and not a.pulled_out for a in anchors)
        assert stop_load < 0.5 * min(world.anchor_plugin.capacity(i)
                                     for i in range(len(anchors)))


def test_the_spindle_runs_up_and_down_on_a_ramp_and_an_estop_stops_it_within_the_bound(
        bennu, anchor_types):
    # It stopped dead within one physics step: the motor's whole peak torque on the mast.
    from spacemine_ros.sim.drill import SPINDLE_ACCELERATION
    with world_for(bennu, anchor_types) as world:
        drill = world.plugins['drill']
        speeds = []
        for _ in range(int(round(1.0 / PERIOD))):
            commands.drill(world, 0.0, 0.0, 20.0)
            for _ in range(int(round(PERIOD / world.physics_dt))):
                world.advance(world.physics_dt)
                speeds.append(drill.load.spindle_speed)
        step = SPINDLE_ACCELERATION * world.physics_dt
        assert speeds[0] == pytest.approx(step)  # not 20 rad/s at once
        assert speeds[-1] == pytest.approx(20.0)
        world.set_estop(True)
        stopping = []
        while drill.load.spindle_speed > 0.0 and len(stopping) < 1000:
            world.advance(world.physics_dt)
            stopping.append(drill.load.spindle_speed)
        changes = [a - b for a, b in zip([20.0] + stopping, stopping)]
        assert max(changes) == pytest.approx(step) and min(changes) > 0.0  # a ramp down
        ramp = 20.0 / SPINDLE_ACCELERATION
        assert len(stopping) * world.physics_dt == pytest.approx(ramp, abs=world.physics_dt)
        assert len(stopping) * world.physics_dt < 0.5  # the e-stop's bound
        world.advance(PERIOD)
        assert not world.unsafe()


@pytest.mark.parametrize('moves, speeds', [
    # The joint with the most to go slowest, the nearer ones fast, and the other way.
    ({'slew': 0.8, 'shoulder': -0.05, 'elbow': 0.1, 'wrist': 0.0},
     {'slew': 0.05, 'shoulder': 0.5, 'elbow': 0.5, 'wrist': 0.5}),
    ({'slew': 0.05, 'shoulder': -0.4, 'elbow': 0.0, 'wrist': 0.0},
     {'slew': 0.5, 'shoulder': 0.1, 'elbow': 0.5, 'wrist': 0.5}),
], ids=['far_joint_slow', 'near_joint_fast'])
def test_no_arm_joint_runs_past_its_target_whatever_speeds_it_is_given(
        bennu, anchor_types, moves, speeds):
    # Speeds out of proportion to what each joint has to go: braked as one vector, the
    # nearer joints ran 50-70 mrad past their targets (the shoulder's 0.05 rad move
    # became 0.10 and came back). Now each stops on its own within 2 mrad (3 mm at reach).
    with world_for(bennu, anchor_types) as world:
        arm = world.plugins['scraper']
        start = dict(arm.arm)
        targets = {role: start[role] + move for role, move in moves.items()}
        past = dict.fromkeys(targets, 0.0)
        for _ in range(int(round(25.0 / PERIOD))):
            commands.scraper(world, targets, 0.0, speeds)
            for _ in range(int(round(PERIOD / world.physics_dt))):
                world.advance(world.physics_dt)
                for role, target in targets.items():
                    beyond = (arm.arm[role] - target) * math.copysign(1.0, moves[role])
                    past[role] = max(past[role], beyond if moves[role] else abs(beyond))
        assert arm.arm == pytest.approx(targets, abs=1e-9)  # there, and held
        assert max(past.values()) <= 2e-3, past


def test_an_estopped_scraper_arm_stops_and_a_hold_at_its_pose_draws_nothing(bennu,
                                                                            anchor_types):
    with world_for(bennu, anchor_types) as world:
        arm = world.plugins['scraper']
        for _ in range(10):
            commands.scraper(world, {'slew': 0.5, 'shoulder': 0.3, 'elbow': -0.3,
                                     'wrist': 0.0}, 0.0)
            world.advance(PERIOD)
        assert world.electrical_power() > 0.0  # on its way
        world.set_estop(True)  # its targets still stand, but nothing drives it
        world.advance(PERIOD)
        assert world.electrical_power() == 0.0 and not arm.driving()
        world.set_estop(False)
        # What a stopped controller sends: the measured pose, a motor's following error
        # away from the plan.
        for _ in range(20):
            readings = world.readings()
            measured = {role: readings.joint_positions[readings.joint_names.index(name)]
                        for role, name in arm.names.items()}
            commands.scraper(world, measured, 0.0)
            world.advance(PERIOD)
        assert world.electrical_power() == 0.0 and not arm.driving()
