"""The nodes in-process on real topics: services, parameters, a rig graph."""

import math
import time

import pytest
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from rcl_interfaces.srv import SetParameters
from action_msgs.msg import GoalStatus
from spacemine_interfaces.action import (
    DeployAnchors, DrainLine, DrillToDepth, ReleaseAnchors, Scrape, SmeltBatch)
from spacemine_interfaces.msg import ControllerState, FurnaceStatus, Ledger
from spacemine_interfaces.srv import ChargeFurnace
from std_srvs.srv import SetBool
from trajectory_msgs.msg import JointTrajectory

from spacemine_ros import bringup
from spacemine_ros.launcher import create_nodes
from spacemine_ros.nodes.common import ledger_totals, STATE_QOS
from test.goals import Goals
from test.timing import wall


class Graph:
    """A rig graph plus an operator node, spun on one executor."""

    def __init__(self, namespace='/test_rig', overrides=None):
        self.namespace = namespace
        self.nodes = create_nodes(bringup.graph('sim', 'bennu'), namespace,
                                  bringup.default_params_file(), overrides)
        self.operator = rclpy.create_node('test_operator', namespace=namespace)
        # The plain executor: these tests init and shut rclpy down many times in one
        # process, which the experimental EventsExecutor does not tolerate reliably.
        self.executor = SingleThreadedExecutor()
        for node in [*self.nodes, self.operator]:
            self.executor.add_node(node)
        self.states = {}
        self.state_messages = {}
        for topic in ('anchoring/state', 'drill/state', 'scraper/state',
                      'material_handling/state', 'smelter/state'):
            self.operator.create_subscription(
                ControllerState, topic, lambda m, t=topic: self._on_state(t, m), STATE_QOS)
        self.smelter_temperature = None
        self.operator.create_subscription(
            FurnaceStatus, 'smelter/status',
            lambda m: setattr(self, 'smelter_temperature', m.temperature), 10)
        # What the smelter commands the heater (the actuator path, sent at its pace).
        self.heater = []
        self.operator.create_subscription(
            JointTrajectory, 'furnace/command', lambda m: self.heater.append(
                m.points[0].effort[m.joint_names.index('furnace_heater')]), 10)
        self.ledger = {}
        self.operator.create_subscription(
            Ledger, 'material/ledger', lambda m: self.ledger.update(ledger_totals(m)),
            STATE_QOS)
        self.goals = Goals(self.operator, self.spin_until, self.nodes)

    def _on_state(self, topic, message):
        self.states[topic] = message.label
        self.state_messages[topic] = message

    def spin_until(self, done, limit=60.0):
        end = time.monotonic() + wall(limit)
        while not done() and time.monotonic() < end:
            self.executor.spin_once(timeout_sec=0.05)
        return done()

    def call(self, service_type, name, request, limit=60.0):
        client = self.operator.create_client(service_type, name)
        assert self.spin_until(client.service_is_ready), f'{name} never appeared'
        deadline = time.monotonic() + limit
        while True:
            future = client.call_async(request)
            assert self.spin_until(future.done), f'{name} did not answer'
            response = future.result()
            # A controller refuses until its inputs have come once: ask again then.
            if not getattr(response, 'message', '').endswith('received yet') or \
                    time.monotonic() > deadline:
                return response
            self.spin_until(lambda: False, 0.2)

    def set_parameters(self, node, **values):
        request = SetParameters.Request(parameters=[
            Parameter(name, value=value).to_parameter_msg() for name, value in values.items()])
        return self.call(SetParameters, f'{node}/set_parameters', request).results

    def close(self):
        for node in [*self.nodes, self.operator]:
            node.destroy_node()


@pytest.fixture
def graph():
    rclpy.init()
    rig = Graph()
    yield rig
    rig.close()
    rclpy.try_shutdown()


