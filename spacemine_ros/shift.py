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
import secrets
import sys
import time

from rclpy.node import Node
from rclpy.parameter import Parameter
from geometry_msgs.msg import WrenchStamped
from nav_msgs.msg import Odometry
from sensor_msgs.msg import JointState
from spacemine_interfaces.msg import (
    AnchoringStatus, ControllerState, FurnaceStatus, Ledger, MissionStatus)
from spacemine_interfaces.srv import OperatorCommand
from std_msgs.msg import Float64

from spacemine_ros import bringup
from spacemine_ros.command import command_request, operator_key_path
from spacemine_ros.core.mission.operators import AuthorityError, OperatorKey, SIM_KEY_FILE
from spacemine_ros.core.mission.plan import load_plan, varied
from spacemine_ros.core.rig_interface import load_rig_interface
from spacemine_ros.launcher import (
    add_graph_arguments, announce_domain, ApartProcesses, check_before_start,
    check_data_dir_free, create_nodes,
    parameter_overrides, typed_like_the_params_file)
from spacemine_ros.nodes.common import (
    init_ros, ledger_totals, make_executor, shutdown_nodes, stamp_to_seconds, STATE_QOS,
    StopSignals)
from spacemine_ros.nodes.recorder import message_class, recordable
from spacemine_ros.nodes.rig_inputs import RigInputs
from spacemine_ros.nodes.supervisor import plan_path
from spacemine_ros.paths import default_data_dir
from spacemine_ros.report import write_report
from spacemine_ros.summary import (
    LEDGER_TOTALS, print_summary, ShiftRecord, site_figures, step_timeline, summary)


DRAINED = 0.005  # kg left in transit when the line counts as drained


class ShiftError(RuntimeError):
    """The shift could not go on; the message says why."""


class Operator(Node):
    """The operator's side of the shift: service calls, and the figures of its summary.

    Which tools it watches comes from the rig file: every drill and scraper subsystem's
    controller (drill_a and drill_b on the twin-drill rig). What it sees goes into a
    ShiftRecord (spacemine_ros.summary), as the headless engine's does.
    """

    def __init__(self, rig, **kwargs):
        super().__init__('shift_operator', **kwargs)
        self.rig = rig
        record = self.record = ShiftRecord.for_rig(rig)
        self.anchoring, self.drills, self.smelter = (record.anchoring, record.drills,
                                                     record.smelter)
        for controller in record.states:
            self.create_subscription(
                ControllerState, f'{controller}/state',
                lambda m, c=controller: record.states.__setitem__(c, m.label), STATE_QOS)
        self.create_subscription(FurnaceStatus, f'{self.smelter}/status', self._on_furnace, 10)
        # Peaks from the rig's own state (every instant), not from telemetry (sent on
        # change at most once per telemetry_period, which would miss a peak).
        self.readings = RigInputs(self)
        self.readings.take('joint_states', JointState, self._on_joints)
        for scraper in rig.by_kind('scraper'):
            self.readings.take(f'{scraper.name}/blade_wrench', WrenchStamped, self._on_blade)
        self.readings.take('odom', Odometry, self._on_odom)
        self.create_subscription(Ledger, 'material/ledger', self._on_ledger, STATE_QOS)
        self.create_subscription(
            AnchoringStatus, f'{self.anchoring}/status',
            lambda m: setattr(record, 'safe_capacity', m.safe_capacity), STATE_QOS)
        for drill in self.drills:
            self.create_subscription(Float64, f'{drill}/depth',
                                     lambda m, d=drill: record.depth(d, m.data), 10)
            self.create_subscription(Float64, f'{drill}/energy',
                                     lambda m, d=drill: record.drill_energy.__setitem__(
                                         d, m.data), 10)
        self.supervisor = 'supervisor'
        self.mode = ''
        self.supervisor_status = MissionStatus()  # its last
        self.steps = []  # (step number, type, sim time, wall time) as each began
        self.create_subscription(MissionStatus, f'{self.supervisor}/status',
                                 self._on_status, STATE_QOS)

    @property
    def sim_time(self):
        """The rig's clock as the odometry last said [s]."""
        return self.record.sim_time

    def _on_status(self, message):
        self.supervisor_status = message
        self.mode = message.mode
        step = message.step
        if step and (not self.steps or self.steps[-1][0] != step):
            # When each step began, on the rig's clock and the wall's.
            self.steps.append((step, message.step_type, self.record.sim_time,
                               time.monotonic()))

    def _on_furnace(self, message):
        record = self.record
        record.batch_energy, record.setpoint = message.batch_energy, message.setpoint
        record.furnace(stamp_to_seconds(message.stamp), message.temperature)

    def _on_ledger(self, message):
        totals = ledger_totals(message)
        self.record.ledger.update({name: totals[name] for name in LEDGER_TOTALS
                                   if name in totals})

    def state(self, controller):
        """Return the last state a controller published ('' before the first)."""
        return self.record.state(controller)

    def _on_joints(self, message):
        if len(message.effort) == len(message.name):
            self.record.joint_efforts(dict(zip(message.name, message.effort)))

    def _on_blade(self, message):
        force = message.wrench.force
        self.record.blade((force.x, force.y, force.z))

    def _on_odom(self, message):
        p = message.pose.pose.position
        self.record.base(stamp_to_seconds(message.header.stamp), (p.x, p.y, p.z))


