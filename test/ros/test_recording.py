"""A recorded shift: the MCAP file as rosbag2 writes it, and its HTML report."""

import base64
from html.parser import HTMLParser
import json
import os

from mcap.reader import make_reader
from mcap_ros2.decoder import DecoderFactory
import pytest

from spacemine_ros.report import PLOTS, write_report

PERIOD = 0.05  # s, rig_sim's control period
# On the worker that runs the recorded shift for test_shift (one run serves both).
pytestmark = pytest.mark.xdist_group('recorded_shift')


@pytest.fixture
def recorded(recorded_shift):
    """Return (summary, recording path) of the recorded shift (conftest.py)."""
    status, figures = recorded_shift
    assert status == 0, figures['reason']
    return figures, figures['recording']


def test_the_recording_is_a_rosbag2_mcap_in_sim_time(recorded):
    figures, path = recorded
    with open(path, 'rb') as stream:
        reader = make_reader(stream, decoder_factories=[DecoderFactory()])
        header, summary = reader.get_header(), reader.get_summary()
        assert header.profile == 'ros2'
        schemas = {s.name: s for s in summary.schemas.values()}
        assert all(s.encoding == 'ros2msg' for s in schemas.values())
        # A schema carries its dependencies, as rosbag2 writes them.
        assert 'MSG: std_msgs/Header' in schemas['sensor_msgs/msg/JointState'].data.decode()
        channels = {c.topic: c for c in summary.channels.values()}
        for channel in channels.values():
            assert channel.message_encoding == 'cdr'
            assert set(channel.metadata) == {'offered_qos_profiles', 'topic_type_hash'}
        for topic in ('/recorded/joint_states', '/recorded/odom', '/recorded/clock',
                      '/recorded/supervisor/status', '/recorded/drill/depth', '/tf',
                      '/tf_static', '/recorded/robot_description'):
            assert topic in channels, topic
        assert 'durability: transient_local' in \
            channels['/recorded/supervisor/mode'].metadata['offered_qos_profiles']
        assert [m.name for m in reader.iter_metadata()][:1] == ['rosbag2'] or \
            'rosbag2' in [m.name for m in reader.iter_metadata()]
        counts = summary.statistics.channel_message_counts
        stamps, lags = [], []
        for _, channel, message, decoded in reader.iter_decoded_messages(
                topics=['/recorded/joint_states']):
            stamp = decoded.header.stamp.sec + decoded.header.stamp.nanosec * 1e-9
            stamps.append(stamp)
            lags.append(message.log_time * 1e-9 - stamp)
        modes = [decoded.data for _, _, _, decoded in reader.iter_decoded_messages(
            topics=['/recorded/supervisor/mode'])]
    # Every period the rig published, from the first the recorder saw to the last: none
    # missing, none twice.
    assert len(stamps) == counts[channels['/recorded/joint_states'].id]
    steps = [round((b - a) / PERIOD) for a, b in zip(stamps, stamps[1:])]
    assert set(steps) == {1}
    # To the end of the shift (and the second after it, while the file is closed).
    assert figures['sim_time_s'] - 1.0 <= stamps[-1] <= figures['sim_time_s'] + 30.0
    # Logged on the rig's clock: within a period of the stamp (not wall time).
    assert all(-1e-9 <= lag <= PERIOD + 1e-9 for lag in lags)
    assert modes[-1] == 'completed'


class Page(HTMLParser):
    """The report's images and summary cells."""

    def __init__(self):
        super().__init__()
        self.images, self.cells, self._key = {}, {}, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == 'img':
            self.images[attrs.get('id')] = attrs.get('src', '')
        if tag == 'td' and 'data-key' in attrs:
            self._key = attrs['data-key']

    def handle_data(self, data):
        if self._key is not None:
            self.cells[self._key] = self.cells.get(self._key, '') + data

    def handle_endtag(self, tag):
        if tag == 'td':
            self._key = None


def test_the_report_has_every_plot_and_the_shift_s_figures(recorded, tmp_path):
    figures, path = recorded
    output = write_report(path, str(tmp_path / 'report.html'))
    page = Page()
    page.feed(open(output, encoding='utf-8').read())
    for name in PLOTS:
        source = page.images.get(f'plot-{name}', '')
        assert source.startswith('data:image/png;base64,'), name
        image = base64.b64decode(source.split(',', 1)[1])
        assert image[:8] == b'\x89PNG\r\n\x1a\n' and len(image) > 5000, name
    for key in ('mass_excavated_kg', 'mass_lost_kg', 'peak_thrust_N', 'sim_time_s',
                'depth_reached_m', 'smelter_energy_J', 'result'):
        assert json.loads(page.cells[key]) == figures[key], key
    assert os.path.getsize(output) > 50_000
