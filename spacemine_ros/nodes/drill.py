"""drill: drills to the operator's goal depth within the anchors', motor and power limits."""

import math
import sys

from geometry_msgs.msg import WrenchStamped
from rcl_interfaces.msg import SetParametersResult
from rclpy.node import Node
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64, String
from std_srvs.srv import Trigger

from spacemine_ros.core.drill_controller import (
    DrillController, DrillMeasurement, DrillParams, DrillState)
from spacemine_ros.nodes.common import (
    AnchoringStatus, apply_tunables, COMMAND_QOS, declare_tunables, Diagnostics, InputWatch,
    log_outcome, reject_non_finite, SENSOR_QOS, spin_node, stamp_to_seconds, STATE_QOS)

# name: (description, low, high) of each DrillParams field exposed as a parameter
TUNABLES = {
    'goal_depth': ('Depth to drill to, below the surface [m]', 0.001, 10.0),
    'feed_stroke': ('Travel of the feed [m]', 0.01, 10.0),
    'max_thrust': ('Feed drive thrust limit [N]', 1.0, 10000.0),
    'capacity_fraction': ("Share of the anchors' safe capacity the drill may use [-]",
                          0.0, 1.0),
    'max_torque': ('Spindle motor torque limit [N m]', 0.1, 1000.0),
    'torque_margin': ('Thrust is limited so torque stays below this share of the limit [-]',
                      0.1, 1.0),
    'power_budget': ('Spindle power budget [W]', 1.0, 100000.0),
    'max_spindle_speed': ('Spindle speed limit [rad/s]', 0.1, 500.0),
    'max_feed_speed': ('Cap on the rate of penetration [m/s]', 1e-5, 0.1),
    'approach_speed': ('Feed speed toward the surface [m/s]', 1e-4, 0.1),
    'approach_thrust': ('Thrust limit while approaching [N]', 0.1, 1000.0),
    'contact_thrust': ('Thrust that signals contact with the ground [N]', 0.01, 100.0),
    'retract_speed': ('Feed speed when retracting [m/s]', 1e-4, 0.1),
    'thrust_ramp': ('Thrust ramp rate [N/s]', 0.1, 10000.0),
    'speed_ramp': ('Spindle acceleration [rad/s^2]', 0.01, 1000.0),
    'stall_torque_fraction': ('Torque share of the limit that counts as stalled [-]', 0.5, 1.0),
    'stall_rate': ('Penetration rate below which the bit makes no progress [m/s]', 1e-8, 1e-2),
    'stall_time': ('Stall duration before backing off [s]', 0.01, 60.0),
    'backoff_distance': ('Back-off travel to clear a jam [m]', 1e-4, 0.5),
    'max_retries': ('Back-offs before the drill faults', 0, 100),
    'position_tolerance': ('Feed position tolerance [m]', 1e-6, 0.01),
    'bit_radius': ('Bit radius, for the specific energy [m]', 0.001, 0.5),
}


