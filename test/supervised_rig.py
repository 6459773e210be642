"""The sim graph with its supervisor in this process, and an e-stop drill over a shift.

Used by test/ros/test_supervisor.py and bench/bench_estop.py. The simulated world is
read directly (ground truth) to tell whether every actuator is safe: nothing draws
power (no spindle, feed, arm, conveyor, separator or heater work) and no joint moves.
Times are simulated seconds.
"""

import os
import time

import rclpy
from rclpy.executors import SingleThreadedExecutor
from spacemine_interfaces.msg import ControllerState, MissionStatus
from std_srvs.srv import Trigger

from spacemine_ros import bringup
from spacemine_ros.command import command_request
from spacemine_ros.core.mission.operators import OperatorKey, SIM_KEY_FILE
from spacemine_ros.launcher import create_nodes
from spacemine_ros.nodes.common import STATE_QOS
from spacemine_ros.paths import share_path
from test.goals import Goals
from test.timing import wall

# A short shift that passes through every subsystem's working state.
PLAN = {'plan': {'name': 'estop_drill', 'steps': [
    {'type': 'deploy_anchors', 'timeout': 600},
    {'type': 'material_line', 'until': 'running'},
    {'type': 'drill', 'depth': 0.05},
    {'type': 'scrape', 'area': 0.06, 'pass_length': 0.15},  # one pass of 0.15 x 0.4 m
    {'type': 'material_line', 'until': 'drained'},
    {'type': 'smelt', 'charge': 0.1},
]}}
# (controller, state) at which the drill latches the e-stop, in shift order.
MOMENTS = [('anchoring', 'DEPLOYING'), ('drill', 'DRILLING'), ('scraper', 'CUTTING'),
           ('material_handling', 'RUNNING'), ('smelter', 'HEATING')]


class SupervisedRig:
    """The sim backend's graph (supervisor included) and an operator node, one executor."""

    def __init__(self, data_dir, namespace='/supervised', executor=None):
        self.nodes = create_nodes(bringup.graph('sim', 'bennu', data_dir=data_dir), namespace,
                                  bringup.default_params_file())
        self.namespace = namespace
        # The sim rig's own operator (its supervisor made the key in the data directory).
        self.key = OperatorKey.load(os.path.join(data_dir, SIM_KEY_FILE))
        self.sim = self.nodes[0]
        self.supervisor = self.nodes[-1]
        self.operator = rclpy.create_node('test_operator', namespace=namespace)
        self.executor = executor or SingleThreadedExecutor()
        for node in [*self.nodes, self.operator]:
            self.executor.add_node(node)
        self.states = {}
        for controller in ('anchoring', 'drill', 'scraper', 'material_handling', 'smelter',
                           'supervisor'):
            # The supervisor's mode is in its MissionStatus; a controller's state a
            # ControllerState.
            kind, topic = ((MissionStatus, 'supervisor/status') if controller == 'supervisor'
                           else (ControllerState, f'{controller}/state'))
            self.operator.create_subscription(
                kind, topic, lambda m, c=controller: self.states.__setitem__(
                    c, getattr(m, 'label', None) or getattr(m, 'mode', '')), STATE_QOS)
        self.goals = Goals(self.operator, self.spin_until, self.nodes)

    @property
    def world(self):
        return self.sim.world

    def spin_until(self, done, limit=60.0):
        end = time.monotonic() + wall(limit)
        while not done() and time.monotonic() < end:
            self.executor.spin_once(timeout_sec=0.05)
        return done()

    def spin_sim(self, seconds, limit=120.0):
        """Spin until the simulation has advanced `seconds` (lockstep: it moves on)."""
        until = self.world.time + seconds
        return self.spin_until(lambda: self.world.time >= until, limit)

    def call(self, kind, name, request):
        client = self.operator.create_client(kind, name)
        assert self.spin_until(client.service_is_ready), f'{name} never appeared'
        future = client.call_async(request)
        assert self.spin_until(future.done), f'{name} did not answer'
        self.operator.destroy_client(client)
        return future.result()

    def command(self, name, plan=''):
        """Return (ok, reason) of a command stamped now on the rig's clock."""
        from spacemine_interfaces.srv import OperatorCommand
        response = self.call(OperatorCommand, 'supervisor/command',
                             command_request(name, self.world.time, 60.0, plan, self.key,
                                             self.namespace))
        return response.success, response.message

    def actuators_safe(self):
        """Return why an actuator is not safe now ('' when every one is)."""
        return self.world.unsafe()

    def estop(self):
        """Latch the e-stop through the supervisor; return the sim s until all is safe."""
        latched_at = self.world.time
        assert self.call(Trigger, 'supervisor/estop', Trigger.Request()).success
        assert self.spin_until(lambda: self.world.estop and not self.actuators_safe(), 60.0), \
            self.actuators_safe()
        return self.world.time - latched_at

    def close(self):
        for node in [*self.nodes, self.operator]:
            node.destroy_node()


