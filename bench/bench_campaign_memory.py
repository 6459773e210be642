"""Campaign memory: each worker's memory over many samples (it must stay flat).

Runs SAMPLES samples (default 1000) of the short shift (config/plans/anchor_and_drill:
anchor, drill 5 cm, release; about a second of wall time each) on the embedded cluster,
one worker per core, each sample with its own seed and an e-stop or a node restart half
the time, and reads each worker's resident memory after every sample (the rows'
worker_rss_mb). Prints, per worker, its memory after its first 50 samples and at the
end, and the slope of a straight line through the rest [MB per 1000 samples]. Saves
bench/results/campaign_memory.json.

    python bench/bench_campaign_memory.py [SAMPLES]
"""

import os
import platform
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
WARM_UP = 50  # samples: imports, caches and the allocator's pools fill first


def main():
    sys.path.insert(0, HERE)
    from results import save
    from spacemine_ros.campaign import Results, run_campaign
    from spacemine_ros.core.campaign import campaign_from
    samples = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    cores = os.cpu_count() or 1
    campaign = campaign_from({'campaign': {
        'name': 'bench_memory', 'seed': 2, 'samples': samples,
        'base': {'body': 'bennu', 'plan': 'anchor_and_drill'},
        'vary': {'rig_sim.seed': {'uniform': [0, 1000000]},
                 'rig_sim.capacity_spread': {'uniform': [0.0, 0.2]}},
        'faults': [{'kind': 'estop', 'probability': 0.5, 'at': {'uniform': [5.0, 40.0]},
                    'duration': {'uniform': [1.0, 5.0]}},
                   {'kind': 'node_restart', 'probability': 0.5,
                    'node': {'choice': ['drill', 'anchoring']},
                    'at': {'uniform': [5.0, 40.0]}, 'duration': {'uniform': [1.0, 15.0]}}]}})
    with tempfile.TemporaryDirectory(prefix='bench_campaign_memory_') as directory:
        start = time.perf_counter()
        run, failures = run_campaign(campaign, directory, workers=cores)
        wall = time.perf_counter() - start
        rows = Results(directory, campaign).table().to_pylist()
    workers = {}
    for row in rows:  # a worker's samples in the order it ran them (by its index order)
        workers.setdefault(row['worker_pid'], []).append(row['worker_rss_mb'])
    figures = {'machine': {'python': platform.python_version(), 'cpus': cores,
                           'load_average_at_start': os.getloadavg()[0]},
               'scenario': 'anchor_and_drill with e-stops and node restarts, seeds varied',
               'samples': run, 'errors': failures, 'wall_s': round(wall, 1), 'workers': []}
    for pid, rss in sorted(workers.items()):
        rest = rss[WARM_UP:] if len(rss) > 2 * WARM_UP else rss
        slope = float(np.polyfit(np.arange(len(rest)), rest, 1)[0]) * 1000.0 \
            if len(rest) > 2 else float('nan')
        figures['workers'].append({
            'samples': len(rss), 'rss_first_mb': round(rss[0], 1),
            'rss_after_warm_up_mb': round(rest[0], 1), 'rss_end_mb': round(rss[-1], 1),
            'rss_peak_mb': round(max(rss), 1), 'growth_mb_per_1000_samples': round(slope, 2)})
    path = save('campaign_memory', figures)
    print(f'{run} samples ({failures} errors) in {wall:.0f} s on {cores} workers')
    for worker in figures['workers']:
        print(f'worker: {worker["samples"]} samples, {worker["rss_first_mb"]} MB after its '
              f'first, {worker["rss_after_warm_up_mb"]} MB after {WARM_UP}, '
              f'{worker["rss_end_mb"]} MB at the end (peak {worker["rss_peak_mb"]}): '
              f'{worker["growth_mb_per_1000_samples"]:+.2f} MB per 1000 samples')
    print(f'saved {path}')


if __name__ == '__main__':
    main()
