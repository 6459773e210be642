"""scraper: runs the operator's scraping passes within the anchors' shared force budget."""

import dataclasses
import math
import sys

from geometry_msgs.msg import WrenchStamped
from rcl_interfaces.msg import SetParametersResult
from rclpy.node import Node
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64, String
from std_srvs.srv import Trigger

from spacemine_ros.core.scraper import (
    JOINTS, ScrapeRequest, ScraperController, ScraperMeasurement, ScraperParams, ScraperState)
from spacemine_ros.core.ticks import TickAssembler
from spacemine_ros.nodes.common import (
    AnchoringStatus, apply_tunables, COMMAND_QOS, declare_tunables, Diagnostics, InputWatch,
    log_outcome, reject_non_finite, SENSOR_QOS, spin_node, stamp_to_seconds, STATE_QOS)

# name: (description, low, high) of the operator's job, checked against the arm's reach
REQUEST = {
    'reach': ('Start of each pass, from the slew axis [m]', 0.1, 3.0),
    'pass_length': ('Length of each pass, cut toward the rig [m]', 0.01, 2.0),
    'cut_depth': ('Cut depth below the original ground [m]', 0.001, 0.3),
    'passes': ('Number of passes, fanned around the slew axis', 1, 50),
    'pass_spacing': ('Distance between pass centre lines [m]', 0.01, 2.0),
}
# name: (description, low, high) of each ScraperParams field exposed as a parameter
TUNABLES = {
    'max_blade_force': ('Arm drive force limit at the blade [N]', 1.0, 10000.0),
    'capacity_fraction': ("Share of the anchors' safe capacity all tools together may use",
                          0.0, 1.0),
    'cut_speed': ('Blade speed while cutting [m/s]', 0.001, 0.5),
    'transit_speed': ('Tip speed between cuts [m/s]', 0.001, 1.0),
    'clearance': ('Blade height above ground between cuts [m]', 0.01, 0.5),
    'depth_rate': ('Rate the cut depth may change under force control [m/s]', 1e-4, 0.5),
    'force_backoff_fraction': ('Cut shallower above this share of the force limit', 0.1, 1.0),
    'jam_force_fraction': ('Force share of the limit that, without progress, is a jam',
                           0.5, 1.0),
    'jam_rate': ('Blade speed below which it makes no progress [m/s]', 1e-5, 0.1),
    'jam_time': ('Duration of a jam before recovery [s]', 0.05, 60.0),
    'jam_skip': ('Distance the blade moves past a jam [m]', 0.01, 1.0),
    'max_jams': ('Jams per job before a fault', 0, 100),
    'dump_angle': ('Wrist angle that tips the bucket [rad]', 0.0, 2.0),
    'dump_time': ('Least time the bucket is held tipped [s]', 0.1, 60.0),
    'bucket_empty_mass': ('Bucket mass below which a dump is done [kg]', 1e-4, 10.0),
    'dump_timeout': ('Longest time the tipped bucket may go without getting lighter '
                     'before the scraper faults [s]', 0.1, 600.0),
    'wrist_speed': ('Wrist speed [rad/s]', 0.01, 1.0),
    'position_tolerance': ('Tip position tolerance [m]', 1e-4, 0.1),
}


