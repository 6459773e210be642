"""recorder: every topic of the rig into one MCAP file, as `ros2 bag record` would.

It finds the rig's topics as they appear (each discovery_period), subscribes to each
with the publishers' reliability and durability, takes messages as their CDR bytes
(no decoding) and writes them with the rig's clock (simulated time in simulation) into
<data_dir>/<file> in rosbag2's MCAP layout (spacemine_ros.recording). Where no
tf2_msgs package is installed (so nothing can publish /tf), it writes the rig's frames
into the file itself: odom -> base_link from `odom`, the links from `joint_states` and
the URDF, and `robot_description`, so a recorded shift shows the rig in Foxglove's 3D
panel.
"""

import importlib
import json
import os
import sys
import time

from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.serialization import deserialize_message

from spacemine_ros.kinematics import joints_of, moving_transforms, static_transforms
from spacemine_ros.nodes.common import declare, Diagnostics, rig_record, spin_node
from spacemine_ros.recording import McapRecording, RecordingError
from spacemine_ros.report import SUMMARY_METADATA

# Topics that are the ROS graph's own bookkeeping, not the rig's.
SKIPPED = ('/rosout', '/parameter_events')


def tf2_available():
    """Tell whether tf2_msgs is installed (then the rig publishes /tf itself)."""
    try:
        importlib.import_module('tf2_msgs.msg')
    except ImportError:
        return False
    return True


def message_class(type_name):
    """Return the Python class of 'pkg/msg/Type' (ImportError if it is not installed)."""
    package, kind, name = type_name.split('/')
    return getattr(importlib.import_module(f'{package}.{kind}'), name)


def transform_values(parent, child, translation, rotation, stamp):
    """Return a geometry_msgs/TransformStamped as plain values (for write_values)."""
    x, y, z = translation
    qx, qy, qz, qw = rotation
    return {'header': {'stamp': stamp, 'frame_id': parent}, 'child_frame_id': child,
            'transform': {'translation': {'x': x, 'y': y, 'z': z},
                          'rotation': {'x': qx, 'y': qy, 'z': qz, 'w': qw}}}