def test_goals_the_tools_cannot_start_are_rejected_with_the_reason(graph):
    goals = graph.goals
    for action, name, fields, reason in [
            (DrillToDepth, 'drill/drill_to_depth', {'depth': 0.03}, 'not anchored'),
            (DrillToDepth, 'drill/drill_to_depth', {'depth': math.nan}, 'depth is NaN'),
            (DrillToDepth, 'drill/drill_to_depth', {'depth': math.inf}, 'must be finite'),
            (ReleaseAnchors, 'anchoring/release', {}, 'already stowed'),
            (Scrape, 'scraper/scrape', {'passes': 1}, 'not anchored'),
            (Scrape, 'scraper/scrape', {'passes': 99}, 'passes must be within'),
            (Scrape, 'scraper/scrape', {'area': -1.0}, 'area must be within'),
            (DrainLine, 'material_handling/drain', {'drained_below': 0.0}, 'above 0 kg'),
            (SmeltBatch, 'smelter/smelt_batch', {'recipe': 'gold_plating'}, 'unknown recipe')]:
        assert reason in goals.rejection(action, name, **fields), (name, fields)
    response = graph.call(SetBool, 'rig_sim/estop', SetBool.Request(data=False))
    assert response.success
    # Late-joiner state (transient local) reaches a subscriber that starts afterwards.
    assert graph.spin_until(lambda: len(graph.states) == 5)
    assert graph.states == {'drill/state': 'IDLE', 'anchoring/state': 'STOWED',
                            'scraper/state': 'IDLE', 'material_handling/state': 'STOPPED',
                            'smelter/state': 'IDLE'}
    # The smelter refuses a batch without a temperature reading: wait for its first one.
    assert graph.spin_until(lambda: graph.smelter_temperature is not None)
    assert 'hopper_silicate holds 0.000 kg' in goals.rejection(SmeltBatch, 'smelter/smelt_batch')
    response = graph.call(ChargeFurnace, 'material_handling/charge_furnace',
                          ChargeFurnace.Request(source='hopper_metal', mass=1.0))
    assert not response.success and 'holds 0.000 kg' in response.message


@pytest.mark.parametrize('source, mass, reason', [
    ('hopper_metal', math.nan, 'positive number of kg'),
    ('hopper_metal', math.inf, 'positive number of kg'),
    ('hopper_metal', -0.1, 'positive number of kg'),
    ('hopper_metal', 0.0, 'positive number of kg'),
    ('hopper_gold', 0.1, "unknown hopper 'hopper_gold'; hoppers: hopper_metal, "
                         'hopper_silicate'),
    ('', 0.1, "unknown hopper ''"),
    ('hopper_silicate', 0.1, 'hopper_silicate holds 0.000 kg, less than 0.100 kg'),
])
def test_charge_furnace_refuses_a_bad_charge_with_its_reason(graph, source, mass, reason):
    # The typed call the smelter makes: the line checks the hopper, the mass and the room
    # before it feeds, and stays stopped.
    response = graph.call(ChargeFurnace, 'material_handling/charge_furnace',
                          ChargeFurnace.Request(source=source, mass=mass))
    assert not response.success and reason in response.message
    assert graph.spin_until(lambda: graph.states.get('material_handling/state') == 'STOPPED')


@pytest.mark.parametrize('node, values, reason', [
    ('drill', {'goal_depth': -0.5}, 'goal_depth'),
    ('drill', {'goal_depth': math.nan}, 'goal_depth'),
    ('drill', {'goal_depth': 1.5}, 'feed stroke'),
    ('drill', {'max_thrust': 1e9}, ''),
    ('drill', {'contact_thrust': 50.0}, 'contact_thrust'),
    ('anchoring', {'safety_factor': 0.5}, ''),
    ('anchoring', {'preload': 500.0}, 'preload'),
    ('rig_sim', {'lockstep_timeout': math.inf}, ''),
    ('scraper', {'cut_depth': -0.01}, ''),
    ('scraper', {'cut_depth': math.nan}, 'cut_depth'),
    ('scraper', {'reach': 2.5}, 'outside the reachable area'),
    ('scraper', {'reach': 0.7}, 'closer than'),
    ('scraper', {'passes': 9}, 'slew'),
    ('scraper', {'force_backoff_fraction': 0.99}, 'jam_force_fraction'),
    ('material_handling', {'ledger_tolerance': 0.0}, 'ledger_tolerance'),
    ('material_handling', {'slow_level': 0.99}, 'stop_level'),
    ('smelter', {'recipe': 'gold_plating'}, 'unknown recipe'),
    ('smelter', {'kp': -1.0}, ''),
    ('smelter', {'safe_charge_temperature': 1990.0}, 'max_temperature'),
    ('smelter', {'power_budget': math.nan}, 'power_budget'),
    ('rig_sim', {'thermocouple_fault': 'melted'}, 'unknown thermocouple fault'),
])
def test_bad_parameter_values_are_rejected_with_a_reason(graph, node, values, reason):
    results = graph.set_parameters(node, **values)
    assert not results[0].successful
    assert results[0].reason
    assert reason in results[0].reason


