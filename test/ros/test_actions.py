"""Every tool's action across processes, as an operator's `ros2 action send_goal` uses them.

The simulated rig runs in spacemine-rig subprocesses (the drill in a process of its own,
so it can die mid-goal); the goals come from a node in this process. For each action:
a bad goal (NaN, out of range, the wrong state) is rejected with the reason on the
node's log (/rosout), a good one is accepted and followed by feedback and its result,
a cancel mid-way leaves the tool stopped, a second goal while one runs is rejected, and
a server that dies mid-goal is seen to be gone by its client.
"""

import math
import os
import signal

from action_msgs.msg import GoalStatus
import pytest
import rclpy
from rosgraph_msgs.msg import Clock
from spacemine_interfaces.action import (
    DeployAnchors, DrainLine, DrillToDepth, ReleaseAnchors, RunPlan, Scrape, SmeltBatch)
from spacemine_interfaces.msg import ControllerState

from spacemine_ros.command import plan_goal
from spacemine_ros.core.mission.operators import OperatorKey, SIM_KEY_FILE
from spacemine_ros.nodes.common import STATE_QOS
from test.goals import Goals
from test.launched import LaunchedRig
from test.timing import wall

NAMESPACE = f'/actions{os.getpid()}'
REST = 'rig_sim,anchoring,scraper,material_handling,smelter,supervisor'
CONTROLLERS = ('anchoring', 'drill', 'scraper', 'material_handling', 'smelter')


class Operator:
    """An operator node on the rig's namespace: goals, and the controllers' states."""

    def __init__(self):
        self.node = rclpy.create_node('action_operator', namespace=NAMESPACE)
        self.states = {}
        for name in CONTROLLERS:
            self.node.create_subscription(
                ControllerState, f'{name}/state',
                lambda m, n=name: self.states.__setitem__(n, m.label),
                STATE_QOS)
        self.goals = Goals(self.node, self.spin_until)
        self.sim_time = None
        self.node.create_subscription(Clock, 'clock', self._on_clock, 10)

    def _on_clock(self, message):
        self.sim_time = message.clock.sec + message.clock.nanosec * 1e-9

    def plan_goal(self, plan, key=None):
        """Return a function that makes a RunPlan goal signed now (default: sim operator)."""
        assert self.spin_until(lambda: self.sim_time is not None)
        return lambda: plan_goal(plan, self.sim_time, 60.0, key or self.key, NAMESPACE)

    def spin_until(self, done, limit=60.0):
        import time
        end = time.monotonic() + wall(limit)
        while not done() and time.monotonic() < end:
            rclpy.spin_once(self.node, timeout_sec=0.05)
        return done()

    def state_is(self, name, *states, limit=120.0):
        return self.spin_until(lambda: self.states.get(name) in states, limit)


@pytest.fixture(scope='module')
def rig(tmp_path_factory):
    """Start the rig in two launcher processes (the drill alone) and an operator node."""
    data_dir = str(tmp_path_factory.mktemp('actions'))
    common = ['--body', 'bennu', '--namespace', NAMESPACE, '--data-dir', data_dir]
    rest = LaunchedRig([*common, '--nodes', REST],
                       log=os.path.join(data_dir, 'rest.log'))
    drill = LaunchedRig([*common, '--nodes', 'drill'], log=os.path.join(data_dir, 'drill.log'))
    rclpy.init()
    operator = Operator()
    operator.processes = {'rest': rest, 'drill': drill}
    operator.key_path = os.path.join(data_dir, SIM_KEY_FILE)  # the supervisor makes it
    operator.data_dir = data_dir
    try:
        yield operator
    finally:
        operator.node.destroy_node()
        rclpy.try_shutdown()
        for launched in (drill, rest):
            if launched.process.poll() is None:
                launched.process.send_signal(signal.SIGINT)
        for launched in (drill, rest):
            try:
                launched.process.wait(timeout=60)
            except Exception:  # noqa: B902 - never leave a process behind
                launched.kill()


def ended(goals, handle, limit=300.0):
    return goals.result(handle, limit)


def test_the_anchors_deploy_with_feedback_a_cancel_stows_them_and_bad_goals_are_refused(rig):
    goals = rig.goals
    assert 'already stowed' in goals.rejection(ReleaseAnchors, 'anchoring/release')
    # A deploy canceled half-way releases what was set: the result says canceled.
    handle, feedback = goals.accepted(DeployAnchors, 'anchoring/deploy')
    assert rig.spin_until(lambda: any(f.state.value == ControllerState.PROOF_TESTING
                                      for f in feedback), 120.0)
    assert goals.cancel(handle).goals_canceling
    status, result = ended(goals, handle)
    assert status == GoalStatus.STATUS_CANCELED and not result.success, result.message
    assert rig.state_is('anchoring', 'STOWED')
    # Deployed to the end: feedback on the way, the capacity in the result.
    handle, feedback = goals.accepted(DeployAnchors, 'anchoring/deploy')
    assert 'a goal is under way' in goals.rejection(DeployAnchors, 'anchoring/deploy')
    status, result = ended(goals, handle)
    assert status == GoalStatus.STATUS_SUCCEEDED and result.success, result.message
    assert result.safe_capacity > 0.0
    assert feedback and all(f.anchors_total == 4 for f in feedback)
    assert max(f.anchors_set for f in feedback) >= 3


