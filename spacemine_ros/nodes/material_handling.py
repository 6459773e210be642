"""material_handling: conveyor, separator and furnace feeders, and the mass ledger.

The line controller (core.material_handling.MaterialLine) sets the drive speeds each
period from the hopper levels, the conveyor's motor torque and its discharge. The node
also keeps the rig's mass ledger from the transfer points' totalizers
(core.material_handling.TotalizerBooks): each update the ledger is checked and each
weighed account compared with its mass sensor; a mismatch beyond ledger_tolerance is a
fault with the numbers, and the line stops.
"""

import math
import sys

from rcl_interfaces.msg import SetParametersResult
from rclpy.node import Node
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64, String
from std_srvs.srv import Trigger

from spacemine_ros.core.body import load_body
from spacemine_ros.core.config import ConfigError
from spacemine_ros.core.material_config import load_material_config
from spacemine_ros.core.material_handling import (
    build_line, LineMeasurement, LineParams, LineState, TotalizerBooks)
from spacemine_ros.nodes.common import (
    apply_tunables, COMMAND_QOS, config_file, declare, declare_tunables, Diagnostics, InputWatch,
    log_outcome, reject_non_finite, SENSOR_QOS, spin_node, stamp_to_seconds, STATE_QOS)

TUNABLES = {
    'conveyor_speed': ('Nominal conveyor screw speed [rad/s]', 0.01, 100.0),
    'separator_speed': ('Nominal separator drum speed [rad/s]', 0.01, 100.0),
    'feeder_speed': ('Furnace feeder screw speed [rad/s]', 0.01, 100.0),
    'loss_limit': ('Largest share of a flow allowed to escape the body at a transfer point',
                   1e-9, 0.5),
    'slow_level': ('Hopper fill share where backpressure starts slowing the line', 0.0, 1.0),
    'stop_level': ('Hopper fill share where the line stops', 0.0, 1.0),
    'clog_torque': ('Conveyor motor torque that suggests a clog [N m]', 0.01, 1000.0),
    'clog_flow_fraction': ('Discharge below this share of the expected flow, with high '
                           'torque, is a clog', 0.0, 1.0),
    'clog_min_load': ('Load on the conveyor before flow is expected [kg]', 0.0, 100.0),
    'clog_time': ('Duration of a clog before clearing it [s]', 0.05, 60.0),
    'reverse_speed': ('Conveyor speed backward while clearing [rad/s]', 0.01, 100.0),
    'reverse_time': ('Time the conveyor runs backward to clear a clog [s]', 0.05, 60.0),
    'max_clears': ('Clogs cleared in a row before the line faults', 0, 100),
}


