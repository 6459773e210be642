"""field_bus: the hardware backend, a lifecycle node driving the rig's Modbus RTU buses.

It publishes and obeys the same hardware-interface topics as rig_sim (joint_states,
sensor topics, the command topics), for the devices in the rig description. The buses
are polled by their own threads (hardware/field_bus.py), so serial I/O never blocks the
executor; this node only maps messages and publishes what the threads last read.

Lifecycle: configure opens every port and checks every device answers (FAILURE, with
the devices and reasons, if not), then starts polling with the actuators held safe;
activate lets them follow their commands; deactivate makes them safe and waits for the
safe values to be read back; cleanup closes the ports. With autostart the node
configures and activates itself.
"""

import math
import sys
import time

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import WrenchStamped
from nav_msgs.msg import Odometry
from rclpy.clock import Clock, ClockType
from rclpy.lifecycle import Node as LifecycleNode, TransitionCallbackReturn
from sensor_msgs.msg import JointState, Temperature
from trajectory_msgs.msg import JointTrajectory
from std_msgs.msg import Bool, Float64
from std_srvs.srv import SetBool

from spacemine_ros.core.config import ConfigError
from spacemine_ros.hardware.field_bus import bus_health, FieldBus
from spacemine_ros.hardware.modbus_device import DeviceError
from spacemine_ros.hardware.ports import parse_ports, resolve_ports
from spacemine_ros.hardware.profiles import check_parity
from spacemine_ros.hardware.rig_description import load_rig_description
from spacemine_ros.nodes.common import (
    COMMAND_QOS, command_arrays, config_file, declare, declare_frame_prefix, LEVELS, rig_files,
    SENSOR_QOS, spin_node, STATE_QOS)

SAFE_WAIT = 2.0  # s a transition waits for the safe values to be confirmed


