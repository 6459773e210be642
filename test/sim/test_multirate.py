"""The multi-rate world: the rigid body sleeps while nothing moves, wakes on any command."""

import pytest

from spacemine_ros.sim.checkpoint import restore_world_state, world_state
from spacemine_ros.sim.world import RigWorld
from test.sim import commands
from test.sim.rig import anchor, rig_on

PERIOD = 0.05


@pytest.fixture
def anchored(bodies, anchor_types):
    """Return an anchored rig on Bennu, its tools and line stopped."""
    world = RigWorld(bodies['bennu'], anchor_types['microspine'])
    anchor(rig_on(world))
    yield world
    world.close()


def hold_all(world, valid_for=10.0):
    """Tell every subsystem to stay as it is, for valid_for seconds."""
    anchors = [a.embed for a in world.anchors]
    commands.anchors(world, anchors, [0.0] * 4, valid_for=valid_for)
    commands.drill(world, 0.0, 0.0, 0.0, valid_for=valid_for)
    commands.material(world, {}, valid_for=valid_for)


def test_an_anchored_rig_with_nothing_to_do_sleeps_and_a_command_wakes_it_at_once(anchored):
    world = anchored
    hold_all(world)
    world.advance(2.0)
    assert not world.awake  # settled: nothing moves, the base is at rest
    steps, pose = world.physics_steps, world.base_pose()
    world.advance(5.0)
    assert world.physics_steps == steps  # asleep: the rigid body costs nothing ...
    assert world.base_pose() == pose  # ... and stands still
    commands.drill(world, 0.01, 100.0, 10.0, valid_for=10.0)
    assert world.awake  # a command that moves a drive wakes it before the next step
    world.advance(PERIOD)
    assert world.physics_steps == steps + round(PERIOD / world.physics_dt)


def test_a_command_that_moves_nothing_leaves_it_asleep(anchored):
    world = anchored
    hold_all(world)
    world.advance(2.0)
    assert not world.awake
    hold_all(world)  # the same hold again
    assert not world.awake


@pytest.mark.parametrize('fault', ['estop', 'brownout'])
def test_the_estop_and_a_brownout_wake_the_rigid_body(anchored, fault):
    world = anchored
    hold_all(world)
    world.advance(2.0)
    assert not world.awake
    (world.set_estop if fault == 'estop' else world.set_brownout)(True)
    assert world.awake


def test_a_command_that_runs_out_stops_the_drives_even_asleep(anchored):
    world = anchored
    hold_all(world)
    commands.material(world, {'conveyor_screw': 0.5, 'separator_drum': 1.0}, valid_for=1.0)
    world.advance(0.5)
    assert world.material.speeds['conveyor_screw'] == 0.5
    world.advance(1.0)  # past its validity: the line stops, whether the body sleeps or not
    assert world.material.speeds['conveyor_screw'] == 0.0


def test_the_process_models_go_on_while_the_rigid_body_sleeps(anchored):
    world = anchored
    hold_all(world, valid_for=100.0)
    world.material.excavate('scraper_cut', 0.2, 0.0)
    world.material.pass_on('scraper_dump', 0.2)  # on the conveyor
    world.advance(2.0)
    assert not world.awake
    steps = world.physics_steps
    # 2 rad/s: about 50 s along the screw (Bennu's micro-gravity slip conveying).
    commands.material(world, {'conveyor_screw': 2.0, 'separator_drum': 2.0}, valid_for=100.0)
    commands.furnace(world, 2000.0, False, False, valid_for=100.0)
    before = world.furnace.thermal.temperature
    world.advance(90.0)
    assert world.physics_steps == steps  # a turning screw and a heater move no rigid body
    hoppers = world.material.masses()
    assert hoppers['hopper_metal'] + hoppers['hopper_silicate'] > 0.1
    assert world.furnace.thermal.temperature > before + 10.0
    world.material.ledger.check()


def test_always_step_steps_the_rigid_body_throughout(bodies, anchor_types):
    with RigWorld(bodies['bennu'], anchor_types['microspine'], always_step=True) as world:
        hold_all(world)
        world.advance(3.0)
        assert world.physics_steps == world.steps


def test_a_sleeping_world_is_checkpointed_asleep_and_goes_on_as_before(
        anchored, bodies, anchor_types):
    world = anchored
    hold_all(world, valid_for=100.0)
    world.advance(2.0)
    assert not world.awake
    state = world_state(world)
    with RigWorld(bodies['bennu'], anchor_types['microspine']) as copy:
        restore_world_state(copy, state)
        assert not copy.awake and copy.time == world.time
        for each in (world, copy):
            commands.drill(each, 0.01, 100.0, 10.0, valid_for=10.0)
            each.advance(2.0)
        assert copy.drill.hole_depth == pytest.approx(world.drill.hole_depth, abs=1e-9)
        # The solver's warm start is not in a checkpoint: the same to a micrometre.
        assert copy.base_pose()[0] == pytest.approx(world.base_pose()[0], abs=1e-6)
