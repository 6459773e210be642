"""Campaign throughput: default shifts per hour on the embedded Dask cluster.

Runs a campaign of make sim's default shift (the seed varied per sample, so every sample
is a shift of its own) on one worker, then on one worker per core, and prints shifts per
hour (the cluster's start-up included), the speed-up of the workers over one, and the
scheduler's overhead apart: the cluster's start-up; the round trip of a trivial task
through the same cluster; and, per sample of the campaign, the worker time not spent in
the sample (scheduling, sending the row back), as a share of the sample's own time.
Saves bench/results/campaign.json.

    python bench/bench_campaign.py [SAMPLES]     (default 8; 2 per worker at the least)
"""

import os
import platform
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def _nothing(index):
    return index


def timed_run(campaign, workers):
    from spacemine_ros.campaign import client_for, Results, run_campaign
    with tempfile.TemporaryDirectory(prefix='bench_campaign_') as directory:
        start = time.perf_counter()
        client, cluster = client_for(workers)
        try:
            client.wait_for_workers(workers)
            startup = time.perf_counter() - start
            # The scheduler's own cost of a task: trivial ones through the same cluster.
            trivial = 200
            begun = time.perf_counter()
            client.gather(client.map(_nothing, range(trivial), pure=False))
            per_task = (time.perf_counter() - begun) * workers / trivial
            begun = time.perf_counter()
            run, failures = run_campaign(campaign, directory, client=client)
            in_campaign = time.perf_counter() - begun
        finally:
            client.close()
            cluster.close()
        wall = in_campaign + startup
        rows = Results(directory, campaign).table().to_pylist()
    if failures or run != campaign.samples:
        raise SystemExit(f'{failures} samples failed on {workers} workers: '
                         f'{[r["reason"] for r in rows if r["outcome"] == "error"]}')
    in_shifts = sum(row['run_wall_s'] for row in rows)
    mean_shift = in_shifts / run
    # Worker time not in a sample, per sample: scheduling, results back, the last
    # sample's tail (a worker idle while the other finishes).
    per_sample = (in_campaign * workers - in_shifts) / run
    return {'workers': workers, 'samples': run, 'wall_s': round(wall, 2),
            'shifts_per_hour': round(run * 3600.0 / wall, 1),
            'mean_shift_wall_s': round(mean_shift, 2),
            'outcomes': sorted({row['outcome'] for row in rows}),
            'cluster_start_s': round(startup, 2),
            'trivial_task_round_trip_s': round(per_task, 5),
            'overhead_per_sample_s': round(per_sample, 4),
            'overhead_share_of_sample': round(per_sample / mean_shift, 4),
            'scheduler_share_of_sample': round(per_task / mean_shift, 5),
            # What the workers were not running shifts, start-up included.
            'overhead_share': round(1.0 - in_shifts / (wall * workers), 3)}


def main():
    sys.path.insert(0, HERE)
    from results import save
    from spacemine_ros.core.campaign import campaign_from
    samples = int(sys.argv[1]) if len(sys.argv) > 1 else 8
    cores = os.cpu_count() or 1
    campaign = campaign_from({'campaign': {
        'name': 'bench_default_shift', 'seed': 1, 'samples': samples,
        'base': {'body': 'bennu', 'plan': 'bennu_shift'},
        'vary': {'rig_sim.seed': {'grid': list(range(samples))}}}})
    one = timed_run(campaign.model_copy(update={'samples': max(2, samples // cores)}), 1)
    every = timed_run(campaign, cores)
    figures = {
        'machine': {'python': platform.python_version(), 'cpus': cores,
                    'load_average_at_start': os.getloadavg()[0]},
        'scenario': "make sim's default shift (bennu_shift), rig_sim.seed varied",
        'one_worker': one, 'every_core': every,
        'speed_up': round(every['shifts_per_hour'] / one['shifts_per_hour'], 2)}
    path = save('campaign', figures)
    for name in ('one_worker', 'every_core'):
        run = figures[name]
        print(f'{name:<11} {run["workers"]} worker(s): {run["samples"]} shifts in '
              f'{run["wall_s"]} s = {run["shifts_per_hour"]} shifts/hour (a shift '
              f'{run["mean_shift_wall_s"]} s; {run["overhead_share"]:.1%} not in shifts, '
              f'start-up {run["cluster_start_s"]} s); the scheduler: '
              f'{run["trivial_task_round_trip_s"] * 1e3:.2f} ms a task = '
              f'{run["scheduler_share_of_sample"]:.3%} of a sample; worker time outside '
              f'the samples {run["overhead_per_sample_s"]:.3f} s a sample = '
              f'{run["overhead_share_of_sample"]:.2%} of it')
    print(f'speed-up of {cores} workers over one: {figures["speed_up"]}x; saved {path}')


if __name__ == '__main__':
    main()
