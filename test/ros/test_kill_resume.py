"""SIGKILL a node at seeded random points of a shift; it comes back; nothing is lost.

The rig runs as with ros2 launch, the node under test in a process of its own. It is
killed with SIGKILL at 10 random points of the shift (seeded) and started again each
time (the supervisor with --resume on the same data directory, as respawn does; a
controller as it was). The shift must complete with the ledger's totals equal to those
of an uninterrupted run within the ledger's resolution, and the record must hold the
whole story. A killed controller goes silent: the supervisor latches the e-stop, and
resumes the plan once the controller is back; a step it was working on is retried.
"""

import os
import random
import signal
import time

from diagnostic_msgs.msg import DiagnosticStatus
import pytest
import rclpy
from rosgraph_msgs.msg import Clock
from std_msgs.msg import Float64, String
import yaml

from spacemine_ros.core.mission_store import MissionStore
from spacemine_ros.nodes.common import STATE_QOS
from test.launched import LaunchedRig
from test.timing import wall

NODES = ['rig_sim', 'anchoring', 'drill', 'scraper', 'material_handling', 'smelter',
         'supervisor']
PLAN = {'plan': {'name': 'kill_resume', 'steps': [
    {'type': 'deploy_anchors', 'retries': 10},
    {'type': 'material_line', 'until': 'running', 'retries': 10},
    {'type': 'drill', 'depth': 0.05, 'retries': 10},
    {'type': 'scrape', 'passes': 1, 'pass_length': 0.3, 'retries': 10},
    {'type': 'material_line', 'until': 'drained', 'retries': 10},
]}}
ACCOUNTS = ('excavated', 'hopper_metal', 'hopper_silicate', 'lost', 'balance')
LEDGER_RESOLUTION = 0.05  # kg: material_handling's ledger_tolerance (config/rig.yaml)
KILLS = 10


class Watcher:
    """The rig's clock, the supervisor's mode and the ledger, seen from outside."""

    def __init__(self, namespace):
        self.node = rclpy.create_node('kill_watcher', namespace=namespace)
        self.time = 0.0
        self.mode = ''
        self.lost = ''  # what the supervisor finds silent
        self.ledger = {}
        self.node.create_subscription(Clock, 'clock', self._on_clock, 10)
        self.node.create_subscription(String, 'supervisor/mode',
                                      lambda m: setattr(self, 'mode', m.data), STATE_QOS)
        self.node.create_subscription(DiagnosticStatus, 'supervisor/status', self._on_status,
                                      STATE_QOS)
        for name in ACCOUNTS:
            self.node.create_subscription(
                Float64, f'material/ledger/{name}',
                lambda m, n=name: self.ledger.__setitem__(n, m.data), STATE_QOS)

    def _on_status(self, message):
        self.lost = next((v.value for v in message.values if v.key == 'lost'), '')

    def _on_clock(self, message):
        self.time = message.clock.sec + message.clock.nanosec * 1e-9

    def spin_until(self, done, limit):
        end = time.monotonic() + wall(limit)
        while not done() and time.monotonic() < end:
            rclpy.spin_once(self.node, timeout_sec=0.05)
        return done()


def start(node, namespace, data_dir, plan_file, first):
    """Start one node of the rig in its own process, again as respawn would.

    The supervisor gets the same plan and autostart each time, and --resume after a kill
    (what a respawn within one launch amounts to: it takes up its stored shift).
    """
    args = ['--namespace', namespace, '--nodes', node, '--data-dir', data_dir]
    if node == 'supervisor':
        args += ['--plan', plan_file, '--autostart', '-p', 'supervisor.liveness_timeout=5.0']
        args += [] if first else ['--resume']
    return LaunchedRig(args)


