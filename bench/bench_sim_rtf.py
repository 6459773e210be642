"""Speed of the `make sim` shift, phase by phase: on the ROS graph, headless, and the ceiling.

Prints the figures and saves them to bench/results/sim_rtf.json (`make bench`). Every run
is the same scenario, make sim's: Bennu, microspine anchors, anchor, drill to 0.3 m, scrape
three passes, drain the line into the hoppers, one smelter batch, release.
- graph: the whole ROS graph in one process, event-driven lockstep (spacemine-shift, as
  make sim, without recording);
- headless: the same controllers, supervisor and world without ROS
  (spacemine_ros.headless);
- pybullet_ceiling: PyBullet stepping the same anchored rig with none of the project's
  models: the fastest the rigid-body phases can go on this machine.
Each phase's real-time factor is its simulated seconds over its wall seconds; the drill
and scrape phases (the rigid body steps every 5 ms) are also given as a share of the
ceiling. The equivalence figures compare the headless shift with its rigid body stepped
every physics step (always_step) against the multi-rate one.
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
            'drain the line, one smelter batch (volatile_extraction), release; 0.05 s control '
            'period, 0.005 s physics step')
# The plan's step types by phase (the momentary line start counts with the anchoring).
PHASES = {'deploy_anchors': 'deploy', 'material_line': 'drain', 'drill': 'drill',
          'scrape': 'scrape', 'wait': 'smelt', 'smelt': 'smelt', 'release_anchors': 'release'}
RIGID = ('drill', 'scrape')


def phases(steps):
    """Return {phase: {sim_s, wall_s, real_time_factor}} of a shift's step timeline."""
    totals = {}
    for step in steps:
        phase = PHASES.get(step['type'], step['type'])
        if step['type'] == 'material_line' and step['sim_s'] < 5.0:
            phase = 'deploy'  # the line's start, a moment before the drill
        sim, wall = totals.get(phase, (0.0, 0.0))
        totals[phase] = (sim + step['sim_s'], wall + step['wall_s'])
    return {phase: {'sim_s': round(sim, 2), 'wall_s': round(wall, 3),
                    'real_time_factor': round(sim / wall, 1) if wall > 0 else None}
            for phase, (sim, wall) in totals.items()}


def graph():
    from spacemine_ros import shift
    claim_domain()  # a domain no other run on this host holds
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, 'summary.json')
        status = shift.main(['--depth', str(DEPTH), '--passes', str(PASSES), '--no-progress',
                             '--data-dir', os.path.join(directory, 'data'),
                             '--summary-file', path])
        with open(path) as stream:
            figures = json.load(stream)
    if status != 0:
        raise SystemExit(f'shift failed: {figures["reason"]}')
    return figures


def headless(always_step=False):
    from spacemine_ros.core.mission.plan import load_plan, varied
    from spacemine_ros.headless import Shift
    from spacemine_ros.paths import share_path
    plan = varied(load_plan(share_path('config', 'plans', 'bennu_shift.yaml')), DEPTH, PASSES)
    with Shift(plan=plan, always_step=always_step) as run:
        figures = run.run()
        figures['furnace_trace'] = run.record.furnace_trace
        figures['ledger'] = dict(run.ledger)
    if figures['result'] != 'completed':
        raise SystemExit(f'headless shift failed: {figures["reason"]}')
    return figures


def pybullet_ceiling(seconds=60.0):
    """Plain stepSimulation of the same rig, anchored by the same four constraints."""
    import pybullet
    from spacemine_ros.core.models.anchors import load_anchor_types
    from spacemine_ros.core.models.body import load_body
    from spacemine_ros.paths import share_path
    from spacemine_ros.sim.world import RigWorld
    body = load_body(share_path('config', 'bodies.yaml'), 'bennu')
    design = load_anchor_types(share_path('config', 'anchors.yaml'))['microspine']
    with RigWorld(body, design) as rig:
        cid = rig.client
        for anchor in rig.anchor_plugin.anchors:  # held as the anchored rig is
            rig.anchor_plugin._engage(anchor)
        steps = int(round(seconds / rig.physics_dt))
        start = time.perf_counter()
        for _ in range(steps):
            pybullet.stepSimulation(physicsClientId=cid)
        wall = time.perf_counter() - start
    return {'sim_time_s': seconds, 'wall_time_s': round(wall, 3),
            'real_time_factor': round(seconds / wall, 1)}


