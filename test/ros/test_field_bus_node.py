"""The field_bus lifecycle node on real topics, against emulated devices on a pty bus."""

import math
import time

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from lifecycle_msgs.msg import State
import pytest
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.lifecycle import TransitionCallbackReturn
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64
from std_srvs.srv import SetBool
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint
import yaml

from spacemine_ros.hardware.hil import HilRig
from spacemine_ros.nodes.common import COMMAND_QOS, SENSOR_QOS
from spacemine_ros.nodes.field_bus import FieldBusNode
from test.hil.drill_bus import drill_bus_data, drill_bus_description, wait_for

pytestmark = pytest.mark.hil
NAMESPACE = '/fb_test'


class Bench:
    """A field_bus node, the emulated drill bus behind it and an operator node."""

    def __init__(self, tmp_path, port_dir=None):
        description_file = tmp_path / 'rig.yaml'
        description_file.write_text(yaml.safe_dump(drill_bus_data(), sort_keys=False))
        self.hil = HilRig(drill_bus_description(), port_dir=str(tmp_path / 'ports'))
        self.node = FieldBusNode(namespace=NAMESPACE, cli_args=[
            '--ros-args', '-p', f'rig_description:={description_file}',
            '-p', f'port_dir:={port_dir or tmp_path / "ports"}', '-p', 'parity:=none',
            '-p', 'request_timeout:=0.3', '-p', 'publish_rate:=50.0'])
        self.operator = rclpy.create_node('operator', namespace=NAMESPACE)
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.node)
        self.executor.add_node(self.operator)
        self.joints, self.masses, self.diagnostics = [], [], []
        self.operator.create_subscription(JointState, 'joint_states', self.joints.append,
                                          SENSOR_QOS)
        self.operator.create_subscription(Float64, 'material/drill/mass',
                                          lambda m: self.masses.append(m.data), SENSOR_QOS)
        self.operator.create_subscription(DiagnosticArray, '/diagnostics',
                                          self.diagnostics.append, 10)
        self.last_command = -math.inf
        self.command_pub = self.operator.create_publisher(JointTrajectory, 'drill/command',
                                                          COMMAND_QOS)

    def spin_until(self, done, limit=10.0):
        return wait_for(done, limit, step=lambda: self.executor.spin_once(timeout_sec=0.02))

    def command_drill(self, spindle=5.0):
        # At a controller's pace: a publisher in a tight loop would hold the interpreter
        # and starve the bus threads of this process.
        now = time.monotonic()
        if now - self.last_command < 0.05:
            return
        self.last_command = now
        message = JointTrajectory(joint_names=['drill_feed', 'drill_spindle'], points=[
            JointTrajectoryPoint(velocities=[0.005, spindle], effort=[80.0, 0.0])])
        self.command_pub.publish(message)

    def state(self):
        return self.node._state_machine.current_state[1]

    def bus_status(self):
        for array in reversed(self.diagnostics):
            for status in array.status:
                # Its own only: /diagnostics carries every rig's on this machine.
                if status.name in (f'{NAMESPACE}/field_bus/drill_bus',
                                   f'{NAMESPACE}/field_bus'):
                    return status
        return None

    def close(self):
        self.node.stop_actuators()
        self.node.destroy_node()
        self.operator.destroy_node()
        self.hil.close()


@pytest.fixture
def bench(tmp_path):
    rclpy.init()
    rig = Bench(tmp_path)
    yield rig
    rig.close()
    rclpy.try_shutdown()


def test_lifecycle_configure_activate_deactivate_cleanup(bench):
    spindle = bench.hil.devices['spindle']
    assert bench.state() == 'unconfigured'
    assert bench.node.trigger_configure() == TransitionCallbackReturn.SUCCESS
    assert bench.state() == 'inactive'
    # Configured: polling, actuators held safe, nothing published on the sensor topics.
    assert bench.spin_until(lambda: bench.node.bus.all_safe_confirmed())
    assert not bench.joints

    assert bench.node.trigger_activate() == TransitionCallbackReturn.SUCCESS
    assert bench.state() == 'active'
    bench.hil.devices['drill_gauge'].set('mass', 0.5)
    assert bench.spin_until(lambda: bench.joints and bench.masses and
                            bench.masses[-1] == pytest.approx(0.5))
    assert {'drill_feed', 'drill_spindle', 'anchor_0_joint'} <= set(bench.joints[-1].name)

    def spinning():
        bench.command_drill()
        return spindle.get('speed_ref') == pytest.approx(5.0) and spindle.get('control') == 1
    assert bench.spin_until(spinning)

    # Deactivate: the stop is written and read back before the transition completes.
    assert bench.node.trigger_deactivate() == TransitionCallbackReturn.SUCCESS
    assert bench.state() == 'inactive'
    assert spindle.get('control') == 0 and spindle.get('speed_ref') == 0.0
    assert spindle.was_written('control', 0)

    assert bench.node.trigger_cleanup() == TransitionCallbackReturn.SUCCESS
    assert bench.state() == 'unconfigured' and bench.node.bus is None
    # And round again.
    assert bench.node.trigger_configure() == TransitionCallbackReturn.SUCCESS


