"""anchoring: deploys the anchors, proof-tests them and watches them while the rig works.

Publishes the rig's safe holding capacity and its state for the other controllers.
"""

import dataclasses
import math
import sys

from nav_msgs.msg import Odometry
from rcl_interfaces.msg import SetParametersResult
from rclpy.node import Node
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64, String
from std_srvs.srv import Trigger

from spacemine_ros.core.anchoring import (
    AnchoringController, AnchoringParams, AnchoringState, choose_anchor, load_anchor_types)
from spacemine_ros.core.body import load_body
from spacemine_ros.core.ticks import TickAssembler
from spacemine_ros.nodes.common import (
    apply_tunables, COMMAND_QOS, config_file, declare, declare_tunables, Diagnostics, InputWatch,
    log_outcome, reject_non_finite, SENSOR_QOS, spin_node, stamp_to_seconds, STATE_QOS)

ANCHOR_COUNT = 4
# name: (description, low, high) of each tunable AnchoringParams field
TUNABLES = {
    'safety_factor': ('Proven capacity is divided by this [-]', 1.0, 10.0),
    'proof_fraction': ('Proof load as a share of the nominal capacity [-]', 0.1, 1.0),
    'preload': ('Tension kept on each anchor [N]', 0.0, 10000.0),
    'proof_ramp_time': ('Time to ramp to the proof load [s]', 0.01, 600.0),
    'proof_hold_time': ('Time the proof load is held [s]', 0.0, 600.0),
    'embed_tolerance': ('Embed depth tolerance [m]', 1e-5, 0.1),
    'deploy_timeout': ('Time allowed for one anchor to engage [s]', 0.1, 3600.0),
    'max_reseats': ('Reseat attempts after a failed proof test', 0, 100),
    'creep_tolerance': ('Anchor creep allowed during the proof hold [m]', 1e-5, 0.1),
    'slip_tolerance': ('Rig displacement that counts as slip while anchored [m]', 1e-4, 1.0),
}