def equivalence(multi, always):
    """Return how far the multi-rate shift is from the one stepped every physics step."""
    ledger = max(abs(multi['ledger'][k] - always['ledger'][k]) for k in multi['ledger']
                 if k != 'balance')
    trace_a = {round(t, 3): temperature for t, temperature, _, _ in always['furnace_trace']}
    furnace = max((abs(temperature - trace_a[round(t, 3)])
                   for t, temperature, _, _ in multi['furnace_trace'] if round(t, 3) in trace_a),
                  default=0.0)
    starts = max((abs(a['start_s'] - b['start_s'])
                  for a, b in zip(multi['steps'], always['steps'])), default=0.0)

    def relative(key):
        return abs(multi[key] - always[key]) / max(abs(always[key]), 1e-12)
    return {'ledger_max_difference_kg': ledger,
            'ledger_balance_kg': [multi['ledger_balance_kg'], always['ledger_balance_kg']],
            'drill_energy_relative': relative('drill_energy_J'),
            'smelter_energy_relative': relative('smelter_energy_J'),
            'furnace_max_difference_K': furnace, 'furnace_instants': len(trace_a),
            'step_start_max_difference_s': starts,
            'peak_thrust_relative': relative('peak_thrust_N'),
            'peak_anchor_load_relative': relative('peak_anchor_load_N'),
            'physics_steps': {'multi_rate': multi['physics_steps'],
                              'always': always['physics_steps']},
            'wall_s': {'multi_rate': multi['wall_time_s'], 'always': always['wall_time_s']}}


def main():
    sys.path.insert(0, HERE)
    from results import save

    ceiling = pybullet_ceiling()
    runs = {'graph': graph(), 'headless': headless()}
    always = headless(always_step=True)
    figures = {
        'machine': {'python': platform.python_version(), 'cpus': os.cpu_count(),
                    'processor': platform.processor() or platform.machine(),
                    'load_average_at_start': os.getloadavg()[0]},
        'scenario': SCENARIO,
        'pybullet_ceiling': ceiling,
        'equivalence': equivalence(runs['headless'], always),
    }
    for name, run in runs.items():
        by_phase = phases(run['steps'])
        for phase in RIGID:
            if phase in by_phase and by_phase[phase]['real_time_factor']:
                by_phase[phase]['share_of_ceiling'] = round(
                    by_phase[phase]['real_time_factor'] / ceiling['real_time_factor'], 3)
        figures[name] = {'sim_time_s': run['sim_time_s'], 'wall_time_s': run['wall_time_s'],
                         'real_time_factor': run['real_time_factor'], 'phases': by_phase}
    path = save('sim_rtf', figures)
    print(f'\nscenario: {SCENARIO}')
    print(f'plain PyBullet, same rig: real-time factor {ceiling["real_time_factor"]}')
    header = f'{"phase":<9}' + ''.join(f'{name + " sim s / wall s -> rtf":>38}' for name in runs)
    print(header)
    order = ('deploy', 'drill', 'scrape', 'drain', 'smelt', 'release')
    for phase in order:
        cells = []
        for name in runs:
            entry = figures[name]['phases'].get(phase)
            if entry is None:
                cells.append(f'{"-":>38}')
                continue
            share = entry.get('share_of_ceiling')
            cells.append(f'{entry["sim_s"]:9.1f} / {entry["wall_s"]:7.2f} -> '
                         f'{entry["real_time_factor"] or 0:7.1f}'
                         + (f' ({share:.0%})' if share is not None else '      '))
        print(f'{phase:<9}' + ''.join(f'{c:>38}' for c in cells))
    for name in runs:
        entry = figures[name]
        print(f'{name:<9} whole shift: {entry["sim_time_s"]:.1f} sim s in '
              f'{entry["wall_time_s"]:.1f} wall s -> real-time factor '
              f'{entry["real_time_factor"]}')
    print('equivalence (multi-rate vs always stepping):', json.dumps(figures['equivalence']))
    print(f'saved {path}')


if __name__ == '__main__':
    main()