def test_good_parameter_values_are_accepted(graph):
    assert graph.set_parameters('drill', goal_depth=0.2)[0].successful  # a goal's 0
    assert graph.set_parameters('anchoring', safety_factor=2.5)[0].successful


def test_power_shares_reach_each_controller_s_budgets_and_bad_ones_are_not_taken(graph):
    # The supervisor's table on power/shares (latched), as a restarted supervisor or an
    # operator's tool would send it: each controller takes its own entries as its budget
    # parameters; a share that is not a power, or for a budget it does not have, is not.
    from spacemine_interfaces.msg import PowerShare, PowerShares
    nodes = {node.get_name(): node for node in graph.nodes}
    before = nodes['scraper'].get_parameter('power_budget').value
    publisher = graph.operator.create_publisher(PowerShares, 'power/shares', STATE_QOS)
    publisher.publish(PowerShares(shares=[
        PowerShare(controller='drill', budget='power_budget', power=42.0),
        PowerShare(controller='material_handling', budget='conveyor_power_budget',
                   power=7.5),
        PowerShare(controller='material_handling', budget='separator_power_budget',
                   power=2.5),
        PowerShare(controller='scraper', budget='power_budget', power=math.nan),
        PowerShare(controller='smelter', budget='heater_budget', power=100.0)]))

    def budgets():
        return (nodes['drill'].controller.params.power_budget,
                nodes['material_handling'].get_parameter('conveyor_power_budget').value,
                nodes['material_handling'].get_parameter('separator_power_budget').value)
    assert graph.spin_until(lambda: budgets() == (42.0, 7.5, 2.5))
    assert nodes['drill'].get_parameter('power_budget').value == 42.0
    assert nodes['scraper'].get_parameter('power_budget').value == before
    assert not nodes['smelter'].has_parameter('heater_budget')


def test_read_only_parameters_cannot_change(graph):
    assert not graph.set_parameters('rig_sim', body='ceres')[0].successful


def test_anchor_then_drill_a_small_depth_over_real_topics(graph):
    goals = graph.goals
    handle, feedback = goals.accepted(DeployAnchors, 'anchoring/deploy')
    status, result = goals.result(handle, 120.0)
    assert status == GoalStatus.STATUS_SUCCEEDED and result.success, result.message
    assert result.safe_capacity > 0.0 and feedback[-1].anchors_total == 4
    # A second deploy has nothing to do; the drill goes to the goal's depth, not its
    # parameter's.
    assert 'already anchored' in goals.rejection(DeployAnchors, 'anchoring/deploy')
    handle, feedback = goals.send(DrillToDepth, 'drill/drill_to_depth', depth=0.03)
    assert handle.accepted, goals.refusal('drill/drill_to_depth')
    status, result = goals.result(handle, 120.0)
    assert status == GoalStatus.STATUS_SUCCEEDED and result.success, result.message
    assert result.depth >= 0.03 and result.energy > 0.0 and result.peak_thrust > 0.0
    assert max(f.depth for f in feedback) > 0.0 and \
        ControllerState.DRILLING in {f.state.value for f in feedback}
    assert graph.states['drill/state'] == 'DONE'
    sim = graph.nodes[0]
    assert 0.03 <= sim.world.drill.hole_depth < 0.2  # goal_depth (0.3 m) was not used
    assert sim.world.max_displacement < 0.002


