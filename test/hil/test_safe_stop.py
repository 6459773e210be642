"""A stop is a safe stop: signals to the launcher and to single node processes, mid-drill.

The simulation with the emulated devices runs in this process (so the test reads the
registers the drives hold); the field bus and the controllers run in spacemine-rig, in
one process or one per node. The rig anchors and drills; then a signal goes to the
launcher, or to one node process. What must follow: the process exits 0 without a
traceback; the drill's last command is a stop; the field bus writes and confirms every
actuator's safe values before it closes its ports (the emulated spindle and feed hold
control 0, zero speed, zero force limit). Each node process alone stops on SIGINT and
SIGTERM with exit 0, sending its stop command first.
"""

import itertools
import os
import signal
import subprocess
import sys
import time

import pytest
import rclpy
from rclpy.executors import SingleThreadedExecutor
from spacemine_interfaces.action import DeployAnchors, DrillToDepth
from spacemine_interfaces.msg import ControllerState
from std_msgs.msg import Float64
from trajectory_msgs.msg import JointTrajectory

from spacemine_ros import bringup
from spacemine_ros.launcher import create_nodes
from spacemine_ros.nodes.common import COMMAND_QOS, shutdown_nodes, STATE_QOS
from test.conftest import ROOT
from test.goals import Goals
from test.hil.drill_bus import wait_for
from test.launched import LaunchedRig

pytestmark = [pytest.mark.hil, pytest.mark.slow, pytest.mark.ros]
CONTROLLERS = 'field_bus,anchoring,drill,scraper,material_handling,smelter'
RUNS = itertools.count()
FAST_ANCHORING = ['-p', 'anchoring.proof_ramp_time=0.5', '-p', 'anchoring.proof_hold_time=0.5']


class SimSide:
    """rig_sim (hil) and an operator node in this process, on one executor."""

    def __init__(self, namespace, hil_dir):
        spec = next(s for s in bringup.graph('hil', 'bennu', namespace=namespace,
                                             hil_dir=hil_dir) if s.name == 'rig_sim')
        self.nodes = create_nodes([spec], namespace, bringup.default_params_file())
        self.sim = self.nodes[0]
        self.operator = rclpy.create_node('stop_operator', namespace=namespace)
        self.executor = SingleThreadedExecutor()
        for node in (self.sim, self.operator):
            self.executor.add_node(node)
        self.states, self.depth, self.commands = {}, [0.0], []
        for topic in ('anchoring/state', 'drill/state'):
            self.operator.create_subscription(
                ControllerState, topic, lambda m, t=topic: self.states.__setitem__(t, m.label),
                STATE_QOS)
        self.operator.create_subscription(Float64, 'drill/depth',
                                          lambda m: self.depth.__setitem__(0, m.data), 10)
        # The drill's commands, each one trajectory point (names, then the point).
        self.operator.create_subscription(
            JointTrajectory, 'drill/command',
            lambda m: self.commands.append(m.points[0]), COMMAND_QOS)
        self.goals = Goals(self.operator, self.spin_until)

    def spin_until(self, done, limit):
        return wait_for(done, limit, step=lambda: self.executor.spin_once(timeout_sec=0.05))

    def drill_a_little(self, launched):
        """Anchor and drill until the bit is a few millimetres in."""
        self.goals.accepted(DeployAnchors, 'anchoring/deploy', 120.0)
        assert self.spin_until(lambda: self.states.get('anchoring/state') in (
            'ANCHORED', 'FAULT'), 300.0), launched.text[-3000:]
        assert self.states['anchoring/state'] == 'ANCHORED', launched.text[-3000:]
        self.goals.accepted(DrillToDepth, 'drill/drill_to_depth', 120.0)
        assert self.spin_until(lambda: self.depth[0] > 0.003, 300.0), launched.text[-3000:]
        assert self.states.get('drill/state') == 'DRILLING'

    def device(self, name):
        return self.sim.hil.devices[name]

    def close(self):
        self.operator.destroy_node()
        shutdown_nodes(self.nodes)


@pytest.fixture
def sim_side(tmp_path):
    rclpy.init()
    namespace = f'/stop{os.getpid()}n{next(RUNS)}'  # never the namespace of an earlier test
    side = SimSide(namespace, str(tmp_path / 'ports'))
    side.namespace, side.hil_dir = namespace, str(tmp_path / 'ports')
    yield side
    side.close()


def launch(side, *mode, nodes=CONTROLLERS, log='rig.log'):
    args = ['--backend', 'hil', '--namespace', side.namespace, '--hil-dir', side.hil_dir,
            '--nodes', nodes, *mode]
    if 'drill' in nodes.split(','):
        args += ['-p', 'drill.goal_depth=0.05', *FAST_ANCHORING]
    # Its whole output is kept beside the ports: a failure shows only the end of it.
    return LaunchedRig(args, log=os.path.join(os.path.dirname(side.hil_dir), log))


def drives_safe(side):
    spindle, feed = side.device('spindle'), side.device('feed')
    return (spindle.get('control') == 0 and spindle.get('speed_ref') == 0.0 and
            feed.get('control') == 0 and feed.get('velocity_ref') == 0.0 and
            feed.get('force_limit') == 0.0)


def ended_cleanly(launched, limit=120.0):
    code = launched.process.wait(timeout=limit)
    time.sleep(0.5)  # the reader thread takes the last lines
    assert code == 0, launched.text[-3000:]
    assert 'Traceback' not in launched.text, launched.text[-3000:]


