"""The recorder's own rules: which topics it takes, the instant each message is logged at."""

from rclpy.serialization import serialize_message
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64

from spacemine_ros.nodes.recorder import header_stamp, recordable


def test_a_stamped_message_is_logged_at_its_header_stamp_in_either_byte_order():
    message = JointState(name=['a'], position=[1.0])
    message.header.stamp.sec, message.header.stamp.nanosec = 12, 345
    data = serialize_message(message)
    assert header_stamp(data) == 12_000_000_345
    # Big-endian CDR (encapsulation 0x0000): the same stamp read the other way round.
    big = b'\x00\x00' + data[2:4] + (12).to_bytes(4, 'big') + (345).to_bytes(4, 'big')
    assert header_stamp(big) == 12_000_000_345


def test_an_unset_stamp_or_an_unknown_encoding_falls_back_to_the_clock():
    assert header_stamp(serialize_message(JointState())) is None  # never stamped
    data = bytearray(serialize_message(JointState()))
    data[1] = 0x07  # not plain CDR
    assert header_stamp(bytes(data)) is None
    assert header_stamp(b'\x00\x01') is None  # too short to hold a stamp
    assert header_stamp(serialize_message(Float64(data=3.0))[:8]) is None


def test_the_recorder_takes_its_rig_s_topics_and_the_frames_only():
    assert recordable('/rig1/joint_states', '/rig1/')
    assert recordable('/tf', '/rig1/') and recordable('/tf_static', '/rig1/')
    assert not recordable('/rig2/joint_states', '/rig1/')
    assert not recordable('/rosout', '/') and not recordable('/parameter_events', '/')
    assert recordable('/joint_states', '/')
    # Hidden topics (the actions' status and feedback) are not, as with rosbag2.
    assert not recordable('/rig1/drill/drill_to_depth/_action/feedback', '/rig1/')
    assert not recordable('/rig1/drill/drill_to_depth/_action/status', '/rig1/')
