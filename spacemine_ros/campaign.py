"""spacemine-campaign: run a campaign's samples as headless shifts on a Dask cluster.

    spacemine-campaign config/campaigns/bennu_anchor_spread.yaml
    spacemine-campaign FILE --workers 2                  (an embedded LocalCluster)
    spacemine-campaign FILE --scheduler tcp://HOST:8786  (a running dask scheduler)

Each sample (core.campaign: its inputs and faults from the seed and its index alone) runs
as a headless shift (spacemine_ros.headless) on a worker, its faults struck and the rig's
invariants watched (spacemine_ros.faults); as each finishes, its row (index, inputs,
faults, outcome, figures, every invariant violated) is written to the results directory
as one Parquet file (`sample-<index>.parquet`, written whole and renamed into place).
The directory is the table (pyarrow.dataset reads it). Run again, the campaign goes on
where it stopped: a sample whose file exists is not run again, and one lost with a
worker is retried by Dask elsewhere and written once. A results directory belongs to one
campaign: the campaign itself and its fingerprint (what decides the samples) are kept
beside the rows (campaign.json), and a different campaign is refused.

Exit status 0 when every sample has its row (whatever the shifts' outcomes), 1 when some
could not run, 2 for a bad campaign file or results directory.
"""

import argparse
import json
import math
import os
import sys
import time
import traceback

from spacemine_ros.core.campaign import (
    Choice, draw, draw_all, draw_faults, Grid, load_campaign, shift_inputs)
from spacemine_ros.core.config import ConfigError

MANIFEST = 'campaign.json'
# Figures of a shift's summary kept as columns (the rest stays in the summary column).
COLUMNS = ('sim_time_s', 'wall_time_s', 'mass_excavated_kg', 'mass_lost_kg',
           'ledger_balance_kg', 'drill_energy_J', 'peak_thrust_N', 'peak_anchor_load_N',
           'safe_capacity_at_peak_N', 'max_rig_displacement_m', 'depth_reached_m',
           'products_kg', 'volatiles_kg', 'smelter_energy_J', 'energy_per_kg_product_J')
# What the invariants' watch measured, kept as columns.
WATCHED = ('estop_latency_s', 'peak_thrust_share_of_budget', 'anchors_pulled_out')


def run_sample(campaign, index, on_step=None):
    """Run sample `index` of the campaign headless; return its row (a flat dict).

    Runs on a worker: everything it needs comes with the campaign and the index. A shift
    that cannot be set up or raises is a row with outcome 'error', the reason and a
    violation, never an exception (a worker retries only what it lost, not what failed).
    on_step(shift) is called after each instant, after the faults and the checks.
    """
    from spacemine_ros.faults import FaultSchedule, Invariants
    from spacemine_ros.headless import Shift, ShiftError
    values = draw(campaign, index)
    faults = draw_faults(campaign, index)
    inputs = shift_inputs(campaign, values)
    row = {'sample': index, 'seed': campaign.seed, 'inputs': json.dumps(values, sort_keys=True),
           'faults': json.dumps(faults, sort_keys=True), 'struck': '[]',
           'outcome': 'error', 'reason': '', 'summary': '{}', 'violations': '[]'}
    row.update(dict.fromkeys(COLUMNS + WATCHED, float('nan')))
    started = time.perf_counter()
    violations = []
    try:
        with Shift(**inputs.model_dump()) as shift:
            schedule = FaultSchedule(shift, faults)
            watch = Invariants(shift, schedule)

            def each_instant(shift):
                schedule(shift)
                watch(shift)
                if on_step is not None:
                    on_step(shift)
            figures = shift.run(wall_limit=campaign.wall_limit, on_step=each_instant)
            violations = watch.finish(figures)
            row.update(watch.figures())
            row['struck'] = json.dumps(schedule.struck)
    except (ShiftError, ConfigError, ValueError) as error:
        row['reason'] = str(error)
    except Exception as error:  # noqa: B902 - a sample's crash is its finding, with the trace
        row['reason'] = f'{type(error).__name__}: {error}'
        row['trace'] = traceback.format_exc(limit=8)
    else:
        row['outcome'], row['reason'] = figures['result'], figures['reason']
        row['summary'] = json.dumps(figures, sort_keys=True, default=str)
        for name in COLUMNS:
            value = figures.get(name)
            row[name] = float(value) if isinstance(value, (int, float)) else float('nan')
    if row['outcome'] == 'error':
        violations.append({'invariant': 'the shift runs', 'at': float('nan'),
                           'detail': row['reason']})
    row['violations'] = json.dumps(violations)
    row['violation_count'] = len(violations)
    row['anchors_pulled_out'] = float(row['anchors_pulled_out'])
    row['run_wall_s'] = time.perf_counter() - started
    # The worker's memory after the sample (a campaign's memory stays flat: bench/).
    import psutil
    row['worker_pid'] = os.getpid()
    row['worker_rss_mb'] = psutil.Process().memory_info().rss / 2 ** 20
    return row