@pytest.mark.parametrize('stop, mode', [(signal.SIGINT, ()), (signal.SIGTERM, ('--processes',))],
                         ids=['SIGINT-one_process', 'SIGTERM-processes'])
def test_a_signal_to_the_launcher_mid_drill_leaves_every_drive_safe(sim_side, stop, mode):
    launched = launch(sim_side, *mode)
    try:
        sim_side.drill_a_little(launched)
        assert not drives_safe(sim_side)  # drilling: the drives follow commands
        launched.process.send_signal(stop)
        # The emulators keep answering while the field bus makes the drives safe.
        assert sim_side.spin_until(lambda: launched.process.poll() is not None, 120.0)
        ended_cleanly(launched)
        assert drives_safe(sim_side), launched.text[-3000:]
        assert 'actuators safe (confirmed)' in launched.text
        last = sim_side.commands[-1]  # the drill's own last word was a stop
        assert list(last.velocities) == [0.0, 0.0] and list(last.effort) == [0.0, 0.0]
    finally:
        launched.kill()


def test_a_launcher_killed_mid_drill_leaves_every_drive_safe(sim_side):
    # One process per node: each stops safely by itself when its launcher dies.
    launched = launch(sim_side, '--processes')
    try:
        sim_side.drill_a_little(launched)
        assert not drives_safe(sim_side)
        pids = [launched.pid(name) for name in CONTROLLERS.split(',')]
        os.kill(launched.process.pid, signal.SIGKILL)  # the launcher alone, no last word
        assert sim_side.spin_until(lambda: drives_safe(sim_side), 60.0), launched.text[-3000:]
        assert sim_side.spin_until(lambda: not any(alive(pid) for pid in pids), 120.0)
        assert 'actuators safe (confirmed)' in launched.text
    finally:
        launched.kill()


def test_a_field_bus_that_loses_its_controllers_mid_drill_makes_its_drives_safe(sim_side):
    # The field bus and the controllers in two launchers; the controllers' one is killed
    # outright mid-drill, so no stop comes: the field bus's command timeout makes the
    # drives safe while it goes on serving.
    bus = launch(sim_side, nodes='field_bus', log='bus.log')
    controllers = launch(sim_side, nodes=CONTROLLERS.replace('field_bus,', ''),
                         log='controllers.log')
    try:
        sim_side.drill_a_little(controllers)
        assert not drives_safe(sim_side)
        os.killpg(controllers.process.pid, signal.SIGKILL)
        controllers.process.wait()
        assert sim_side.spin_until(lambda: drives_safe(sim_side), 60.0), bus.text[-3000:]
        assert bus.process.poll() is None, bus.text[-3000:]  # still serving its devices
    finally:
        controllers.kill()
        bus.process.send_signal(signal.SIGINT)
        try:
            ended_cleanly(bus)
        finally:
            bus.kill()


def alive(pid):
    """Whether a process (not a zombie) of that id runs."""
    try:
        with open(f'/proc/{pid}/stat', encoding='ascii') as stream:
            return stream.read().split(') ', 1)[1][0] != 'Z'
    except (FileNotFoundError, IndexError):
        return False


def test_signals_to_single_node_processes_mid_drill(sim_side):
    launched = launch(sim_side, '--processes')
    try:
        sim_side.drill_a_little(launched)
        # The drill process alone, SIGTERM: it commands a stop; the field bus obeys it.
        drill = launched.pid('drill')
        os.kill(drill, signal.SIGTERM)
        assert sim_side.spin_until(lambda: sim_side.commands and list(
            sim_side.commands[-1].velocities) == [0.0, 0.0], 60.0)
        spindle, feed = sim_side.device('spindle'), sim_side.device('feed')
        assert sim_side.spin_until(lambda: spindle.get('speed_ref') == 0.0 and
                                   feed.get('velocity_ref') == 0.0, 60.0)
        # The field bus process alone, SIGINT: confirmed safe values at every drive.
        os.kill(launched.pid('field_bus'), signal.SIGINT)
        assert sim_side.spin_until(lambda: drives_safe(sim_side), 60.0)
        # The launcher takes the rest down (a node of the rig exited); all exit 0.
        assert sim_side.spin_until(lambda: launched.process.poll() is not None, 120.0)
        ended_cleanly(launched)
        assert 'actuators safe (confirmed)' in launched.text
    finally:
        launched.kill()


@pytest.mark.parametrize('node', [s.name for s in bringup.graph('sim', 'bennu')])
@pytest.mark.parametrize('stop', [signal.SIGINT, signal.SIGTERM], ids=['SIGINT', 'SIGTERM'])
def test_each_node_process_stops_on_a_signal_with_exit_0(tmp_path, node, stop):
    spec = next(s for s in bringup.graph('sim', 'bennu') if s.name == node)
    namespace = f'/one{os.getpid()}{node[:3]}{stop.value}'
    own = bringup.write_parameters(spec, str(tmp_path))
    args = bringup.ros_arguments(spec, namespace, bringup.default_params_file(), own)
    env = dict(os.environ, PYTHONUNBUFFERED='1', RCUTILS_COLORIZED_OUTPUT='0')
    process = subprocess.Popen([sys.executable, '-m', spec.module, *args], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        text = ''
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # up: it has logged its first state
            line = process.stdout.readline()
            text += line
            if not line or any(word in line for word in ('state ', 'phase ', 'capacity',
                                                         'Bennu', 'mode ')):
                break
        process.send_signal(stop)
        out, _ = process.communicate(timeout=60)
        text += out
        assert process.returncode == 0, text[-3000:]
        assert 'Traceback' not in text, text[-3000:]
    finally:
        if process.poll() is None:
            process.kill()
