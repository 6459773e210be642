"""MCAP recording files as rosbag2 writes them (no rclpy): schemas, channels, metadata.

rosbag2's MCAP storage (rosbag2_storage_mcap) writes files with the `ros2` profile; one
Schema per message type, named like `sensor_msgs/msg/JointState`, encoding `ros2msg`,
whose data is the type's .msg text followed by every type it uses, each after a line of
80 `=` and `MSG: <package>/<Type>`; one Channel per topic, message encoding `cdr`, with
the metadata `offered_qos_profiles` (a YAML list of the publishers' QoS) and
`topic_type_hash`; Messages with the receive time as log time; and a `rosbag2` Metadata
record holding the bag's `serialized_metadata`. Files written here open in `ros2 bag`
and in Foxglove. Messages come in as CDR bytes (what a raw subscription receives), or as
plain values encoded from the message definition (a type with no installed Python
package: tf2_msgs/TFMessage where tf2_msgs is not installed).
"""

import os
import re
import sys

from mcap.well_known import MessageEncoding, Profile, SchemaEncoding
from mcap.writer import CompressionType, Writer

SEPARATOR = '=' * 80
BUILTIN_TYPES = {'bool', 'byte', 'char', 'float32', 'float64', 'int8', 'uint8', 'int16',
                 'uint16', 'int32', 'uint32', 'int64', 'uint64', 'string', 'wstring'}
# Definitions a host may lack the package of (every ROS install has them).
KNOWN_DEFINITIONS = {
    'tf2_msgs/msg/TFMessage': 'geometry_msgs/TransformStamped[] transforms\n',
}


class RecordingError(ValueError):
    """A message type whose definition cannot be found, or a file that cannot be written."""


def share_directories():
    """Return the directories whose share/<package>/msg holds .msg files, in search order."""
    prefixes = [p for p in os.environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep) if p]
    prefixes.append(sys.prefix)
    return [os.path.join(prefix, 'share') for prefix in prefixes]


def _msg_text(type_name, directories):
    if type_name in KNOWN_DEFINITIONS:
        found = _find_msg(type_name, directories)
        return found if found is not None else KNOWN_DEFINITIONS[type_name]
    found = _find_msg(type_name, directories)
    if found is None:
        raise RecordingError(f'no message definition for {type_name} (looked in '
                             f'{", ".join(directories)})')
    return found


def _find_msg(type_name, directories):
    package, kind, name = type_name.split('/')
    for directory in directories:
        path = os.path.join(directory, package, kind, f'{name}.msg')
        if os.path.isfile(path):
            with open(path, encoding='utf-8') as stream:
                return stream.read()
    return None


def _dependencies(text, package):
    """Return the message types a .msg text uses, as 'pkg/msg/Type', in order of use."""
    found = []
    for line in text.splitlines():
        line = line.split('#', 1)[0].strip()
        if not line:
            continue
        field_type = re.sub(r'\[.*?\]$', '', line.split()[0])  # an array's element type
        field_type = re.sub(r'<=\d+$', '', field_type)  # a bounded string
        if field_type in BUILTIN_TYPES:
            continue  # constants are always of these too
        if '/' in field_type:
            owner, name = field_type.split('/')[0], field_type.split('/')[-1]
        else:
            owner, name = package, field_type
        full = f'{owner}/msg/{name}'
        if full not in found:
            found.append(full)
    return found


def message_definition(type_name, directories=None):
    """Return the full ros2msg definition of a type (its .msg and every type it uses)."""
    directories = directories or share_directories()
    if type_name.count('/') != 2:
        raise RecordingError(f'{type_name!r} is not a package/msg/Type name')
    parts, seen, queue = [], set(), [type_name]
    while queue:
        current = queue.pop(0)
        if current in seen:
            continue
        seen.add(current)
        text = _msg_text(current, directories)
        if current != type_name:
            package, _, name = current.split('/')
            parts.append(f'{SEPARATOR}\nMSG: {package}/{name}\n{text.rstrip()}\n')
        else:
            parts.append(text.rstrip() + '\n')
        queue.extend(_dependencies(text, current.split('/')[0]))
    return '\n'.join(parts)


