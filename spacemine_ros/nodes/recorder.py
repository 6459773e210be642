"""recorder: every topic of the rig into one MCAP file, as `ros2 bag record` would.

It finds the rig's topics as they appear (each discovery_period), subscribes to each
with the publishers' reliability and durability, takes messages as their CDR bytes
(no decoding) and writes them with the rig's clock (simulated time in simulation) into
<data_dir>/<file> in rosbag2's MCAP layout (spacemine_ros.recording). Where no
tf2_msgs package is installed (so nothing can publish /tf), it writes the rig's frames
into the file itself: odom -> base_link from `odom`, the links from `joint_states` and
the URDF, and `robot_description`, so a recorded shift shows the rig in Foxglove's 3D
panel: the moving frames at most every frame_period of the rig's clock, and only when
they moved.

Run it in a process of its own (ros2 launch does; the project's one-process launcher and
spacemine-shift start it apart): taking, framing and writing every message of the rig
then runs beside the control loop instead of in it. Its executor takes messages in the
order they arrive, so each is logged on the rig's clock of its own instant however far
behind the recorder runs (a stamped message at its header's stamp, the instant it belongs
to, whatever order messages of different topics reach it in), and its subscriptions keep
a deep queue for the bursts. On a
stop it first takes whatever is still queued, then puts the shift's summary (the JSON of
summary_file, if that file exists by then) into the file and finishes it.
"""

import importlib
import json
import os
import struct
import sys
import time

from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.serialization import deserialize_message

from spacemine_ros.kinematics import joints_of, moving_transforms, static_transforms
from spacemine_ros.nodes.common import declare, declare_frame_prefix, Diagnostics, \
    make_executor, release_record, rig_record, spin_node
from spacemine_ros.recording import McapRecording, RecordingError
from spacemine_ros.report import SUMMARY_METADATA

# Topics that are the ROS graph's own bookkeeping, not the rig's.
SKIPPED = ('/rosout', '/parameter_events')
QUEUE = 1000  # messages each subscription holds while the recorder catches up
DRAIN_QUIET = 0.5  # wall s with nothing new that ends the drain at a stop
DRAIN_LIMIT = 300.0  # wall s a drain may take at most


# CDR encapsulation identifiers (the first two bytes of a serialized message).
CDR_BYTE_ORDER = {b'\x00\x00': '>', b'\x00\x01': '<'}


def header_stamp(data):
    """Return the stamp [ns] of a serialized message that starts with a std_msgs/Header.

    None if the encapsulation is not plain CDR (the stamp's two 32-bit fields follow the
    4-byte encapsulation header) or the stamp is zero (never set).
    """
    order = CDR_BYTE_ORDER.get(bytes(data[:2]))
    if order is None or len(data) < 12:
        return None
    sec, nanosec = struct.unpack_from(order + 'iI', data, 4)
    stamp = sec * 1_000_000_000 + nanosec
    return stamp if stamp > 0 and nanosec < 1_000_000_000 else None


