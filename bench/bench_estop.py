"""E-stop latency: simulated time from the e-stop request to every actuator safe.

Prints the figures and saves them to bench/results/estop.json (`make bench`). The sim
backend's whole graph, supervisor included, runs in this process (lockstep, as make
sim) through a short shift (test/supervised_rig.py: anchor, start the line, drill 0.05 m,
one scraper pass, drain, a 0.3 kg furnace batch). The e-stop is latched through the
supervisor's ~/estop once in each subsystem's working state (anchors deploying, drill
drilling, scraper cutting, line running, furnace heating); safe means the world draws no
power for any drive or the heater and no joint is driven. Each time it holds 5 s latched,
is reset (the plan comes back paused), resumed, and the shift completes. Figures are in
simulated seconds (control period 0.05 s): what a rig would see, whatever this host's load.
"""

import os
import platform
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from spacemine_ros.domain import claim_domain  # noqa: E402


def main():
    """Run the e-stop drill and report each latency."""
    from test.supervised_rig import run_estop_drill
    sys.path.insert(0, HERE)
    from results import save

    claim_domain()
    with tempfile.TemporaryDirectory() as directory:
        run = run_estop_drill(directory)
    latencies, wall = run['latency_s'], run['wall_s']
    print('e-stop request to every actuator safe (simulated seconds; control period 0.05 s)')
    for moment, latency in latencies.items():
        print(f'  {moment:<28} {latency:6.3f} s  ({latency / 0.05:.0f} periods)')
    figures = {'latency_s': {k: round(v, 4) for k, v in latencies.items()},
               'max_latency_s': round(max(latencies.values()), 4),
               'control_period_s': 0.05, 'wall_s': round(wall, 1),
               'host': platform.node(), 'python': platform.python_version()}
    print(f'  worst {figures["max_latency_s"]:.3f} s; the shift completed after every reset '
          f'({wall:.0f} wall s)')
    print(f'saved {save("estop", figures)}')


if __name__ == '__main__':
    main()