class ShiftInterrupted(ShiftError):
    """SIGINT or SIGTERM asked the shift to stop."""


ENDED = ('completed', 'aborted')  # the supervisor's modes where a plan is over
COMMAND_VALID_FOR = 60.0  # s on the rig's clock: the shift's commands are sent at once
SIM_STOPPED = 60.0  # wall s without simulated time advancing: the simulation is stuck
REFRESH = 0.5  # wall s between progress-line updates


class Shift:
    """Follows the supervisor through the plan while spinning every node of the rig."""

    def __init__(self, executor, operator, wall_limit, stop=None, progress=True, key_path=''):
        self.executor = executor
        self.operator = operator
        self.key_path = key_path  # the operator's key; read once the supervisor is up
        self.wall_limit = wall_limit
        self.wall_start = time.monotonic()
        self.stop = stop
        self.progress = progress
        self.phase = 'starting'
        # Called after each callback (a replay's node operations); a reason: stop the shift.
        self.after_spin = None

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
            halted = self.after_spin() if self.after_spin is not None else None
            if halted:
                raise ShiftError(halted)

    def command(self, name, plan=''):
        """Send a stamped operator command to the supervisor; raise ShiftError if refused."""
        client = self.operator.create_client(OperatorCommand,
                                             f'{self.operator.supervisor}/command')
        self.spin_until(client.service_is_ready, 'the supervisor to start')
        try:  # a sim rig's supervisor makes its operator's key before it serves
            key = OperatorKey.load(self.key_path)
        except AuthorityError as error:
            raise ShiftError(f'cannot sign {name}: {error}') from None
        future = client.call_async(command_request(
            name, self.operator.sim_time, COMMAND_VALID_FOR, plan, key,
            self.operator.get_namespace()))
        self.spin_until(future.done, f'the supervisor to answer {name}')
        self.operator.destroy_client(client)
        response = future.result()
        if not response.success:
            raise ShiftError(f'the supervisor refused {name}: {response.message}')
        return response.message

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
                step = f'step {status.step}/{status.steps} {status.step_title}'
                self.phase = step
                if step != shown[0] or now - shown[1] >= REFRESH:
                    shown[0], shown[1] = step, now
                    line.set_description_str(
                        f'sim {operator.sim_time:7.1f} s  {operator.mode:<9} {step}  '
                        f'{status.progress}'[:160])
                return operator.mode in ENDED
            self.spin_until(done, 'the plan to end')
        mode, reason = operator.mode, operator.supervisor_status.reason
        if mode != 'completed':
            raise ShiftError(f'the supervisor ended in {mode}' + (f': {reason}' if reason
                                                                  else ''))


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


def merged_overrides(overrides, more):
    """Return {node: {name: value}} of overrides with more's over them."""
    merged = {node: dict(values) for node, values in overrides.items()}
    for node, values in more.items():
        merged.setdefault(node, {}).update(values)
    return merged


