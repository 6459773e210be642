"""spacemine-shift: a simulated mining shift, headless, start to summary.

Starts the rig's node graph in this process (the same graph as the launch file, the
supervisor included) and acts as the operator: it submits the shift plan (--plan, by
default config/plans/bennu_shift.yaml: anchor, start the line, drill, scrape, drain into
the hoppers, wait for power, one smelter batch, release) with stamped commands to the
supervisor, which runs it; the shift follows its steps on a progress line and prints a
summary (with the mass ledger's and the furnace's figures). --resume takes up a shift
the supervisor stored in the data directory. Exit status 0 when the plan completed.
"""

import argparse
import json
import math
import os
import sys
import time

from rclpy.node import Node
from rclpy.parameter import Parameter
from diagnostic_msgs.msg import DiagnosticStatus
from geometry_msgs.msg import WrenchStamped
from nav_msgs.msg import Odometry
from rcl_interfaces.srv import SetParametersAtomically
from sensor_msgs.msg import JointState, Temperature
from std_msgs.msg import Float64, String

from spacemine_ros import bringup
from spacemine_ros.command import command_request
from spacemine_ros.core.control import states
from spacemine_ros.core.mission.plan import load_plan, plan_from
from spacemine_ros.core.models.material_config import IN_TRANSIT
from spacemine_ros.core.rig_interface import load_rig_interface
from spacemine_ros.launcher import (
    add_graph_arguments, announce_domain, check_before_start, create_nodes,
    parameter_overrides, typed_like_the_params_file)
from spacemine_ros.nodes.common import (
    init_ros, make_executor, SENSOR_QOS, shutdown_nodes, stamp_to_seconds, STATE_QOS,
    StopSignals)
from spacemine_ros.nodes.supervisor import plan_path
from spacemine_ros.paths import default_data_dir
from spacemine_ros.report import write_report


LEDGER_TOTALS = ('excavated', 'balance', 'drill', 'scraper', 'conveyor', 'separator',
                 'hopper_metal', 'hopper_silicate', 'furnace', 'products', 'slag', 'volatiles',
                 'lost')
DRAINED = 0.005  # kg left in transit when the line counts as drained


class ShiftError(RuntimeError):
    """The shift could not go on; the message says why."""