# How far a sample replayed on the graph may be from its headless row and still be the
# same shift: the bounds within which the graph's spacemine-shift and --headless agree
# (a step landing one control period apart, the graph's world stopping every max_step
# while anything works): (relative, absolute) per figure, whichever is wider, and every
# plan step starting within STEP_BOUND sim s.
STEP_BOUND = 5.0
GRAPH_BOUNDS = {'sim_time_s': (0.02, STEP_BOUND), 'depth_reached_m': (0.0, 1e-3),
                'mass_excavated_kg': (0.03, 0.0), 'drill_energy_J': (0.03, 0.0),
                'smelter_energy_J': (0.03, 0.0), 'volatiles_kg': (0.03, 0.0),
                'products_kg': (0.03, 1e-6), 'peak_thrust_N': (0.03, 0.0),
                'mass_lost_kg': (0.1, 0.005), 'ledger_balance_kg': (0.0, 1e-9)}
# Nodes that model the body from the bodies file (rig_sim and these controllers' kinds).
BODY_MODELLERS = ('anchors', 'material_line', 'furnace')


def sample_of(directory, index):
    """Return (campaign, drawn values, faults, ShiftInputs, stored row or None) of a sample."""
    campaign = Results.campaign_of(directory)
    if not 0 <= index < campaign.samples:
        raise ConfigError(f'{directory}: no sample {index} (0..{campaign.samples - 1})')
    stored = None
    results = Results(directory, campaign)
    if index in results.done():
        import pyarrow.parquet as pq
        stored = pq.read_table(results.path(index)).to_pylist()[0]
    values = draw(campaign, index)
    return campaign, values, draw_faults(campaign, index), shift_inputs(campaign, values), stored


def graph_overrides(inputs, rig, data_dir):
    """Return the node parameters that give the graph a sample's inputs.

    The sample's own overrides, and its regolith (which the headless engine sets on the
    body it loads) as a bodies file of its own in data_dir, which rig_sim and every
    controller that models the body read (bodies_file).
    """
    import yaml
    from spacemine_ros.headless import with_regolith
    from spacemine_ros.core.models.body import load_body
    from spacemine_ros.paths import share_path
    overrides = {node: dict(values) for node, values in inputs.overrides.items()}
    if not inputs.regolith:
        return overrides
    source = share_path('config', 'bodies.yaml')
    with_regolith(load_body(source, inputs.body, inputs.site), inputs.regolith)  # checked
    with open(source, encoding='utf-8') as stream:
        bodies = yaml.safe_load(stream)
    regolith = bodies['bodies'][inputs.body]['regolith']
    for name, value in inputs.regolith.items():
        if name == 'friction_angle':
            regolith['friction_angle_deg'] = math.degrees(value)
        else:
            regolith[name] = float(value)
    os.makedirs(data_dir, exist_ok=True)
    path = os.path.join(data_dir, 'bodies.yaml')
    with open(path, 'w', encoding='utf-8') as stream:
        stream.write(f'# {source} with the regolith of a campaign sample\n')
        yaml.safe_dump(bodies, stream, sort_keys=False)
    names = ['rig_sim'] + [s.controller for kind in BODY_MODELLERS for s in rig.by_kind(kind)]
    for name in names:
        overrides.setdefault(name, {})['bodies_file'] = path
    return overrides


def graph_differences(figures, stored):
    """Return [difference] of a graph replay's figures against the sample's headless row.

    The outcome, the invariants violated (by name), and each GRAPH_BOUNDS figure outside
    its bounds.
    """
    differences = []
    if figures.get('result') != stored.get('outcome'):
        differences.append(f'outcome: {stored.get("outcome")!r} in the campaign, '
                           f'{figures.get("result")!r} on the graph')
    theirs = sorted({v['invariant'] for v in json.loads(stored.get('violations') or '[]')})
    mine = sorted({v['invariant'] for v in figures.get('violations', [])})
    if mine != theirs:
        differences.append(f'violations: {theirs} in the campaign, {mine} on the graph')
    steps = json.loads(stored.get('summary') or '{}').get('steps', [])
    graph_steps = figures.get('steps', [])
    if [s['type'] for s in steps] != [s['type'] for s in graph_steps]:
        differences.append(f'steps: {[s["type"] for s in steps]} in the campaign, '
                           f'{[s["type"] for s in graph_steps]} on the graph')
    else:
        for theirs, mine in zip(steps, graph_steps):
            if abs(mine['start_s'] - theirs['start_s']) > STEP_BOUND:
                differences.append(f'step {theirs["step"]} {theirs["type"]}: starts at '
                                   f'{theirs["start_s"]:g} s in the campaign, '
                                   f'{mine["start_s"]:g} s on the graph (bound: '
                                   f'{STEP_BOUND:g} s)')
    for name, (relative, absolute) in GRAPH_BOUNDS.items():
        mine, theirs = figures.get(name), stored.get(name)
        if not isinstance(mine, (int, float)) or not isinstance(theirs, (int, float)) or \
                math.isnan(theirs):
            continue
        if abs(mine - theirs) > max(relative * abs(theirs), absolute):
            differences.append(f'{name}: {theirs:.6g} in the campaign, {mine:.6g} on the '
                               f'graph (bounds: {relative:.0%} or {absolute:g})')
    return differences


