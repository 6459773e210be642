"""Real-time factor of the `make sim` shift: on the ROS graph, in process, and the ceiling.

Prints the figures and saves them to bench/results/sim_rtf.json (`make bench`). All three
run the same scenario, make sim's: Bennu, microspine anchors, anchor, drill to 0.3 m,
scrape three passes, drain the line into the hoppers, one smelter batch.
- shift: the whole ROS graph in one process, lockstep (spacemine-shift, as make sim);
- in_process: the same controllers stepping the same RigWorld without ROS
  (test/sim/loop.py, configured from config/rig.yaml);
- pybullet_ceiling: PyBullet stepping the same rig (same URDF, physics step and
  constraints) for as long, with none of the project's models: the fastest a
  simulation of this rig can be on this machine. The ratios say what each layer costs.
"""

import json
import os
import platform
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from spacemine_ros.domain import claim_domain  # noqa: E402

DEPTH, PASSES = 0.3, 3
SCENARIO = (f'bennu, microspine anchors: anchor, drill to {DEPTH} m, {PASSES} scraping passes, '
            'drain the line, one smelter batch (volatile_extraction); 0.05 s control period, '
            '0.005 s physics step')


def shift_rtf():
    from spacemine_ros import shift
    claim_domain()  # a domain no other run on this host holds
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, 'summary.json')
        status = shift.main(['--depth', str(DEPTH), '--passes', str(PASSES), '--no-progress',
                             '--summary-file', path])
        with open(path) as stream:
            figures = json.load(stream)
    if status != 0:
        raise SystemExit(f'shift failed: {figures["reason"]}')
    return {k: figures[k] for k in ('sim_time_s', 'wall_time_s', 'real_time_factor')}


def world():
    from spacemine_ros.core.models.anchors import load_anchor_types
    from spacemine_ros.core.models.body import load_body
    from spacemine_ros.paths import share_path
    from spacemine_ros.sim.world import RigWorld
    body = load_body(share_path('config', 'bodies.yaml'), 'bennu')
    design = load_anchor_types(share_path('config', 'anchors.yaml'))['microspine']
    return RigWorld(body, design)


def in_process_rtf():
    from test.sim.loop import configured_loop, run_shift
    start = time.perf_counter()
    with world() as rig:
        sim_time = run_shift(configured_loop(rig, DEPTH), 'volatile_extraction', PASSES)
    wall = time.perf_counter() - start
    return {'sim_time_s': round(sim_time, 2), 'wall_time_s': round(wall, 2),
            'real_time_factor': round(sim_time / wall, 2)}


def pybullet_ceiling(sim_time):
    """Plain stepSimulation of the same rig, anchored by the same four constraints."""
    import pybullet
    with world() as rig:
        cid = rig.client
        for anchor in rig.anchor_plugin.anchors:  # held as the anchored rig is
            rig.anchor_plugin._engage(anchor)
        steps = int(round(sim_time / rig.physics_dt))
        start = time.perf_counter()
        for _ in range(steps):
            pybullet.stepSimulation(physicsClientId=cid)
        wall = time.perf_counter() - start
    return {'sim_time_s': round(sim_time, 2), 'wall_time_s': round(wall, 2),
            'real_time_factor': round(sim_time / wall, 2)}


def main():
    sys.path.insert(0, HERE)
    from results import save

    figures = {
        'machine': {'python': platform.python_version(), 'cpus': os.cpu_count(),
                    'processor': platform.processor() or platform.machine(),
                    'load_average_at_start': os.getloadavg()[0]},
        'scenario': SCENARIO,
        'shift': shift_rtf(),
        'in_process': in_process_rtf(),
    }
    figures['pybullet_ceiling'] = pybullet_ceiling(figures['in_process']['sim_time_s'])
    ceiling = figures['pybullet_ceiling']['real_time_factor']
    figures['share_of_ceiling'] = {
        name: round(figures[name]['real_time_factor'] / ceiling, 3)
        for name in ('shift', 'in_process')}
    path = save('sim_rtf', figures)
    print(f'\nscenario: {SCENARIO}')
    for name, label in (('shift', 'shift (ROS graph, lockstep)'),
                        ('in_process', 'in process (no ROS)'),
                        ('pybullet_ceiling', 'plain PyBullet, same rig')):
        entry = figures[name]
        share = figures['share_of_ceiling'].get(name)
        print(f'{label:<28} {entry["sim_time_s"]:8.1f} sim s in {entry["wall_time_s"]:7.1f} wall s'
              f' -> real-time factor {entry["real_time_factor"]:6.1f}'
              + (f' ({share:.0%} of the ceiling)' if share is not None else ''))
    print(f'saved {path}')


if __name__ == '__main__':
    main()