class Operator(Node):
    """The operator's side of the shift: service calls and the values to report.

    Which tools it watches comes from the rig file: every drill and scraper subsystem's
    controller (drill_a and drill_b on the twin-drill rig).
    """

    def __init__(self, rig, **kwargs):
        super().__init__('shift_operator', **kwargs)
        self.rig = rig
        self.anchoring = rig.anchoring_controller
        self.drills = [s.controller for s in rig.by_kind('drill')]
        self.scrapers = [s.controller for s in rig.by_kind('scraper')]
        self.line = rig.by_kind('material_line')[0].controller
        self.smelter = rig.by_kind('furnace')[0].controller
        self.controllers = [s.controller for s in rig.subsystems.values()]
        self.values = {f'{c}/state': '' for c in self.controllers}
        self.values.update({f'{self.anchoring}/safe_capacity': 0.0,
                            f'{self.smelter}/batch_energy': 0.0})
        self.values.update({f'{d}/{n}': 0.0 for d in self.drills
                            for n in ('depth', 'energy')})
        self.max_depth = dict.fromkeys(self.drills, 0.0)
        self.peak_blade_force = 0.0
        self.ledger = dict.fromkeys(LEDGER_TOTALS, 0.0)
        for controller in self.controllers:
            topic = f'{controller}/state'
            self.create_subscription(String, topic, self._store(topic), STATE_QOS)
        self.create_subscription(Float64, f'{self.smelter}/batch_energy',
                                 self._store(f'{self.smelter}/batch_energy'), 10)
        self.setpoint = math.nan
        self.furnace_trace = []  # (sim time, temperature, setpoint, phase) while heating
        self.create_subscription(Temperature, f'{self.smelter}/setpoint', self._on_setpoint, 10)
        self.create_subscription(Temperature, f'{self.smelter}/temperature', self._on_furnace,
                                 10)
        # Peaks from the backend's own streams (every period), not from telemetry (sent
        # on change at most once per telemetry_period, which would miss a peak).
        self.feed_joints = [s.joint('feed').name for s in rig.by_kind('drill')]
        self.create_subscription(JointState, 'joint_states', self._on_joints, SENSOR_QOS)
        for scraper in rig.by_kind('scraper'):
            self.create_subscription(WrenchStamped, f'{scraper.name}/blade_wrench',
                                     self._on_blade, SENSOR_QOS)
        for name in LEDGER_TOTALS:
            self.create_subscription(
                Float64, f'material/ledger/{name}',
                lambda message, key=name: self.ledger.__setitem__(key, message.data), STATE_QOS)
        self.create_subscription(Float64, f'{self.anchoring}/safe_capacity',
                                 self._store(f'{self.anchoring}/safe_capacity'), STATE_QOS)
        for drill in self.drills:
            for name in ('depth', 'energy'):
                self.create_subscription(Float64, f'{drill}/{name}',
                                         self._store(f'{drill}/{name}'), 10)
        self.create_subscription(Odometry, 'odom', self._on_odom, SENSOR_QOS)
        self.sim_time = 0.0
        self.start_position = None
        self.max_displacement = 0.0
        self.peak_thrust = 0.0  # N, all drills together
        self.capacity_at_peak = 0.0
        self.min_capacity_while_drilling = math.inf
        self.supervisor = 'supervisor'
        self.mode = ''
        self.supervisor_status = {}
        self.create_subscription(String, f'{self.supervisor}/mode', self._on_mode, STATE_QOS)
        self.create_subscription(DiagnosticStatus, f'{self.supervisor}/status',
                                 self._on_status, STATE_QOS)

    def _on_mode(self, message):
        self.mode = message.data

    def _on_status(self, message):
        self.supervisor_status = {value.key: value.value for value in message.values}

    def state(self, controller):
        """Return the last state a controller published ('' before the first)."""
        return self.values[f'{controller}/state']

    def _store(self, topic):
        def callback(message):
            self.values[topic] = message.data
            drill, _, name = topic.partition('/')
            if name == 'depth':
                self.max_depth[drill] = max(self.max_depth[drill], message.data)
        return callback

    def _on_joints(self, message):
        index = {name: i for i, name in enumerate(message.name)}
        if not all(name in index for name in self.feed_joints) or \
                len(message.effort) != len(message.name):
            return
        thrust = sum(max(message.effort[index[name]], 0.0) for name in self.feed_joints)
        capacity = self.values[f'{self.anchoring}/safe_capacity']
        if thrust > self.peak_thrust:
            self.peak_thrust, self.capacity_at_peak = thrust, capacity
        if any(self.state(d) == states.DRILLING for d in self.drills):
            self.min_capacity_while_drilling = min(self.min_capacity_while_drilling, capacity)

    def _on_blade(self, message):
        f = message.wrench.force
        self.peak_blade_force = max(self.peak_blade_force, math.sqrt(f.x**2 + f.y**2 + f.z**2))

    def _on_setpoint(self, message):
        self.setpoint = message.temperature

    def _on_furnace(self, message):
        phase = self.state(self.smelter)
        if phase in states.FURNACE_HEATED:
            self.furnace_trace.append((stamp_to_seconds(message.header.stamp),
                                       message.temperature, self.setpoint, phase))

    def _on_odom(self, message):
        self.sim_time = stamp_to_seconds(message.header.stamp)
        p = message.pose.pose.position
        position = (p.x, p.y, p.z)
        if self.start_position is None:
            self.start_position = position
        self.max_displacement = max(self.max_displacement,
                                    math.dist(position, self.start_position))


class ShiftInterrupted(ShiftError):
    """SIGINT or SIGTERM asked the shift to stop."""


