"""Campaign runs on Dask (spacemine_ros.campaign): embedded, a real scheduler, resumed."""

import json
import math
import os
import signal
import subprocess
import sys
import time

import pytest

from spacemine_ros.campaign import main, Results, run_campaign
from spacemine_ros.core.campaign import draw_faults, load_campaign
from spacemine_ros.core.config import ConfigError
from test.conftest import CONFIG

CI_SMALL = os.path.join(CONFIG, 'campaigns', 'ci_small.yaml')
SMALL = load_campaign(CI_SMALL).model_copy(update={'samples': 3})
# Figures of the host, not of the shift.
WALL = {'wall_time_s', 'run_wall_s', 'summary', 'worker_pid', 'worker_rss_mb'}


def rows(directory, campaign=SMALL):
    """Return the rows without the host's figures (NaN as None, so that rows compare)."""
    table = Results(str(directory), campaign).table()
    return [{k: None if isinstance(v, float) and math.isnan(v) else v
             for k, v in row.items() if k not in WALL} for row in table.to_pylist()]


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
        assert json.loads(row['faults']) == draw_faults(SMALL, row['sample'])
        assert len(json.loads(row['struck'])) >= len(json.loads(row['faults']))
        assert row['violation_count'] == 0, row['violations']
    assert any(json.loads(row['faults']) for row in found)  # the small campaign has faults


def test_two_embedded_workers_give_the_rows_of_one_sample_for_sample(one_worker, tmp_path):
    directory, _, _ = one_worker
    assert run_campaign(SMALL, str(tmp_path), workers=2) == (3, 0)
    assert rows(tmp_path) == rows(directory)


class DaskCluster:
    """A dask scheduler and workers on localhost, each in a process group of its own."""

    def __init__(self, directory, workers=2):
        self.dask = os.path.join(os.path.dirname(sys.executable), 'dask')
        self.scheduler_file = str(directory / 'scheduler.json')
        self.workers = []
        self.scheduler = self._start(['scheduler', '--scheduler-file', self.scheduler_file,
                                      '--host', '127.0.0.1', '--port', '0', '--no-dashboard'])
        deadline = time.monotonic() + 120.0
        while not os.path.exists(self.scheduler_file) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert os.path.exists(self.scheduler_file), 'the scheduler did not start'
        for _ in range(workers):
            self.workers.append(self._start(['worker', '--scheduler-file', self.scheduler_file,
                                             '--nworkers', '1', '--nthreads', '1',
                                             '--no-dashboard']))
        with open(self.scheduler_file) as stream:
            self.address = json.load(stream)['address']

    def _start(self, arguments):
        return subprocess.Popen([self.dask, *arguments], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)

    def kill_worker(self, index):
        """SIGKILL a worker (its nanny too): what it was running is lost with it."""
        os.killpg(self.workers[index].pid, signal.SIGKILL)
        self.workers[index].wait()

    def close(self):
        processes = [*self.workers, self.scheduler]
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def test_a_running_dask_scheduler_and_two_workers_give_the_same_rows(one_worker, tmp_path):
    directory, _, _ = one_worker
    cluster = DaskCluster(tmp_path)
    try:
        out = tmp_path / 'results'
        assert run_campaign(SMALL, str(out), scheduler=cluster.address) == (3, 0)
        assert rows(out) == rows(directory)
    finally:
        cluster.close()


def test_a_worker_killed_mid_sample_has_its_sample_retried_and_counted_once(tmp_path):
    # Six samples on two workers: when the first row is written both are at work, and one
    # of them dies with its sample.
    path = tmp_path / 'six.yaml'
    path.write_text(open(CI_SMALL).read().replace('samples: 4', 'samples: 6'))
    campaign = load_campaign(str(path))
    cluster = DaskCluster(tmp_path)
    out = tmp_path / 'results'
    runner = subprocess.Popen(
        [sys.executable, '-m', 'spacemine_ros.campaign', str(path), '--out', str(out),
         '--scheduler', cluster.address, '--no-progress'], stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 300.0
        while time.monotonic() < deadline and runner.poll() is None and not (
                out.exists() and any(n.endswith('.parquet') for n in os.listdir(out))):
            time.sleep(0.05)
        done = len(Results(str(out), campaign).done())
        assert runner.poll() is None and 1 <= done <= campaign.samples - 2, done
        cluster.kill_worker(0)
        output, _ = runner.communicate(timeout=600)
        assert runner.returncode == 0, output
    finally:
        if runner.poll() is None:
            os.killpg(runner.pid, signal.SIGKILL)
            runner.wait()
        cluster.close()
    # Every sample has its one row, and the runner counted each once.
    found = rows(out, campaign)
    assert [row['sample'] for row in found] == list(range(campaign.samples))
    assert f'{campaign.samples} samples run, 0 done before' in output
    assert all(row['outcome'] != 'error' for row in found)
    # The rows the embedded cluster gives, sample for sample.
    embedded = tmp_path / 'embedded'
    assert run_campaign(campaign, str(embedded), workers=2) == (campaign.samples, 0)
    assert found == rows(embedded, campaign)


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
