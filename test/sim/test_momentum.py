"""Every drive is a motor: the rig's momentum changes only by the external forces (no ROS).

Joints moved by setting their positions each step create momentum from nothing (the old
kinematic drives: an unanchored rig rose about 15 % more than Newton allows). With the
drives as force-limited motors every push has its reaction on the rig.
"""

import numpy as np
import pybullet
import pytest

from spacemine_ros.sim.world import RigWorld
from test.sim import commands

PERIOD = 0.05


def free_floating(bodies, anchor_types, physics_dt=0.005):
    """Return a rig in zero gravity, far above the ground: no external force at all."""
    world = RigWorld(bodies['bennu'], anchor_types['microspine'], physics_dt=physics_dt)
    pybullet.setGravity(0.0, 0.0, 0.0, physicsClientId=world.client)
    pybullet.resetBasePositionAndOrientation(world.rig, [0.0, 0.0, 20.0], [0, 0, 0, 1],
                                             physicsClientId=world.client)
    return world


def move(world, step, parts):
    """Command the parts to swing back and forth (every 2 s)."""
    swing = 1.0 if (step // 40) % 2 == 0 else -1.0
    if 'drill' in parts:
        commands.drill(world, 0.03 * swing, 400.0, 20.0)
    if 'scraper' in parts:
        commands.scraper(world, {'slew': 0.5 * swing, 'shoulder': 0.4 + 0.3 * swing,
                                 'elbow': 0.8, 'wrist': 0.5 + 0.5 * swing}, 100.0,
                         {'slew': 0.6, 'shoulder': 0.6, 'elbow': 0.6, 'wrist': 1.0})
    if 'anchors' in parts:
        commands.anchors(world, [0.02 if swing > 0 else 0.0] * 4, [0.0] * 4)
    if 'material' in parts:
        commands.material(world, {'conveyor_screw': 5.0 * swing, 'separator_drum': 3.0})


def worst_momentum(world, parts, seconds=6.0):
    """Run the motion; return the largest |total momentum| over the parts' gross momentum."""
    worst = 0.0
    start = world.momentum()[1]
    for step in range(int(seconds / PERIOD)):
        move(world, step, parts)
        world.advance(PERIOD)
        _, _, momentum = world.momentum()
        moving = world.momentum(gross=True)[2]
        if moving > 1e-6:
            worst = max(worst, float(np.linalg.norm(momentum)) / moving)
    return worst, float(np.linalg.norm(world.momentum()[1] - start))


@pytest.mark.parametrize('parts', [('drill',), ('anchors',), ('material',)])
def test_a_drive_s_motion_leaves_a_free_floating_rig_s_momentum_at_zero(
        bodies, anchor_types, parts):
    with free_floating(bodies, anchor_types) as world:
        worst, drift = worst_momentum(world, parts)
        assert world.momentum(gross=True)[2] > 0.0 or worst == 0.0
        assert worst < 1e-4  # of what is moving: the solver's tolerance
        assert drift < 1e-4  # m: the centre of mass stays put


def test_the_swinging_arm_s_momentum_error_is_the_solver_s_and_shrinks_with_its_step(
        bodies, anchor_types):
    # A slewing, folding arm on a free base: the linear momentum the integrator makes up
    # is first order in the time step (PyBullet's semi-implicit Euler), a percent at the
    # rig's 5 ms, and halves with the step; a set position would make it from nothing.
    errors = []
    for physics_dt in (0.005, 0.0025):
        with free_floating(bodies, anchor_types, physics_dt) as world:
            worst, drift = worst_momentum(world, ('drill', 'scraper', 'anchors', 'material'))
            errors.append(worst)
            assert drift < 5e-3  # m
    assert errors[0] < 0.02
    assert errors[1] == pytest.approx(errors[0] / 2, rel=0.2)


def test_an_unanchored_rig_is_pushed_off_exactly_as_newton_says(bodies, anchor_types):
    # The drill pushes on the rock; once the feet leave the ground the only external
    # forces are the rock's thrust on the bit and gravity, so the centre of mass moves as
    # d(M v)/dt = F_rock + M g: its rise over a window matches that within 2 %.
    with RigWorld(bodies['bennu'], anchor_types['microspine']) as world:
        gravity = world.gravity[2]
        for _ in range(int(3.0 / PERIOD)):  # settle on the ground
            commands.anchors(world, [0.0] * 4, [0.0] * 4)
            world.advance(PERIOD)
        mass, _, _ = world.momentum()
        records = []
        for _ in range(int(20.0 / PERIOD)):
            commands.anchors(world, [0.0] * 4, [0.0] * 4)
            commands.drill(world, 0.01, 100.0, 10.0)
            thrust, on_ground = 0.0, False
            for _ in range(int(round(PERIOD / world.physics_dt))):
                world.advance(world.physics_dt)
                thrust += world.drills[0].load.thrust * world.physics_dt
                on_ground = on_ground or bool(pybullet.getContactPoints(
                    world.rig, world.ground, physicsClientId=world.client))
            _, centre, momentum = world.momentum()
            records.append((world.time, centre[2], momentum[2], thrust, on_ground))
        airborne = [r for r in records if not r[4]]
        assert len(airborne) > 20, 'the rig never left the ground'
        first = records.index(airborne[0])
        window = records[first:]
        assert all(not r[4] for r in window)  # it did not come back down
        # Momentum: every period's change is the impulse of thrust and weight.
        impulse = sum(r[3] for r in window[1:]) + mass * gravity * (window[-1][0] - window[0][0])
        assert window[-1][2] - window[0][2] == pytest.approx(impulse, rel=0.02, abs=1e-3)
        # Height: integrate the momentum Newton gives, period by period.
        predicted, velocity = window[0][1], window[0][2] / mass
        for (_, _, _, pushed, _) in window[1:]:
            change = (pushed + mass * gravity * PERIOD) / mass
            predicted += (velocity + 0.5 * change) * PERIOD
            velocity += change
        rise = window[-1][1] - window[0][1]
        assert rise > 0.05
        assert rise == pytest.approx(predicted - window[0][1], rel=0.02)