ENDED = ('completed', 'aborted')  # the supervisor's modes where a plan is over
COMMAND_VALID_FOR = 60.0  # s on the rig's clock: the shift's commands are sent at once
SIM_STOPPED = 60.0  # wall s without simulated time advancing: the simulation is stuck
REFRESH = 0.5  # wall s between progress-line updates


class Shift:
    """Follows the supervisor through the plan while spinning every node of the rig."""

    def __init__(self, executor, operator, wall_limit, stop=None, progress=True):
        self.executor = executor
        self.operator = operator
        self.wall_limit = wall_limit
        self.wall_start = time.monotonic()
        self.stop = stop
        self.progress = progress
        self.phase = 'starting'

    def spin_until(self, done, what):
        """Spin until done() is true.

        Raises ShiftInterrupted on a stop request, and ShiftError if simulated time stops
        advancing for SIM_STOPPED wall seconds or past the wall-clock limit.
        """
        operator = self.operator
        sim_seen, sim_since = operator.sim_time, time.monotonic()
        while not done():
            now = time.monotonic()
            if self.stop is not None and self.stop.requested.is_set():
                raise ShiftInterrupted(f'interrupted by {self.stop.signal_name} while '
                                       f'{self.phase}')
            if now - self.wall_start > self.wall_limit:
                raise ShiftError(f'gave up after {self.wall_limit:g} wall seconds: {what}')
            if operator.sim_time != sim_seen:
                sim_seen, sim_since = operator.sim_time, now
            elif now - sim_since > SIM_STOPPED:
                raise ShiftError(f'simulated time stopped at {sim_seen:.1f} s for '
                                 f'{SIM_STOPPED:g} wall seconds while waiting for {what}')
            self.executor.spin_once(timeout_sec=0.1)

    def command(self, name, plan=''):
        """Send a stamped operator command to the supervisor; raise ShiftError if refused."""
        client = self.operator.create_client(SetParametersAtomically,
                                             f'{self.operator.supervisor}/command')
        self.spin_until(client.service_is_ready, 'the supervisor to start')
        future = client.call_async(command_request(name, self.operator.sim_time,
                                                   COMMAND_VALID_FOR, plan))
        self.spin_until(future.done, f'the supervisor to answer {name}')
        self.operator.destroy_client(client)
        result = future.result().result
        if not result.successful:
            raise ShiftError(f'the supervisor refused {name}: {result.reason}')
        return result.reason

    def run(self, plan_file):
        """Load the plan, start it and follow it to its end (ShiftError unless completed)."""
        self.phase = 'loading the plan'
        print(self.command('load_plan', plan_file), file=sys.stderr)
        self.phase = 'starting the plan'
        self.command('start')
        self.follow()

    def run_resumed(self):
        """Follow a stored shift the supervisor took up again, to its end."""
        self.follow()

    def follow(self):
        """Show the supervisor's step and progress until the plan ends; raise unless done."""
        operator = self.operator
        from tqdm import tqdm
        with tqdm(desc='shift', bar_format='{desc}', disable=not self.progress,
                  file=sys.stderr, leave=True) as line:
            shown = ['', 0.0]

            def done():
                status = operator.supervisor_status
                now = time.monotonic()
                step = f'step {status.get("step", "?")}/{status.get("steps", "?")} ' \
                    f'{status.get("step_title", "")}'
                self.phase = step
                if step != shown[0] or now - shown[1] >= REFRESH:
                    shown[0], shown[1] = step, now
                    line.set_description_str(
                        f'sim {operator.sim_time:7.1f} s  {operator.mode:<9} {step}  '
                        f'{status.get("progress", "")}'[:160])
                return operator.mode in ENDED
            self.spin_until(done, 'the plan to end')
        mode, reason = operator.mode, operator.supervisor_status.get('reason', '')
        if mode != 'completed':
            raise ShiftError(f'the supervisor ended in {mode}' + (f': {reason}' if reason
                                                                  else ''))