def qos_yaml(profiles):
    """Return rosbag2's `offered_qos_profiles` YAML for a list of QoS dicts.

    Each dict: history ('keep_last' / 'keep_all'), depth, reliability ('reliable' /
    'best_effort'), durability ('volatile' / 'transient_local'); the rest take the
    defaults of the ROS 2 QoS profile (infinite deadline and lifespan, automatic
    liveliness), written as rosbag2 writes them.
    """
    infinite = '    sec: 9223372036\n    nsec: 854775807\n'
    lines = []
    for profile in profiles:
        lines.append(
            f'- history: {profile.get("history", "keep_last")}\n'
            f'  depth: {int(profile.get("depth", 10))}\n'
            f'  reliability: {profile.get("reliability", "reliable")}\n'
            f'  durability: {profile.get("durability", "volatile")}\n'
            f'  deadline:\n{infinite}'
            f'  lifespan:\n{infinite}'
            f'  liveliness: automatic\n'
            f'  liveliness_lease_duration:\n{infinite}'
            f'  avoid_ros_namespace_conventions: false\n')
    return ''.join(lines)


class McapRecording:
    """One MCAP file being written, in rosbag2's layout."""

    def __init__(self, path, directories=None, library='spacemine_ros'):
        self.path = path
        self.directories = directories or share_directories()
        try:
            self.stream = open(path, 'wb')
        except OSError as error:
            raise RecordingError(f'cannot write {path}: {error.strerror or error}') from None
        self.writer = Writer(self.stream, compression=CompressionType.ZSTD)
        self.writer.start(profile=Profile.ROS2, library=library)
        self.schemas = {}  # type -> (schema id, definition)
        self.channels = {}  # topic -> (channel id, type)
        self.counts = {}  # topic -> messages written
        self.encoders = {}  # type -> encoder of plain values
        self.first = self.last = None  # ns
        self.finished = False

    def add_topic(self, topic, type_name, qos_profiles=()):
        """Register a topic of a type (and its schema once); return its channel id."""
        if topic in self.channels:
            return self.channels[topic][0]
        if type_name not in self.schemas:
            definition = message_definition(type_name, self.directories)
            schema = self.writer.register_schema(type_name, SchemaEncoding.ROS2,
                                                 definition.encode())
            self.schemas[type_name] = (schema, definition)
        channel = self.writer.register_channel(
            topic, MessageEncoding.CDR, self.schemas[type_name][0],
            metadata={'offered_qos_profiles': qos_yaml(qos_profiles), 'topic_type_hash': ''})
        self.channels[topic] = (channel, type_name)
        self.counts[topic] = 0
        return channel

    def write(self, topic, data, log_time, publish_time=None):
        """Write a message's CDR bytes on a registered topic (times in ns)."""
        channel, _ = self.channels[topic]
        self.writer.add_message(channel, log_time=int(log_time),
                                publish_time=int(publish_time if publish_time is not None
                                                 else log_time),
                                data=bytes(data), sequence=self.counts[topic])
        self.counts[topic] += 1
        self.first = log_time if self.first is None else min(self.first, log_time)
        self.last = log_time if self.last is None else max(self.last, log_time)

    def write_values(self, topic, values, log_time):
        """Encode plain values (nested dicts and lists) by the topic's definition; write."""
        from mcap_ros2._dynamic import serialize_dynamic
        _, type_name = self.channels[topic]
        encoder = self.encoders.get(type_name)
        if encoder is None:
            encoders = serialize_dynamic(type_name, self.schemas[type_name][1])
            encoder = self.encoders[type_name] = encoders[type_name]
        self.write(topic, encoder(values), log_time)

    def finish(self):
        """Write the rosbag2 metadata and the file's summary; close it."""
        if self.finished:
            return
        self.finished = True
        self.writer.add_metadata('rosbag2', {'serialized_metadata': self._bag_metadata()})
        self.writer.finish()
        self.stream.close()

    def _bag_metadata(self):
        start = self.first or 0
        duration = (self.last or 0) - start
        topics = []
        for topic, (_, type_name) in self.channels.items():
            topics.append(
                '    - topic_metadata:\n'
                f'        name: {topic}\n'
                f'        type: {type_name}\n'
                '        serialization_format: cdr\n'
                '        offered_qos_profiles: []\n'
                '        type_description_hash: ""\n'
                f'      message_count: {self.counts[topic]}\n')
        return ('rosbag2_bagfile_information:\n'
                '  version: 9\n'
                '  storage_identifier: mcap\n'
                f'  duration:\n    nanoseconds: {duration}\n'
                f'  starting_time:\n    nanoseconds_since_epoch: {start}\n'
                f'  message_count: {sum(self.counts.values())}\n'
                '  topics_with_message_count:\n' + ''.join(topics) +
                '  compression_format: ""\n'
                '  compression_mode: ""\n'
                f'  relative_file_paths:\n    - {os.path.basename(self.path)}\n'
                '  files: []\n'
                '  custom_data: ~\n'
                '  ros_distro: ""\n')
