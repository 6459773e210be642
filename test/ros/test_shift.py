"""Shifts end to end, shortened: other rigs, interrupted, two at once.

The make-sim shift itself, recorded, is test_recorded_shift.py.
"""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from spacemine_ros import data_lock, shift
from test.conftest import ROOT


@pytest.mark.slow
def test_a_twin_drill_rig_runs_a_shift_from_its_rig_file_alone(tmp_path):
    # Two drill heads share the anchors: the budget keeps their combined thrust within
    # the tools' share of the safe capacity (peak_thrust is both heads together).
    summary_file = tmp_path / 'summary.json'
    status = subprocess.run(
        [sys.executable, '-m', 'spacemine_ros.shift', '--rig', 'twin_drill', '--depth', '0.05',
         '--passes', '0', '--no-smelt', '--no-progress', '--namespace', 'twin_test',
         '--summary-file', str(summary_file)], check=False).returncode
    figures = json.loads(summary_file.read_text())
    assert status == 0, figures['reason']
    assert set(figures['depth_reached_by_drill_m']) == {'drill_a', 'drill_b'}
    assert all(depth >= 0.05 for depth in figures['depth_reached_by_drill_m'].values())
    assert 0 < figures['peak_thrust_N'] <= 0.8 * figures['safe_capacity_at_peak_N'] + 5.0
    assert figures['max_rig_displacement_m'] < 0.002
    assert abs(figures['ledger_balance_kg']) < 1e-9


def test_shift_rejects_a_bad_depth(capsys):
    with pytest.raises(SystemExit):
        shift.main(['--depth', 'nan'])
    assert 'positive number' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        shift.main(['--passes', '-1'])
    assert '--passes' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        shift.main(['--backend', 'hil'])
    assert 'sim backend only' in capsys.readouterr().err


def start_shift(args, env=None):
    return subprocess.Popen([sys.executable, '-m', 'spacemine_ros.shift', '--no-progress',
                             *args], cwd=ROOT, env=env or dict(os.environ),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize('stop', [signal.SIGINT, signal.SIGTERM], ids=['SIGINT', 'SIGTERM'])
def test_an_interrupted_shift_says_what_it_did_and_replaces_the_old_summary(tmp_path, stop):
    summary_file = tmp_path / 'summary.json'
    summary_file.write_text(json.dumps({'result': 'completed'}))  # an earlier run's
    process = start_shift(['--depth', '0.2', '--namespace', f'int_{stop.name}',
                           '--summary-file', str(summary_file)])
    # Wait until it drills (the earlier summary is gone by then), then interrupt.
    deadline = time.monotonic() + 300
    log = ''
    while 'state DRILLING' not in log and time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line and process.poll() is not None:
            break
        log += line
        if 'state DRILLING' in line:
            assert not summary_file.exists()
    assert 'state DRILLING' in log, log[-2000:]
    process.send_signal(stop)
    out, err = process.communicate(timeout=120)
    figures = json.loads(summary_file.read_text())
    assert process.returncode == 1  # the shift did not complete
    assert figures['result'] == 'interrupted' and stop.name in figures['reason']
    assert 'step 3/8 drill' in figures['reason'] and figures['depth_reached_m'] < 0.2
    assert 'interrupted' in out  # the partial summary is printed
    assert 'Traceback' not in err + out, err[-3000:]


@pytest.mark.slow
def test_two_shifts_at_once_on_one_host_do_not_see_each_other(tmp_path):
    # No ROS_DOMAIN_ID: each shift claims a free domain, as two `make sim` would.
    env = {k: v for k, v in os.environ.items() if k != 'ROS_DOMAIN_ID'}
    # Each its own data directory: a second rig on one directory is refused (below).
    files = [tmp_path / f'summary{i}.json' for i in range(2)]
    processes = [start_shift(['--depth', '0.03', '--passes', '0', '--no-smelt',
                              '--summary-file', str(path), '--data-dir',
                              str(tmp_path / f'data{i}')], env)
                 for i, path in enumerate(files)]
    results = [process.communicate(timeout=900) for process in processes]
    domains = set()
    for process, (out, err), path in zip(processes, results, files):
        assert process.returncode == 0, err[-3000:]
        figures = json.loads(path.read_text())
        assert figures['result'] == 'completed'
        assert figures['ledger_balance_kg'] == pytest.approx(0.0, abs=1e-9)
        domains.add(next(line for line in err.splitlines() if 'ROS domain' in line))
    assert len(domains) == 2, domains


def test_a_shift_on_a_data_directory_another_rig_holds_is_refused_in_one_line(tmp_path):
    data_dir = str(tmp_path / 'data')
    data_lock.hold(data_dir, 'supervisor', 'other')  # as another rig's live supervisor
    try:
        process = start_shift(['--data-dir', data_dir])
        out, err = process.communicate(timeout=300)
    finally:
        data_lock.release(data_dir, 'supervisor')
    assert process.returncode == 2, err[-3000:]
    assert f'data directory {data_dir} is in use by another rig: supervisor held by pid ' \
        f'{os.getpid()}' in err and 'Traceback' not in err, err