def summary(operator, wall_seconds, goal_depth, result, reason):
    """Return the end-of-shift figures (result: completed, failed or interrupted)."""
    values = operator.values
    sim_time = operator.sim_time
    ledger = operator.ledger
    return {
        'result': result,
        'reason': reason,
        'goal_depth_m': goal_depth,
        'depth_reached_m': round(min(operator.max_depth.values(), default=0.0), 4),
        'depth_reached_by_drill_m': {d: round(v, 4) for d, v in operator.max_depth.items()},
        'sim_time_s': round(sim_time, 2),
        'wall_time_s': round(wall_seconds, 2),
        'real_time_factor': round(sim_time / wall_seconds, 2) if wall_seconds > 0 else None,
        'drill_energy_J': round(sum(values[f'{d}/energy'] for d in operator.drills), 1),
        'peak_thrust_N': round(operator.peak_thrust, 1),
        'safe_capacity_at_peak_N': round(operator.capacity_at_peak, 1),
        'peak_thrust_share_of_capacity': (round(operator.peak_thrust / operator.capacity_at_peak, 3)
                                          if operator.capacity_at_peak > 0 else None),
        'max_rig_displacement_m': operator.max_displacement,
        'anchoring_state': operator.state(operator.anchoring),
        'peak_blade_force_N': round(operator.peak_blade_force, 2),
        'mass_excavated_kg': round(ledger['excavated'], 4),
        'mass_in_hoppers_kg': {name: round(ledger[name], 4)
                               for name in ('hopper_metal', 'hopper_silicate')},
        'mass_in_transit_kg': round(sum(ledger[name] for name in IN_TRANSIT), 4),
        'mass_lost_kg': round(ledger['lost'], 5),
        'ledger_balance_kg': ledger['balance'],
        **furnace_figures(operator),
    }


def site_figures(body_key, site=''):
    """Return the work site's gravity, slope, escape speed and ground speed (its shape)."""
    from spacemine_ros.core.models.body import load_body
    from spacemine_ros.paths import share_path
    body = load_body(share_path('config', 'bodies.yaml'), body_key, site)
    where = body.site_gravity()
    return {'site_deg': [round(math.degrees(body.site.latitude), 3),
                         round(math.degrees(body.site.longitude), 3)],
            'site_gravity_m_s2': float(f'{body.effective_gravity():.4g}'),
            'site_slope_deg': round(math.degrees(where.slope), 2),
            'site_escape_speed_m_s': float(f'{where.escape_speed:.4g}'),
            'site_ground_speed_m_s': float(f'{float(math.hypot(*where.ground_velocity)):.4g}')}


def furnace_figures(operator):
    """Products, energy per kg of product and the furnace temperature trace statistics."""
    ledger = operator.ledger
    energy = operator.values[f'{operator.smelter}/batch_energy']
    product = ledger['products'] + ledger['volatiles']
    trace = operator.furnace_trace
    soak = [(t, temp, sp) for t, temp, sp, phase in trace if phase == states.FURNACE_SOAKING]
    ramp = [(t, temp, sp) for t, temp, sp, phase in trace if phase == states.FURNACE_HEATING]
    soak_setpoint = soak[0][2] if soak else math.nan
    return {
        'products_kg': round(ledger['products'], 4),
        'volatiles_kg': round(ledger['volatiles'], 4),
        'slag_kg': round(ledger['slag'], 4),
        'smelter_energy_J': round(energy, 0),
        'energy_per_kg_product_J': round(energy / product, 0) if product > 0 else None,
        'furnace_peak_K': round(max((temp for _, temp, _, _ in trace), default=math.nan), 1),
        'furnace_soak_setpoint_K': soak_setpoint,
        'furnace_soak_overshoot_K': round(max(temp - sp for _, temp, sp in soak), 2)
        if soak else None,
        'furnace_soak_mean_abs_error_K': round(sum(abs(temp - sp) for _, temp, sp in soak)
                                               / len(soak), 2) if soak else None,
        'furnace_ramp_max_lag_K': round(max(sp - temp for _, temp, sp in ramp), 1)
        if ramp else None,
        'furnace_trace_samples': len(trace),
    }