class FieldBusNode(LifecycleNode):
    """The rig's Modbus buses behind the hardware-interface topics."""

    def __init__(self, **kwargs):
        super().__init__('field_bus', **kwargs)
        self.rig, self.description_file = rig_files(self)
        self.devices_file = config_file(self, 'devices_file', 'devices.yaml',
                                        'Device profiles YAML')
        self.port_overrides = list(declare(
            self, 'ports', [''], 'bus=/dev/path entries overriding the described ports',
            read_only=True))
        self.parity = declare(self, 'parity', '', 'Parity for every bus: none, even or odd '
                              '(empty: as described)', read_only=True)
        self.request_timeout = declare(
            self, 'request_timeout', 0.0, 'Reply timeout per request on every bus [s] (0: as '
            'described); virtual lines on a loaded host need more than real RS-485', 0.0, 10.0,
            read_only=True)
        self.frame_prefix = declare_frame_prefix(self)
        self.publish_rate = declare(self, 'publish_rate', 20.0, 'Rate of joint_states and '
                                    'sensor topics [Hz]', 1.0, 1000.0, read_only=True)
        self.port_dir = declare(self, 'port_dir', '', 'Directory holding one port link per '
                                'bus, named after the bus (HIL); empty: not used',
                                read_only=True)
        autostart = declare(self, 'autostart', False, 'Configure and activate at start, '
                            'retrying configure until the devices answer', read_only=True)
        self.autostart_retry = declare(self, 'autostart_retry', 2.0, 'First wait before '
                                       'configure is tried again in autostart; it doubles '
                                       'after each failure [s]', 0.1, 600.0, read_only=True)
        self.autostart_retry_max = declare(self, 'autostart_retry_max', 30.0, 'Longest wait '
                                           'between configure attempts in autostart [s]',
                                           0.1, 3600.0, read_only=True)
        self.bus = None
        self.publishers_ = {}
        self.subscriptions_ = []
        self.publish_timer = None
        self.estop_latched = False  # latched by this node's ~/estop service
        self.rig_estop = False  # the rig-wide e-stop topic
        self.diagnostics_pub = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        steady = Clock(clock_type=ClockType.STEADY_TIME)
        self.create_timer(1.0, self._publish_diagnostics, clock=steady)
        self.create_service(SetBool, '~/estop', self._on_estop)
        self.create_subscription(Bool, 'estop', self._on_rig_estop, STATE_QOS)
        self.configure_error = ''
        self.configure_attempts = 0
        self._autostart_timer = None
        self._retry_delay = self.autostart_retry
        self._next_configure = time.monotonic()
        if autostart:
            self._autostart_timer = self.create_timer(
                min(0.25, self.autostart_retry), self._autostart, clock=steady)
            self._autostart()

    def _autostart(self):
        # Until the buses answer (a rig powering up, HIL lines not open yet) try again,
        # waiting twice as long after each failure, up to autostart_retry_max.
        if time.monotonic() < self._next_configure:
            return
        if self.bus is None and self.trigger_configure() != TransitionCallbackReturn.SUCCESS:
            self._next_configure = time.monotonic() + self._retry_delay
            self.get_logger().warning(f'configure will be tried again in '
                                      f'{self._retry_delay:.1f} s')
            self._retry_delay = min(2.0 * self._retry_delay, self.autostart_retry_max)
            return
        self._autostart_timer.cancel()
        self.trigger_activate()

    # Lifecycle -------------------------------------------------------------------------------
    def on_configure(self, state):
        """Load the description, open the ports, check the devices, start polling."""
        self.configure_attempts += 1
        try:
            description = load_rig_description(self.description_file, self.devices_file, self.rig)
            ports = resolve_ports(description.buses,
                                  parse_ports([p for p in self.port_overrides if p]),
                                  self.port_dir)
            if self.parity:
                check_parity(self.parity, 'parameter parity')
            bus = FieldBus(description, ports, parity=self.parity or None,
                           timeout=self.request_timeout or None)
        except (ConfigError, DeviceError, ValueError, OSError) as error:
            return self._configure_failed(str(error))
        try:
            missing = bus.open()
        except DeviceError as error:
            bus.close()
            return self._configure_failed(str(error))
        if missing:
            bus.close()
            return self._configure_failed('devices not answering: ' + '; '.join(
                f'{name}: {reason}' for name, reason in missing.items()))
        self.bus = bus
        self.bus.set_estop(self.estop_latched or self.rig_estop)
        self.bus.start()
        self._make_interfaces(description)
        self.configure_error = ''
        self.get_logger().info(
            f'{description.name}: {len(description.devices)} devices on '
            + ', '.join(f'{name} ({ports[name]})' for name in bus.workers))
        return TransitionCallbackReturn.SUCCESS

    def _configure_failed(self, reason):
        self.configure_error = reason
        self.get_logger().error(f'configure failed: {reason}')
        return TransitionCallbackReturn.FAILURE

    def _make_interfaces(self, description):
        self.publishers_['joint_states'] = self.create_publisher(JointState, 'joint_states',
                                                                 SENSOR_QOS)
        types = {'float64': Float64, 'temperature': Temperature, 'wrench': WrenchStamped,
                 'odometry': Odometry}
        for device in description.devices.values():
            for output in device.outputs:
                self.publishers_[output.topic] = self.create_publisher(
                    types[output.type], output.topic, SENSOR_QOS)
        for topic in self.bus.by_topic:
            self.subscriptions_.append(self.create_subscription(
                JointTrajectory, topic, lambda msg, topic=topic: self._on_command(topic, msg),
                COMMAND_QOS))

    def on_activate(self, state):
        """Let the actuators follow their commands; start publishing."""
        self.bus.enable_outputs(True)
        self.publish_timer = self.create_timer(1.0 / self.publish_rate, self._publish)
        self.get_logger().info('outputs enabled')
        return TransitionCallbackReturn.SUCCESS

    def on_deactivate(self, state):
        """Make every actuator safe and wait for the safe values to be read back."""
        self._stop_publishing()
        confirmed = self._make_safe()
        return TransitionCallbackReturn.SUCCESS if confirmed else TransitionCallbackReturn.ERROR

    def on_cleanup(self, state):
        """Close the ports."""
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state):
        """Make safe and close, from any state."""
        self._stop_publishing()
        if self.bus is not None:
            self._make_safe()
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def on_error(self, state):
        """Make safe and close; the node returns to unconfigured."""
        self.get_logger().error('error: actuators made safe, ports closed')
        return self.on_shutdown(state)

    def stop_actuators(self):
        """Leave the rig safe on the way out (called by shutdown_nodes)."""
        if self.bus is not None:
            self._stop_publishing()
            self._make_safe()
            self._release()

    def _make_safe(self):
        if self.bus is None:
            return True
        self.bus.enable_outputs(False)
        # Bounded wait for the polling threads to write and read back the safe values;
        # only transitions and shutdown wait here, never a topic callback.
        deadline = time.monotonic() + SAFE_WAIT
        while not self.bus.all_safe_confirmed() and time.monotonic() < deadline:
            time.sleep(0.01)
        confirmed = self.bus.all_safe_confirmed()
        if confirmed:
            self.get_logger().info('actuators safe (confirmed)')
        else:
            self.get_logger().error('actuators NOT confirmed safe: ' + self._unsafe_list())
        return confirmed

    def _unsafe_list(self):
        return ', '.join(f'{name} ({status.last_error or status.safe_reason})'
                         for snapshot in self.bus.snapshots().values()
                         for name, status in snapshot.devices.items()
                         if self.bus.description.devices[name].command
                         and not status.safe_confirmed) or 'none'

    def _stop_publishing(self):
        if self.publish_timer is not None:
            self.destroy_timer(self.publish_timer)
            self.publish_timer = None

    def _release(self):
        self._stop_publishing()
        for subscription in self.subscriptions_:
            self.destroy_subscription(subscription)
        for publisher in self.publishers_.values():
            self.destroy_publisher(publisher)
        self.subscriptions_, self.publishers_ = [], {}
        if self.bus is not None:
            self.bus.close()
            self.bus = None

    # Topics and services ---------------------------------------------------------------------
    def _on_command(self, topic, message):
        if self.bus is None:
            return
        # The devices keep their own command timeout (their profiles'): a command's
        # window does not stretch it.
        try:
            names, position, velocity, effort, _ = command_arrays(message)
        except ValueError as error:
            self.get_logger().error(f'{topic}: {error}; its devices held safe',
                                    throttle_duration_sec=5.0)
            names, position, velocity, effort = self._all_joints(topic), [], [], []
        refused = self.bus.command(topic, names, position, velocity, effort)
        for joint, reason in refused:
            self.get_logger().error(f'{topic}: {joint} refused ({reason}); held safe',
                                    throttle_duration_sec=5.0)

    def _all_joints(self, topic):
        return list(self.bus.by_topic.get(topic, {}))

    def _on_rig_estop(self, message):
        if bool(message.data) == self.rig_estop:
            return
        self.rig_estop = bool(message.data)
        if self.bus is not None:
            self.bus.set_estop(self.estop_latched or self.rig_estop)
        self.get_logger().warning('rig e-stop ' + ('latched: every drive held at its safe '
                                                   'values' if self.rig_estop else 'released'))

    def _on_estop(self, request, response):
        self.estop_latched = bool(request.data)
        if self.bus is not None:
            self.bus.set_estop(self.estop_latched or self.rig_estop)
        response.success = True
        response.message = 'e-stop latched' if self.estop_latched else 'e-stop released'
        self.get_logger().warning(response.message)
        return response

    def _publish(self):
        snapshots = self.bus.snapshots()
        stamp = self.get_clock().now().to_msg()
        for when, text in self.bus.events():
            if 'FAULT' in text or 'lost' in text:
                self.get_logger().error(text)
            else:
                self.get_logger().info(text)
        # Sensors first, joint_states last: joint_states is the controllers' tick.
        for output, values in self.bus.outputs(snapshots):
            self.publishers_[output.topic].publish(self._output_message(output, values, stamp))
        rows = self.bus.joint_states(snapshots)
        if rows:
            message = JointState()
            message.header.stamp = stamp
            message.name = [row[0] for row in rows]
            message.position = [float(row[1]) for row in rows]
            message.velocity = [float(row[2]) for row in rows]
            message.effort = [float(row[3]) for row in rows]
            self.publishers_['joint_states'].publish(message)

    def _output_message(self, output, values, stamp):
        # An invalid or unreadable sensor is published as NaN: the consumer's own checks
        # (e.g. the smelter's thermocouple monitor) then act on it.
        values = values or [math.nan] * len(output.registers)
        if output.type == 'float64':
            return Float64(data=float(values[0]))
        if output.type == 'temperature':
            message = Temperature(temperature=float(values[0]), variance=0.0)
        elif output.type == 'odometry':
            message = Odometry(child_frame_id=self._frame(output.child_frame))
            position = message.pose.pose.position
            position.x, position.y, position.z = (float(v) for v in values)
            message.pose.pose.orientation.w = 1.0
        else:
            message = WrenchStamped()
            force = message.wrench.force
            force.x, force.y, force.z = (float(v) for v in values)
        message.header.stamp = stamp
        message.header.frame_id = self._frame(output.frame)
        return message

    def _frame(self, name):
        return self.frame_prefix + name if name else ''

    def _publish_diagnostics(self):
        array = DiagnosticArray()
        array.header.stamp = self.get_clock().now().to_msg()
        name = self.get_fully_qualified_name()
        if self.bus is None:
            level = 'ERROR' if self.configure_error else 'OK'
            array.status.append(DiagnosticStatus(
                level=LEVELS[level], name=name, hardware_id=self.get_name(),
                message=self.configure_error or 'not configured'))
            self.diagnostics_pub.publish(array)
            return
        actuators = {d.name for d in self.bus.description.devices.values() if d.command}
        for bus_name, snapshot in self.bus.snapshots().items():
            level, message, values = bus_health(snapshot, actuators)
            values['estop'] = self.estop_latched or self.rig_estop
            array.status.append(DiagnosticStatus(
                level=LEVELS[level], name=f'{name}/{bus_name}', hardware_id=snapshot.port,
                message=message, values=[KeyValue(key=str(k), value=str(v))
                                         for k, v in values.items()]))
        self.diagnostics_pub.publish(array)


def main(args=None):
    """Run the field-bus node."""
    return spin_node(FieldBusNode, args)


if __name__ == '__main__':
    sys.exit(main())
