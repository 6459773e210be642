"""Campaign runs on Dask (spacemine_ros.campaign): embedded, a real scheduler, resumed."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from spacemine_ros.campaign import main, Results, run_campaign
from spacemine_ros.core.campaign import load_campaign
from spacemine_ros.core.config import ConfigError
from test.conftest import CONFIG

CI_SMALL = os.path.join(CONFIG, 'campaigns', 'ci_small.yaml')
SMALL = load_campaign(CI_SMALL).model_copy(update={'samples': 3})
# Figures of the host, not of the shift.
WALL = {'wall_time_s', 'run_wall_s', 'summary'}


def rows(directory, campaign=SMALL):
    table = Results(str(directory), campaign).table()
    return [{k: v for k, v in row.items() if k not in WALL} for row in table.to_pylist()]


@pytest.fixture(scope='module')
def one_worker(tmp_path_factory):
    """Run the small campaign on one embedded worker, resumed once on the way."""
    directory = tmp_path_factory.mktemp('one_worker')
    first = SMALL.model_copy(update={'samples': 2})  # the same campaign, stopped early
    assert run_campaign(first, str(directory), workers=1) == (2, 0)
    run, failures = run_campaign(SMALL, str(directory), workers=1)
    return directory, run, failures


def test_a_resumed_campaign_runs_only_the_samples_without_a_row(one_worker):
    directory, run, failures = one_worker
    assert (run, failures) == (1, 0)  # the third only
    found = rows(directory)
    assert [row['sample'] for row in found] == [0, 1, 2]
    assert run_campaign(SMALL, str(directory), workers=1) == (0, 0)  # nothing left
    for row in found:
        assert row['outcome'] == 'completed', row['reason']
        assert abs(row['ledger_balance_kg']) < 1e-9
        assert row['mass_excavated_kg'] > 0.0 and row['peak_anchor_load_N'] > 0.0
        inputs = json.loads(row['inputs'])
        assert set(inputs) == set(SMALL.vary)


def test_two_embedded_workers_give_the_rows_of_one_sample_for_sample(one_worker, tmp_path):
    directory, _, _ = one_worker
    assert run_campaign(SMALL, str(tmp_path), workers=2) == (3, 0)
    assert rows(tmp_path) == rows(directory)


def test_a_running_dask_scheduler_and_two_workers_give_the_same_rows(one_worker, tmp_path):
    directory, _, _ = one_worker
    dask = os.path.join(os.path.dirname(sys.executable), 'dask')
    scheduler_file = str(tmp_path / 'scheduler.json')
    common = {'stdout': subprocess.DEVNULL, 'stderr': subprocess.DEVNULL,
              'start_new_session': True}
    processes = [subprocess.Popen([dask, 'scheduler', '--scheduler-file', scheduler_file,
                                   '--host', '127.0.0.1', '--port', '0', '--no-dashboard'],
                                  **common)]
    try:
        deadline = time.monotonic() + 120.0
        while not os.path.exists(scheduler_file) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert os.path.exists(scheduler_file), 'the scheduler did not start'
        for _ in range(2):
            processes.append(subprocess.Popen(
                [dask, 'worker', '--scheduler-file', scheduler_file, '--nworkers', '1',
                 '--nthreads', '1', '--no-dashboard'], **common))
        with open(scheduler_file) as stream:
            address = json.load(stream)['address']
        out = tmp_path / 'results'
        assert run_campaign(SMALL, str(out), scheduler=address) == (3, 0)
        assert rows(out) == rows(directory)
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def test_a_campaign_killed_mid_way_resumes_with_no_sample_lost_or_run_twice(tmp_path):
    out = tmp_path / 'results'
    command = [sys.executable, '-m', 'spacemine_ros.campaign', CI_SMALL, '--out', str(out),
               '--workers', '1', '--no-progress']
    runner = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    try:
        deadline = time.monotonic() + 300.0
        while time.monotonic() < deadline and runner.poll() is None and not (
                out.exists() and any(n.endswith('.parquet') for n in os.listdir(out))):
            time.sleep(0.1)
        assert runner.poll() is None, 'the campaign ended before it could be killed'
    finally:
        os.killpg(runner.pid, signal.SIGKILL)  # the runner and its workers
        runner.wait()
    campaign = load_campaign(CI_SMALL)
    before = Results(str(out), campaign).done()
    assert 1 <= len(before) < campaign.samples
    assert main([CI_SMALL, '--out', str(out), '--workers', '1', '--no-progress']) == 0
    found = [row['sample'] for row in Results(str(out), campaign).table().to_pylist()]
    assert found == list(range(campaign.samples))  # each once


def test_a_results_directory_of_another_campaign_is_refused(one_worker):
    directory, _, _ = one_worker
    other = SMALL.model_copy(update={'seed': SMALL.seed + 1})
    with pytest.raises(ConfigError, match='another campaign'):
        run_campaign(other, str(directory), workers=1)


@pytest.mark.parametrize('base, words', [
    ('body: vesta, plan: anchor_and_drill', "unknown body 'vesta'"),
    ('body: bennu, plan: no_such_plan', 'no_such_plan'),
])
def test_a_campaign_the_engine_cannot_run_is_refused_before_any_sample_runs(
        tmp_path, capsys, base, words):
    path = tmp_path / 'campaign.yaml'
    path.write_text(open(CI_SMALL).read().replace('body: bennu, plan: anchor_and_drill', base))
    out = tmp_path / 'results'
    assert main([str(path), '--out', str(out), '--no-progress']) == 2
    error = capsys.readouterr().err.strip()
    assert words in error and len(error.splitlines()) == 1, error
    assert not out.exists() or not Results(str(out), load_campaign(str(path))).done()


def test_an_unknown_parameter_is_refused_before_any_sample_runs(tmp_path, capsys):
    path = tmp_path / 'campaign.yaml'
    path.write_text(open(CI_SMALL).read().replace(
        'rig_sim.capacity_spread:', 'anchoring.grip_strength:'))
    assert main([str(path), '--out', str(tmp_path / 'results'), '--no-progress']) == 2
    error = capsys.readouterr().err.strip()
    assert 'anchoring: no parameter grip_strength' in error, error