def test_a_drill_goal_is_checked_followed_canceled_and_finished(rig):
    goals = rig.goals
    name = 'drill/drill_to_depth'
    assert 'depth is NaN' in goals.rejection(DrillToDepth, name, depth=math.nan)
    assert 'beyond the feed stroke' in goals.rejection(DrillToDepth, name, depth=5.0)
    assert 'depth must be above 0 m' in goals.rejection(DrillToDepth, name, depth=-0.1)
    # Canceled while it cuts: the bit retracts and the goal ends canceled, the drill idle.
    handle, feedback = goals.accepted(DrillToDepth, name, depth=0.2)
    assert 'a goal is under way' in goals.rejection(DrillToDepth, name, depth=0.1)
    assert rig.spin_until(lambda: any(f.depth > 0.005 for f in feedback), 120.0)
    assert any(f.state.value == ControllerState.DRILLING and f.thrust > 0.0 for f in feedback)
    assert goals.cancel(handle).goals_canceling
    status, result = ended(goals, handle)
    assert status == GoalStatus.STATUS_CANCELED and 'canceled' in result.message
    assert rig.state_is('drill', 'IDLE')
    assert 0.005 < result.depth < 0.2
    # The same hole deeper, to the end: the result has what it took.
    handle, feedback = goals.accepted(DrillToDepth, name, depth=0.03)
    status, result = ended(goals, handle)
    assert status == GoalStatus.STATUS_SUCCEEDED and result.success, result.message
    assert result.depth >= 0.03 and result.energy > 0.0 and result.peak_thrust > 0.0
    assert rig.state_is('drill', 'DONE')


def test_a_scraping_pass_is_canceled_to_a_stowed_arm_and_another_finished(rig):
    goals = rig.goals
    name = 'scraper/scrape'
    assert 'pass_length must be within' in goals.rejection(Scrape, name, pass_length=9.0)
    assert 'area is NaN' in goals.rejection(Scrape, name, area=math.nan)
    handle, feedback = goals.accepted(Scrape, name, passes=1, pass_length=0.3)
    assert rig.spin_until(lambda: any(f.state.value == ControllerState.CUTTING
                                      for f in feedback), 120.0)
    assert feedback[-1].passes == 1
    assert goals.cancel(handle).goals_canceling
    status, result = ended(goals, handle)
    assert status == GoalStatus.STATUS_CANCELED and result.passes_done == 0, result.message
    assert rig.state_is('scraper', 'IDLE')
    # A pass to its end dumps the bucket, with what the canceled one had cut.
    handle, feedback = goals.accepted(Scrape, name, passes=1, pass_length=0.15)
    status, result = ended(goals, handle)
    assert status == GoalStatus.STATUS_SUCCEEDED and result.passes_done == 1, result.message
    assert rig.state_is('scraper', 'DONE')


def test_the_line_drains_a_cancel_stops_it_and_the_furnace_refuses_bad_batches(rig):
    goals = rig.goals
    name = 'material_handling/drain'
    assert 'drained_below is NaN' in goals.rejection(DrainLine, name, drained_below=math.nan)
    # The drill's cuttings and the canceled pass's regolith wait at the stopped line:
    # canceled while it carries them, the line stops.
    handle, feedback = goals.accepted(DrainLine, name, drained_below=1e-6)
    assert rig.spin_until(lambda: feedback, 60.0) and feedback[0].in_transit > 1e-3
    assert goals.cancel(handle).goals_canceling
    status, result = ended(goals, handle)
    assert status == GoalStatus.STATUS_CANCELED and result.in_transit > 1e-6
    assert rig.state_is('material_handling', 'STOPPED')
    handle, _ = goals.accepted(DrainLine, name, drained_below=math.inf)
    status, result = ended(goals, handle)
    assert status == GoalStatus.STATUS_SUCCEEDED and result.message == 'the line runs'
    # Drained: everything reaches the hoppers.
    handle, feedback = goals.accepted(DrainLine, name, drained_below=0.001)
    status, result = ended(goals, handle, 600.0)
    assert status == GoalStatus.STATUS_SUCCEEDED and result.in_transit < 0.001, result.message
    name = 'smelter/smelt_batch'
    assert 'charge_mass is NaN' in goals.rejection(SmeltBatch, name, charge_mass=math.nan)
    assert 'charge_mass must be within' in goals.rejection(SmeltBatch, name, charge_mass=500.0)
    assert 'unknown recipe' in goals.rejection(SmeltBatch, name, recipe='gold_plating')