def derived_plan(args):
    """Return (the plan of --plan with --depth/--passes/--no-smelt, its goal depth [m]).

    Given options change the plan's drill depths and scraper passes (0 drops scraping),
    and --no-smelt drops its smelter batches and the waits for their power.
    """
    plan = load_plan(plan_path(args.plan))  # PlanError (a ValueError) naming step and field
    derived = varied(plan, args.depth, args.passes, not args.no_smelt)
    drills = [s.depth for s in derived.steps if s.type == 'drill']
    return derived, (max(drills) if drills else 0.0)


def shift_plan(args, directory):
    """Return (plan file, goal depth) the shift submits: derived_plan() in the data dir."""
    import yaml
    derived, goal_depth = derived_plan(args)
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, f'{derived.name}.shift.yaml')
    with open(path, 'w', encoding='utf-8') as stream:
        yaml.safe_dump({'plan': derived.model_dump(mode='json', exclude_defaults=True)},
                       stream, sort_keys=False)
    return path, goal_depth


def run_headless(args):
    """Run the shift without ROS (spacemine_ros.headless); return (result, figures)."""
    from tqdm import tqdm
    from spacemine_ros.headless import Shift as HeadlessShift, ShiftError as HeadlessError
    params_file = args.params_file or bringup.default_params_file()
    rig = load_rig_interface(bringup.rig_file_path(args.rig))
    overrides = typed_like_the_params_file(shift_overrides(args, rig), params_file)
    plan, goal_depth = (None, 0.0) if args.resume else derived_plan(args)
    try:
        shift = HeadlessShift(body=args.body, plan=plan, rig=args.rig, site=args.site,
                              anchor_type=args.anchor_type, params_file=params_file,
                              overrides=overrides, data_dir=args.data_dir or None,
                              resume=args.resume)
    except HeadlessError as error:
        raise ValueError(str(error)) from None
    with shift, StopSignals() as stop, tqdm(desc='shift', bar_format='{desc}',
                                            disable=args.no_progress, file=sys.stderr,
                                            leave=True) as line:
        shown = [0.0]

        def progress(shift):
            if stop.requested.is_set():
                raise ShiftInterrupted(f'interrupted by {stop.signal_name} at '
                                       f'{shift.world.time:.1f} s')
            now = time.monotonic()
            if now - shown[0] >= REFRESH:
                shown[0] = now
                line.set_description_str(
                    f'sim {shift.world.time:7.1f} s  {shift.mission.describe()}'[:160])
        try:
            figures = shift.run(wall_limit=args.wall_limit, on_step=progress)
        except ShiftInterrupted as error:
            figures = shift.figures('interrupted', str(error))
        shift.stop()  # every actuator safe; with a data directory, what a resume needs
    figures['goal_depth_m'] = goal_depth or figures['goal_depth_m']
    return figures['result'], figures


RECORDER_READY = 120.0  # wall s the recorder has to subscribe to the rig's topics


def wait_for_recorder(operator, apart, nodes, limit=RECORDER_READY):
    """Wait (without spinning the rig) until the recorder takes every topic of the rig.

    Before the rig's executor runs, so the recording starts with the shift's first
    instant. Raises ShiftError if the recorder exits or is not there within limit.
    """
    prefix = bringup.normalize_namespace(operator.get_namespace()).rstrip('/') + '/'
    ours = {node.get_name() for node in nodes}
    end = time.monotonic() + limit
    while True:
        failed = apart.failed()
        if failed:
            raise ShiftError(f'the {failed} exited before the shift started')
        missing = []
        for topic, types in operator.get_topic_names_and_types():
            if not recordable(topic, prefix) or not any(
                    info.node_name in ours for info in
                    operator.get_publishers_info_by_topic(topic)):
                continue
            try:
                message_class(types[0])
            except (ImportError, AttributeError):
                continue  # the recorder cannot take it either (it says so)
            if not any(info.node_name == 'recorder'
                       for info in operator.get_subscriptions_info_by_topic(topic)):
                missing.append(topic)
        if not missing:
            return
        if time.monotonic() > end:
            raise ShiftError(f'the recorder took none of {", ".join(missing[:5])} within '
                             f'{limit:g} s')
        time.sleep(0.1)


