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
import threading
import time

from rcl_interfaces.srv import GetParameters
import pytest
import rclpy

from test.conftest import ROOT

ATTEMPT = re.compile(r'configure will be tried again in ([0-9.]+) s')


class Rig:
    """spacemine-rig in a subprocess, its output collected by a thread."""

    def __init__(self, extra, backend=('--backend', 'hardware', '-p',
                                       'field_bus.autostart_retry=0.5')):
        env = dict(os.environ, PYTHONUNBUFFERED='1', RCUTILS_COLORIZED_OUTPUT='0')
        self.process = subprocess.Popen(
            [sys.executable, '-m', 'spacemine_ros.launcher', *backend, *extra],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.process.stdout:
            self.lines.append(line)

    @property
    def text(self):
        return ''.join(self.lines)

    def wait_for(self, predicate, limit):
        """Wait until predicate(output) holds, the process ends or limit s pass."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline and not predicate(self.text):
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        return predicate(self.text)


@pytest.mark.parametrize('mode', [[], ['--processes']], ids=['one_process', 'processes'])
@pytest.mark.parametrize('stop', [signal.SIGINT, signal.SIGTERM], ids=['SIGINT', 'SIGTERM'])
def test_a_rig_with_missing_ports_keeps_retrying_and_stops_on_a_signal(mode, stop):
    ports = 'drill_bus=/dev/nope0,arm_bus=/dev/nope1,ledger_bus=/dev/nope2,process_bus=/dev/nope3'
    rig = Rig([*mode, '--ports', ports])
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
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.parametrize('mode', [[], ['--processes']], ids=['one_process', 'processes'])
def test_what_the_operator_sets_is_what_the_nodes_use(mode):
    # config/rig.yaml sets all three; the operator's -p must win over it.
    namespace = f'ovr{len(mode)}{os.getpid()}'
    rig = Rig([*mode, '--namespace', namespace, '--body', 'psyche',
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
            rclpy.spin_until_future_complete(node, future, timeout_sec=60)
            got = [v.double_value for v in future.result().values]
            assert got == list(values.values()), (target, got)
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
        rig.process.send_signal(signal.SIGINT)
        assert rig.process.wait(timeout=60) == 0
