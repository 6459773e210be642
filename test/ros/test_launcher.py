"""spacemine-rig as an operator runs it: a hardware rig whose ports are missing.

In both launcher modes (one process, one process per node) the field bus must keep
trying to configure, with a growing wait, naming every bus that failed, while the
process stays responsive: SIGINT and SIGTERM stop it with exit code 0 and no traceback.
"""

import os
import re
import signal
import subprocess
import sys
import time

from rcl_interfaces.srv import GetParameters
import pytest
import rclpy

from spacemine_ros import data_lock
from spacemine_ros.paths import default_data_dir
from test.launched import LaunchedRig

ATTEMPT = re.compile(r'configure will be tried again in ([0-9.]+) s')


def stopped_cleanly(rig, limit):
    """SIGINT a launched rig: it must exit 0 within limit s (killed in any case)."""
    rig.process.send_signal(signal.SIGINT)
    try:
        assert rig.process.wait(timeout=limit) == 0, rig.text[-3000:]
    finally:
        rig.kill()


def launch_rig(extra, backend=('--backend', 'hardware', '-p', 'field_bus.autostart_retry=0.5')):
    """spacemine-rig on the hardware backend (by default), in a subprocess."""
    return LaunchedRig([*backend, *extra])


@pytest.mark.parametrize('mode', [[], ['--processes']], ids=['one_process', 'processes'])
@pytest.mark.parametrize('stop', [signal.SIGINT, signal.SIGTERM], ids=['SIGINT', 'SIGTERM'])
def test_a_rig_with_missing_ports_keeps_retrying_and_stops_on_a_signal(mode, stop):
    ports = 'drill_bus=/dev/nope0,arm_bus=/dev/nope1,ledger_bus=/dev/nope2,process_bus=/dev/nope3'
    rig = launch_rig([*mode, '--ports', ports])
    process = rig.process
    try:
        rig.wait_for(lambda t: len(ATTEMPT.findall(t)) >= 3, 120.0)
        text = rig.text
        waits = [float(w) for w in ATTEMPT.findall(text)]
        assert len(waits) >= 3, text[-3000:]
        assert waits[:3] == [0.5, 1.0, 2.0]  # the wait doubles
        failed = next(line for line in text.splitlines() if 'configure failed' in line)
        for bus in ('drill_bus', 'arm_bus', 'ledger_bus', 'process_bus'):
            assert bus in failed, failed  # every bus is named, not only the first
        assert 'No such file or directory' in failed  # with the OS's reason
        process.send_signal(stop)
        code = process.wait(timeout=60)
        rig.reader.join(timeout=10)
        assert code == 0, rig.text[-3000:]
        assert 'Traceback' not in rig.text, rig.text[-3000:]
    finally:
        rig.kill()


@pytest.mark.parametrize('mode', [[], ['--processes']], ids=['one_process', 'processes'])
def test_what_the_operator_sets_is_what_the_nodes_use(mode):
    # config/rig.yaml sets all three; the operator's -p must win over it.
    namespace = f'ovr{len(mode)}{os.getpid()}'
    rig = launch_rig([*mode, '--namespace', namespace, '--body', 'psyche',
                      '-p', 'anchoring.safety_factor=4.0', '-p', 'anchoring.proof_fraction=0.6',
                      '-p', 'drill.max_thrust=123'], backend=())
    rclpy.init()
    node = rclpy.create_node('override_probe')
    try:
        wanted = {'anchoring': {'safety_factor': 4.0, 'proof_fraction': 0.6},
                  'drill': {'max_thrust': 123.0}}
        for target, values in wanted.items():
            client = node.create_client(GetParameters, f'/{namespace}/{target}/get_parameters')
            deadline = time.monotonic() + 120
            while not client.service_is_ready() and time.monotonic() < deadline:
                rclpy.spin_once(node, timeout_sec=0.1)
            assert client.service_is_ready(), rig.text[-3000:]
            future = client.call_async(GetParameters.Request(names=list(values)))
            # The one-process rig answers between its physics steps: slow on a busy host.
            rclpy.spin_until_future_complete(node, future, timeout_sec=300)
            assert future.done(), f'{target} did not answer get_parameters\n{rig.text[-3000:]}'
            got = [v.double_value for v in future.result().values]
            assert got == list(values.values()), (target, got)
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
        stopped_cleanly(rig, 60)