def recording_options(args, overrides, data_dir):
    """Set the recorder's file and summary file (unless given); return both paths."""
    recorder = overrides.setdefault('recorder', {})
    name = recorder.setdefault('file', f'shift_{time.strftime("%Y%m%d_%H%M%S")}.mcap')
    path = name if os.path.isabs(name) else os.path.join(data_dir, name)
    summary_file = recorder.setdefault('summary_file', f'{path}.summary.json')
    return path, summary_file


def run_shift(args, stop, faults=None, sample_overrides=None):
    """Run a whole shift; return (result, figures): completed, failed or interrupted.

    faults: a campaign sample's faults ([{kind, at, ...}], core.campaign.draw_faults) to
    strike on the graph, its invariants watched (graph_faults); the figures then have
    the sample's `struck`, `violations` and what the watch measured. sample_overrides:
    node parameters over the operator's (a sample's inputs, campaign.graph_overrides).
    """
    params_file = args.params_file or bringup.default_params_file()
    rig = load_rig_interface(bringup.rig_file_path(args.rig))
    overrides = typed_like_the_params_file(
        merged_overrides(shift_overrides(args, rig), sample_overrides or {}), params_file)
    data_dir = args.data_dir or default_data_dir(args.namespace)
    plan_file, goal_depth = (None, 0.0) if args.resume else shift_plan(args, data_dir)
    # This start's session: a node started again within it takes up its own record.
    specs = bringup.graph(args.backend, args.body, args.use_sim_time, args.namespace,
                          anchor_type=args.anchor_type, rig=args.rig, resume=args.resume,
                          data_dir=data_dir, site=args.site, recording=args.record,
                          session=secrets.token_hex(6))
    recording = recording_options(args, overrides, data_dir) if args.record else None
    # The recorder runs in a process of its own, beside the rig's.
    apart = ApartProcesses(specs, args.namespace, params_file, overrides)
    init_ros()
    nodes = []
    result, reason = 'failed', ''
    wall_start = time.monotonic()
    try:
        nodes = create_nodes(apart.rest, args.namespace, params_file, overrides)
        namespace = bringup.normalize_namespace(args.namespace)
        operator = Operator(rig, namespace=namespace or '/',
                            parameter_overrides=[Parameter('use_sim_time', value=True)],
                            cli_args=['--ros-args', '-r', ':='.join(bringup.CLOCK_REMAP)])
        executor = make_executor()
        for node in [*nodes, operator]:
            executor.add_node(node)
        # A sim or HIL rig's own operator signs; on hardware, the operator's key.
        key_path = (os.path.join(data_dir, SIM_KEY_FILE) if args.backend in ('sim', 'hil')
                    else operator_key_path('', data_dir))
        shift = Shift(executor, operator, args.wall_limit, stop,
                      progress=not args.no_progress, key_path=key_path)
        watch = None
        if faults is not None:
            from spacemine_ros.faults import FaultSchedule, Invariants
            from spacemine_ros.graph_faults import GraphShift
            graph = GraphShift(nodes, executor, rig, apart.rest,
                               (args.namespace, params_file, overrides))
            schedule = FaultSchedule(graph, faults)
            watch = Invariants(graph, schedule)
            graph.watch(schedule, watch)
            shift.after_spin = graph.after_spin
        try:
            if recording:
                shift.phase = 'starting the recorder'
                wait_for_recorder(operator, apart, nodes)
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
        figures = summary(operator.record, time.monotonic() - wall_start, goal_depth, result,
                          reason)
        figures['plan'] = operator.supervisor_status.plan
        figures['data_dir'] = data_dir
        figures['steps'] = step_timeline(operator.steps, figures['sim_time_s'],
                                         wall_start + figures['wall_time_s'])
        figures.update(site_figures(args.body, args.site))
        if watch is not None:
            figures['violations'] = watch.finish(figures)
            figures['struck'] = schedule.struck
            figures.update(watch.figures())
        if recording:
            # What is on its way (the last mode, the release) goes in the file too.
            end = time.monotonic() + 1.0
            while time.monotonic() < end:
                executor.spin_once(timeout_sec=0.05)
            figures['recording'] = recording[0]
            write_summary(recording[1], figures)  # the recorder files it as it finishes
    finally:
        try:
            shutdown_nodes(nodes)
        finally:
            # After the rig's safe stop, which it records; it takes its backlog first.
            recorder_status = apart.stop()
    if recording:
        if os.path.exists(recording[1]):
            os.unlink(recording[1])
        if recorder_status:
            print(f'spacemine-shift: the recorder exited with status {recorder_status}',
                  file=sys.stderr)
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
    parser.add_argument('--replay', nargs=2, metavar=('RUN', 'SAMPLE'), default=None,
                        help="run one sample of a campaign again: RUN is the campaign's "
                        'results directory, SAMPLE its index: its inputs and faults, its '
                        'invariants checked, on the node graph and recorded (compared with '
                        "its row within the graph's bounds), or with --headless on the "
                        "campaign's engine (compared exactly)")
    parser.add_argument('--headless', action='store_true',
                        help='run the same controllers, supervisor and world without ROS '
                        '(spacemine_ros.headless), as fast as the machine goes; with '
                        '--data-dir it keeps what a --resume takes up')
    args = parser.parse_args(argv)
    if args.replay:
        return replay_main(parser, args)
    if args.depth is not None and not (math.isfinite(args.depth) and args.depth > 0):
        parser.error(f'--depth must be a positive number of metres, got {args.depth}')
    if args.passes is not None and not 0 <= args.passes <= 50:
        parser.error(f'--passes must be within 0..50, got {args.passes}')
    if args.backend != 'sim':
        # The shift measures itself in simulated time; on hil or hardware start the rig
        # with spacemine-rig or ros2 launch and operate it through its services.
        parser.error(f'the shift runs on the sim backend only, not {args.backend}')
    if args.headless and args.record:
        parser.error('--record needs the ROS graph: drop --headless to record the shift')
    if args.headless and args.resume and not args.data_dir:
        parser.error('--headless --resume takes up what --data-dir holds: give it')
    if args.summary_file and os.path.exists(args.summary_file):
        os.remove(args.summary_file)
    try:
        rig = load_rig_interface(bringup.rig_file_path(args.rig))
        specs = bringup.graph(args.backend, args.body, anchor_type=args.anchor_type,
                              rig=args.rig, site=args.site)
        check_before_start(specs, args.params_file or bringup.default_params_file(),
                           shift_overrides(args, rig), args.body, args.site)
        if not args.headless:
            check_data_dir_free(specs, args.data_dir or default_data_dir(args.namespace))
    except ValueError as error:
        parser.exit(2, f'spacemine-shift: error: {error}\n')
    if args.headless:
        try:
            result, figures = run_headless(args)
        except ValueError as error:  # a controller refused its parameters or configuration
            parser.exit(2, f'spacemine-shift: error: {error}\n')
    else:
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