def replay(directory, index, on_step=None):
    """Run sample `index` of the campaign in a results directory again, headless.

    Returns (the new row, the stored row or None, [differences]): each figure of the
    row (COLUMNS, the outcome, the violations) that differs from the stored one.
    """
    campaign, _, _, _, stored = sample_of(directory, index)
    row = run_sample(campaign, index, on_step)
    differences = []
    if stored is not None:
        for name in ('outcome', 'reason', 'violations', 'struck', *COLUMNS, *WATCHED):
            if name in ('wall_time_s',) or name not in stored:
                continue
            mine, theirs = row.get(name), stored.get(name)
            same = mine == theirs or (isinstance(mine, float) and isinstance(theirs, float)
                                      and math.isnan(mine) and math.isnan(theirs))
            if not same:
                differences.append(f'{name}: {theirs!r} in the campaign, {mine!r} now')
    return row, stored, differences


class Results:
    """A campaign's results directory: one Parquet file per finished sample."""

    def __init__(self, directory, campaign):
        self.directory = directory
        self.campaign = campaign
        os.makedirs(directory, exist_ok=True)
        manifest = os.path.join(directory, MANIFEST)
        mine = {'name': campaign.name, 'fingerprint': campaign.fingerprint(),
                'campaign': campaign.model_dump(mode='json')}
        if os.path.exists(manifest):
            with open(manifest, encoding='utf-8') as stream:
                theirs = json.load(stream)
            if theirs.get('fingerprint') != mine['fingerprint']:
                raise ConfigError(f'{directory} holds the results of another campaign '
                                  f'({theirs.get("name")!r}, {theirs.get("fingerprint")}): '
                                  'choose another --out')
        else:
            self._write_atomically(manifest, json.dumps(mine).encode())

    @staticmethod
    def campaign_of(directory):
        """Return the campaign whose results a directory holds (ConfigError if none)."""
        from spacemine_ros.core.campaign import campaign_from
        manifest = os.path.join(directory, MANIFEST)
        try:
            with open(manifest, encoding='utf-8') as stream:
                data = json.load(stream)
            return campaign_from({'campaign': data['campaign']}, manifest)
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise ConfigError(f'{directory} holds no campaign results ({error})') from None

    def path(self, index):
        """Return the file of sample `index`."""
        return os.path.join(self.directory, f'sample-{index:07d}.parquet')

    def done(self):
        """Return the indices of the samples that have their row."""
        found = set()
        for name in os.listdir(self.directory):
            if name.startswith('sample-') and name.endswith('.parquet'):
                found.add(int(name[len('sample-'):-len('.parquet')]))
        return found

    def write(self, row):
        """Write one sample's row, whole or not at all (rename into place)."""
        import pyarrow as pa
        import pyarrow.parquet as pq
        row = dict(row)
        row.setdefault('trace', '')
        table = pa.Table.from_pylist([row])
        final = self.path(row['sample'])
        partial = final + '.partial'
        pq.write_table(table, partial)
        os.replace(partial, final)

    def table(self):
        """Return every row written so far as one pyarrow Table, by sample."""
        import pyarrow.dataset as ds
        files = [self.path(index) for index in sorted(self.done())]
        if not files:
            return None
        return ds.dataset(files, format='parquet').to_table().sort_by('sample')

    @staticmethod
    def _write_atomically(path, data):
        with open(path + '.partial', 'wb') as stream:
            stream.write(data)
        os.replace(path + '.partial', path)


def check_setup(campaign):
    """Set up sample 0's shift and close it: what the engine refuses, refused at once.

    An unknown body, site, rig, anchor type, plan or parameter stops the campaign before
    any sample runs, as does a fault naming a controller or an anchor the rig lacks.
    """
    from spacemine_ros.headless import Shift
    inputs = shift_inputs(campaign, draw(campaign, 0))
    with Shift(**inputs.model_dump()) as shift:
        anchors = len(shift.world.anchor_plugin.anchors)
        for spec in campaign.faults:
            for name, known, what in (
                    ('node', set(shift.by_controller), 'controllers'),
                    ('anchor', set(range(anchors)), 'anchors')):
                distribution = getattr(spec, name)
                if distribution is None:
                    continue
                values = distribution.choice if isinstance(distribution, Choice) else \
                    distribution.grid if isinstance(distribution, Grid) else []
                for value in values:
                    value = int(value) if name == 'anchor' and isinstance(value, float) and \
                        value.is_integer() else value
                    if value not in known:
                        raise ConfigError(f'campaign.faults: {spec.kind} {name} {value!r}: '
                                          f'the rig has no such {name}; its {what}: '
                                          + ', '.join(str(k) for k in sorted(known)))