def test_scrape_and_move_the_material_into_the_hoppers_over_real_topics(graph):
    goals = graph.goals
    handle, _ = goals.accepted(DeployAnchors, 'anchoring/deploy')
    assert goals.result(handle, 120.0)[1].success
    handle, _ = goals.accepted(DrainLine, 'material_handling/drain', drained_below=math.inf)
    status, result = goals.result(handle)
    assert status == GoalStatus.STATUS_SUCCEEDED and result.message == 'the line runs'
    handle, feedback = goals.send(Scrape, 'scraper/scrape', passes=1, pass_length=0.3)
    assert handle.accepted, goals.refusal('scraper/scrape')
    status, result = goals.result(handle, 180.0)
    assert status == GoalStatus.STATUS_SUCCEEDED and result.passes_done == 1, result.message
    assert feedback and feedback[-1].passes == 1
    assert graph.states['scraper/state'] == 'DONE'
    sim = graph.nodes[0]
    assert graph.spin_until(
        lambda: graph.ledger.get('hopper_silicate', 0.0) > 0.5 * sim.world.material.ledger.mass(
            'hopper_silicate') > 0.0, 120.0)
    assert graph.states['material_handling/state'] in ('RUNNING', 'HELD')
    # The node's ledger, built from the totalizers, agrees with the simulated truth.
    excavated = sim.world.material.ledger.excavated_total
    assert excavated > 0.5
    assert graph.spin_until(lambda: abs(graph.ledger['excavated'] - excavated) < 0.05, 30.0)
    assert abs(graph.ledger['balance']) < 1e-9


def test_a_thermocouple_fault_during_a_batch_turns_the_heater_off(graph):
    sim = graph.nodes[0]
    # Material comes up the drill's collar and is carried into the hoppers by the line.
    # A small batch: the line carries a few grams a second in micro-gravity.
    sim.world.material.excavate('drill_cut', 0.25, 0.0)
    goals = graph.goals
    goals.accepted(DrainLine, 'material_handling/drain', drained_below=math.inf)
    assert graph.spin_until(lambda: graph.ledger.get('hopper_silicate', 0.0) > 0.12, 120.0)
    handle, _ = goals.send(SmeltBatch, 'smelter/smelt_batch', charge_mass=0.1)
    assert handle.accepted, goals.refusal('smelter/smelt_batch')
    assert graph.spin_until(lambda: graph.states.get('smelter/state') == 'HEATING', 60.0)
    assert graph.spin_until(lambda: sim.world.furnace.thermal.temperature > 300.0, 60.0)
    assert max(graph.heater) > 0.0
    assert graph.set_parameters('rig_sim', thermocouple_fault='nan')[0].successful
    assert graph.spin_until(lambda: graph.states.get('smelter/state') == 'FAULT', 30.0)
    smelter = next(node for node in graph.nodes if node.get_name() == 'smelter')
    assert 'reads nan' in smelter.controller.reason
    state = graph.state_messages['smelter/state']  # typed, with its reason
    assert state.value == ControllerState.FAULT and 'reads nan' in state.reason
    status, result = goals.result(handle)  # the client hears why its batch ended
    assert status == GoalStatus.STATUS_ABORTED and 'reads nan' in result.message
    graph.heater.clear()
    assert graph.spin_until(lambda: len(graph.heater) > 5, 30.0)
    assert set(graph.heater) == {0.0}
    assert sim.world.furnace.heater_power == 0.0


def test_a_controller_whose_inputs_stop_faults_with_the_reason_instead_of_waiting():
    # The backend dies while the anchors deploy (as a dead field bus would): within
    # input_timeout anchoring leaves DEPLOYING for FAULT, naming the input.
    rclpy.init()
    rig = Graph(overrides={name: {'input_timeout': 1.0} for name in (
        'anchoring', 'drill', 'scraper', 'material_handling', 'smelter')})
    try:
        diagnostics = {}
        rig.operator.create_subscription(
            DiagnosticArray, '/diagnostics',
            lambda m: diagnostics.update({s.name: s for s in m.status}), 10)
        handle, _ = rig.goals.accepted(DeployAnchors, 'anchoring/deploy')
        assert rig.spin_until(lambda: rig.states.get('anchoring/state') == 'DEPLOYING')
        sim = rig.nodes[0]
        rig.executor.remove_node(sim)  # its timers and publishers fall silent
        assert rig.spin_until(lambda: rig.states.get('anchoring/state') == 'FAULT', 30.0)
        name = f'{rig.namespace}/anchoring'
        assert rig.spin_until(lambda: name in diagnostics and
                              'no joint_states for' in diagnostics[name].message, 30.0)
        assert diagnostics[name].level == DiagnosticStatus.ERROR
        status, result = rig.goals.result(handle)  # the client hears why
        assert status == GoalStatus.STATUS_ABORTED and 'no joint_states for' in result.message
        # Idle controllers report it too, and refuse to start.
        assert rig.spin_until(lambda: 'no joint_states for' in getattr(
            diagnostics.get(f'{rig.namespace}/drill'), 'message', ''), 30.0)
        rig.executor.add_node(sim)
    finally:
        rig.close()
        rclpy.try_shutdown()