def replay_main(parser, args):
    """Replay one sample of a campaign (--replay RUN SAMPLE); return the exit status.

    0 when the sample completed with no invariant violated, 1 otherwise; 2 when it cannot
    be replayed.
    """
    run, sample = args.replay
    try:
        sample = int(sample)
    except ValueError:
        parser.error(f'--replay RUN SAMPLE: SAMPLE is an index, got {sample!r}')
    if not args.headless:
        return replay_on_graph(parser, args, run, sample)
    from spacemine_ros.campaign import replay
    from spacemine_ros.core.config import ConfigError
    try:
        row, stored, differences = replay(run, sample)
    except (ConfigError, OSError) as error:
        parser.exit(2, f'spacemine-shift: error: {error}\n')
    except KeyboardInterrupt:
        parser.exit(130, f'spacemine-shift: the replay of sample {sample} was interrupted\n')
    summary = json.loads(row['summary'])
    if summary:
        print_summary(summary)
    else:
        print(f'result: {row["outcome"]} ({row["reason"]})')
    print(f'inputs: {row["inputs"]}')
    for struck in json.loads(row['struck']):
        print(f'fault at {struck["at"]:g} s: {struck["kind"]} {struck["what"]}: '
              f'{struck["outcome"]}')
    violations = json.loads(row['violations'])
    for violation in violations:
        print(f'VIOLATION at {violation["at"]} s: {violation["invariant"]}: '
              f'{violation["detail"]}')
    if stored is None:
        print(f'sample {sample} has no row in {run} yet: nothing to compare')
    elif differences:
        print(f'differs from its row in {run}:')
        for line in differences:
            print(f'  {line}')
    else:
        print(f'the same figures, outcome and violations as its row in {run}')
    if args.summary_file and summary:
        write_summary(args.summary_file, summary)
    return 0 if row['outcome'] == 'completed' and not violations else 1


