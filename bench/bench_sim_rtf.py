"""Speed of the `make sim` shift, phase by phase: on the ROS graph, headless, and the ceiling.

Prints the figures and saves them to bench/results/sim_rtf.json (`make bench`). Every run
is the same scenario, make sim's: Bennu, microspine anchors, anchor, drill to 0.3 m, scrape
three passes, drain the line into the hoppers, one smelter batch, release.
- graph: the whole ROS graph in one process, event-driven lockstep (spacemine-shift, as
  make sim, without recording);
- headless: the same controllers, supervisor and world without ROS
  (spacemine_ros.headless);
- pybullet_ceiling: plain PyBullet doing what the rigid body did in the headless shift
  (its drives' motor settings, the tools' and anchors' forces, the constraints, each
  physics step: recorded, then replayed in a fresh world with none of the project's models
  in between): the fastest the rigid-body phases can go on this machine;
- pybullet_idle_rig: plain stepping of the anchored rig with its drives at rest (cheaper
  per step: no motor is driven), for comparison with older figures.
Each phase's real-time factor is its simulated seconds over its wall seconds; the drill
and scrape phases (the rigid body steps every 5 ms) are also given as a share of the
ceiling's. The equivalence figures compare the headless shift with its rigid body stepped
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


def phase_of(step):
    """Return the phase of a plan step (of a shift's step timeline)."""
    if step['type'] == 'material_line' and step['sim_s'] < 5.0:
        return 'deploy'  # the line's start, a moment before the drill
    return PHASES.get(step['type'], step['type'])


def phases(steps):
    """Return {phase: {sim_s, wall_s, real_time_factor}} of a shift's step timeline."""
    totals = {}
    for step in steps:
        phase = phase_of(step)
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
    from spacemine_ros.headless import Shift
    with Shift(plan=shift_plan(), always_step=always_step) as run:
        figures = run.run()
        figures['furnace_trace'] = run.record.furnace_trace
        figures['ledger'] = dict(run.ledger)
    if figures['result'] != 'completed':
        raise SystemExit(f'headless shift failed: {figures["reason"]}')
    return figures


def idle_ceiling(seconds=60.0):
    """Plain stepSimulation of the same rig, anchored, its drives not driven."""
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


# What changes the PyBullet world (the rest only reads it).
CHANGES = ('stepSimulation', 'setJointMotorControlArray', 'applyExternalForce',
           'applyExternalTorque', 'createConstraint', 'changeConstraint', 'removeConstraint',
           'changeDynamics', 'resetBasePositionAndOrientation', 'resetBaseVelocity',
           'resetJointState')
SIM_MODULES = ('world', 'anchors', 'drill', 'scraper')


class _Recording:
    """Stands for the pybullet module in the simulation, keeping what changes the world.

    Every call is passed on; each that changes the world is kept, with the world's time
    at each physics step.
    """

    def __init__(self, module, world):
        self.module, self.world, self.calls, self.steps = module, world, [], []

    def __getattr__(self, name):
        function = getattr(self.module, name)
        if name not in CHANGES:
            return function

        def recorded(*args, **kwargs):
            kwargs = {k: v for k, v in kwargs.items() if k != 'physicsClientId'}
            self.calls.append((name, args, kwargs))
            if name == 'stepSimulation':
                self.steps.append(self.world.time)
            return function(*args, physicsClientId=self.world.client, **kwargs)
        return recorded


def moving_ceiling(plan):
    """Plain PyBullet doing what the headless shift's rigid body did, and nothing else.

    The shift is run once with every call that changes the PyBullet world recorded
    (drive motors, the tools' and anchors' forces, constraints, steps); a second, identical
    world then replays them with none of the project's models in between. Return
    {phase: {sim_s, wall_s, real_time_factor}} of the replay, and the recorded shift.
    """
    import importlib
    import pybullet
    from spacemine_ros.headless import Shift
    modules = [importlib.import_module(f'spacemine_ros.sim.{name}') for name in SIM_MODULES]
    with Shift(plan=plan) as run:
        recording = _Recording(pybullet, run.world)
        for module in modules:
            module.pybullet = recording
        try:
            figures = run.run()
        finally:
            for module in modules:
                module.pybullet = pybullet
        pose = run.world.base_pose()
    with Shift(plan=plan) as replay:  # the same world, built the same way
        cid = replay.world.client
        calls = [(getattr(pybullet, name), args, kwargs)
                 for name, args, kwargs in recording.calls]
        step = pybullet.stepSimulation
        walls = []
        start = time.perf_counter()
        for function, args, kwargs in calls:
            function(*args, physicsClientId=cid, **kwargs)
            if function is step:
                now = time.perf_counter()
                walls.append(now - start)
                start = now
        recorded, replayed = [*pose[0], *pose[1]], [*sum(replay.world.base_pose(), ())]
        if not all(abs(a - b) < 1e-9 for a, b in zip(recorded, replayed)):
            raise SystemExit('the replay did not follow the recorded shift')
    totals = {}
    for step in figures['steps']:
        begin, end = step['start_s'], step['start_s'] + step['sim_s']
        wall = sum(w for t, w in zip(recording.steps, walls) if begin <= t < end)
        phase = phase_of(step)
        sim, total = totals.get(phase, (0.0, 0.0))
        totals[phase] = (sim + step['sim_s'], total + wall)
    return ({phase: {'sim_s': round(sim, 2), 'wall_s': round(wall, 3),
                     'real_time_factor': round(sim / wall, 1) if wall > 0 else None}
             for phase, (sim, wall) in totals.items() if wall > 0}, figures)


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


def shift_plan():
    from spacemine_ros.core.mission.plan import load_plan, varied
    from spacemine_ros.paths import share_path
    return varied(load_plan(share_path('config', 'plans', 'bennu_shift.yaml')), DEPTH, PASSES)


def main():
    sys.path.insert(0, HERE)
    from results import save

    idle = idle_ceiling()
    ceiling, _ = moving_ceiling(shift_plan())
    runs = {'graph': graph(), 'headless': headless()}
    always = headless(always_step=True)
    figures = {
        'machine': {'python': platform.python_version(), 'cpus': os.cpu_count(),
                    'processor': platform.processor() or platform.machine(),
                    'load_average_at_start': os.getloadavg()[0]},
        'scenario': SCENARIO,
        'pybullet_idle_rig': idle,
        'pybullet_ceiling': {'phases': ceiling},
        'equivalence': equivalence(runs['headless'], always),
    }
    for name, run in runs.items():
        by_phase = phases(run['steps'])
        for phase in RIGID:
            entry, top = by_phase.get(phase), ceiling.get(phase)
            if entry and entry['real_time_factor'] and top and top['real_time_factor']:
                entry['share_of_ceiling'] = round(
                    entry['real_time_factor'] / top['real_time_factor'], 3)
                entry['share_of_idle_rig'] = round(
                    entry['real_time_factor'] / idle['real_time_factor'], 3)
        figures[name] = {'sim_time_s': run['sim_time_s'], 'wall_time_s': run['wall_time_s'],
                         'real_time_factor': run['real_time_factor'], 'phases': by_phase}
    path = save('sim_rtf', figures)
    print(f'\nscenario: {SCENARIO}')
    print(f'plain PyBullet, the anchored rig at rest: real-time factor '
          f'{idle["real_time_factor"]}')
    columns = {**{name: figures[name]['phases'] for name in runs}, 'pybullet_ceiling': ceiling}
    print(f'{"phase":<9}' + ''.join(f'{name + " sim s / wall s -> rtf":>40}'
                                    for name in columns))
    for phase in ('deploy', 'drill', 'scrape', 'drain', 'smelt', 'release'):
        cells = []
        for by_phase in columns.values():
            entry = by_phase.get(phase)
            if entry is None:
                cells.append(f'{"-":>40}')
                continue
            share = entry.get('share_of_ceiling')
            cells.append(f'{entry["sim_s"]:9.1f} / {entry["wall_s"]:7.2f} -> '
                         f'{entry["real_time_factor"] or 0:7.1f}'
                         + (f' ({share:.0%})' if share is not None else '      '))
        print(f'{phase:<9}' + ''.join(f'{c:>40}' for c in cells))
    for name in runs:
        entry = figures[name]
        print(f'{name:<9} whole shift: {entry["sim_time_s"]:.1f} sim s in '
              f'{entry["wall_time_s"]:.1f} wall s -> real-time factor '
              f'{entry["real_time_factor"]}')
    print('(%): share of the ceiling, plain PyBullet replaying what the rigid body did')
    print('equivalence (multi-rate vs always stepping):', json.dumps(figures['equivalence']))
    print(f'saved {path}')


if __name__ == '__main__':
    main()
