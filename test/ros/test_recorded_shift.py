"""The whole shift (what `make sim` runs), shortened and recorded.

One run, in its own process as operators run it (one rclpy life per process): its
summary, the MCAP file as rosbag2 writes it, and the HTML report made from it.
"""

import base64
from html.parser import HTMLParser
import json
import os
import subprocess
import sys

from mcap.reader import make_reader
from mcap_ros2.decoder import DecoderFactory
import pytest

from spacemine_ros.report import PLOTS, write_report

PERIOD = 0.05  # s, rig_sim's control period (the world's step while a drive moves)


SHIFT = ['--body', 'bennu', '--depth', '0.05', '--passes', '1', '-p',
         'scraper.pass_length=0.3', '--no-progress', '--site', '5,30']


def run_shift(directory, *options):
    """Run spacemine-shift with SHIFT and options; return (exit status, summary figures)."""
    summary_file = directory / 'summary.json'
    status = subprocess.run(
        [sys.executable, '-m', 'spacemine_ros.shift', *SHIFT, *options,
         '--data-dir', str(directory / 'data'), '--summary-file', str(summary_file)],
        check=False).returncode
    return status, json.loads(summary_file.read_text())


@pytest.fixture(scope='module')
def recorded_shift(tmp_path_factory):
    """Run the shift once, recorded; return (exit status, summary figures)."""
    return run_shift(tmp_path_factory.mktemp('recorded'), '--record', '--namespace',
                     'recorded')


@pytest.fixture
def recorded(recorded_shift):
    """Return (summary, recording path) of the recorded shift."""
    status, figures = recorded_shift
    assert status == 0, figures['reason']
    return figures, figures['recording']


@pytest.mark.slow
def test_shift_anchors_drills_scrapes_smelts_and_reports(recorded_shift):
    status, figures = recorded_shift
    assert status == 0, figures['reason']
    assert figures['depth_reached_m'] >= 0.05
    assert 0 < figures['peak_thrust_N'] <= figures['safe_capacity_at_peak_N']
    assert figures['max_rig_displacement_m'] < 0.002
    assert figures['drill_energy_J'] > 0
    assert figures['anchoring_state'] == 'STOWED'  # the plan's last step releases them
    assert figures['plan'] == 'bennu_shift'
    # The site it was told, on Bennu's ellipsoid: spin-weakened gravity, a gentle slope.
    assert figures['site_deg'] == [5.0, 30.0]
    assert 2e-5 < figures['site_gravity_m_s2'] < 8e-5 and figures['site_slope_deg'] < 10.0
    assert 0.1 < figures['site_escape_speed_m_s'] < 0.3
    # Everything excavated is accounted for: hoppers, in transit, lost, or smelted.
    hoppers = sum(figures['mass_in_hoppers_kg'].values())
    assert figures['mass_excavated_kg'] > 1.0
    smelted = figures['products_kg'] + figures['slag_kg'] + figures['volatiles_kg']
    assert hoppers + figures['mass_in_transit_kg'] + figures['mass_lost_kg'] + smelted == \
        pytest.approx(figures['mass_excavated_kg'], abs=1e-3)
    assert figures['mass_in_transit_kg'] < 0.01
    assert abs(figures['ledger_balance_kg']) < 1e-9
    # One volatile-extraction batch (Bennu is C-type): water and organics in the condenser.
    assert figures['volatiles_kg'] > 0.0 and figures['slag_kg'] > 0.0
    assert figures['volatiles_kg'] + figures['slag_kg'] == pytest.approx(0.5, abs=0.01)
    assert figures['energy_per_kg_product_J'] > 0
    assert figures['furnace_soak_overshoot_K'] < 20.0
    assert figures['furnace_peak_K'] < 1950.0
    # Its recording and the report made from it (read through below).
    assert os.path.getsize(figures['recording']) > 0 and os.path.getsize(figures['report']) > 0


