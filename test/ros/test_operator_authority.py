"""Only the operator commands the rig: an intruder on the rig's ROS domain is refused.

The sim graph with its supervisor runs in this process (SupervisedRig); its supervisor made
the sim operator's key in the data directory. An intruder node tries every operator
command, and a plan goal, unsigned, signed with its own key, with a revoked operator's
key, as a copy of the operator's signed command, with a changed argument and with a stale
stamp: each is refused with its reason on /diagnostics, the mode stays, nothing moves and
the ledger is unchanged. The operator's signed commands, from spacemine-command too, go
through. Anyone may latch the e-stop; only the operator releases it.
"""

import os
import subprocess
import sys

from diagnostic_msgs.msg import DiagnosticArray
import pytest
import rclpy
from spacemine_interfaces.action import RunPlan
from spacemine_interfaces.srv import OperatorCommand

from spacemine_ros.command import command_request, plan_goal
from spacemine_ros.core.mission.operators import AuthorisedOperators, OperatorKey, \
    OPERATORS_FILE
from test.goals import Goals
from test.supervised_rig import SupervisedRig, write_plan

NAMESPACE = '/supervised'


@pytest.fixture
def rig(tmp_path):
    rclpy.init()
    data_dir = str(tmp_path / 'data')
    supervised = SupervisedRig(data_dir, NAMESPACE)
    supervised.data_dir = data_dir
    supervised.refusals = []
    supervised.operator.create_subscription(
        DiagnosticArray, '/diagnostics',
        lambda m: supervised.refusals.extend(
            s.message for s in m.status if s.name.endswith('supervisor/operator_commands')),
        50)
    yield supervised
    supervised.close()
    rclpy.try_shutdown()


def send(rig, request):
    """Send a command request as it is; return (accepted, reason)."""
    response = rig.call(OperatorCommand, 'supervisor/command', request)
    return response.success, response.message


def attacks(rig, name, plan, keys):
    """Return [(what, request)] of an intruder's attempts at one command."""
    now = rig.world.time
    signed = command_request(name, now, 60.0, plan, rig.key, NAMESPACE)
    changed = command_request(name, now, 60.0, plan, rig.key, NAMESPACE)
    changed.plan = 'other_plan' if plan else 'a_plan'  # the argument, after signing
    renamed = command_request('abort' if name != 'abort' else 'start', now, 60.0, plan,
                              rig.key, NAMESPACE)
    renamed.command = name
    return [
        ('unsigned', 'unsigned', command_request(name, now, 60.0, plan)),
        ('its own key', "is not an authorised operator's",
         command_request(name, now, 60.0, plan, keys['intruder'], NAMESPACE)),
        ('a revoked key', 'was revoked',
         command_request(name, now, 60.0, plan, keys['former'], NAMESPACE)),
        ('a changed argument', 'bad signature', changed),
        ('a changed command', 'bad signature', renamed),
        ('another rig', 'bad signature',
         command_request(name, now, 60.0, plan, rig.key, '/another_rig')),
        # Signed by the operator, but long ago: the signature holds, the time does not.
        ('a stale stamp', 'stale', command_request(name, now - 20.0, 10.0, plan, rig.key,
                                                   NAMESPACE)),
        ('the signed original', None, signed),
    ]


def try_everything(rig, name, plan, keys):
    """Run the intruder's attempts at one command but its original; return the original."""
    mode = rig.states.get('supervisor')
    ledger = dict(rig.supervisor.ledger)
    table = []
    *tries, (_, _, original) = attacks(rig, name, plan, keys)
    for what, expected, request in tries:
        count = len(rig.refusals)
        accepted, reason = send(rig, request)
        assert not accepted and expected in reason, (name, what, reason)
        assert rig.spin_until(lambda: any(expected in r for r in rig.refusals[count:])), \
            f'{name} with {what}: no refusal on /diagnostics'
        table.append((name, what, reason))
    assert rig.spin_sim(1.0)
    assert rig.states.get('supervisor') == mode, (name, rig.states.get('supervisor'))
    if mode in ('idle', 'ready', 'estopped'):  # paused: a step's tool may finish a move
        unsafe = rig.actuators_safe()
        assert unsafe == '', f"after the intruder's {name}: {unsafe}"
        assert dict(rig.supervisor.ledger) == ledger
    return original, table


