"""What a controller reads of the rig: one RigState per instant, or a topic per sensor.

A controller asks for its inputs by the topic a driver would publish each on (joint_states,
odom, drill/bit_wrench, furnace/temperature, material/hopper_metal/mass, ...) and the
standard message type it takes. On the simulation (the sim backend) they all come in one
spacemine_interfaces/RigState per instant on rig_state, which this module hands out as
those standard messages, joint_states last (a controller acts on it: every other part of
the instant is in by then). On the field bus (hil, hardware) each is a topic of its own,
as separate drivers publish them.
"""

from geometry_msgs.msg import WrenchStamped
from nav_msgs.msg import Odometry
from sensor_msgs.msg import Temperature
from spacemine_interfaces.msg import RigState
from std_msgs.msg import Float64

from spacemine_ros.nodes.common import declare, SENSOR_QOS

RIG_STATE_TOPIC = 'rig_state'
JOINTS = 'joint_states'


def parts(rig_state):
    """Return {name: part} of a RigState's wrenches and gauges."""
    index = {wrench.name: wrench for wrench in rig_state.wrenches}
    index.update((gauge.name, gauge) for gauge in rig_state.gauges)
    return index


def as_message(rig_state, name, message_type, index=None):
    """Return the part `name` of a RigState as a message_type (None: it has no such part).

    index: parts(rig_state), when several parts of one message are wanted.
    """
    header = rig_state.header
    if name == JOINTS:
        return rig_state.joints
    if name == 'odom':
        odom = Odometry(header=header, child_frame_id=rig_state.child_frame_id)
        odom.pose.pose, odom.twist.twist = rig_state.base_pose, rig_state.base_twist
        return odom
    part = (parts(rig_state) if index is None else index).get(name)
    if part is None:
        return None
    if message_type is WrenchStamped:
        message = WrenchStamped(wrench=part.wrench)
        message.header.stamp, message.header.frame_id = header.stamp, part.frame_id
        return message
    if message_type is Temperature:
        message = Temperature(temperature=part.value, variance=0.0)
        message.header.stamp, message.header.frame_id = header.stamp, name.split('/')[0]
        return message
    return Float64(data=part.value)


class RigInputs:
    """A controller's sensor inputs, from rig_state or from their own topics (module doc).

    The node's read-only parameter `rig_state` chooses (bringup sets it by backend).
    """

    def __init__(self, node):
        self.node = node
        self.from_rig_state = declare(
            node, 'rig_state', True, 'Read the rig from one spacemine_interfaces/RigState '
            'per instant on rig_state (the simulation), not from a topic per sensor (the '
            'field-bus drivers)', read_only=True)
        self.takers = []  # (name, message type, callback), joint_states last
        self.subscription = None
        # A sensor fault struck by a test or a replayed campaign sample (blind_for): no
        # reading reaches the controller until this instant of its clock [s]; its input
        # watch then finds them stale, as it would a dead sensor's.
        self.blind_until = None

    def blind_for(self, seconds):
        """Drop every reading for `seconds` of the node's clock from now."""
        self.blind_until = self._now() + seconds

    def _now(self):
        return self.node.get_clock().now().nanoseconds * 1e-9

    def _seeing(self):
        if self.blind_until is not None and self._now() < self.blind_until:
            return False
        self.blind_until = None
        return True

    def take(self, name, message_type, callback):
        """Call callback(message) with each reading of `name` (a topic relative to the rig)."""
        if not self.from_rig_state:
            self.node.create_subscription(
                message_type, name, lambda message: self._seeing() and callback(message),
                SENSOR_QOS)
            return
        self.takers.append((name, message_type, callback))
        self.takers.sort(key=lambda taker: taker[0] == JOINTS)  # stable: joints last
        if self.subscription is None:
            self.subscription = self.node.create_subscription(
                RigState, RIG_STATE_TOPIC, self._on_rig_state, SENSOR_QOS)

    def _on_rig_state(self, rig_state):
        if not self._seeing():
            return
        index = parts(rig_state)
        for name, message_type, callback in self.takers:
            message = as_message(rig_state, name, message_type, index)
            if message is not None:
                callback(message)