def print_summary(figures, stream=sys.stdout):
    """Print the summary as a short table."""
    rows = [
        ('result', figures['result'] + (f' ({figures["reason"]})' if figures['reason'] else '')),
    ]
    if 'site_deg' in figures:
        latitude, longitude = figures['site_deg']
        rows.append(('site', f'{latitude:g} deg, {longitude:g} deg: gravity '
                             f'{figures["site_gravity_m_s2"]:.3g} m/s^2 at a '
                             f'{figures["site_slope_deg"]:.1f} deg slope, escape speed '
                             f'{figures["site_escape_speed_m_s"]:.3g} m/s, ground moving at '
                             f'{figures["site_ground_speed_m_s"]:.3g} m/s'))
    rows += [
        ('depth reached', ', '.join(f'{drill} {depth:.3f} m' for drill, depth in
                                    figures['depth_reached_by_drill_m'].items())
         + f' of {figures["goal_depth_m"]:.3f} m'),
        ('sim time', f'{figures["sim_time_s"]:.1f} s'),
        ('wall time', f'{figures["wall_time_s"]:.1f} s (real-time factor '
                      f'{figures["real_time_factor"]})'),
        ('energy used by the drill', f'{figures["drill_energy_J"] / 1000:.2f} kJ'),
        ('peak thrust', f'{figures["peak_thrust_N"]:.1f} N vs safe anchor capacity '
                        f'{figures["safe_capacity_at_peak_N"]:.1f} N'),
        ('max rig displacement', f'{figures["max_rig_displacement_m"] * 1000:.3f} mm'),
        ('anchoring', figures['anchoring_state']),
        ('peak blade force', f'{figures["peak_blade_force_N"]:.2f} N'),
        ('mass excavated', f'{figures["mass_excavated_kg"]:.3f} kg'),
        ('mass in hoppers', ', '.join(f'{name} {mass:.3f} kg' for name, mass in
                                      figures['mass_in_hoppers_kg'].items())),
        ('mass still in transit', f'{figures["mass_in_transit_kg"]:.4f} kg'),
        ('mass lost to space', f'{figures["mass_lost_kg"]:.4f} kg'),
        ('ledger balance', f'{figures["ledger_balance_kg"]:.3g} kg (excavated minus every '
                           'account)'),
    ]
    if figures['furnace_trace_samples']:
        rows += [
            ('smelter products', f'metal {figures["products_kg"]:.3f} kg, volatiles '
                                 f'{figures["volatiles_kg"]:.3f} kg, slag '
                                 f'{figures["slag_kg"]:.3f} kg'),
            ('smelter energy', f'{figures["smelter_energy_J"] / 1e6:.2f} MJ'
                               + (f' ({figures["energy_per_kg_product_J"] / 1e6:.1f} MJ per kg of '
                                  'product)' if figures['energy_per_kg_product_J'] else '')),
            ('furnace', f'peak {figures["furnace_peak_K"]} K; soak at '
                        f'{figures["furnace_soak_setpoint_K"]} K: overshoot '
                        f'{figures["furnace_soak_overshoot_K"]} K, mean |error| '
                        f'{figures["furnace_soak_mean_abs_error_K"]} K; largest ramp lag '
                        f'{figures["furnace_ramp_max_lag_K"]} K'),
        ]
    width = max(len(name) for name, _ in rows)
    print('\nshift summary', file=stream)
    for name, value in rows:
        print(f'  {name:<{width}}  {value}', file=stream)