def replay_on_graph(parser, args, run, sample):
    """Replay a campaign sample on the node graph, recorded; return the exit status.

    Its inputs (body, site, rig, plan, parameters, a bodies file with its regolith) and
    its faults (graph_faults) as the campaign drew them; the recording and its report in
    the data directory (default RUN/replay-SAMPLE). Its figures are compared with the
    sample's headless row within the bounds the graph and the headless engine agree
    (campaign.GRAPH_BOUNDS). 0 when it completed with no invariant violated, 1 otherwise,
    2 when it cannot be replayed.
    """
    from spacemine_ros.campaign import graph_differences, graph_overrides, sample_of
    from spacemine_ros.core.config import ConfigError
    try:
        _, values, faults, inputs, stored = sample_of(run, sample)
        rig = load_rig_interface(bringup.rig_file_path(inputs.rig))
        args.data_dir = args.data_dir or os.path.join(os.path.abspath(run), f'replay-{sample}')
        args.body, args.site, args.rig = inputs.body, inputs.site, inputs.rig
        args.anchor_type, args.plan, args.record = inputs.anchor_type, inputs.plan, True
        sample_overrides = graph_overrides(inputs, rig, args.data_dir)
        check_before_start(bringup.graph(args.backend, args.body, anchor_type=args.anchor_type,
                                         rig=args.rig, site=args.site),
                           args.params_file or bringup.default_params_file(),
                           merged_overrides(shift_overrides(args, rig), sample_overrides),
                           args.body, args.site)
    except (ConfigError, OSError, ValueError) as error:
        parser.exit(2, f'spacemine-shift: error: {error}\n')
    if args.summary_file and os.path.exists(args.summary_file):
        os.remove(args.summary_file)
    announce_domain('spacemine-shift')
    with StopSignals() as stop:
        try:
            result, figures = run_shift(args, stop, faults, sample_overrides)
        except ValueError as error:  # a node refused its parameters or configuration
            parser.exit(2, f'spacemine-shift: error: {error}\n')
    print_summary(figures)
    print(f'inputs: {json.dumps(values, sort_keys=True)}')
    for struck in figures.get('struck', []):
        print(f'fault at {struck["at"]:g} s: {struck["kind"]} {struck["what"]}: '
              f'{struck["outcome"]}')
    for violation in figures.get('violations', []):
        print(f'VIOLATION at {violation["at"]} s: {violation["invariant"]}: '
              f'{violation["detail"]}')
    for key, what in (('recording', 'recording'), ('report', 'report')):
        if figures.get(key):
            print(f'{what}: {figures[key]}')
    if result != 'interrupted':
        if stored is None:
            print(f'sample {sample} has no row in {run} yet: nothing to compare')
        else:
            differences = graph_differences(figures, stored)
            figures['differences'] = differences
            if differences:
                print(f'differs from its headless row in {run}:')
                for line in differences:
                    print(f'  {line}')
            else:
                print(f'within the graph bounds of its headless row in {run}')
    if args.summary_file:
        write_summary(args.summary_file, figures)
    return 0 if result == 'completed' and not figures.get('violations') else 1


if __name__ == '__main__':
    sys.exit(main())
