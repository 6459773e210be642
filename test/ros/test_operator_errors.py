"""What an operator gets wrong gets one line, a non-zero exit, and no rig left running.

Each case starts spacemine-rig (or spacemine-shift) as an operator would, with one thing
wrong: it must exit non-zero, say what is wrong in a line naming the key, file or value,
print no traceback, and leave no node process behind.
"""

import os
import subprocess
import sys
import time

import pytest

from test.conftest import ROOT


def run(tool, args, tmp_path, limit=180):
    namespace = f'err{os.getpid()}{time.monotonic_ns() % 100000}'
    env = dict(os.environ, RCUTILS_COLORIZED_OUTPUT='0')
    result = subprocess.run(
        [sys.executable, '-m', f'spacemine_ros.{tool}', '--namespace', namespace, *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=limit)
    left = subprocess.run(['pgrep', '-f', f'__ns:=/{namespace}'], capture_output=True,
                          text=True).stdout.split()
    return result, left


def bad_params(tmp_path, text):
    path = tmp_path / 'params.yaml'
    path.write_text(text)
    return str(path)


CASES = {
    'unknown body': (['--body', 'vesta'], "unknown body 'vesta'; known bodies: bennu"),
    'misspelt override': (['-p', 'drill.goal_depht=0.2'],
                          '-p drill.goal_depht: the node does not have this parameter (did '
                          'you mean goal_depth?)'),
    'override of a missing node': (['-p', 'nonode.x=1'], 'the rig has no node nonode'),
    'text for a number': (['-p', 'drill.max_thrust=abc'],
                          "-p drill.max_thrust: 'abc' is a string, the parameter takes a "
                          'double'),
    'anchors that cannot hold': (['--body', 'eros', '--anchor-type', 'screw'],
                                 'screw anchors hold only 0 N'),
    'missing params file': (['--params-file', '/nonexistent/params.yaml'],
                            'params file /nonexistent/params.yaml: no such file'),
    'missing bodies file': (['-p', 'rig_sim.bodies_file=/nonexistent/bodies.yaml'],
                            'cannot read config file /nonexistent/bodies.yaml'),
}


@pytest.mark.parametrize('case', sorted(CASES))
def test_a_mistake_on_the_command_line_is_one_line(case, tmp_path):
    args, expected = CASES[case]
    result, left = run('launcher', args, tmp_path)
    assert result.returncode != 0
    assert expected in result.stderr, result.stderr[-2000:]
    assert 'Traceback' not in result.stderr + result.stdout, result.stderr[-3000:]
    assert not left


@pytest.mark.parametrize('text, expected', [
    ('/**/drill:\n  ros__parameters:\n    goal_depth: [0.2\n', 'params.yaml: line 4'),
    ('/**/drill:\n  ros__parameters:\n    goal_depht: 0.2\n',
     'goal_depht: the node does not have this parameter (did you mean goal_depth?)'),
    ('/**/drill:\n  ros__parameters:\n    goal_depth: deep\n',
     "goal_depth: 'deep' is a string, the parameter takes a double"),
], ids=['malformed', 'misspelt', 'wrong type'])
@pytest.mark.parametrize('mode', [[], ['--processes']], ids=['one_process', 'processes'])
def test_a_mistake_in_a_params_file_is_one_line(text, expected, mode, tmp_path):
    params = bad_params(tmp_path, text)
    result, left = run('launcher', ['--params-file', params, *mode], tmp_path)
    assert result.returncode != 0
    assert expected in result.stderr, result.stderr[-2000:]
    assert 'Traceback' not in result.stderr + result.stdout, result.stderr[-3000:]
    assert not left


@pytest.mark.parametrize('engine', [[], ['--headless']], ids=['graph', 'headless'])
def test_a_params_file_s_wrong_type_is_refused_though_the_shift_sets_that_parameter(
        engine, tmp_path):
    # --depth sets the drill's goal_depth: the file's mistake must not hide behind it.
    params = bad_params(tmp_path, '/**/drill:\n  ros__parameters:\n    goal_depth: deep\n')
    result, left = run('shift', ['--params-file', params, '--depth', '0.05', *engine],
                       tmp_path)
    assert result.returncode == 2, result.stderr[-2000:]
    assert ("params.yaml: /**/drill: goal_depth: 'deep' is a string, the parameter takes a "
            'double') in result.stderr, result.stderr[-2000:]
    assert 'Traceback' not in result.stderr + result.stdout, result.stderr[-3000:]
    assert not left


def test_a_depth_beyond_the_feed_stroke_is_refused_before_the_rig_starts(tmp_path):
    result, left = run('shift', ['--depth', '1.5'], tmp_path)
    assert result.returncode == 2
    assert 'feed stroke' in result.stderr and 'deploying anchors' not in result.stderr
    assert not left
