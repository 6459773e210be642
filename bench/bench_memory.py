"""Memory of a rig that runs for long: RSS growth per simulated hour, idle and working.

Prints the figures and saves them to bench/results/memory.json (`make bench`). The whole
ROS graph of the sim backend runs in this process (lockstep, as make sim), first idle
(no job), then working: the material line running while cuttings keep arriving at the
collar (a fixed mass every simulated minute), carried through conveyor and separator into
the hoppers, with the ledger booking every transfer. RSS is sampled every simulated
minute; the growth is the least-squares slope after a warm-up, in MB per simulated hour.
A rig runs for weeks: both must be flat (every history in memory is bounded). The working
phase's warm-up lasts until the ledgers' records of recent transfers (the world's and
the material_handling controller's) are full (their bound: older transfers fold into
totals), since their filling is bounded growth, not a leak. The
idle rig runs flat out (idle_realtime_factor 0) instead of at one sim s per wall s.
"""

import os
import platform
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from spacemine_ros.domain import claim_domain  # noqa: E402

MINUTES = 15  # simulated minutes per phase
WARM_UP = 3  # minutes not counted (caches, first allocations)
CUTTINGS = 0.05  # kg arriving at the drill collar per simulated minute while working


def rss_mb():
    """Resident set size of this process [MB] (Linux /proc)."""
    with open('/proc/self/status') as stream:
        for line in stream:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) / 1024.0
    return float('nan')


def slope_per_hour(samples):
    """Least-squares slope of [(sim s, MB)] in MB per simulated hour."""
    n = len(samples)
    mean_t = sum(t for t, _ in samples) / n
    mean_m = sum(m for _, m in samples) / n
    var = sum((t - mean_t) ** 2 for t, _ in samples)
    cov = sum((t - mean_t) * (m - mean_m) for t, m in samples)
    return cov / var * 3600.0 if var > 0 else float('nan')


def run_phase(executor, sim, minutes, each_minute=None, warm=lambda: True):
    """Run until `minutes` sampled minutes, after WARM_UP minutes and until warm()."""
    samples = []
    start = sim.world.time
    wall = time.perf_counter()
    minute = 0
    while len(samples) < minutes - WARM_UP:
        minute += 1
        while sim.world.time < start + 60.0 * minute:
            executor.spin_once(timeout_sec=0.1)
        if each_minute is not None:
            each_minute()
        if minute > WARM_UP and warm():
            samples.append((sim.world.time, rss_mb()))
    return {'sim_minutes': minute, 'sampled_minutes': len(samples),
            'wall_s': round(time.perf_counter() - wall, 1),
            'rss_mb_start': round(samples[0][1], 1), 'rss_mb_end': round(samples[-1][1], 1),
            'rss_growth_mb_per_sim_hour': round(slope_per_hour(samples), 2)}


def main():
    sys.path.insert(0, HERE)
    from results import save
    import math
    import rclpy
    from rclpy.action import ActionClient
    from spacemine_interfaces.action import DrainLine
    from spacemine_ros import bringup
    from spacemine_ros.launcher import create_nodes
    from spacemine_ros.nodes.common import make_executor, shutdown_nodes

    claim_domain()
    rclpy.init()
    nodes = create_nodes(bringup.graph('sim', 'bennu', namespace='/memory'), '/memory',
                         bringup.default_params_file(),
                         {'rig_sim': {'idle_realtime_factor': 0.0}})
    operator = rclpy.create_node('memory_bench', namespace='/memory')
    executor = make_executor()
    for node in [*nodes, operator]:
        executor.add_node(node)
    sim = nodes[0]
    try:
        idle = run_phase(executor, sim, MINUTES)
        client = ActionClient(operator, DrainLine, 'material_handling/drain')
        while not client.server_is_ready():
            executor.spin_once(timeout_sec=0.1)
        future = client.send_goal_async(DrainLine.Goal(drained_below=math.inf))
        while not future.done():
            executor.spin_once(timeout_sec=0.1)
        if not future.result().accepted:
            raise SystemExit('material_handling/drain rejected the goal (its log says why)')
        ledger = sim.world.material.ledger
        # The world's ledger and the material_handling controller's books from totalizers.
        books = next(n for n in nodes if n.get_name() == 'material_handling').ledger
        working = run_phase(executor, sim, MINUTES,
                            lambda: sim.world.material.excavate('drill_cut', CUTTINGS, 0.0),
                            warm=lambda: all(len(book.record) == book.record.maxlen
                                             for book in (ledger, books)))
        working['ledger_transfers'] = ledger.transfer_count
        working['ledger_record_in_memory'] = len(ledger.record)
        working['ledger_record_limit'] = ledger.record.maxlen
    finally:
        operator.destroy_node()
        shutdown_nodes(nodes)
    figures = {'machine': {'python': platform.python_version(), 'cpus': os.cpu_count()},
               'scenario': f'bennu sim graph in one process, lockstep; {MINUTES} sim min idle, '
                           f'then {MINUTES} sim min with the line carrying {CUTTINGS} kg/min',
               'idle': idle, 'working': working}
    path = save('memory', figures)
    for name in ('idle', 'working'):
        entry = figures[name]
        print(f'{name:<8} RSS {entry["rss_mb_start"]:.1f} -> {entry["rss_mb_end"]:.1f} MB over '
              f'{entry["sampled_minutes"]} sampled sim min of {entry["sim_minutes"]}: '
              f'{entry["rss_growth_mb_per_sim_hour"]:+.2f} MB per simulated hour')
    print(f'saved {path}')


if __name__ == '__main__':
    main()
