"""Real-time factor of the `make sim` scenario, and of the physics alone.

Prints the figures and saves them to bench/results/sim_rtf.json. Run with `make bench`.
- shift: the whole ROS graph in lockstep (anchoring, then drilling to 0.3 m on Bennu),
  sim seconds per wall second, as make sim runs it;
- physics: the PyBullet world stepped by the same controllers without ROS, to show
  what the ROS layer costs.
"""

import json
import os
import platform
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'test'))

from spacemine_ros.domain import claim_domain  # noqa: E402

claim_domain()  # a domain no other run on this host holds


def shift_rtf(depth):
    from spacemine_ros import shift
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, 'summary.json')
        status = shift.main(['--depth', str(depth), '--no-progress', '--summary-file', path])
        with open(path) as stream:
            figures = json.load(stream)
    if status != 0:
        raise SystemExit(f'shift failed: {figures["reason"]}')
    return figures


def physics_rtf(depth):
    from spacemine_ros.core.anchoring import load_anchor_types
    from spacemine_ros.core.body import load_body
    from spacemine_ros.core.drill_controller import DrillState
    from spacemine_ros.paths import share_path
    from spacemine_ros.sim.world import RigWorld
    from test.sim.loop import Loop  # the controllers wired as the nodes wire them

    body = load_body(share_path('config', 'bodies.yaml'), 'bennu')
    design = load_anchor_types(share_path('config', 'anchors.yaml'))['microspine']
    start = time.perf_counter()
    with RigWorld(body, design) as world:
        loop = Loop(world, goal_depth=depth).anchor()
        loop.drill.start(True, loop.anchoring.tool_budget)
        loop.run_until(lambda: loop.drill.state == DrillState.DONE, 600.0)
        sim_time = world.time
    wall = time.perf_counter() - start
    return {'sim_time_s': round(sim_time, 2), 'wall_time_s': round(wall, 2),
            'real_time_factor': round(sim_time / wall, 2)}


def main():
    from results import save

    depth = 0.3
    figures = {
        'machine': {'python': platform.python_version(), 'cpus': os.cpu_count(),
                    'processor': platform.processor() or platform.machine()},
        'scenario': f'bennu, microspine anchors, drill to {depth} m, lockstep, 0.05 s period',
        'shift': shift_rtf(depth),
        'physics_only': physics_rtf(depth),
    }
    path = save('sim_rtf', figures)
    shift_fig, physics = figures['shift'], figures['physics_only']
    print(f'\nshift (ROS graph, lockstep): {shift_fig["sim_time_s"]} sim s in '
          f'{shift_fig["wall_time_s"]} wall s -> real-time factor {shift_fig["real_time_factor"]}')
    print(f'physics only (no ROS):       {physics["sim_time_s"]} sim s in '
          f'{physics["wall_time_s"]} wall s -> real-time factor {physics["real_time_factor"]}')
    print(f'saved {path}')


if __name__ == '__main__':
    main()