def _params_in_use(node):
    """Return the params dataclass a controller node runs on."""
    return node.line.params if node.get_name() == 'material_handling' else node.controller.params


def test_every_tunable_parameter_is_what_the_controller_uses(graph):
    # The parameters as declared (from config/rig.yaml) and after a set, for every node.
    import importlib
    changes = {'anchoring': ('preload', 7.5), 'drill': ('max_thrust', 321.0),
               'scraper': ('cut_speed', 0.03), 'material_handling': ('conveyor_speed', 3.5),
               'smelter': ('kp', 123.0)}
    controllers = [node for node in graph.nodes if node.get_name() in changes]
    assert len(controllers) == len(changes)
    for node in controllers:
        name = node.get_name()
        tunables = importlib.import_module(type(node).__module__).TUNABLES

        def mismatches():
            params = _params_in_use(node)
            return {t: (node.get_parameter(t).value, getattr(params, t)) for t in tunables
                    if node.get_parameter(t).value != getattr(params, t)}
        assert mismatches() == {}, name
        parameter, value = changes[name]
        assert graph.set_parameters(name, **{parameter: value})[0].successful
        assert getattr(_params_in_use(node), parameter) == value
        assert mismatches() == {}, name


def test_a_set_of_several_parameters_is_all_or_nothing(graph):
    # The second value is bad: the first must not have been applied either.
    from rcl_interfaces.srv import SetParametersAtomically
    node = next(n for n in graph.nodes if n.get_name() == 'material_handling')
    before = (node.tolerance, node.line.params.conveyor_speed)
    request = SetParametersAtomically.Request(parameters=[
        Parameter('ledger_tolerance', value=0.123).to_parameter_msg(),
        Parameter('conveyor_speed', value=4.0).to_parameter_msg(),
        Parameter('slow_level', value=0.99).to_parameter_msg()])
    result = graph.call(SetParametersAtomically, 'material_handling/set_parameters_atomically',
                        request).result
    assert not result.successful and 'stop_level' in result.reason
    assert (node.tolerance, node.line.params.conveyor_speed) == before
    assert node.get_parameter('ledger_tolerance').value == before[0]


def test_an_idle_rig_waits_at_its_idle_pace_instead_of_running_flat_out(graph):
    # Nothing commanded to move: after idle_after the lockstep world advances no faster
    # than idle_realtime_factor (1 sim s per wall s), give or take the one period (an
    # idle rig's: idle_step) that is under way, and it still advances.
    sim = graph.nodes[0]
    assert graph.spin_until(lambda: sim.world.idle_for() >= sim.idle_after, 120.0)
    start_sim, start_wall = sim.world.time, time.monotonic()
    graph.spin_until(lambda: time.monotonic() - start_wall > 3.0, 10.0)
    advanced, wall = sim.world.time - start_sim, time.monotonic() - start_wall
    assert 0.0 < advanced <= sim.idle_realtime_factor * wall + sim.idle_step + 1e-9
    # Work resumes at full speed at once: a deploy makes the rig busy again.
    graph.goals.accepted(DeployAnchors, 'anchoring/deploy')
    assert graph.spin_until(lambda: sim.world.idle_for() == 0.0, 30.0)


def test_while_a_controller_is_silent_the_world_goes_on_no_faster_than_real_time(graph):
    # The drill's process dies while the anchors deploy (a busy rig: no idle pacing):
    # once it is silent the world goes on at silent_realtime_factor at most, give or take
    # the step under way, instead of racing its restart's wall seconds into minutes.
    sim = graph.nodes[0]
    drill = next(node for node in graph.nodes if node.get_name() == 'drill')
    graph.goals.accepted(DeployAnchors, 'anchoring/deploy')
    graph.executor.remove_node(drill)
    assert graph.spin_until(lambda: any('drill' in topic for topic in sim.silent), 60.0)
    assert sim.world.idle_for() < sim.idle_after
    start_sim, start_wall = sim.world.time, time.monotonic()
    graph.spin_until(lambda: time.monotonic() - start_wall > 3.0, 10.0)
    advanced, wall = sim.world.time - start_sim, time.monotonic() - start_wall
    assert 0.0 < advanced <= sim.silent_realtime_factor * wall + sim.max_step + 1e-9
    graph.executor.add_node(drill)  # destroyed with the others