class DrillNode(Node):
    """Drill controller node."""

    def __init__(self, **kwargs):
        super().__init__('drill', **kwargs)
        defaults = DrillParams()
        values = declare_tunables(self, TUNABLES, defaults)
        try:
            params = DrillParams(**values).validate()
        except ValueError as error:  # the node does not start: spin_node says why, once
            raise ValueError(f'drill parameters: {error}') from None
        self.controller = DrillController(params)
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self.blade_load = 0.0  # N the scraper blade puts on the anchors (shared budget)

        # Anchor status first: when it and a tick are both waiting, it is handled first.
        self.anchoring = AnchoringStatus(self)
        self.create_subscription(WrenchStamped, 'scraper/blade_wrench', self._on_blade,
                                 SENSOR_QOS)
        self.create_subscription(JointState, 'joint_states', self._on_joints, SENSOR_QOS)
        self.command_pub = self.create_publisher(JointState, 'drill/command', COMMAND_QOS)
        self.state_pub = self.create_publisher(String, '~/state', STATE_QOS)
        self.value_pubs = {name: self.create_publisher(Float64, f'~/{name}', 10) for name in (
            'depth', 'rate_of_penetration', 'thrust', 'torque', 'specific_energy', 'energy')}
        self.create_service(Trigger, '~/start', self._on_start)
        self.create_service(Trigger, '~/abort', self._on_abort)
        self.diagnostics = Diagnostics(self, self._status)
        self.inputs = InputWatch(self, ['joint_states'], self._on_stale_input)
        self.published_state = None
        self.last_stamp = None
        self._publish_state()

    def _on_set_parameters(self, parameters):
        failed = reject_non_finite(parameters)
        if not failed:
            self.controller.params, failed = apply_tunables(self.controller.params, parameters,
                                                            TUNABLES)
        return failed or SetParametersResult(successful=True)

    def _on_blade(self, message):
        force = message.wrench.force
        magnitude = math.sqrt(force.x ** 2 + force.y ** 2 + force.z ** 2)
        # An unreadable blade force is taken as the whole budget: drill nothing.
        self.blade_load = magnitude if math.isfinite(magnitude) else math.inf

    def _on_start(self, request, response):
        missing = self.inputs.missing()
        response.success, response.message = (False, missing) if missing else \
            self.controller.start(self.anchoring.anchored, self.anchoring.safe_capacity)
        log_outcome(self, response.success, f'start: {response.message}')
        self._publish_state()
        return response

    def _on_abort(self, request, response):
        response.success, response.message = self.controller.abort()
        self.get_logger().info(f'abort: {response.message}')
        self._publish_state()
        return response

    def _on_joints(self, message):
        self.inputs.saw('joint_states')
        stamp = stamp_to_seconds(message.header.stamp)
        if self.last_stamp is not None and stamp <= self.last_stamp:
            return  # a repeated period
        index = {name: i for i, name in enumerate(message.name)}
        try:
            feed, spindle = index['drill_feed'], index['drill_spindle']
            measurement = DrillMeasurement(
                time=stamp, feed_position=message.position[feed],
                spindle_speed=message.velocity[spindle], thrust=message.effort[feed],
                torque=message.effort[spindle])
        except (KeyError, IndexError) as error:
            self.get_logger().error(f'joint_states lacks drill joints ({error}); drill stopped',
                                    throttle_duration_sec=5.0)
            return
        if not all(math.isfinite(v) for v in (measurement.feed_position, measurement.thrust,
                                              measurement.torque, measurement.spindle_speed)):
            self.get_logger().error('non-finite drill measurement; aborting',
                                    throttle_duration_sec=5.0)
            self.controller.abort('non-finite measurement')
            return
        self.last_stamp = stamp
        before = self.controller.state
        command = self.controller.update(measurement, self.anchoring.anchored,
                                         self.anchoring.safe_capacity,
                                         shared_load=self.blade_load)
        out = JointState()
        out.header.stamp = message.header.stamp
        out.name = ['drill_feed', 'drill_spindle']
        out.position = [math.nan, math.nan]
        out.velocity = [command.feed_speed, command.spindle_speed]
        out.effort = [command.thrust_limit, math.nan]
        self.command_pub.publish(out)
        if self.controller.state != before and self.controller.state == DrillState.FAULT:
            self.get_logger().error(f'drill fault: {self.controller.reason}')
        self._publish_values(measurement)
        self._publish_state()

    def _publish_values(self, measurement):
        controller = self.controller
        values = {'depth': controller.depth, 'rate_of_penetration': controller.rate,
                  'thrust': measurement.thrust, 'torque': measurement.torque,
                  'specific_energy': controller.specific_energy or 0.0,
                  'energy': controller.energy}
        for name, value in values.items():
            self.value_pubs[name].publish(Float64(data=float(value)))

    def _publish_state(self):
        if self.controller.state != self.published_state:
            self.published_state = self.controller.state
            self.state_pub.publish(String(data=self.controller.state.value))
            self.get_logger().info(f'state {self.controller.state.value}'
                                   + (f': {self.controller.reason}'
                                      if self.controller.reason else ''))

    def _on_stale_input(self, reason):
        if self.controller.input_lost(reason):
            self.get_logger().error(f'input lost: {reason}: {self.controller.reason}')
            self._publish_state()

    def _status(self):
        controller = self.controller
        values = {'state': controller.state.value, 'depth_m': f'{controller.depth:.4f}',
                  'goal_depth_m': f'{controller.params.goal_depth:.4f}',
                  'peak_thrust_N': f'{controller.peak_thrust:.1f}',
                  'safe_capacity_N': f'{self.anchoring.safe_capacity:.1f}',
                  'anchoring': self.anchoring.state, 'retries': controller.retries}
        if controller.state == DrillState.FAULT:
            return 'ERROR', controller.reason, values
        stale = self.inputs.problems()
        if stale:
            return 'ERROR', stale, values
        return 'OK', controller.state.value, values

    def stop_actuators(self):
        """Publish a zero command (used on shutdown)."""
        out = JointState()
        out.header.stamp = self.get_clock().now().to_msg()
        out.name = ['drill_feed', 'drill_spindle']
        out.velocity = [0.0, 0.0]
        out.effort = [0.0, 0.0]
        self.command_pub.publish(out)


def main(args=None):
    """Run the drill node."""
    return spin_node(DrillNode, args)


if __name__ == '__main__':
    sys.exit(main())