def test_a_release_cannot_be_canceled_and_ends_stowed(rig):
    goals = rig.goals
    handle, _ = goals.accepted(ReleaseAnchors, 'anchoring/release')
    assert not goals.cancel(handle).goals_canceling
    status, result = ended(goals, handle)
    assert status == GoalStatus.STATUS_SUCCEEDED and result.message == 'stowed'
    assert rig.state_is('anchoring', 'STOWED')


def write_plan(tmp_path, *steps):
    import yaml
    path = tmp_path / 'plan.yaml'
    path.write_text(yaml.safe_dump({'plan': {'name': 'by_goal', 'steps': list(steps)}}))
    return str(path)


def test_a_plan_runs_as_a_goal_with_feedback_and_a_cancel_aborts_it_safely(rig, tmp_path):
    goals = rig.goals
    name = 'supervisor/run_plan'
    assert rig.spin_until(lambda: os.path.exists(rig.key_path))
    rig.key = OperatorKey.load(rig.key_path)
    assert 'unsigned' in goals.rejection(RunPlan, name, plan=str(tmp_path / 'nope.yaml'))
    assert 'cannot read config file' in goals.rejection(
        RunPlan, name, make_goal=rig.plan_goal(str(tmp_path / 'nope.yaml')))
    plan = write_plan(tmp_path, {'type': 'deploy_anchors'}, {'type': 'drill', 'depth': 0.04},
                      {'type': 'release_anchors'})
    intruder = OperatorKey.generate(str(tmp_path / 'intruder.key'))
    assert 'not an authorised' in goals.rejection(RunPlan, name,
                                                  make_goal=rig.plan_goal(plan, intruder))
    handle, feedback = goals.accepted(RunPlan, name, make_goal=rig.plan_goal(plan))
    assert 'a goal is under way' in goals.rejection(RunPlan, name,
                                                    make_goal=rig.plan_goal(plan))
    status, result = ended(goals, handle, 600.0)
    assert status == GoalStatus.STATUS_SUCCEEDED and result.success, result.message
    assert result.steps_done == 3
    assert [f.step_number for f in feedback if f.mode == 'running'][-1] == 3
    assert {f.step_title for f in feedback} >= {'deploy_anchors', 'release_anchors'}
    # Canceled while it drills: the plan is aborted and the drill stops.
    plan = write_plan(tmp_path, {'type': 'deploy_anchors'}, {'type': 'drill', 'depth': 0.3})
    handle, feedback = goals.accepted(RunPlan, name, make_goal=rig.plan_goal(plan))
    assert rig.state_is('drill', 'DRILLING', limit=300.0)
    assert goals.cancel(handle).goals_canceling
    status, result = ended(goals, handle)
    assert status == GoalStatus.STATUS_CANCELED and not result.success
    assert result.steps_done == 1 and 'aborted' in result.message
    assert rig.state_is('drill', 'IDLE')


def test_a_drill_that_dies_mid_goal_is_seen_gone_by_its_client(rig):
    goals = rig.goals
    if rig.states.get('anchoring') != 'ANCHORED':  # the plan before may have left it so
        handle, _ = goals.accepted(DeployAnchors, 'anchoring/deploy')
        assert ended(goals, handle)[0] == GoalStatus.STATUS_SUCCEEDED
    handle, feedback = goals.accepted(DrillToDepth, 'drill/drill_to_depth', depth=0.2)
    assert rig.spin_until(lambda: any(f.depth > 0.04 for f in feedback), 120.0)
    result = handle.get_result_async()
    rig.processes['drill'].kill()  # SIGKILL: no last word from the server
    client = goals.client(DrillToDepth, 'drill/drill_to_depth')
    assert rig.spin_until(lambda: not client.server_is_ready(), 120.0)
    assert not result.done()


def test_every_controller_state_has_its_constant_in_the_message():
    # A state renamed or added in a controller must be renamed or added in
    # msg/ControllerState too, or its feedback would say UNKNOWN.
    from spacemine_ros.core.control.states import STATE_ENUMS
    names = {state.value for enum in STATE_ENUMS.values() for state in enum}
    constants = {name for name in dir(ControllerState)
                 if name.isupper() and isinstance(getattr(ControllerState, name), int)}
    assert names <= constants, names - constants
    assert constants - names == {'UNKNOWN'}