def test_max_realtime_factor_caps_the_pace_of_a_working_rig(graph):
    # Deploying anchors runs flat out by default; with the cap set through the parameter
    # service the clock goes no faster than it (give or take the step under way), and a
    # cap out of range is refused with its reason.
    sim = graph.nodes[0]
    refused = graph.set_parameters('rig_sim', max_realtime_factor=-1.0)[0]
    assert not refused.successful and refused.reason
    assert graph.set_parameters('rig_sim', max_realtime_factor=4.0)[0].successful
    graph.goals.accepted(DeployAnchors, 'anchoring/deploy')
    assert graph.spin_until(lambda: graph.states.get('anchoring/state') == 'DEPLOYING')
    start_sim, start_wall = sim.world.time, time.monotonic()
    graph.spin_until(lambda: time.monotonic() - start_wall > 2.0, 10.0)
    advanced, elapsed = sim.world.time - start_sim, time.monotonic() - start_wall
    assert sim.world.idle_for() < sim.idle_after  # working, not idle-paced
    assert 0.0 < advanced <= 4.0 * elapsed + sim.max_step + 1e-9


def test_the_rig_goes_out_as_one_rig_state_per_instant_with_every_sensor():
    # The controllers read the simulated rig from rig_state alone: at every instant the
    # world advances to, the joints, the base, the tools' wrenches and every gauge, in SI
    # units; the loose sensor topics of the field bus are not published on the sim backend.
    rclpy.init()
    rig = Graph(overrides={'rig_sim': {'lockstep_timeout': 60.0}})  # nobody falls silent
    try:
        from rosgraph_msgs.msg import Clock
        from spacemine_interfaces.msg import RigState
        from spacemine_ros.nodes.common import SENSOR_QOS, stamp_to_seconds
        states, clocks = {}, set()
        rig.operator.create_subscription(
            RigState, 'rig_state',
            lambda m: states.__setitem__(round(stamp_to_seconds(m.header.stamp), 6), m), 100)
        rig.operator.create_subscription(
            Clock, 'clock', lambda m: clocks.add(round(stamp_to_seconds(m.clock), 6)),
            SENSOR_QOS)
        rig.goals.accepted(DeployAnchors, 'anchoring/deploy')
        assert rig.spin_until(lambda: rig.states.get('anchoring/state') == 'DEPLOYING')
        assert rig.spin_until(lambda: len(states) >= 60, 120.0)
        seen = sorted(set(states) & clocks)
        assert len(seen) >= 50  # one RigState for each instant of the clock
        state = states[seen[-1]]
        assert state.header.frame_id == 'odom' and state.child_frame_id == 'base_link'
        assert set(state.joints.name) >= {'drill_feed', 'drill_spindle', 'anchor_1_joint'}
        assert len(state.joints.effort) == len(state.joints.name)
        assert {w.name: w.frame_id for w in state.wrenches} == {
            'drill/bit_wrench': 'drill_bit', 'scraper/blade_wrench': 'odom'}
        gauges = {g.name: (g.value, g.unit) for g in state.gauges}
        temperature, unit = gauges['furnace/temperature']
        assert unit == 'K' and 150.0 < temperature < 500.0
        assert gauges['material/hopper_metal/mass'][1] == 'kg'
        assert gauges['material/conveyor_discharge/delivered'][1] == 'kg'
        melt, unit = gauges['furnace/melt_fraction']
        assert unit == '1' and 0.0 <= melt <= 1.0
        for topic in ('furnace/temperature', 'material/hopper_metal/mass',
                      'drill/bit_wrench'):
            assert rig.operator.count_publishers(topic) == 0, topic
    finally:
        rig.close()
        rclpy.try_shutdown()