@pytest.mark.slow
def test_headless_gives_the_graph_s_summary_for_the_same_shift(recorded_shift, tmp_path):
    # spacemine-shift --headless: the same controllers, supervisor, plan and world, no
    # ROS. Its figures match the graph's within what a step landing one control period
    # apart changes (the graph's world also stops every max_step while anything works).
    status, graph = recorded_shift
    assert status == 0, graph['reason']
    status, headless = run_shift(tmp_path, '--headless')
    assert status == 0, headless['reason']
    assert headless['result'] == graph['result'] == 'completed'
    assert [s['type'] for s in headless['steps']] == [s['type'] for s in graph['steps']]
    assert all(abs(a['start_s'] - b['start_s']) <= 5.0
               for a, b in zip(headless['steps'], graph['steps']))
    assert headless['sim_time_s'] == pytest.approx(graph['sim_time_s'], rel=0.02)
    assert headless['depth_reached_m'] == pytest.approx(graph['depth_reached_m'], abs=1e-3)
    for key in ('mass_excavated_kg', 'drill_energy_J', 'smelter_energy_J', 'volatiles_kg',
                'slag_kg', 'peak_thrust_N'):
        assert headless[key] == pytest.approx(graph[key], rel=0.03), key
    assert headless['mass_lost_kg'] == pytest.approx(graph['mass_lost_kg'], rel=0.1, abs=0.005)
    assert headless['furnace_peak_K'] == pytest.approx(graph['furnace_peak_K'], abs=5.0)
    assert abs(headless['ledger_balance_kg']) < 1e-9
    assert headless['anchoring_state'] == graph['anchoring_state'] == 'STOWED'


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
        for topic in ('/recorded/rig_state', '/recorded/joint_states', '/recorded/odom',
                      '/recorded/clock', '/recorded/supervisor/status', '/recorded/drill/depth',
                      '/recorded/material/ledger', '/recorded/anchoring/status',
                      '/recorded/smelter/status', '/recorded/power/status', '/tf',
                      '/tf_static', '/recorded/robot_description'):
            assert topic in channels, topic
        assert 'durability: transient_local' in \
            channels['/recorded/supervisor/status'].metadata['offered_qos_profiles']
        assert [m.name for m in reader.iter_metadata()][:1] == ['rosbag2'] or \
            'rosbag2' in [m.name for m in reader.iter_metadata()]
        counts = summary.statistics.channel_message_counts
        stamps, logged = [], []
        for _, channel, message, decoded in reader.iter_decoded_messages(
                topics=['/recorded/rig_state']):
            stamps.append(decoded.header.stamp.sec + decoded.header.stamp.nanosec * 1e-9)
            logged.append(message.log_time * 1e-9)
        clock = [decoded.clock.sec + decoded.clock.nanosec * 1e-9 for _, _, _, decoded in
                 reader.iter_decoded_messages(topics=['/recorded/clock'])]
        modes = [decoded.mode for _, _, _, decoded in reader.iter_decoded_messages(
            topics=['/recorded/supervisor/status'])]
        # Every message of the rig's own types decodes from its schema alone.
        ours = [c.topic for c in channels.values()
                if summary.schemas[c.schema_id].name.startswith('spacemine_interfaces/')]
        decoded_types = {type(decoded).__name__ for _, _, _, decoded in
                         reader.iter_decoded_messages(topics=ours)}
        ledger = [decoded for _, _, _, decoded in reader.iter_decoded_messages(
            topics=['/recorded/material/ledger'])][-1]
        shares = [decoded.shares for _, _, _, decoded in reader.iter_decoded_messages(
            topics=['/recorded/power/shares'])]
        frames = {}  # the moving frames written: odom -> base_link, and the links
        for _, _, message, decoded in reader.iter_decoded_messages(topics=['/tf']):
            # The rig's frames carry its namespace (frame_prefix): rigs share /tf.
            assert all(t.header.frame_id.startswith('recorded/') and
                       t.child_frame_id.startswith('recorded/') for t in decoded.transforms)
            key = ('odom' if decoded.transforms[0].child_frame_id == 'recorded/base_link'
                   else 'links')
            frames.setdefault(key, []).append(message.log_time * 1e-9)
    # Frames at most every frame_period (0.1 s), and only when something moved.
    assert set(frames) == {'odom', 'links'}
    for times in frames.values():
        assert all(b - a >= 0.1 - 1e-6 for a, b in zip(times, times[1:]))
    assert len(frames['links']) < len(stamps)
    # Every period the rig published, from the first the recorder saw to the last, in
    # order, none missing: the lockstep world publishes its clock and joint_states at each
    # instant it stops at (every control period while a drive moves, seconds apart while
    # a line drains). A period can be there twice, stamp for stamp: the world publishes
    # it again when a controller is late to answer (a busy machine).
    assert len(stamps) == counts[channels['/recorded/rig_state'].id]
    assert all(b >= a for a, b in zip(stamps, stamps[1:]))
    instants = sorted(set(clock))
    assert sorted(set(stamps)) == [t for t in instants if stamps[0] <= t <= stamps[-1]]
    steps = {round(b - a, 3) for a, b in zip(instants, instants[1:])}
    assert PERIOD in steps and max(steps) <= 1.0 + 1e-9  # rig_sim's idle_step at most
    # To the end of the shift (and the second after it, while the file is closed).
    assert figures['sim_time_s'] - 1.0 <= stamps[-1] <= figures['sim_time_s'] + 30.0
    # Logged on the rig's clock: from the period's instant to the world's next one.
    following = {a: b for a, b in zip(instants, instants[1:])}
    assert all(-1e-9 <= log - stamp <= following.get(stamp, stamp + 1.0) - stamp + 1e-9
               for stamp, log in zip(stamps, logged))
    assert modes[-1] == 'completed'
    assert {'spacemine_interfaces/msg/RigState', 'spacemine_interfaces/msg/Ledger',
            'spacemine_interfaces/msg/MissionStatus', 'spacemine_interfaces/msg/PowerStatus',
            'spacemine_interfaces/msg/AnchoringStatus', 'spacemine_interfaces/msg/FurnaceStatus',
            'spacemine_interfaces/msg/ControllerState'} <= set(schemas)
    assert {'RigState', 'Ledger', 'MissionStatus', 'PowerStatus', 'AnchoringStatus',
            'FurnaceStatus', 'ControllerState', 'PowerShares'} <= decoded_types
    assert abs(ledger.balance) < 1e-6 and ledger.excavated > 0.0
    assert len(ledger.accounts) == len(ledger.masses)
    definition = schemas['spacemine_interfaces/msg/RigState'].data.decode()
    for dependency in ('spacemine_interfaces/Gauge', 'spacemine_interfaces/ToolWrench',
                       'sensor_msgs/JointState', 'geometry_msgs/Pose', 'std_msgs/Header'):
        assert f'MSG: {dependency}' in definition, dependency
    # The rig's own types go in with their full definitions, so any MCAP reader decodes
    # them; the actions' hidden topics are left out, as rosbag2 leaves them.
    definition = schemas['spacemine_interfaces/msg/PowerShares'].data.decode()
    assert 'MSG: spacemine_interfaces/PowerShare' in definition
    assert 'MSG: builtin_interfaces/Time' in definition
    assert not [topic for topic in channels if '/_action/' in topic]
    assert shares and all(share.power >= 0.0 for table in shares for share in table)
    drill = [share.power for table in shares for share in table
             if (share.controller, share.budget) == ('drill', 'power_budget')]
    assert max(drill) > 0.0  # granted while it drilled


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
    # The power plot's shares come from the typed power/shares table, at each change.
    from spacemine_ros.report import load_run
    series = load_run(path).series
    assert {'share drill', 'share scraper', 'share smelter', 'share material_handling conveyor',
            'share material_handling separator'} <= set(series)