def write_plan(directory, steps=None):
    """Write the drill's plan file (or one of the first `steps` steps); return its path."""
    import yaml
    path = os.path.join(directory, 'estop_drill.yaml')
    plan = PLAN if steps is None else {'plan': {**PLAN['plan'],
                                                'steps': PLAN['plan']['steps'][:steps]}}
    with open(path, 'w', encoding='utf-8') as stream:
        yaml.safe_dump(plan, stream)
    return path


def estop_drill(rig, plan_file, hold=5.0, on_moment=None):
    """Run the short shift, latching the e-stop once at each of MOMENTS.

    At each moment: e-stop, time until every actuator is safe, `hold` sim seconds in which
    nothing may move, a reset (the plan comes back paused: still nothing moves), resume.
    Returns {moment: latency [sim s]} and leaves the shift completed (or raises).
    on_moment(name, rig) is called while latched (for extra checks).
    """
    ok, reason = rig.command('load_plan', plan_file)
    assert ok, reason
    ok, reason = rig.command('start')
    assert ok, reason
    latencies = {}
    for controller, state in MOMENTS:
        assert rig.spin_until(lambda: rig.states.get(controller) == state
                              or rig.states.get('supervisor') in ('aborted', 'completed'),
                              600.0), f'never saw {controller} {state}: {rig.states}'
        assert rig.states.get('supervisor') == 'running', rig.supervisor.mission.describe()
        name = f'{controller} {state}'
        latencies[name] = rig.estop()
        assert rig.spin_until(lambda: rig.states.get('supervisor') == 'estopped')
        # Latched: nothing moves, whatever the controllers would like.
        until = rig.world.time + hold
        deadline = time.monotonic() + wall(120.0)
        while rig.world.time < until and time.monotonic() < deadline:
            rig.executor.spin_once(timeout_sec=0.05)
            problem = rig.actuators_safe()
            assert not problem, f'{name}: {problem} while latched'
        assert rig.world.time >= until, 'the simulation stopped while latched'
        if on_moment is not None:
            on_moment(name, rig)
        ok, reason = rig.command('reset')
        assert ok, reason
        assert rig.spin_until(lambda: rig.states.get('supervisor') == 'paused')
        assert rig.spin_sim(1.0)
        problem = rig.actuators_safe()
        assert not problem, f'{name}: {problem} after the reset, before resume'
        ok, reason = rig.command('resume')
        assert ok, reason
    assert rig.spin_until(lambda: rig.states.get('supervisor') in ('completed', 'aborted'),
                          900.0), rig.supervisor.mission.describe()
    assert rig.states['supervisor'] == 'completed', rig.supervisor.mission.describe()
    return latencies


def run_estop_drill(directory):
    """Run estop_drill in this process's one rclpy life; return its figures.

    With the fastest executor (make_executor), as spacemine-rig runs the graph: for a
    process of its own (the tests' subprocess, the bench).
    """
    from spacemine_ros.core.mission.mission_store import MissionStore
    from spacemine_ros.nodes.common import make_executor
    rclpy.init()
    start = time.perf_counter()
    try:
        rig = SupervisedRig(os.path.join(directory, 'data'), executor=make_executor())
        try:
            latencies = estop_drill(rig, write_plan(directory))
            events = MissionStore(rig.supervisor.store.path).events()
            ledger = dict(rig.supervisor.ledger)
        finally:
            rig.close()
    finally:
        rclpy.try_shutdown()
    return {'latency_s': latencies, 'wall_s': time.perf_counter() - start,
            'estopped': sum(kind == 'mode' and text.startswith('mode estopped')
                            for _, _, kind, text in events),
            'balance_kg': ledger.get('balance', float('nan'))}


def main():
    """Run the e-stop drill (python -m test.supervised_rig DIRECTORY); write its figures."""
    import json
    import sys
    from spacemine_ros.domain import claim_domain
    claim_domain()
    figures = run_estop_drill(sys.argv[1])
    with open(os.path.join(sys.argv[1], 'estop.json'), 'w', encoding='utf-8') as stream:
        json.dump(figures, stream)


if __name__ == '__main__':
    main()


__all__ = ['estop_drill', 'MOMENTS', 'run_estop_drill', 'share_path', 'SupervisedRig',
           'write_plan']