def test_the_achieved_poll_rate_is_in_the_diagnostics(bench):
    bench.node.trigger_configure()
    bench.node.trigger_activate()

    def reported():
        status = bench.bus_status()
        values = {kv.key: kv.value for kv in status.values} if status else {}
        return float(values.get('achieved_rate_hz', 0.0)) > 0.0
    assert bench.spin_until(reported)
    values = {kv.key: kv.value for kv in bench.bus_status().values}
    assert values['poll_rate_hz'] == '50' and values['spindle'].startswith('OK')
    assert bench.bus_status().level in (DiagnosticStatus.OK, DiagnosticStatus.WARN)


def test_a_device_fault_is_an_error_in_the_diagnostics(bench):
    bench.node.trigger_configure()
    bench.node.trigger_activate()
    bench.hil.lines['drill_bus'].fault = 'drop'

    def error():
        status = bench.bus_status()
        return status is not None and status.level == DiagnosticStatus.ERROR
    assert bench.spin_until(error)
    assert 'FAULT' in bench.bus_status().message
    # The joints of faulted devices go out as NaN rather than stale numbers.
    assert bench.spin_until(lambda: bench.joints and math.isnan(bench.joints[-1].position[0]))


def test_the_estop_service_stops_the_drives(bench):
    spindle = bench.hil.devices['spindle']
    bench.node.trigger_configure()
    bench.node.trigger_activate()
    assert bench.spin_until(lambda: (bench.command_drill(), spindle.get('control') == 1)[1])
    client = bench.operator.create_client(SetBool, 'field_bus/estop')
    assert bench.spin_until(client.service_is_ready)
    future = client.call_async(SetBool.Request(data=True))
    assert bench.spin_until(future.done) and future.result().success
    assert bench.spin_until(lambda: (bench.command_drill(), bench.node.bus.all_safe_confirmed())[1])
    assert spindle.get('control') == 0 and spindle.get('speed_ref') == 0.0


def test_a_non_finite_command_on_the_topic_is_refused_and_the_drive_stopped(bench):
    spindle = bench.hil.devices['spindle']
    bench.node.trigger_configure()
    bench.node.trigger_activate()
    assert bench.spin_until(lambda: (bench.command_drill(), spindle.get('control') == 1)[1])

    def spindle_safe():
        bench.command_drill(math.nan)
        return bench.node.bus.snapshots()['drill_bus'].devices['spindle'].safe_confirmed
    assert bench.spin_until(spindle_safe)
    assert spindle.get('control') == 0 and spindle.get('speed_ref') == 0.0
    # The feed's part of the same command was good: it goes on.
    assert bench.hil.devices['feed'].get('control') == 1


def test_configure_fails_with_the_reason_when_the_devices_are_not_there(tmp_path):
    rclpy.init()
    rig = Bench(tmp_path, port_dir=tmp_path / 'nowhere')
    try:
        assert rig.node.trigger_configure() == TransitionCallbackReturn.FAILURE
        assert rig.state() == 'unconfigured'
        assert 'nowhere/drill_bus' in rig.node.configure_error

        def error():
            status = rig.bus_status()
            return status is not None and status.level == DiagnosticStatus.ERROR
        assert rig.spin_until(error)
    finally:
        rig.close()
        rclpy.try_shutdown()


def test_lifecycle_states_are_the_standard_ones():
    # The node's states are lifecycle_msgs' primary states (what launch and tools expect).
    assert State.PRIMARY_STATE_INACTIVE == 2 and State.PRIMARY_STATE_ACTIVE == 3
