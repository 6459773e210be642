"""Messages per lockstep instant on the rig's graph, counted by topic from a recorded shift.

Runs the short shift of the recorded-shift test (anchor, drill 5 cm, one scraping pass,
drain, smelt, release) with --record, and counts every message in the recording per
instant the world stopped at (the distinct stamps on the rig's clock). The recorder
subscribes to every topic, so the standard topics kept for viewers (joint_states, odom,
imu, /tf, the battery: on the simulation they go out only while something subscribes)
are counted apart from what the graph itself needs.

    .venv/bin/python bench/bench_messages.py [--keep DIR]

Prints the figures and saves them to bench/results/messages.json.
"""

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.results import save  # noqa: E402

SHIFT = ['--body', 'bennu', '--depth', '0.05', '--passes', '1', '-p',
         'scraper.pass_length=0.3', '--no-progress', '--site', '5,30']
NAMESPACE = 'bench'
# Standard topics a viewer or a recording takes; nothing of the rig's own needs them.
VIEWERS = ('joint_states', 'odom', 'imu', 'power/battery', 'robot_description')


def count(path):
    """Return ({topic: messages}, instants) of a recording."""
    from mcap.reader import make_reader
    from mcap_ros2.decoder import DecoderFactory
    with open(path, 'rb') as stream:
        reader = make_reader(stream, decoder_factories=[DecoderFactory()])
        summary = reader.get_summary()
        topics = {c.id: c.topic for c in summary.channels.values()}
        counts = collections.Counter()
        for channel, messages in summary.statistics.channel_message_counts.items():
            counts[topics[channel]] += messages
        clock = f'/{NAMESPACE}/clock'
        instants = {(d.clock.sec, d.clock.nanosec) for _, _, _, d in
                    reader.iter_decoded_messages(topics=[clock])}
    return counts, len(instants)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--keep', help='directory to run in and keep (default: a temporary '
                        'one, removed)')
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        directory = args.keep or scratch
        summary_file = os.path.join(directory, 'summary.json')
        started = time.monotonic()
        with open(os.path.join(directory, 'shift.log'), 'w+', encoding='utf-8') as log:
            status = subprocess.run(
                [sys.executable, '-m', 'spacemine_ros.shift', *SHIFT, '--record',
                 '--namespace', NAMESPACE, '--data-dir', os.path.join(directory, 'data'),
                 '--summary-file', summary_file], check=False, stdout=log,
                stderr=subprocess.STDOUT).returncode
            if status != 0:
                log.seek(0)
                sys.stderr.write(log.read()[-4000:])
        wall = time.monotonic() - started
        with open(summary_file, encoding='utf-8') as stream:
            summary = json.load(stream)
        if status != 0:
            sys.exit(f'the shift failed: {summary.get("reason")}')
        counts, instants = count(summary['recording'])
    prefix = f'/{NAMESPACE}/'
    viewer = {t for t in counts if t.startswith('/tf') or
              t.removeprefix(prefix) in VIEWERS}
    total = sum(counts.values())
    graph = sum(n for t, n in counts.items() if t not in viewer)
    figures = {
        'instants': instants, 'messages': total, 'graph_messages': graph,
        'messages_per_instant': round(total / instants, 2),
        'graph_messages_per_instant': round(graph / instants, 2),
        'topics': len(counts), 'sim_time_s': summary['sim_time_s'],
        'wall_time_s': round(wall, 1),
        'per_instant_by_topic': {t: round(n / instants, 3) for t, n in counts.most_common()},
    }
    print(f'{instants} instants, {total} messages in {len(counts)} topics: '
          f'{figures["messages_per_instant"]} per instant, '
          f'{figures["graph_messages_per_instant"]} without the viewers\' standard topics '
          f'({", ".join(sorted(viewer))})')
    for topic, messages in counts.most_common(15):
        print(f'  {messages / instants:7.3f}  {topic}')
    print(f'saved {save("messages", figures)}')


if __name__ == '__main__':
    main()