class RecorderNode(Node):
    """Records the rig's topics into an MCAP file."""

    def __init__(self, **kwargs):
        super().__init__('recorder', **kwargs)
        record = rig_record(self)
        name = declare(self, 'file', '', 'MCAP file in the data directory (empty: '
                       'shift_<session or time>.mcap); an absolute path is taken as is',
                       read_only=True)
        self.period = declare(self, 'discovery_period', 1.0, 'Wall seconds between two '
                              'looks for new topics [s]', 0.1, 60.0, read_only=True)
        self.frames = declare(self, 'write_frames', 'auto', 'Write /tf, /tf_static and '
                              'robot_description into the file: auto (when tf2_msgs is not '
                              'installed), always or never', read_only=True)
        if self.frames not in ('auto', 'always', 'never'):
            raise ValueError(f'recorder: write_frames must be auto, always or never, got '
                             f'{self.frames!r}')
        name = name or f'shift_{record.session or time.strftime("%Y%m%d_%H%M%S")}.mcap'
        self.path = name if os.path.isabs(name) else os.path.join(record.data_dir, name)
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        self.recording = McapRecording(self.path)  # RecordingError: the node does not start
        self.subscribed = {}
        self.failures = {}  # topic -> why it is not recorded
        self.received = 0
        self.frames_written = False
        self.joints = None
        namespace = self.get_namespace().rstrip('/')
        self.prefix = namespace + '/' if namespace else '/'
        if self.frames == 'always' or (self.frames == 'auto' and not tf2_available()):
            self._start_frames()
        wall = Clock(clock_type=ClockType.STEADY_TIME)
        self.create_timer(self.period, self._discover, clock=wall)
        self.diagnostics = Diagnostics(self, self._status)
        self._discover()
        self.get_logger().info(f'recording to {self.path}')

    # Topics -------------------------------------------------------------------------------
    def _mine(self, topic):
        return topic.startswith(self.prefix) or topic in ('/tf', '/tf_static')

    def _discover(self):
        for topic, types in self.get_topic_names_and_types():
            if topic in self.subscribed or topic in self.failures or topic in SKIPPED or \
                    not self._mine(topic):
                continue
            type_name = types[0]
            try:
                kind = message_class(type_name)
                offered = self._offered(topic)
                self.recording.add_topic(topic, type_name, offered)
            except (ImportError, AttributeError, RecordingError) as error:
                self.failures[topic] = str(error)
                self.get_logger().warning(f'not recording {topic}: {error}')
                continue
            qos = QoSProfile(
                history=HistoryPolicy.KEEP_LAST, depth=100,
                reliability=ReliabilityPolicy.RELIABLE if offered and all(
                    p['reliability'] == 'reliable' for p in offered)
                else ReliabilityPolicy.BEST_EFFORT,
                durability=DurabilityPolicy.TRANSIENT_LOCAL if offered and all(
                    p['durability'] == 'transient_local' for p in offered)
                else DurabilityPolicy.VOLATILE)
            self.subscribed[topic] = self.create_subscription(
                kind, topic, lambda data, t=topic: self._on_message(t, data), qos, raw=True)

    def _offered(self, topic):
        profiles = []
        for info in self.get_publishers_info_by_topic(topic):
            qos = info.qos_profile
            profiles.append({
                'history': 'keep_all' if qos.history == HistoryPolicy.KEEP_ALL else 'keep_last',
                'depth': qos.depth,
                'reliability': 'reliable' if qos.reliability == ReliabilityPolicy.RELIABLE
                else 'best_effort',
                'durability': 'transient_local'
                if qos.durability == DurabilityPolicy.TRANSIENT_LOCAL else 'volatile'})
        return profiles

    def _on_message(self, topic, data):
        now = self.get_clock().now().nanoseconds
        self.recording.write(topic, data, now)
        self.received += 1
        if self.joints is not None:
            self._frames(topic, data, now)

    # Frames -------------------------------------------------------------------------------
    def _start_frames(self):
        from spacemine_ros.sim.description import rig_urdf_xml
        urdf = rig_urdf_xml()
        self.joints = joints_of(urdf)
        self.latched = [{'reliability': 'reliable', 'durability': 'transient_local',
                         'depth': 1}]
        for topic, kind in (('/tf', 'tf2_msgs/msg/TFMessage'),
                            ('/tf_static', 'tf2_msgs/msg/TFMessage'),
                            (self.prefix + 'robot_description', 'std_msgs/msg/String')):
            self.recording.add_topic(topic, kind, self.latched if topic != '/tf' else
                                     [{'depth': 100}])
        self.urdf = urdf

    def _frames(self, topic, data, now):
        stamp = {'sec': now // 1_000_000_000, 'nanosec': now % 1_000_000_000}
        if not self.frames_written:
            self.frames_written = True
            self.recording.write_values(self.prefix + 'robot_description', {'data': self.urdf},
                                        now)
            self.recording.write_values('/tf_static', {'transforms': [
                transform_values(*t, stamp) for t in static_transforms(self.joints)]}, now)
        if topic == self.prefix + 'odom':
            from nav_msgs.msg import Odometry
            odom = deserialize_message(data, Odometry)
            pose = odom.pose.pose
            self.recording.write_values('/tf', {'transforms': [transform_values(
                odom.header.frame_id or 'odom', odom.child_frame_id or 'base_link',
                (pose.position.x, pose.position.y, pose.position.z),
                (pose.orientation.x, pose.orientation.y, pose.orientation.z,
                 pose.orientation.w), stamp)]}, now)
        elif topic == self.prefix + 'joint_states':
            from sensor_msgs.msg import JointState
            joints = deserialize_message(data, JointState)
            positions = dict(zip(joints.name, joints.position))
            self.recording.write_values('/tf', {'transforms': [
                transform_values(*t, stamp)
                for t in moving_transforms(self.joints, positions)]}, now)

    def add_summary(self, figures):
        """Put the shift's summary into the file (the report's table shows it)."""
        if not self.recording.finished:
            self.recording.writer.add_metadata(SUMMARY_METADATA, {
                'summary': json.dumps(figures, default=str)})

    def _status(self):
        values = {'file': self.path, 'topics': len(self.subscribed),
                  'messages': self.received, 'not_recorded': len(self.failures)}
        return 'OK', 'recording', values

    def close(self):
        """Finish the file (its summary and the rosbag2 metadata)."""
        if not self.recording.finished:
            self.recording.finish()
            self.get_logger().info(
                f'recorded {sum(self.recording.counts.values())} messages on '
                f'{len(self.recording.counts)} topics to {self.path}')

    def stop_actuators(self):
        """Drive nothing; finish the file so a stop leaves it readable."""
        self.close()

    def destroy_node(self):
        """Finish the file with the node."""
        if getattr(self, 'recording', None) is not None:
            self.close()
        return super().destroy_node()


def main(args=None):
    """Run the recorder node."""
    return spin_node(RecorderNode, args)


if __name__ == '__main__':
    sys.exit(main())