class ScraperNode(Node):
    """Scraper controller node."""

    def __init__(self, **kwargs):
        super().__init__('scraper', **kwargs)
        defaults, request = ScraperParams(), ScrapeRequest()
        values = declare_tunables(self, TUNABLES, defaults)
        self.request = ScrapeRequest(**declare_tunables(self, REQUEST, request))
        try:
            params = ScraperParams(**values).validate()
        except ValueError as error:  # the node does not start: spin_node says why, once
            raise ValueError(f'scraper parameters: {error}') from None
        self.controller = ScraperController(params)
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self.collected = 0.0

        self.anchoring = AnchoringStatus(self)
        self.create_subscription(Float64, 'material/scraper_cut/delivered', self._on_collected,
                                 SENSOR_QOS)
        self.bucket_mass = 0.0
        self.create_subscription(Float64, 'material/scraper/mass', self._on_bucket,
                                 SENSOR_QOS)
        # One control period needs the joints and the blade force of the same instant.
        self.ticks = TickAssembler(('joints', 'blade'))
        self.create_subscription(JointState, 'joint_states', self._on_joints, SENSOR_QOS)
        self.create_subscription(WrenchStamped, 'scraper/blade_wrench', self._on_blade,
                                 SENSOR_QOS)
        self.command_pub = self.create_publisher(JointState, 'scraper/command', COMMAND_QOS)
        self.state_pub = self.create_publisher(String, '~/state', STATE_QOS)
        self.value_pubs = {name: self.create_publisher(Float64, f'~/{name}', 10) for name in (
            'blade_force', 'force_limit', 'collected_mass', 'cut_depth')}
        self.create_service(Trigger, '~/start', self._on_start)
        self.create_service(Trigger, '~/abort', self._on_abort)
        self.create_service(Trigger, '~/reset', self._on_reset)
        self.diagnostics = Diagnostics(self, self._status)
        self.inputs = InputWatch(self, ['joint_states'], self._on_stale_input)
        self.published_state = None
        self._publish_state()

    # Parameters and services --------------------------------------------------------------
    def _on_set_parameters(self, parameters):
        failed = reject_non_finite(parameters)
        if failed:
            return failed
        params, failed = apply_tunables(self.controller.params, parameters, TUNABLES)
        if failed:
            return failed
        job = {p.name: p.value for p in parameters if p.name in REQUEST}
        request = dataclasses.replace(self.request, **job)
        if job:
            try:
                request.plan(self.controller.geometry)  # refuse a job the arm cannot do
            except ValueError as error:
                return SetParametersResult(successful=False, reason=str(error))
        self.controller.params, self.request = params, request
        return SetParametersResult(successful=True)

    def _on_collected(self, message):
        if math.isfinite(message.data):
            self.collected = message.data

    def _on_bucket(self, message):
        if math.isfinite(message.data):
            self.bucket_mass = message.data

    def _on_start(self, request, response):
        missing = self.inputs.missing()
        response.success, response.message = (False, missing) if missing else \
            self.controller.start(dataclasses.replace(self.request), self.anchoring.anchored,
                                  self.anchoring.safe_capacity)
        log_outcome(self, response.success, f'start: {response.message}')
        self._publish_state()
        return response

    def _on_abort(self, request, response):
        response.success, response.message = self.controller.abort()
        self.get_logger().info(f'abort: {response.message}')
        self._publish_state()
        return response

    def _on_reset(self, request, response):
        response.success, response.message = self.controller.reset()
        self._publish_state()
        return response

    # Control -------------------------------------------------------------------------------
    def _on_joints(self, message):
        self.inputs.saw('joint_states')
        self._tick(self.ticks.add('joints', stamp_to_seconds(message.header.stamp), message))

    def _on_blade(self, message):
        self._tick(self.ticks.add('blade', stamp_to_seconds(message.header.stamp), message))

    def _tick(self, tick):
        if tick is None:
            return
        stamp, inputs = tick
        joints, blade = inputs['joints'], inputs['blade'].wrench.force
        index = {name: i for i, name in enumerate(joints.name)}
        try:
            positions = {name: joints.position[index[name]] for name in JOINTS}
            drill_load = abs(joints.effort[index['drill_feed']]) if 'drill_feed' in index \
                else 0.0
        except (KeyError, IndexError) as error:
            self.get_logger().error(f'joint_states lacks scraper joints ({error}); arm held',
                                    throttle_duration_sec=5.0)
            return
        force = math.sqrt(blade.x ** 2 + blade.y ** 2 + blade.z ** 2)
        values = list(positions.values()) + [force, drill_load]
        if not all(math.isfinite(v) for v in values):
            self.get_logger().error('non-finite scraper measurement; stopping',
                                    throttle_duration_sec=5.0)
            self.controller.abort('non-finite measurement')
            return
        before = self.controller.state
        command = self.controller.update(
            ScraperMeasurement(stamp, positions, force, drill_load, self.bucket_mass),
            self.anchoring.anchored, self.anchoring.safe_capacity)
        out = JointState()
        out.header.stamp = joints.header.stamp
        out.name = list(JOINTS)
        out.position = [float(command.positions[name]) for name in JOINTS]
        out.velocity = [float(command.velocities.get(name, 0.0)) for name in JOINTS]
        out.effort = [float(command.force_limit)] * len(JOINTS)  # the blade force limit
        self.command_pub.publish(out)
        if self.controller.state != before and self.controller.state == ScraperState.FAULT:
            self.get_logger().error(f'scraper fault: {self.controller.reason}')
        for name, value in (('blade_force', force), ('force_limit', command.force_limit),
                            ('collected_mass', self.collected),
                            ('cut_depth', self.controller.depth)):
            self.value_pubs[name].publish(Float64(data=float(value)))
        self._publish_state()

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
        values = {'state': controller.state.value,
                  'pass': f'{controller.pass_index}/{len(controller.plan)}',
                  'collected_kg': f'{self.collected:.3f}',
                  'peak_blade_force_N': f'{controller.peak_force:.1f}',
                  'safe_capacity_N': f'{self.anchoring.safe_capacity:.1f}',
                  'anchoring': self.anchoring.state, 'jams': controller.jams}
        if controller.state == ScraperState.FAULT:
            return 'ERROR', controller.reason, values
        stale = self.inputs.problems()
        if stale:
            return 'ERROR', stale, values
        return 'OK', controller.state.value, values

    def stop_actuators(self):
        """Hold the arm with no blade force (used on shutdown)."""
        last = self.controller.last
        if last is None:
            return
        out = JointState()
        out.header.stamp = self.get_clock().now().to_msg()
        out.name = list(JOINTS)
        out.position = [float(last.joints[name]) for name in JOINTS]
        out.velocity = [0.0] * len(JOINTS)
        out.effort = [0.0] * len(JOINTS)
        self.command_pub.publish(out)


def main(args=None):
    """Run the scraper node."""
    return spin_node(ScraperNode, args)


if __name__ == '__main__':
    sys.exit(main())