class MaterialHandlingNode(Node):
    """Material line controller and ledger node."""

    def __init__(self, **kwargs):
        super().__init__('material_handling', **kwargs)
        body_key = declare(self, 'body', 'bennu', 'Body preset from the bodies file',
                           read_only=True)
        bodies_file = config_file(self, 'bodies_file', 'bodies.yaml', 'Body presets YAML')
        material_file = config_file(self, 'material_file', 'material.yaml',
                                    'Material path YAML')
        values = declare_tunables(self, TUNABLES, LineParams())
        self.feed_mass = declare(self, 'furnace_feed_mass', 1.0, 'Mass ~/feed_furnace moves '
                                 'to the furnace [kg]', 0.001, 1000.0)
        self.feed_source = declare(self, 'furnace_feed_source', 'hopper_metal', 'Hopper '
                                   '~/feed_furnace feeds from')
        self.tolerance = declare(self, 'ledger_tolerance', 0.05, 'Largest difference between '
                                 "a mass sensor and the ledger's account [kg]", 1e-6, 100.0)
        self.add_on_set_parameters_callback(self._on_set_parameters)
        try:
            body = load_body(bodies_file, body_key)
            self.config = load_material_config(material_file)
            params = LineParams(**values).validate()
        except (ConfigError, ValueError) as error:  # not started: spin_node says why, once
            raise ValueError(f'material_handling: {error}') from None
        self.body = body
        self.line = build_line(self.config, params, body.escape_velocity,
                               body.regolith.density)
        self.books = TotalizerBooks(self.config)
        self.ledger = self.books.ledger
        self.masses = {}  # account -> latest mass sensor reading [kg]
        self.fault = ''
        self.last_stamp = None

        for point in self.config.transfer_points:
            for kind in ('delivered', 'lost'):
                self.create_subscription(
                    Float64, f'material/{point}/{kind}',
                    lambda message, key=(point, kind): self._on_total(key, message), SENSOR_QOS)
        for account in self.config.accounts:
            self.create_subscription(
                Float64, f'material/{account}/mass',
                lambda message, name=account: self._on_mass(name, message), SENSOR_QOS)
        self.create_subscription(JointState, 'joint_states', self._on_joints, SENSOR_QOS)
        self.command_pub = self.create_publisher(JointState, 'material/command', COMMAND_QOS)
        self.state_pub = self.create_publisher(String, '~/state', STATE_QOS)
        self.ledger_pubs = {name: self.create_publisher(Float64, f'material/ledger/{name}',
                                                        STATE_QOS)
                            for name in list(self.config.accounts) + ['excavated', 'balance']}
        self.fill_pubs = {h: self.create_publisher(Float64, f'~/fill/{h}', 10)
                          for h in self.config.hoppers}
        self.flow_pub = self.create_publisher(Float64, '~/conveyor_flow', 10)
        self.create_service(Trigger, '~/start', self._on_start)
        self.create_service(Trigger, '~/stop', self._on_stop)
        self.create_service(Trigger, '~/reset', self._on_reset)
        self.create_service(Trigger, '~/feed_furnace', self._on_feed)
        self.diagnostics = Diagnostics(self, self._status)
        self.inputs = InputWatch(self, ['joint_states'], self._on_stale_input)
        self.published_state = None
        self.published_totals = {}
        self._publish_state()
        self._publish_ledger()

    # Parameters and services --------------------------------------------------------------
    def _on_set_parameters(self, parameters):
        failed = reject_non_finite(parameters)
        if failed:
            return failed
        params, failed = apply_tunables(self.line.params, parameters, TUNABLES)
        if failed:
            return failed
        for parameter in parameters:
            if parameter.name == 'furnace_feed_source' and \
                    parameter.value not in self.config.hoppers:
                return SetParametersResult(
                    successful=False, reason=f'furnace_feed_source must be one of '
                    f'{", ".join(self.config.hoppers)}, got {parameter.value!r}')
            if parameter.name == 'furnace_feed_mass':
                self.feed_mass = parameter.value
            if parameter.name == 'furnace_feed_source':
                self.feed_source = parameter.value
            if parameter.name == 'ledger_tolerance':
                self.tolerance = parameter.value
        self.line.params = params
        return SetParametersResult(successful=True)

    def _respond(self, response, result, action):
        response.success, response.message = result
        log_outcome(self, response.success, f'{action}: {response.message}')
        self._publish_state()
        return response

    def _on_start(self, request, response):
        missing = self.inputs.missing()
        if missing:
            return self._respond(response, (False, missing), 'start')
        if self.fault:
            return self._respond(response, (False, f'ledger fault: {self.fault}'), 'start')
        return self._respond(response, self.line.start(), 'start')

    def _on_stop(self, request, response):
        return self._respond(response, self.line.stop(), 'stop')

    def _on_reset(self, request, response):
        if self.fault:
            self.fault = ''
            self.line.state = LineState.STOPPED
            return self._respond(response, (True, 'ledger fault cleared; line stopped'),
                                 'reset')
        return self._respond(response, self.line.reset(), 'reset')

    def _on_feed(self, request, response):
        hopper = self.feed_source
        furnace_room = self.ledger.room('furnace')
        return self._respond(response, self.line.request_feed(
            hopper, self.feed_mass, self.masses.get(hopper, self.ledger.mass(hopper)),
            furnace_room), 'feed_furnace')

    # Sensors -------------------------------------------------------------------------------
    def _on_total(self, key, message):
        if math.isfinite(message.data) and message.data >= 0.0:
            self.books.totals[key] = message.data
        else:
            self.get_logger().error(f'material/{key[0]}/{key[1]}: bad reading {message.data}',
                                    throttle_duration_sec=5.0)

    def _on_mass(self, account, message):
        if math.isfinite(message.data):
            self.masses[account] = message.data

    def _on_joints(self, message):
        self.inputs.saw('joint_states')
        stamp = stamp_to_seconds(message.header.stamp)
        if self.last_stamp is not None and stamp <= self.last_stamp:
            return  # a repeated period
        self.last_stamp = stamp
        if not self.fault:
            self.fault = self.books.update(stamp, self.masses, self.tolerance)
            if self.fault:
                self.get_logger().error(f'ledger fault: {self.fault}; line stopped')
                self.line.stop()
        index = {name: i for i, name in enumerate(message.name)}
        try:
            torque = message.effort[index['conveyor_screw']]
        except (KeyError, IndexError):
            torque = math.nan
        if not math.isfinite(torque):
            self.get_logger().error('no conveyor torque in joint_states; line stopped',
                                    throttle_duration_sec=5.0)
            self.line.stop()
        point = 'conveyor_discharge'
        measurement = LineMeasurement(
            time=stamp, conveyor_torque=torque if math.isfinite(torque) else 0.0,
            conveyor_load=self.masses.get('conveyor', self.ledger.mass('conveyor')),
            conveyor_discharged=self.books.reading(point, 'delivered')
            + self.books.reading(point, 'lost'),
            hopper_masses={h: self.masses.get(h, self.ledger.mass(h))
                           for h in self.config.hoppers},
            fed=sum(self.books.reading(name, 'delivered')
                    for name in self.config.transfer_points if name.startswith('feed_')))
        command = self.line.update(measurement)
        command_speeds = {'conveyor_screw': command.conveyor,
                          'separator_drum': command.separator}
        for hopper, speed in (command.feeders or {}).items():
            command_speeds[f'feeder_{hopper[len("hopper_"):]}'] = speed
        out = JointState()
        out.header.stamp = message.header.stamp
        out.name = list(command_speeds)
        out.velocity = [float(v) for v in command_speeds.values()]
        self.command_pub.publish(out)
        for hopper, publisher in self.fill_pubs.items():
            publisher.publish(Float64(data=measurement.hopper_masses[hopper]
                                      / self.config.capacities[hopper]))
        self.flow_pub.publish(Float64(data=float(self.line.flow)))
        self._publish_ledger()
        self._publish_state()

    def _publish_ledger(self):
        totals = self.ledger.totals()
        totals['balance'] = totals['excavated'] - sum(
            v for k, v in totals.items() if k != 'excavated')
        for name, value in totals.items():
            if self.published_totals.get(name) != value:  # latched: only changes go out
                self.published_totals[name] = value
                self.ledger_pubs[name].publish(Float64(data=float(value)))

    def _state_text(self):
        return 'FAULT' if self.fault else self.line.state.value

    def _publish_state(self):
        state = self._state_text()
        if state != self.published_state:
            self.published_state = state
            self.state_pub.publish(String(data=state))
            reason = self.fault or self.line.reason
            self.get_logger().info(f'state {state}' + (f': {reason}' if reason else ''))

    def _on_stale_input(self, reason):
        if self.line.input_lost(reason):
            self.get_logger().error(f'input lost: {reason}: {self.line.reason}')
            self._publish_state()

    def _status(self):
        totals = self.ledger.totals()
        values = {'state': self._state_text(), 'clogs': self.line.clogs,
                  'backpressure': f'{self.line.backpressure:.2f}',
                  'conveyor_flow_kg_s': f'{self.line.flow:.4f}',
                  'excavated_kg': f'{totals["excavated"]:.3f}',
                  'lost_kg': f'{totals["lost"]:.4f}',
                  'transfers': len(self.ledger.record)}
        values.update({f'{h}_kg': f'{totals[h]:.3f}' for h in self.config.hoppers})
        if self.fault:
            return 'ERROR', f'ledger: {self.fault}', values
        if self.line.state == LineState.FAULT:
            return 'ERROR', self.line.reason, values
        stale = self.inputs.problems()
        if stale:
            return 'ERROR', stale, values
        if self.line.state == LineState.HELD:
            return 'WARN', 'held by a full hopper', values
        return 'OK', self.line.state.value, values

    def stop_actuators(self):
        """Stop every drive (used on shutdown)."""
        out = JointState()
        out.header.stamp = self.get_clock().now().to_msg()
        out.name = ['conveyor_screw', 'separator_drum'] + [
            f'feeder_{h[len("hopper_"):]}' for h in self.config.hoppers]
        out.velocity = [0.0] * len(out.name)
        self.command_pub.publish(out)


def main(args=None):
    """Run the material_handling node."""
    return spin_node(MaterialHandlingNode, args)


if __name__ == '__main__':
    sys.exit(main())