def command_line(rig, *arguments):
    """Run spacemine-command against the rig (spinning it meanwhile); return (code, out)."""
    process = subprocess.Popen(
        [sys.executable, '-m', 'spacemine_ros.command', *arguments, '--namespace', NAMESPACE,
         '--data-dir', rig.data_dir, '--timeout', '60'],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert rig.spin_until(lambda: process.poll() is not None, 120.0)
    return process.returncode, process.stdout.read()


def test_an_intruder_is_refused_every_command_and_the_operator_is_not(rig, tmp_path):
    assert rig.spin_until(lambda: rig.states.get('supervisor') == 'idle')
    assert rig.spin_sim(1.0)
    keys = {'intruder': OperatorKey.generate(str(tmp_path / 'intruder.key')),
            'former': OperatorKey.generate(str(tmp_path / 'former.key'))}
    operators_file = os.path.join(rig.data_dir, OPERATORS_FILE)
    operators = AuthorisedOperators.load(operators_file)
    operators.add('former', keys['former'].public_key)
    operators.revoke('former')
    operators.save(operators_file)
    plan = write_plan(str(tmp_path))
    table = []

    # A plan goal: unsigned, or signed by the intruder.
    goals = Goals(rig.operator, rig.spin_until)
    assert 'unsigned' in goals.rejection(RunPlan, 'supervisor/run_plan', plan=plan)
    assert 'not an authorised' in goals.rejection(
        RunPlan, 'supervisor/run_plan',
        make_goal=lambda: plan_goal(plan, rig.world.time, 60.0, keys['intruder'], NAMESPACE))

    # Idle: the intruder cannot load a plan; the operator can, with spacemine-command.
    original, rows = try_everything(rig, 'load_plan', plan, keys)
    table += rows
    code, out = command_line(rig, 'load_plan', '--plan', plan, '--key',
                             str(tmp_path / 'intruder.key'))
    assert code == 1 and 'refused: key' in out, out
    code, out = command_line(rig, 'load_plan', '--plan', plan)
    assert code == 0 and out.startswith('accepted: plan estop_drill loaded'), out
    assert rig.spin_until(lambda: rig.states.get('supervisor') == 'ready')

    # Ready: no start. Then the operator's.
    original, rows = try_everything(rig, 'start', '', keys)
    table += rows
    accepted, reason = send(rig, original)
    assert accepted, reason
    assert rig.spin_until(lambda: rig.states.get('supervisor') == 'running')
    accepted, reason = send(rig, original)
    assert not accepted and reason.startswith('replayed'), reason

    # Running: no pause, no abort.
    for name in ('pause', 'abort'):
        _, rows = try_everything(rig, name, '', keys)
        table += rows
    paused = command_request('pause', rig.world.time, 60.0, '', rig.key, NAMESPACE)
    assert send(rig, paused)[0]
    assert rig.spin_until(lambda: rig.states.get('supervisor') == 'paused')

    # Paused: no resume. Anyone stops the rig; only the operator releases the e-stop.
    original, rows = try_everything(rig, 'resume', '', keys)
    table += rows
    accepted, reason = send(rig, command_request('estop', rig.world.time, 60.0))  # unsigned
    assert accepted, reason
    assert rig.spin_until(lambda: rig.states.get('supervisor') == 'estopped')
    original, rows = try_everything(rig, 'reset', '', keys)
    table += rows
    assert send(rig, original)[0]
    assert rig.spin_until(lambda: rig.states.get('supervisor') == 'paused')
    accepted, reason = send(rig, paused)  # the operator's pause, copied
    assert not accepted and 'replayed' in reason

    assert len(table) == 6 * 7
    if os.environ.get('SPACEMINE_PRINT_TABLE'):  # the table of docs/operations.md
        for row in table:
            print(' | '.join(row))
