"""The twin-drill rig on the hil backend: its second head's drives on the bus, by configuration.

config/rigs/twin_drill.yaml names its devices file (twin_drill_hardware.yaml: the
default rig's devices plus spindle_b and feed_b); the simulation emulates them on the
virtual drill bus, the field bus drives them, and the two drill controllers share the
anchors' force budget through anchoring, in real time.
"""

import math

import pytest
import rclpy
from rclpy.executors import SingleThreadedExecutor
from sensor_msgs.msg import JointState
from spacemine_interfaces.action import DeployAnchors, DrillToDepth
from spacemine_interfaces.msg import AnchoringStatus, ControllerState

from spacemine_ros import bringup
from spacemine_ros.launcher import create_nodes
from spacemine_ros.nodes.common import SENSOR_QOS, shutdown_nodes, STATE_QOS
from test.goals import Goals
from test.hil.drill_bus import wait_for

pytestmark = [pytest.mark.hil, pytest.mark.slow, pytest.mark.ros]
NAMESPACE = '/hil_twin'
GOAL = 0.02  # m
DRILLS = ('drill_a', 'drill_b')


@pytest.fixture
def graph():
    rclpy.init()
    specs = [spec for spec in bringup.graph('hil', 'bennu', namespace=NAMESPACE,
                                            rig='twin_drill')
             if spec.name in ('rig_sim', 'field_bus', 'anchoring', *DRILLS)]
    nodes = create_nodes(specs, NAMESPACE, bringup.default_params_file(),
                         {name: {'goal_depth': GOAL} for name in DRILLS})
    operator = rclpy.create_node('operator', namespace=NAMESPACE)
    executor = SingleThreadedExecutor()
    for node in [*nodes, operator]:
        executor.add_node(node)
    yield nodes, operator, executor
    operator.destroy_node()
    shutdown_nodes(nodes)
    rclpy.try_shutdown()


def test_both_heads_drill_through_the_field_bus_within_the_shared_budget(graph):
    nodes, operator, executor = graph
    sim, field_bus = nodes[0], nodes[1]
    states, capacity, combined = {}, [0.0], []
    for name in ('anchoring', *DRILLS):
        operator.create_subscription(ControllerState, f'{name}/state',
                                     lambda m, n=name: states.__setitem__(n, m.label), STATE_QOS)
    operator.create_subscription(AnchoringStatus, 'anchoring/status',
                                 lambda m: capacity.__setitem__(0, m.safe_capacity), STATE_QOS)

    def on_joints(message):
        efforts = dict(zip(message.name, message.effort))
        if all(f'{d}_feed' in efforts for d in DRILLS):
            combined.append((sum(max(efforts[f'{d}_feed'], 0.0) for d in DRILLS), capacity[0]))
    operator.create_subscription(JointState, 'joint_states', on_joints, SENSOR_QOS)

    def spin_until(done, limit):
        return wait_for(done, limit, step=lambda: executor.spin_once(timeout_sec=0.05))

    goals = Goals(operator, spin_until, nodes)

    assert spin_until(lambda: field_bus.bus is not None and
                      field_bus.publish_timer is not None, 60.0)
    assert {'spindle_b', 'feed_b'} <= set(sim.hil.devices)
    goals.accepted(DeployAnchors, 'anchoring/deploy')
    assert spin_until(lambda: states.get('anchoring') in ('ANCHORED', 'FAULT'), 240.0)
    assert states['anchoring'] == 'ANCHORED'
    for drill in DRILLS:
        goals.accepted(DrillToDepth, f'{drill}/drill_to_depth', depth=GOAL)
    assert spin_until(lambda: all(states.get(d) in ('DONE', 'FAULT') for d in DRILLS), 300.0)
    assert {d: states[d] for d in DRILLS} == dict.fromkeys(DRILLS, 'DONE')
    # Both holes are in the simulated rock: each head's drives moved its own feed.
    for plugin in sim.world.drills:
        assert GOAL - 0.002 <= plugin.hole_depth <= GOAL + 0.01, plugin.spec.name
    assert sim.hil.devices['feed_b'].was_written('velocity_ref', 0.0)
    assert sim.hil.devices['spindle_b'].was_written('speed_ref', 0.0)
    # Together the heads never pushed past the anchors' safe capacity (measured by the
    # feed drives' force registers, through the bus).
    pushing = [(thrust, cap) for thrust, cap in combined if thrust > 0.0 and cap > 0.0]
    assert pushing and all(math.isfinite(t) and t <= cap for t, cap in pushing)
