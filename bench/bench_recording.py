"""What recording costs the control loop: the shift's real-time factor with and without it.

Prints the figures and saves them to bench/results/recording.json (`make bench`). The
same short shift (Bennu: anchor, drill 0.1 m, one 0.3 m scraping pass, drain, one
smelter batch), alternately without and with --record, each in its own process (one
rclpy life per process), PAIRS times: the ratio of each pair's real-time factors is
what recording costs, the file size and message count what it writes.
"""

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
PAIRS = 2
SHIFT = ['--body', 'bennu', '--depth', '0.1', '--passes', '1', '-p',
         'scraper.pass_length=0.3', '--no-progress', '--no-report']


def run(record, directory):
    summary = os.path.join(directory, 'summary.json')
    data = os.path.join(directory, 'data')
    command = [sys.executable, '-m', 'spacemine_ros.shift', *SHIFT, '--data-dir', data,
               '--summary-file', summary] + (['--record'] if record else [])
    status = subprocess.run(command, capture_output=True, text=True, check=False)
    with open(summary, encoding='utf-8') as stream:
        figures = json.load(stream)
    if status.returncode != 0:
        raise SystemExit(f'shift failed: {figures["reason"]}')
    out = {k: figures[k] for k in ('sim_time_s', 'wall_time_s', 'real_time_factor')}
    if record:
        out['file_bytes'] = os.path.getsize(figures['recording'])
        from mcap.reader import make_reader
        with open(figures['recording'], 'rb') as stream:
            summary_record = make_reader(stream).get_summary()
        out['messages'] = summary_record.statistics.message_count
        out['topics'] = len(summary_record.channels)
    return out


def main():
    sys.path.insert(0, HERE)
    from results import save
    pairs = []
    for _ in range(PAIRS):
        with tempfile.TemporaryDirectory() as plain, tempfile.TemporaryDirectory() as kept:
            pairs.append({'without': run(False, plain), 'with': run(True, kept)})
    ratios = [p['with']['real_time_factor'] / p['without']['real_time_factor'] for p in pairs]
    figures = {
        'machine': {'python': platform.python_version(), 'cpus': os.cpu_count(),
                    'load_average_at_start': os.getloadavg()[0]},
        'scenario': ' '.join(SHIFT), 'pairs': pairs,
        'rtf_with_over_without': [round(r, 3) for r in ratios],
        'median_ratio': round(statistics.median(ratios), 3),
    }
    path = save('recording', figures)
    for index, pair in enumerate(pairs):
        with_, without = pair['with'], pair['without']
        print(f'pair {index + 1}: real-time factor {without["real_time_factor"]:.2f} without, '
              f'{with_["real_time_factor"]:.2f} with recording ({ratios[index]:.0%}); '
              f'{with_["messages"]} messages on {with_["topics"]} topics, '
              f'{with_["file_bytes"] / 1e6:.1f} MB for {with_["sim_time_s"]:.0f} sim s')
    print(f'median: recording keeps {figures["median_ratio"]:.0%} of the real-time factor')
    print(f'saved {path}')


if __name__ == '__main__':
    main()
