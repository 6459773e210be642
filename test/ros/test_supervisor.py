"""The supervisor node on the sim graph: plans, stamped commands, e-stop, liveness, record."""

import json
import subprocess
import sys

import pytest
import rclpy
from spacemine_interfaces.srv import OperatorCommand
from std_msgs.msg import Bool
from std_srvs.srv import Trigger

from spacemine_ros.command import command_request
from spacemine_ros.core.mission.mission_store import MissionStore
from spacemine_ros.nodes.common import STATE_QOS
from test.conftest import ROOT
from test.supervised_rig import MOMENTS, SupervisedRig, write_plan
from test.timing import wall


@pytest.fixture
def rig(tmp_path):
    rclpy.init()
    supervised = SupervisedRig(str(tmp_path / 'data'))
    yield supervised
    supervised.close()
    rclpy.try_shutdown()


def test_commands_are_checked_and_answered_with_the_reason(rig, tmp_path):
    assert rig.spin_until(lambda: rig.states.get('supervisor') == 'idle')
    assert rig.spin_sim(1.0)
    now = rig.world.time
    ok, reason = rig.command('start')
    assert not ok and reason == 'cannot start while idle'
    bad = tmp_path / 'bad.yaml'
    bad.write_text('plan: {name: bad, steps: [{type: drill, depth: -1}]}\n')
    ok, reason = rig.command('load_plan', str(bad))
    assert not ok and 'step 1 (drill): depth: Input should be greater than 0' in reason
    request = command_request('load_plan', now - 100.0, 10.0, 'bennu_shift', rig.key,
                              rig.namespace)
    response = rig.call(OperatorCommand, 'supervisor/command', request)
    assert not response.success and response.message.startswith('stale')
    assert rig.command('load_plan', 'bennu_shift') == (True,
                                                       'plan bennu_shift loaded: 8 steps')
    assert rig.spin_until(lambda: rig.states.get('supervisor') == 'ready')
    status = rig.call(Trigger, 'supervisor/status', Trigger.Request())
    assert status.message.startswith('ready; plan bennu_shift step 1/8')
    preflight = rig.call(Trigger, 'supervisor/preflight', Trigger.Request())
    assert rig.spin_until(lambda: rig.call(Trigger, 'supervisor/preflight',
                                           Trigger.Request()).success, 60.0), preflight.message
    # Every command and its outcome is in the record, as it happened.
    events = MissionStore(rig.supervisor.store.path).events()
    assert any('refused: stale' in text for _, _, kind, text in events if kind == 'command')


def test_an_estop_topic_from_anyone_latches_and_only_a_reset_releases_it(rig):
    assert rig.command('load_plan', 'bennu_shift')[0]
    publisher = rig.operator.create_publisher(Bool, 'estop', STATE_QOS)
    publisher.publish(Bool(data=True))
    assert rig.spin_until(lambda: rig.states.get('supervisor') == 'estopped')
    assert rig.spin_until(lambda: rig.world.estop)
    # Nothing starts meanwhile, whoever asks.
    from spacemine_interfaces.action import DrillToDepth
    assert 'e-stop latched' in rig.goals.rejection(DrillToDepth, 'drill/drill_to_depth',
                                                   depth=0.05)
    ok, reason = rig.command('start')
    assert not ok
    publisher.publish(Bool(data=False))  # not a reset: latched again
    assert rig.spin_sim(2.0)
    assert rig.world.estop and rig.states['supervisor'] == 'estopped'
    assert rig.command('reset') == (True, 'e-stop reset')
    assert rig.spin_until(lambda: not rig.world.estop)
    assert rig.states['supervisor'] == 'ready'


def test_a_silent_node_stops_the_rig_and_its_return_resumes_the_plan(rig, tmp_path):
    rig.supervisor.liveness_timeout = 3.0
    from spacemine_interfaces.msg import PowerShares
    shares = {}
    rig.operator.create_subscription(
        PowerShares, 'power/shares',
        lambda m: shares.update({(s.controller, s.budget): s.power for s in m.shares}),
        STATE_QOS)
    # Anchor, line, drill, scrape: the scraper hangs while the drill works.
    assert rig.command('load_plan', write_plan(str(tmp_path), steps=4))[0]
    assert rig.command('start')[0]
    assert rig.spin_until(lambda: rig.states.get('drill') == 'DRILLING', 300.0)
    # The drill works on the share the supervisor published for it.
    drill = next(node for node in rig.nodes if node.get_name() == 'drill')
    assert rig.spin_until(lambda: shares.get(('drill', 'power_budget'), 0.0) > 0.0 and
                          drill.controller.params.power_budget ==
                          shares[('drill', 'power_budget')])
    scraper = next(node for node in rig.nodes if node.get_name() == 'scraper')
    rig.executor.remove_node(scraper)  # the scraper's process hangs: its diagnostics stop
    assert rig.spin_until(lambda: rig.states.get('supervisor') == 'estopped', 60.0)
    assert rig.supervisor.mission.reason == 'e-stop: liveness: scraper silent'
    assert rig.spin_until(lambda: not rig.actuators_safe(), 30.0), rig.actuators_safe()
    ok, reason = rig.command('reset')
    assert not ok and 'cause persists' in reason
    rig.executor.add_node(scraper)  # back (as respawn would bring it)
    assert rig.spin_until(lambda: rig.states.get('supervisor') == 'running', 60.0)
    assert rig.spin_until(lambda: rig.states.get('supervisor') in ('completed', 'aborted'),
                          900.0), rig.supervisor.mission.describe()
    assert rig.states['supervisor'] == 'completed', rig.supervisor.mission.describe()


@pytest.mark.slow
def test_an_estop_in_every_subsystem_state_makes_everything_safe_until_reset(tmp_path):
    # In a process of its own (one rclpy life, the fastest executor, as the rig runs).
    subprocess.run([sys.executable, '-m', 'test.supervised_rig', str(tmp_path)], cwd=ROOT,
                   check=True, timeout=wall(1800.0))
    figures = json.loads((tmp_path / 'estop.json').read_text())
    latencies = figures['latency_s']
    assert set(latencies) == {f'{controller} {state}' for controller, state in MOMENTS}
    # Safe within a few control periods (0.05 s) of the request, in every state: the
    # lockstep simulation goes on while the request travels (bench/bench_estop.py).
    assert all(latency <= 0.5 for latency in latencies.values()), latencies
    assert abs(figures['balance_kg']) < 1e-9
    assert figures['estopped'] == len(latencies)  # each one in the record