def recordable(topic, prefix):
    """Tell whether the recorder of a rig in namespace `prefix` ('/ns/' or '/') takes a topic.

    Hidden topics (a name segment starting with '_', such as the actions' goal status and
    feedback) are left out, as rosbag2 leaves them out by default.
    """
    if any(part.startswith('_') for part in topic.split('/')):
        return False
    return topic not in SKIPPED and (topic.startswith(prefix) or topic in ('/tf', '/tf_static'))


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
        self.frame_period = declare(
            self, 'frame_period', 0.1, 'Shortest time between two written /tf of the moving '
            "frames, on the rig's clock [s] (0: every odom and joint_states)", 0.0, 10.0,
            read_only=True)
        self.frame_prefix = declare_frame_prefix(self)
        self.summary_file = declare(
            self, 'summary_file', '', "JSON file whose content goes into the recording's "
            'metadata as the shift summary when it finishes (empty: none)', read_only=True)
        name = name or f'shift_{record.session or time.strftime("%Y%m%d_%H%M%S")}.mcap'
        self.path = name if os.path.isabs(name) else os.path.join(record.data_dir, name)
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        self.recording = McapRecording(self.path)  # RecordingError: the node does not start
        self.subscribed = {}
        self.failures = {}  # topic -> why it is not recorded
        self.received = 0
        self.frames_written = False
        self.framed = {}  # topic -> (log time [ns], values) of its last written frames
        self.summary = None
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
    def _discover(self):
        for topic, types in self.get_topic_names_and_types():
            if topic in self.subscribed or topic in self.failures or \
                    not recordable(topic, self.prefix):
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
                history=HistoryPolicy.KEEP_LAST, depth=QUEUE,
                reliability=ReliabilityPolicy.RELIABLE if offered and all(
                    p['reliability'] == 'reliable' for p in offered)
                else ReliabilityPolicy.BEST_EFFORT,
                durability=DurabilityPolicy.TRANSIENT_LOCAL if offered and all(
                    p['durability'] == 'transient_local' for p in offered)
                else DurabilityPolicy.VOLATILE)
            fields = iter(kind.get_fields_and_field_types().items())
            stamped = next(fields, (None, None)) == ('header', 'std_msgs/Header')
            self.subscribed[topic] = self.create_subscription(
                kind, topic, lambda data, t=topic, h=stamped: self._on_message(t, data, h),
                qos, raw=True)

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

    def _on_message(self, topic, data, stamped=False):
        now = self.get_clock().now().nanoseconds
        if stamped:
            now = header_stamp(data) or now
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
                self._transform(*t, stamp) for t in static_transforms(self.joints)]}, now)
        if topic not in (self.prefix + 'odom', self.prefix + 'joint_states'):
            return
        last = self.framed.get(topic)
        if last is not None and now - last[0] < self.frame_period * 1e9 - 1.0:
            return  # frames at most every frame_period: plenty for a 3D view
        if topic == self.prefix + 'odom':
            from nav_msgs.msg import Odometry
            odom = deserialize_message(data, Odometry)
            pose = odom.pose.pose
            values = ((pose.position.x, pose.position.y, pose.position.z),
                      (pose.orientation.x, pose.orientation.y, pose.orientation.z,
                       pose.orientation.w))
            transforms = lambda: [transform_values(  # noqa: E731
                odom.header.frame_id or self.frame_prefix + 'odom',
                odom.child_frame_id or self.frame_prefix + 'base_link', *values, stamp)]
        else:
            from sensor_msgs.msg import JointState
            joints = deserialize_message(data, JointState)
            values = dict(zip(joints.name, joints.position))
            transforms = lambda: [self._transform(*t, stamp)  # noqa: E731
                                  for t in moving_transforms(self.joints, values)]
        if last is not None and last[1] == values:
            return  # nothing moved: the frames written last still hold
        self.framed[topic] = (now, values)
        self.recording.write_values('/tf', {'transforms': transforms()}, now)

    def _transform(self, parent, child, translation, rotation, stamp):
        # A URDF link's frame, with the rig's prefix (robot_state_publisher's frame_prefix).
        return transform_values(self.frame_prefix + parent, self.frame_prefix + child,
                                translation, rotation, stamp)

    def add_summary(self, figures):
        """Put the shift's summary into the file (the report's table shows it)."""
        if not self.recording.finished and self.summary is None:
            self.summary = figures
            self.recording.writer.add_metadata(SUMMARY_METADATA, {
                'summary': json.dumps(figures, default=str)})

    def drain(self):
        """Take what is still queued (a stop): until nothing new comes for DRAIN_QUIET s.

        Only where the recorder is alone in its executor (its own process): elsewhere
        spinning would run the rest of the rig on.
        """
        executor = self.executor
        if executor is None or list(executor.get_nodes()) != [self]:
            return
        end = time.monotonic() + DRAIN_LIMIT
        quiet_since, seen = time.monotonic(), self.received
        while time.monotonic() - quiet_since < DRAIN_QUIET and time.monotonic() < end:
            executor.spin_once(timeout_sec=0.05)
            if self.received != seen:
                quiet_since, seen = time.monotonic(), self.received

    def _read_summary(self):
        if not self.summary_file or not os.path.exists(self.summary_file):
            return
        try:
            with open(self.summary_file, encoding='utf-8') as stream:
                self.add_summary(json.load(stream))
        except (OSError, ValueError) as error:
            self.get_logger().error(f'summary {self.summary_file} not recorded: {error}')

    def _status(self):
        values = {'file': self.path, 'topics': len(self.subscribed),
                  'messages': self.received, 'not_recorded': len(self.failures)}
        return 'OK', 'recording', values

    def close(self):
        """Finish the file (its summary and the rosbag2 metadata)."""
        if not self.recording.finished:
            self._read_summary()
            self.recording.finish()
            self.get_logger().info(
                f'recorded {sum(self.recording.counts.values())} messages on '
                f'{len(self.recording.counts)} topics to {self.path}')

    def stop_actuators(self):
        """Drive nothing; take what is queued and finish the file, readable after a stop."""
        self.drain()
        self.close()

    def destroy_node(self):
        """Finish the file with the node."""
        if getattr(self, 'recording', None) is not None:
            self.close()
        release_record(self)
        return super().destroy_node()


def main(args=None):
    """Run the recorder node (messages taken in the order they arrive)."""
    return spin_node(RecorderNode, args, executor=make_executor)


if __name__ == '__main__':
    sys.exit(main())