class AnchoringNode(Node):
    """Anchoring controller node."""

    def __init__(self, **kwargs):
        super().__init__('anchoring', **kwargs)
        body_key = declare(self, 'body', 'bennu', 'Body preset (sets substrate and gravity)',
                           read_only=True)
        bodies_file = config_file(self, 'bodies_file', 'bodies.yaml', 'Body presets YAML')
        anchors_file = config_file(self, 'anchors_file', 'anchors.yaml', 'Anchor designs YAML')
        requested = declare(self, 'anchor_type', '', 'Anchor design on the feet (empty: the '
                            "body site's, bodies.yaml)", read_only=True)
        body = load_body(bodies_file, body_key)
        types = load_anchor_types(anchors_file)
        design = types.get(requested or body.site.anchor_type)
        defaults = AnchoringParams(embed_depth=design.embed_depth if design else 0.01,
                                   nominal_capacity=1.0)
        values = declare_tunables(self, TUNABLES, defaults)
        # Refuses (ConfigError, one line naming the designs that would) a design that
        # cannot be proof-tested at this site: the rig would never anchor.
        anchor_type, design, nominal = choose_anchor(
            types, body, requested, values['proof_fraction'], values['preload'])
        params = dataclasses.replace(defaults, embed_depth=design.embed_depth,
                                     nominal_capacity=nominal, **values)
        self.controller = AnchoringController(ANCHOR_COUNT, params)
        self.add_on_set_parameters_callback(self._on_set_parameters)

        self.command_pub = self.create_publisher(JointState, 'anchors/command', COMMAND_QOS)
        self.state_pub = self.create_publisher(String, '~/state', STATE_QOS)
        self.capacity_pub = self.create_publisher(Float64, '~/safe_capacity', STATE_QOS)
        # With synchronised odometry (the simulation) a tick needs joints and odometry of
        # the same stamp; from a field bus, odometry comes from another source at its own
        # pace and each joint_states tick uses the latest pose.
        self.odom_sync = declare(self, 'odom_sync', True, 'Join joint_states and odom by '
                                 'stamp (false: tick on joint_states with the latest odom)',
                                 read_only=True)
        self.latest_odom = None
        self.ticks = TickAssembler(['joints', 'odom'])
        self.create_subscription(JointState, 'joint_states', self._on_joints, SENSOR_QOS)
        self.create_subscription(Odometry, 'odom', self._on_odom, SENSOR_QOS)
        self.create_service(Trigger, '~/deploy', self._on_deploy)
        self.create_service(Trigger, '~/release', self._on_release)
        self.diagnostics = Diagnostics(self, self._status)
        self.inputs = InputWatch(self, ['joint_states', 'odom'], self._on_stale_input)
        self.published = None
        self.nominal = nominal
        self.get_logger().info(f'{anchor_type} anchors, nominal capacity {nominal:.1f} N each')
        self._publish_state()

    def _on_set_parameters(self, parameters):
        failed = reject_non_finite(parameters)
        if failed:
            return failed
        self.controller.params, failed = apply_tunables(self.controller.params, parameters,
                                                        TUNABLES)
        return failed or SetParametersResult(successful=True)

    def _on_deploy(self, request, response):
        missing = self.inputs.missing()
        response.success, response.message = (False, missing) if missing else \
            self.controller.deploy()
        self._log_request('deploy', response)
        self._publish_state()
        return response

    def _on_release(self, request, response):
        response.success, response.message = self.controller.release()
        self._log_request('release', response)
        self._publish_state()
        return response

    def _log_request(self, what, response):
        log_outcome(self, response.success, f'{what}: {response.message}')

    def _on_joints(self, message):
        self.inputs.saw('joint_states')
        if not self.odom_sync:
            odom = self.latest_odom
            if odom is None:
                self.get_logger().warning('no odometry yet: waiting for odom before acting',
                                          throttle_duration_sec=5.0)
                return
            self._tick((stamp_to_seconds(message.header.stamp),
                        {'joints': message, 'odom': odom}))
            return
        self._tick(self.ticks.add('joints', stamp_to_seconds(message.header.stamp), message))

    def _on_odom(self, message):
        self.inputs.saw('odom')
        if not self.odom_sync:
            self.latest_odom = message
            return
        self._tick(self.ticks.add('odom', stamp_to_seconds(message.header.stamp), message))

    def _tick(self, tick):
        if tick is None:
            return
        stamp, inputs = tick
        joints, odom = inputs['joints'], inputs['odom']
        index = {name: i for i, name in enumerate(joints.name)}
        try:
            rows = [index[f'anchor_{i}_joint'] for i in range(ANCHOR_COUNT)]
        except KeyError as error:
            self.get_logger().error(f'joint_states lacks {error}', throttle_duration_sec=5.0)
            return
        position = odom.pose.pose.position
        readings = [joints.position[r] for r in rows] + [joints.effort[r] for r in rows]
        if not all(math.isfinite(v) for v in readings):
            # A drive that cannot be read: send nothing, so every backend's command
            # timeout makes the anchors safe; the controller resumes on good readings.
            self.get_logger().error('non-finite anchor readings: anchors left to the '
                                    "drives' command timeout", throttle_duration_sec=5.0)
            return
        before = self.controller.state
        commands = self.controller.update(
            stamp, [joints.position[r] for r in rows], [joints.effort[r] for r in rows],
            (position.x, position.y, position.z))
        out = JointState()
        out.header.stamp = joints.header.stamp
        out.name = [f'anchor_{i}_joint' for i in range(ANCHOR_COUNT)]
        out.position = [c.embed_depth for c in commands]
        out.velocity = [0.0] * ANCHOR_COUNT
        out.effort = [c.tension for c in commands]
        self.command_pub.publish(out)
        if self.controller.state != before and self.controller.state == AnchoringState.FAULT:
            self.get_logger().error(f'anchoring fault: {self.controller.fault_reason}')
        self._publish_state()

    def _publish_state(self):
        snapshot = (self.controller.state, round(self.controller.safe_capacity, 6))
        if snapshot == self.published:
            return
        self.published = snapshot
        self.state_pub.publish(String(data=self.controller.state.value))
        self.capacity_pub.publish(Float64(data=float(self.controller.safe_capacity)))
        if self.controller.state == AnchoringState.ANCHORED:
            self.get_logger().info(
                f'anchored: safe capacity {self.controller.safe_capacity:.1f} N')

    def _on_stale_input(self, reason):
        if self.controller.input_lost(reason):
            self.get_logger().error(f'input lost: {reason}: {self.controller.fault_reason}')
            self._publish_state()

    def _status(self):
        controller = self.controller
        values = {'state': controller.state.value,
                  'safe_capacity_N': f'{controller.safe_capacity:.1f}',
                  'nominal_capacity_N': f'{self.nominal:.1f}',
                  'proven_N': ', '.join(f'{p:.1f}' for p in controller.proven)}
        if controller.state == AnchoringState.FAULT:
            return 'ERROR', controller.fault_reason, values
        stale = self.inputs.problems()
        if stale:
            return 'ERROR', stale, values
        return 'OK', controller.state.value, values


def main(args=None):
    """Run the anchoring node."""
    return spin_node(AnchoringNode, args)


if __name__ == '__main__':
    sys.exit(main())