def client_for(workers=None, scheduler=None):
    """Return (Dask client, cluster or None): an embedded LocalCluster or a scheduler's.

    The embedded cluster has one single-threaded worker process per core (PyBullet and
    the controllers hold the GIL), so shifts run side by side.
    """
    import dask
    from distributed import Client, LocalCluster
    if scheduler:
        return Client(scheduler), None
    # A worker's statistical profiler keeps an hour of its samples: hundreds of MB that
    # grow with every shift (bench_campaign_memory). Workers started by hand take
    # DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED=False (docs/campaigns.md).
    dask.config.set({'distributed.worker.profile.enabled': False})
    workers = workers or os.cpu_count() or 1
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                           dashboard_address=None)
    return Client(cluster), cluster


def run_campaign(campaign, directory, workers=None, scheduler=None, on_row=None,
                 client=None):
    """Run the samples of the campaign that have no row yet; return (rows run, failures).

    on_row(row) is called as each is written (a progress bar). client: a Dask client to
    use (and leave open) instead of one made here.
    """
    from distributed import as_completed
    results = Results(directory, campaign)
    pending = sorted(set(range(campaign.samples)) - results.done())
    if not pending:
        return 0, 0
    given = client is not None
    if not given:
        client, cluster = client_for(workers, scheduler)
    run = failures = 0
    try:
        futures = client.map(run_sample, [campaign] * len(pending), pending, pure=False,
                             retries=2)
        for future in as_completed(futures):
            row = future.result()
            results.write(row)
            run += 1
            failures += row['outcome'] == 'error'
            if on_row is not None:
                on_row(row)
    finally:
        if not given:
            client.close()
            if cluster is not None:
                cluster.close()
    return run, failures


def main(argv=None):
    """Entry point of spacemine-campaign."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('campaign', help='a campaign file (config/campaigns/*.yaml)')
    parser.add_argument('--out', default=None, help='results directory (default: '
                        'campaigns/<name> in the data directory)')
    parser.add_argument('--workers', type=int, default=None,
                        help='worker processes of the embedded cluster (default: one per core)')
    parser.add_argument('--scheduler', default=None,
                        help='address of a running dask scheduler, e.g. tcp://host:8786')
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    parser.add_argument('--report', default=True, action=argparse.BooleanOptionalAction,
                        help='write the HTML report (report.html in the results directory) '
                        'when the run ends (default: on)')
    args = parser.parse_args(argv)
    if args.workers is not None and args.workers < 1:
        parser.error('--workers must be at least 1')
    from spacemine_ros.headless import ShiftError
    try:
        campaign = load_campaign(args.campaign)
        draw_all(campaign)  # every sample's inputs drawn and checked before any runs
        check_setup(campaign)
        from spacemine_ros.paths import default_data_dir
        directory = args.out or os.path.join(default_data_dir('campaigns'), campaign.name)
        done = len(Results(directory, campaign).done())
    except (ConfigError, OSError, ValueError, ShiftError) as error:
        print(f'spacemine-campaign: {error}', file=sys.stderr)
        return 2
    from tqdm import tqdm
    counts, violated = {}, [0]
    with tqdm(total=campaign.samples, initial=done, unit='shift', disable=args.no_progress,
              file=sys.stderr, desc=campaign.name) as bar:
        def progress(row):
            counts[row['outcome']] = counts.get(row['outcome'], 0) + 1
            violated[0] += row['violation_count'] > 0
            bar.set_postfix({**counts, 'violating': violated[0]}, refresh=False)
            bar.update()
        try:
            run, failures = run_campaign(campaign, directory, args.workers, args.scheduler,
                                         progress)
        except KeyboardInterrupt:
            bar.close()
            print(f'{campaign.name}: interrupted with {len(Results(directory, campaign).done())}'
                  f' of {campaign.samples} samples written; run it again to go on',
                  file=sys.stderr)
            return 130
    print(f'{campaign.name}: {run} samples run, {done} done before; outcomes '
          + (', '.join(f'{k} {v}' for k, v in sorted(counts.items())) or 'none new')
          + f'; {violated[0]} violating an invariant; results in {directory}')
    if args.report:
        from spacemine_ros.campaign_report import write_report
        print(f'report: {write_report(directory)}')
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