def test_a_one_process_rig_records_in_a_process_of_its_own_and_finishes_the_file(tmp_path):
    # The recorder runs beside the rig's process (its work off the control loop's core);
    # a stop finishes the file after the rig's safe stop, every message taken.
    from mcap.reader import make_reader
    from sensor_msgs.msg import JointState

    namespace = f'rec{os.getpid()}'
    rig = launch_rig(['--namespace', namespace, '--record', '--data-dir', str(tmp_path)],
                     backend=())
    rclpy.init()
    node = rclpy.create_node('recording_probe', namespace=namespace)
    seen = []
    node.create_subscription(JointState, 'joint_states', seen.append, 10)
    try:
        assert rig.wait_for(lambda t: 'recorder pid' in t and 'recording to' in t, 120.0), \
            rig.text[-3000:]
        pids = dict(re.findall(r'spacemine-rig: (\w+) pid (\d+)', rig.text))
        assert set(pids) == {'recorder'} and int(pids['recorder']) != rig.process.pid
        deadline = time.monotonic() + 120
        while len(seen) < 20 and time.monotonic() < deadline:
            rclpy.spin_once(node, timeout_sec=0.1)
        assert len(seen) >= 20, rig.text[-3000:]
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
        stopped_cleanly(rig, 300)  # the file is finished after the rig's safe stop
    files = list(tmp_path.glob('*.mcap'))
    assert len(files) == 1, rig.text[-3000:]
    from mcap_ros2.decoder import DecoderFactory
    with open(files[0], 'rb') as stream:  # finished: it has its summary section
        reader = make_reader(stream, decoder_factories=[DecoderFactory()])
        assert reader.get_summary() is not None
        recorded = [m.header.stamp for _, _, _, m in reader.iter_decoded_messages(
            topics=[f'/{namespace}/joint_states'])]
    # To the end: the rig ran on after the probe's last message, and all of it is there.
    last = max((s.sec, s.nanosec) for s in recorded)
    assert last >= (seen[-1].header.stamp.sec, seen[-1].header.stamp.nanosec)


PR_SET_CHILD_SUBREAPER = 36  # prctl(2): orphans of our descendants come back to us


def alive(pids, codes):
    """Return what the kernel says of each node process still running (a failure's why)."""
    states = {}
    for node, pid in pids.items():
        if node in codes:
            continue
        try:
            with open(f'/proc/{pid}/status') as stream:
                fields = dict(line.split(':', 1) for line in stream if ':' in line)
            with open(f'/proc/{pid}/wchan') as stream:
                wchan = stream.read()
        except OSError as error:
            states[node] = str(error)
            continue
        states[node] = {key: fields[key].strip() for key in
                        ('State', 'PPid', 'SigPnd', 'ShdPnd', 'SigBlk', 'SigIgn', 'SigCgt')}
        states[node]['wchan'] = wchan
    return states


def test_every_node_stops_safely_by_itself_when_its_launcher_is_killed():
    # ros2 launch exits on SIGTERM without stopping what it started, and a launcher can be
    # killed outright: each node process it started must then make its actuators safe and
    # exit 0 by itself (nodes.common.stop_with_parent), not go on running the rig.
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0  # to read their exit codes
    ports = 'drill_bus=/dev/nope0,arm_bus=/dev/nope1,ledger_bus=/dev/nope2,process_bus=/dev/nope3'
    rig = launch_rig(['--processes', '--ports', ports])
    nodes = ('field_bus', 'anchoring', 'drill', 'scraper', 'material_handling', 'smelter',
             'supervisor')
    try:
        # Every node up and running (a node killed while it starts stops too, sooner).
        assert rig.wait_for(lambda t: all(f'spacemine-rig: {n} pid ' in t for n in nodes) and
                            all(f'[{n}]: state ' in t for n in nodes[1:-1]) and
                            'mode idle' in t and 'configure failed' in t, 120.0), \
            rig.text[-3000:]
        pids = {node: rig.pid(node) for node in nodes}
        # A second rig on the same data directory is refused while these nodes live.
        data_dir = default_data_dir('')
        second = LaunchedRig(['--backend', 'hardware', '--ports', ports])
        assert second.process.wait(timeout=120) == 2, second.text[-3000:]
        assert f'data directory {data_dir} is in use by another rig' in second.text
        assert f'supervisor held by pid {pids["supervisor"]}' in second.text, second.text
        # A node started by hand (no launcher to check first) refuses by itself.
        alone = subprocess.run([sys.executable, '-m', 'spacemine_ros.nodes.supervisor'],
                               capture_output=True, text=True, timeout=120)
        assert alone.returncode != 0 and 'is in use' in alone.stderr + alone.stdout, alone
        os.kill(rig.process.pid, signal.SIGKILL)  # the launcher alone
        rig.process.wait()
        codes, deadline = {}, time.monotonic() + 180.0
        while len(codes) < len(pids) and time.monotonic() < deadline:
            for node, pid in pids.items():
                if node not in codes:
                    done, status = os.waitpid(pid, os.WNOHANG)
                    if done:
                        codes[node] = os.waitstatus_to_exitcode(status)
            time.sleep(0.2)
        assert codes == dict.fromkeys(nodes, 0), (codes, alive(pids, codes), rig.text[-3000:])
        assert 'Traceback' not in rig.text, rig.text[-3000:]
        assert data_lock.holders(data_dir, nodes) == {}  # gone with them: free for the next
    finally:
        rig.kill()
        libc.prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