def shift_overrides(args, rig):
    """Return the operator's -p overrides, with the shift's own goal and passes in them.

    The goal depth and the passes (given, or the plan's) reach every drill and scraper as
    start-up parameters too, so a goal a drill refuses (beyond its feed stroke) is refused
    before the rig starts rather than after it has anchored.
    """
    overrides = parameter_overrides(args.param)
    depth = args.depth if args.depth is not None else max(
        (s.depth for s in load_plan(plan_path(args.plan)).steps if s.type == 'drill'),
        default=None)
    for drill in rig.by_kind('drill'):
        if depth is not None:
            overrides.setdefault(drill.controller, {}).setdefault('goal_depth', float(depth))
    if args.passes:
        for scraper in rig.by_kind('scraper'):
            overrides.setdefault(scraper.controller, {}).setdefault('passes', int(args.passes))
    return overrides


def shift_plan(args, directory):
    """Return the plan file the shift submits: --plan, with --depth/--passes/--no-smelt.

    Given options change the plan's drill depths and scraper passes (0 drops scraping),
    and --no-smelt drops its smelter batches and the waits for their power; the result
    is written to the data directory and submitted as a file. Returns (path, goal depth).
    """
    import yaml
    source = plan_path(args.plan)
    plan = load_plan(source)  # PlanError (a ValueError) naming the step and field
    data = plan.model_dump(mode='json', exclude_defaults=True)
    steps = []
    for index, step in enumerate(data['steps']):
        kind = step['type']
        if kind == 'drill' and args.depth is not None:
            step['depth'] = float(args.depth)
        if kind == 'scrape' and args.passes is not None:
            if args.passes == 0:
                continue
            step['passes'] = int(args.passes)
            step.pop('area', None)
        if args.no_smelt and (kind == 'smelt' or (
                kind == 'wait' and index + 1 < len(data['steps'])
                and data['steps'][index + 1]['type'] == 'smelt')):
            continue
        step.setdefault('type', kind)
        steps.append(step)
    data['steps'] = steps
    derived = plan_from(data, source)
    drills = [s.depth for s in derived.steps if s.type == 'drill']
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, f'{derived.name}.shift.yaml')
    with open(path, 'w', encoding='utf-8') as stream:
        yaml.safe_dump({'plan': derived.model_dump(mode='json', exclude_defaults=True)},
                       stream, sort_keys=False)
    return path, (max(drills) if drills else 0.0)


def run_shift(args, stop):
    """Run a whole shift; return (result, figures): completed, failed or interrupted."""
    params_file = args.params_file or bringup.default_params_file()
    rig = load_rig_interface(bringup.rig_file_path(args.rig))
    overrides = typed_like_the_params_file(shift_overrides(args, rig), params_file)
    data_dir = args.data_dir or default_data_dir(args.namespace)
    plan_file, goal_depth = (None, 0.0) if args.resume else shift_plan(args, data_dir)
    specs = bringup.graph(args.backend, args.body, args.use_sim_time, args.namespace,
                          anchor_type=args.anchor_type, rig=args.rig, resume=args.resume,
                          data_dir=data_dir, site=args.site, recording=args.record)
    init_ros()
    nodes = []
    result, reason = 'failed', ''
    wall_start = time.monotonic()
    try:
        nodes = create_nodes(specs, args.namespace, params_file, overrides)
        namespace = bringup.normalize_namespace(args.namespace)
        operator = Operator(rig, namespace=namespace or '/',
                            parameter_overrides=[Parameter('use_sim_time', value=True)],
                            cli_args=['--ros-args', '-r', ':='.join(bringup.CLOCK_REMAP)])
        executor = make_executor()
        for node in [*nodes, operator]:
            executor.add_node(node)
        shift = Shift(executor, operator, args.wall_limit, stop,
                      progress=not args.no_progress)
        try:
            if args.resume:
                shift.phase = 'resuming the stored shift'
                shift.spin_until(lambda: operator.mode not in ('', 'paused', 'idle'),
                                 'the supervisor to resume the stored shift')
                if operator.mode in ENDED:
                    raise ShiftError(f'the stored shift had already ended ({operator.mode})')
                shift.run_resumed()
            else:
                shift.run(plan_file)
            result = 'completed'
        except ShiftInterrupted as error:
            result, reason = 'interrupted', str(error)
        except ShiftError as error:
            reason = str(error)
        figures = summary(operator, time.monotonic() - wall_start, goal_depth, result, reason)
        figures['plan'] = operator.supervisor_status.get('plan', '')
        figures['data_dir'] = data_dir
        figures.update(site_figures(args.body, args.site))
        recorder = next((n for n in nodes if n.get_name() == 'recorder'), None)
        if recorder is not None:
            # What is on its way (the last mode, the release) goes in the file too.
            end = time.monotonic() + 1.0
            while time.monotonic() < end:
                executor.spin_once(timeout_sec=0.05)
            figures['recording'] = recorder.path
            recorder.add_summary(figures)
    finally:
        shutdown_nodes(nodes)
    if figures.get('recording') and args.report:
        try:
            figures['report'] = write_report(figures['recording'])
        except (ValueError, OSError) as error:
            print(f'spacemine-shift: no report: {error}', file=sys.stderr)
    return result, figures