def run_shift(tmp_path, name, victim='supervisor', kill_at=()):
    """Run the plan, the victim node killed at each sim time of kill_at; return facts."""
    namespace = f'/{name}{os.getpid()}'
    data_dir = str(tmp_path / name)
    plan_file = str(tmp_path / f'{name}.yaml')
    with open(plan_file, 'w', encoding='utf-8') as stream:
        yaml.safe_dump(PLAN, stream)
    others = [n for n in NODES if n not in (victim, 'supervisor')]
    rig = LaunchedRig(['--namespace', namespace, '--nodes', ','.join(others),
                       '--data-dir', data_dir])
    watcher = Watcher(namespace)
    alone = None if victim == 'supervisor' else start(victim, namespace, data_dir, plan_file,
                                                      True)
    process = start('supervisor', namespace, data_dir, plan_file, True)
    kills = []
    try:
        for point in kill_at:
            assert watcher.spin_until(lambda: watcher.time >= point or
                                      watcher.mode in ('completed', 'aborted'), 600.0), \
                f'stuck before {point} s: {watcher.mode}\n{process.text[-2000:]}'
            if watcher.mode in ('completed', 'aborted'):
                break
            killed = process if victim == 'supervisor' else alone
            os.kill(killed.process.pid, signal.SIGKILL)
            killed.process.wait(timeout=60)
            kills.append(round(watcher.time, 2))
            if victim == 'supervisor':
                watcher.mode = ''  # the next mode comes from the new process
                process = start('supervisor', namespace, data_dir, plan_file, False)
            else:
                # Silent long enough for the supervisor to see it (and latch the e-stop
                # if the plan is under way), then back.
                assert watcher.spin_until(lambda: victim in watcher.lost.split(', '), 120.0), \
                    f'{victim} killed, not seen silent\n{process.text[-3000:]}'
                alone = start(victim, namespace, data_dir, plan_file, False)
                assert watcher.spin_until(lambda: victim not in watcher.lost.split(', '),
                                          120.0), f'{victim} not back\n{alone.text[-3000:]}'
            assert watcher.spin_until(lambda: watcher.mode in ('running', 'completed', 'ready'),
                                      180.0), f'not resumed: {watcher.mode}\n' \
                f'{process.text[-3000:]}'
        assert watcher.spin_until(lambda: watcher.mode in ('completed', 'aborted'), 900.0), \
            process.text[-3000:]
        assert watcher.mode == 'completed', process.text[-3000:]
        assert watcher.spin_until(lambda: all(n in watcher.ledger for n in ACCOUNTS), 30.0)
        events = MissionStore(os.path.join(data_dir, 'mission.sqlite')).events()
        return dict(watcher.ledger), kills, events
    finally:
        running = [p for p in (process, alone, rig) if p is not None]
        for launched in running:
            if launched.process.poll() is None:
                launched.process.send_signal(signal.SIGINT)
        for launched in running:
            try:
                launched.process.wait(timeout=60)
            except Exception:  # noqa: B902 - never leave a process behind
                launched.process.kill()
        watcher.node.destroy_node()


@pytest.fixture
def ros():
    rclpy.init()
    yield
    rclpy.try_shutdown()


@pytest.fixture(scope='module')
def reference(tmp_path_factory):
    """Return the ledger of the shift run without a kill."""
    rclpy.init()
    try:
        ledger, _, _ = run_shift(tmp_path_factory.mktemp('reference'), 'whole')
    finally:
        rclpy.try_shutdown()
    return ledger


def kill_points(seed):
    # The uninterrupted shift takes about 160 s of sim time; kill within its first 140 s.
    return sorted(random.Random(seed).uniform(1.0, 140.0) for _ in range(KILLS))


def same_ledger(ledger, reference):
    for name in ('excavated', 'hopper_metal', 'hopper_silicate', 'lost'):
        assert abs(ledger[name] - reference[name]) <= LEDGER_RESOLUTION, (name, ledger,
                                                                          reference)
    assert abs(ledger['balance']) < 1e-9
    print('\nledger vs uninterrupted: ' + ', '.join(
        f'{name} {ledger[name]:.4f}/{reference[name]:.4f} kg' for name in ACCOUNTS[:4]))


@pytest.mark.slow
def test_killing_the_supervisor_anywhere_resumes_the_shift_with_nothing_lost(reference, ros,
                                                                             tmp_path):
    ledger, kills, events = run_shift(tmp_path, 'killed', 'supervisor', kill_points(14))
    assert len(kills) == KILLS, kills
    print(f'\nsupervisor killed at sim {kills} s')
    same_ledger(ledger, reference)
    # The record tells the story: every restart took the plan up again.
    restored = [text for _, _, kind, text in events
                if kind == 'mode' and 'restored after a restart' in text]
    assert len(restored) == KILLS
    steps_done = [text for _, _, kind, text in events if kind == 'step' and
                  text.endswith(' done')]
    assert len(steps_done) == len(PLAN['plan']['steps'])  # each step finished once


@pytest.mark.slow
# The material line's node is not in the list yet: killed while the line drains, the
# restarted node is seen STOPPED by the rig while the supervisor still counts it running
# (docs/operations.md, "Not yet covered").
@pytest.mark.parametrize('victim', ['drill'])
def test_killing_a_controller_anywhere_stops_the_rig_and_resumes_with_nothing_lost(
        reference, ros, tmp_path, victim):
    ledger, kills, events = run_shift(tmp_path, victim, victim, kill_points(15))
    assert len(kills) == KILLS, kills
    print(f'\n{victim} killed at sim {kills} s')
    same_ledger(ledger, reference)
    silent = [text for _, _, kind, text in events if kind == 'fault' and
              text == f'{victim} silent']
    assert len(silent) == KILLS  # each kill seen, the rig stopped, then resumed