def write_summary(path, figures):
    """Write the summary file whole (a half-written file is never left behind)."""
    partial = f'{path}.partial'
    with open(partial, 'w', encoding='utf-8') as stream:
        json.dump(figures, stream, indent=2)
    os.replace(partial, path)


def main(argv=None):
    """Entry point of spacemine-shift."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_graph_arguments(parser)
    parser.add_argument('--plan', default='bennu_shift',
                        help='the plan the supervisor runs: a file or a name in config/plans/ '
                        '(default: bennu_shift)')
    parser.add_argument('--depth', type=float, default=None,
                        help="goal depth of the plan's holes [m] (default: the plan's)")
    parser.add_argument('--passes', type=int, default=None,
                        help="scraping passes; 0 skips scraping (default: the plan's)")
    parser.add_argument('--no-smelt', action='store_true',
                        help="skip the plan's smelter batches")
    parser.add_argument('--wall-limit', type=float, default=1800.0,
                        help='give up after this many wall seconds (default: 1800)')
    parser.add_argument('--summary-file', default=None,
                        help='also write the summary as JSON (removed at the start, so an '
                        "earlier run's file never stands for this one)")
    parser.add_argument('--no-progress', action='store_true', help='no progress lines')
    parser.add_argument('--report', default=True, action=argparse.BooleanOptionalAction,
                        help='with --record, write the HTML report of the shift next to its '
                        'recording (default: on)')
    args = parser.parse_args(argv)
    if args.depth is not None and not (math.isfinite(args.depth) and args.depth > 0):
        parser.error(f'--depth must be a positive number of metres, got {args.depth}')
    if args.passes is not None and not 0 <= args.passes <= 50:
        parser.error(f'--passes must be within 0..50, got {args.passes}')
    if args.backend != 'sim':
        # The shift measures itself in simulated time; on hil or hardware start the rig
        # with spacemine-rig or ros2 launch and operate it through its services.
        parser.error(f'the shift runs on the sim backend only, not {args.backend}')
    if args.summary_file and os.path.exists(args.summary_file):
        os.remove(args.summary_file)
    try:
        rig = load_rig_interface(bringup.rig_file_path(args.rig))
        check_before_start(bringup.graph(args.backend, args.body, anchor_type=args.anchor_type,
                                         rig=args.rig, site=args.site),
                           args.params_file or bringup.default_params_file(),
                           shift_overrides(args, rig), args.body, args.site)
    except ValueError as error:
        parser.exit(2, f'spacemine-shift: error: {error}\n')
    announce_domain('spacemine-shift')
    with StopSignals() as stop:
        try:
            result, figures = run_shift(args, stop)
        except ValueError as error:  # a node refused its parameters or configuration
            parser.exit(2, f'spacemine-shift: error: {error}\n')
    print_summary(figures)
    for key, what in (('recording', 'recording'), ('report', 'report')):
        if figures.get(key):
            print(f'{what}: {figures[key]}')
    if args.summary_file:
        write_summary(args.summary_file, figures)
    return 0 if result == 'completed' else 1


if __name__ == '__main__':
    sys.exit(main())
