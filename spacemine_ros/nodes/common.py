"""Helpers every node uses: parameter declaration, QoS, diagnostics, stamps and main()."""

import ctypes
import dataclasses
import math
import os
import signal
import sys
import threading
import time

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import (
    FloatingPointRange, IntegerRange, ParameterDescriptor, SetParametersResult)
import rclpy
from rclpy.clock import Clock, ClockType
from rclpy.duration import Duration
from rclpy.exceptions import ParameterException
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
import rclpy.logging
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.signals import SignalHandlerOptions
from spacemine_interfaces import msg as interfaces
from spacemine_interfaces.msg import ControllerState, PowerShares
from std_msgs.msg import Bool, Float64
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from spacemine_ros import bringup, data_lock
from spacemine_ros.core.config import ConfigError
from spacemine_ros.core.control import states
from spacemine_ros.core.control.adapters import Periods
from spacemine_ros.core.control.ticks import Pacer
from spacemine_ros.core.rig_interface import load_rig_interface
from spacemine_ros.params_files import (
    describe_type_error, load_params_file, params_files_in, problems_for_node)
from spacemine_ros.core.memory import NodeMemory
from spacemine_ros.paths import default_data_dir, share_path

# Sensor streams: keep-last, small depth; reliable, because lockstep controllers must see
# every period. Commands: reliable. State that late joiners need: transient local.
# Deep enough that a reader in another process (a recorder) that falls behind the
# lockstep by up to this many instants still gets every message.
SENSOR_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=100,
                        reliability=ReliabilityPolicy.RELIABLE)
COMMAND_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10,
                         reliability=ReliabilityPolicy.RELIABLE)
STATE_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                       reliability=ReliabilityPolicy.RELIABLE,
                       durability=DurabilityPolicy.TRANSIENT_LOCAL)

LEVELS = {'OK': DiagnosticStatus.OK, 'WARN': DiagnosticStatus.WARN,
          'ERROR': DiagnosticStatus.ERROR, 'STALE': DiagnosticStatus.STALE}

SITE_DESCRIPTION = ('Work site as LAT,LON in degrees, planetocentric (empty: the body '
                    "preset's)")
# The supervisor's answers in the lockstep simulation (sensor_msgs/TimeReference: the
# period answered and the next time it needs the world to stop).
LOCKSTEP_TOPIC = 'supervisor/lockstep'
# s a command holds off the lockstep simulation (real time: its next one comes within a
# control period, and a late one must not stop a drive).
REALTIME_WINDOW = 0.5


def declare(node, name, default, description, low=None, high=None, read_only=False):
    """Declare a parameter with a descriptor; numeric bounds become an enforced range."""
    descriptor = ParameterDescriptor(description=description, read_only=read_only)
    if isinstance(default, bool):
        pass
    elif isinstance(default, int) and low is not None:
        descriptor.integer_range = [IntegerRange(from_value=int(low), to_value=int(high), step=1)]
    elif isinstance(default, float) and low is not None:
        descriptor.floating_point_range = [
            FloatingPointRange(from_value=float(low), to_value=float(high), step=0.0)]
    return node.declare_parameter(name, default, descriptor).value


def declare_tunables(node, tunables, defaults):
    """Declare one parameter per {name: (description, low, high)}, defaulting from defaults."""
    return {name: declare(node, name, getattr(defaults, name), description, low, high)
            for name, (description, low, high) in tunables.items()}


def changed_params(params, parameters, tunables):
    """Return params with the tunables among parameters changed, validated.

    ValueError (with the reason) if the changed params do not validate; params itself is
    never touched, so a refused set leaves the node as it was.
    """
    changes = {p.name: p.value for p in parameters if p.name in tunables}
    return dataclasses.replace(params, **changes).validate() if changes else params


def config_file(node, parameter, filename, description):
    """Declare a read-only file parameter; return its value or the installed config file."""
    path = declare(node, parameter, '', f'{description} (empty: installed config/{filename})',
                   read_only=True)
    return path or share_path('config', filename)


@dataclasses.dataclass(frozen=True)
class RigRecord:
    """Where a rig keeps what must survive a restart, and whether this start takes it up."""

    data_dir: str
    session: str  # this start of the rig (bringup's session): a respawn keeps it
    resume: bool  # take up what is stored whatever start wrote it

    def memory(self, name):
        """Return the NodeMemory of a node in this record."""
        return NodeMemory(self.data_dir, name, self.session, self.resume)


def rig_record(node):
    """Declare `data_dir`, `session` and `resume` (read-only); return the RigRecord.

    The node takes its name's lock on the data directory (spacemine_ros.data_lock):
    ConfigError, and no start, while another rig's node of that name holds it.
    """
    data_dir = declare(node, 'data_dir', '', "The rig's data directory (empty: "
                       '$SPACEMINE_DATA_DIR or ~/.local/share/spacemine_ros/<namespace>)',
                       read_only=True)
    session = declare(node, 'session', '', 'Which start of the rig this is (the launch sets '
                      'it): a node that finds its own session in the record was respawned '
                      'and takes up what it stored', read_only=True)
    resume = declare(node, 'resume', False, 'Take up what the data directory holds (the '
                     'shift, the world, what each node remembers) whatever start wrote it',
                     read_only=True)
    record = RigRecord(data_dir or default_data_dir(node.get_namespace()), session, resume)
    try:
        data_lock.hold(record.data_dir, node.get_name(), session)
    except (data_lock.DataDirInUse, OSError) as error:
        raise ConfigError(f'{node.get_name()}: {error}') from None
    node.held_record = (record.data_dir, node.get_name())
    return record


def release_record(node):
    """Give up the node's lock on its data directory (its destroy_node calls this)."""
    held = getattr(node, 'held_record', None)
    if held is not None:
        data_lock.release(*held)
        node.held_record = None


def rig_files(node):
    """Declare `rig` and `rig_description`; return (rig file's interface, devices file path).

    The devices file defaults to the one the rig file names (its `hardware` key), so a
    rig is chosen with one parameter. ConfigError if the rig file is bad.
    """
    rig_file = config_file(node, 'rig', 'rigs/default.yaml',
                           'Rig file: subsystems, joints and their interfaces')
    rig = load_rig_interface(rig_file)
    devices = declare(node, 'rig_description', '', "The rig's field-bus devices YAML "
                      '(empty: the one the rig file names)', read_only=True)
    return rig, devices or rig.hardware or share_path('config', 'rig_hardware.yaml')


def rig_subsystem(node, kind):
    """Declare `rig` and `subsystem`; return (the rig file's interface, the node's subsystem).

    The subsystem is the rig file's entry whose controller is this node's name unless
    the parameter names another. ConfigError (the node does not start) if the rig file
    is bad or has no such subsystem of this kind.
    """
    rig_file = config_file(node, 'rig', 'rigs/default.yaml',
                           'Rig file: subsystems, joints and their interfaces')
    rig = load_rig_interface(rig_file)
    name = declare(node, 'subsystem', '', 'Subsystem of the rig file this node controls '
                   "(empty: the one whose controller is this node's name)", read_only=True)
    try:
        spec = rig.subsystems[name] if name else rig.by_controller(node.get_name())
    except KeyError as error:
        raise ConfigError(f'{rig_file}: {error.args[0]}') from None
    if spec.kind != kind:
        raise ConfigError(f'{rig_file}: subsystem {spec.name} is a {spec.kind}, not a {kind}')
    return rig, spec


def controller_state(name, reason=''):
    """Return the ControllerState message of a state by its name (value UNKNOWN if none)."""
    return ControllerState(value=getattr(ControllerState, name, ControllerState.UNKNOWN),
                           label=name, reason=reason)


def log_outcome(node, success, text):
    """Log a request's outcome: info if it succeeded, warning if it was refused.

    Two call sites, not one with a chosen severity: rclpy refuses a call site that
    changes severity between calls (ValueError), which would crash a service callback.
    """
    if success:
        node.get_logger().info(text)
    else:
        node.get_logger().warning(text)


class AnchoringView:
    """What the anchoring controller publishes, as a tool needs it.

    The anchors' state, the tools' force budget and this tool's allowance from it come
    in; the tool's request and its load on the anchors go out (the force budget, which
    the anchoring controller owns: no tool reads another). A tool that is not in the
    rig's budget (tool None) only follows the state.
    """

    def __init__(self, node, rig=None, tool=None):
        self.node = node
        self.state = 'UNKNOWN'
        self.safe_capacity = 0.0  # N
        self.budget = 0.0  # N all tools together may put on the anchors
        self.allowance = 0.0  # N this tool may put on them
        anchoring = rig.anchoring_controller if rig is not None else 'anchoring'
        node.create_subscription(ControllerState, f'{anchoring}/state', self._on_state,
                                 STATE_QOS)
        node.create_subscription(interfaces.AnchoringStatus, f'{anchoring}/status',
                                 self._on_status, STATE_QOS)
        self.request_pub = self.load_pub = None
        self.requested = None
        self.load_sent = None
        if tool is not None:
            topics = rig.budget_topics(tool)
            node.create_subscription(Float64, topics['allowance'], self._on_allowance,
                                     STATE_QOS)
            self.request_pub = node.create_publisher(Float64, topics['request'], STATE_QOS)
            self.load_pub = node.create_publisher(Float64, topics['load'], STATE_QOS)

    @property
    def anchored(self):
        """True while the anchoring controller reports the rig anchored."""
        return self.state == states.ANCHORED

    def request(self, force):
        """Ask for a force [N] (0 when idle); sent when it changes."""
        if self.request_pub is not None and force != self.requested:
            self.requested = force
            self.request_pub.publish(Float64(data=float(force)))

    def report_load(self, force, resolution=1.0):
        """Report the tool's load on the anchors [N] when it has changed by resolution."""
        if self.load_pub is None:
            return
        if self.load_sent is None or abs(force - self.load_sent) >= resolution or (
                force == 0.0 and self.load_sent != 0.0):
            self.load_sent = force
            self.load_pub.publish(Float64(data=float(force)))

    @staticmethod
    def _finite_or_zero(value):
        # An unreadable figure grants nothing.
        return value if math.isfinite(value) and value > 0.0 else 0.0

    def _on_state(self, message):
        self.state = message.label

    def _on_status(self, message):
        self.safe_capacity = self._finite_or_zero(message.safe_capacity)
        self.budget = self._finite_or_zero(message.tool_budget)

    def _on_allowance(self, message):
        self.allowance = self._finite_or_zero(message.data)


def reject_non_finite(parameters):
    """Return a failed result if any float parameter is NaN or infinite, else None.

    rclpy's range check lets NaN through (every comparison with NaN is false).
    """
    for parameter in parameters:
        if parameter.type_ == Parameter.Type.DOUBLE and not math.isfinite(parameter.value):
            return SetParametersResult(
                successful=False, reason=f'{parameter.name} must be finite, got {parameter.value}')
    return None


def stamp_to_seconds(stamp):
    """Seconds of a builtin_interfaces/Time (or Duration)."""
    return stamp.sec + stamp.nanosec * 1e-9


def command_message(spec, decoded, stamp, valid_for):
    """Return a subsystem's command as a trajectory_msgs/JointTrajectory of one point.

    decoded: {joint: {field: value}} (core.control.adapters), encoded by the rig file's
    codec; stamp: the period it answers; valid_for [s]: how long it holds (the point's
    time_from_start): with nothing newer by then the backend stops the drives.
    """
    names, position, velocity, effort = spec.encode(decoded)
    point = JointTrajectoryPoint(positions=position, velocities=velocity, effort=effort)
    seconds_to_stamp(valid_for, point.time_from_start)
    message = JointTrajectory(joint_names=names, points=[point])
    message.header.stamp = stamp
    return message


def command_arrays(message):
    """Return (names, position, velocity, effort, valid_for [s]) of a command message.

    ValueError unless it holds exactly one point (what the rig's drives take).
    """
    if len(message.points) != 1:
        raise ValueError(f'a command holds one trajectory point, not {len(message.points)}')
    point = message.points[0]
    return (message.joint_names, point.positions, point.velocities, point.effort,
            stamp_to_seconds(point.time_from_start))


def declare_frame_prefix(node):
    """Declare the node's read-only `frame_prefix` ('rig1/' in namespace rig1); return it."""
    return declare(node, 'frame_prefix', '', "Prefix of the rig's TF frames (REP-105 "
                   "names: the rig's namespace and '/', e.g. rig1/odom, so rigs sharing /tf "
                   "keep their frames apart; '' with no namespace)", read_only=True)


def ledger_totals(message):
    """Return {account: kg, 'excavated': kg, 'balance': kg} of a spacemine_interfaces/Ledger."""
    totals = dict(zip(message.accounts, message.masses))
    totals['excavated'], totals['balance'] = message.excavated, message.balance
    return totals


def seconds_to_stamp(seconds, stamp):
    """Fill a builtin_interfaces/Time from seconds (rounded to the nanosecond)."""
    total = int(round(seconds * 1e9))
    stamp.sec, stamp.nanosec = divmod(total, 1_000_000_000)
    return stamp


class Diagnostics:
    """Publishes one DiagnosticStatus for a node on /diagnostics once a wall second."""

    def __init__(self, node, status_callback, period=1.0):
        self.node = node
        self.status_callback = status_callback
        self.publisher = node.create_publisher(DiagnosticArray, '/diagnostics', 10)
        # Wall clock: diagnostics must keep coming even if simulated time stops.
        self.timer = node.create_timer(period, self.publish, clock=Clock(
            clock_type=ClockType.STEADY_TIME))

    def publish(self):
        """Publish the node's current status."""
        level, message, values = self.status_callback()
        status = DiagnosticStatus(
            level=LEVELS[level], name=self.node.get_fully_qualified_name(),
            message=message, hardware_id=self.node.get_name(),
            values=[KeyValue(key=str(k), value=str(v)) for k, v in values.items()])
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.node.get_clock().now().to_msg()
        self.publisher.publish(array)


class InputWatch:
    """When each input a controller acts on last came, and the fault when one stops.

    Controllers tick on their inputs: with none arriving they would wait forever. A
    steady-clock timer checks every half second; an input not seen for `input_timeout`
    wall seconds (or never, that long after start) is stale: on_stale(reason) is called
    (the node faults an active sequence) and problems() feeds the diagnostics.
    """

    def __init__(self, node, inputs, on_stale):
        self.node = node
        self.timeout = declare(node, 'input_timeout', 10.0, 'Wall time without one of its '
                               'inputs after which a controller reports it stale and '
                               'faults what it is doing [s]', 0.1, 600.0, read_only=True)
        self.seen = dict.fromkeys(inputs)
        self.start = time.monotonic()
        self.on_stale = on_stale
        node.create_timer(0.5, self._check, clock=Clock(clock_type=ClockType.STEADY_TIME))

    def saw(self, name):
        """Note that an input arrived now."""
        self.seen[name] = time.monotonic()

    def problems(self, now=None):
        """Return one line per stale input ('' if none)."""
        now = time.monotonic() if now is None else now
        lines = []
        for name, when in self.seen.items():
            if when is None and now - self.start > self.timeout:
                lines.append(f'no {name} received in {now - self.start:.0f} s')
            elif when is not None and now - when > self.timeout:
                lines.append(f'no {name} for {now - when:.1f} s')
        return '; '.join(lines)

    def missing(self):
        """Return the inputs never received yet, for a refusal ('' if all came)."""
        names = [name for name, when in self.seen.items() if when is None]
        return f'no {", ".join(names)} received yet' if names else ''

    def _check(self):
        problems = self.problems()
        if problems:
            self.on_stale(problems)


class Telemetry:
    """A controller's figures, each a std_msgs/Float64 on ~/<name>, for operators and logs.

    Sent at most once per period of the node's clock (simulated time in the simulation)
    and only the figures that changed: telemetry must not cost the control loop, and a
    figure that stays put (a smelter with no batch) is not resent.
    """

    def __init__(self, node, names, period):
        self.publishers = {name: node.create_publisher(Float64, f'~/{name}', 10)
                           for name in names}
        self.pacer = Pacer(period)
        self.sent = {}

    def publish(self, time, values, force=False):
        """Send the values (name: number) that changed, if due; return whether it was.

        force: send now whatever the period (the figures at a change of state, e.g. the
        depth a drill stopped at, must not wait for the next period or be skipped).
        """
        if not self.pacer.take(time, force):
            return False
        for name, value in values.items():
            value = float(value)
            if self.sent.get(name) != value:
                self.sent[name] = value
                self.publishers[name].publish(Float64(data=value))
        return True


class ControllerNode(Node):
    """What every controller node shares; the subclass is the glue to its core controller.

    - Tunables: parameters mirroring a params dataclass, with descriptors and ranges. A
      set is checked whole in the on-set callback (settings_from(), which must not change
      anything) and applied in the post-set callback (use_settings()), so a set is all or
      nothing and the node always uses what its parameters say.
    - The latched ~/state (spacemine_interfaces/ControllerState: the state's constant, its
      label and reason), logged with its reason on every change.
    - Diagnostics once a wall second, the stale-input watch and the repeated-period check.
    - Telemetry at a bounded rate (telemetry_period) and stop_actuators() for safe stops.
    - Its power budgets from the supervisor's shares (`power/shares`, latched), set as
      its own parameters.
    - The rig-wide e-stop (`estop`, std_msgs/Bool, latched): when it latches, what is
      under way faults (input_lost) and the actuators get their stop command; nothing
      starts again until it is released (starts are refused with the reason).
    - Its pace in the lockstep simulation (use_sim_time): it acts on a period only when
      due (due()), a period of its pace after the one it last answered, and each command
      (send(): trajectory_msgs/JointTrajectory on its subsystem's command topic) holds
      until then, which tells the world when it is next due. A request that changes its
      state (a service call) sends the command again with the new pace's window at once
      (wake()), so the world stops in time for it. Off the simulation it acts on every
      reading and a command holds REALTIME_WINDOW.

    A subclass implements condition() -> (state, reason, level), status_values(),
    input_lost(reason) -> bool, stop_actuators(), pace() and settings_from()/use_settings()
    if it has parameters that change at run time; it calls commands_on(spec) and, at the end
    of __init__, ready().
    """

    def __init__(self, name, **kwargs):
        super().__init__(name, **kwargs)
        self.telemetry_period = declare(
            self, 'telemetry_period', 0.5, 'Least time between two sends of the ~/ figures, '
            'on the node clock [s] (0: every control period)', 0.0, 60.0, read_only=True)
        self.inputs = None
        self.published_state = None
        self.last_stamp = None
        self.estop_latched = False
        self.record = rig_record(self)
        # What the controller cannot read back from the rig after a restart of its own.
        self.memory = self.record.memory(self.get_name())
        defaults = Periods()
        self.periods = Periods(*(declare(
            self, f'period_{pace}', getattr(defaults, pace), f'Lockstep: how often the '
            f'controller acts while {what} [s]', 0.001, 60.0, read_only=True)
            for pace, what in (('moving', 'a drive of it moves'),
                               ('working', 'a process of it works'),
                               ('idle', 'nothing is under way'))))
        try:
            self.periods.validate()
        except ValueError as error:
            raise ValueError(f'{self.get_name()}: {error}') from None
        self.lockstep = bool(self.get_parameter('use_sim_time').value)
        self.spec = None
        self.command_pub = None
        self.next_tick = -math.inf  # rig time this controller is next due in lockstep
        self.seen = None  # the stamp of the latest period it received
        self.sent = None  # the last command it sent ({joint: {field: value}})
        self.actions = []  # its jobs' ToolActions (nodes.actions), followed on each state

    # Commands and pace ------------------------------------------------------------------------
    def commands_on(self, spec):
        """Publish this controller's commands for a subsystem of the rig file."""
        self.spec = spec
        self.command_pub = self.create_publisher(JointTrajectory, spec.command_topic,
                                                 COMMAND_QOS)

    def pace(self):
        """Return the Pace its controller needs in its state now (core.control.adapters)."""
        raise NotImplementedError

    def window(self, stamp):
        """Return how long a command for the period at stamp holds [s].

        In lockstep, to the next tick of its pace (core.control.adapters.Periods).
        """
        if not self.lockstep:
            return max(self.periods.of(self.pace()), REALTIME_WINDOW)
        return self.periods.until_next(self.pace(), stamp_to_seconds(stamp))

    def due(self, stamp):
        """Return whether to act on the period stamped `stamp` (a builtin_interfaces/Time).

        Call it once per new period (after new_period()): it also notes what it saw.
        """
        self.seen = stamp
        return not self.lockstep or stamp_to_seconds(stamp) >= self.next_tick - 1e-9

    def send(self, stamp, command):
        """Publish a command ({joint: {field: value}}) for the period stamped `stamp`."""
        window = self.window(stamp)
        self.command_pub.publish(command_message(self.spec, command, stamp, window))
        self.sent = command
        self.next_tick = stamp_to_seconds(stamp) + window

    def wake(self):
        """Send the last command again with the window of the pace it needs now.

        After a request that changed what it does: the lockstep world learns at once
        when it is due (a drill told to start needs the next control period, not the end
        of its idle one).
        """
        if self.lockstep and self.sent is not None and self.seen is not None:
            self.send(self.seen, self.sent)

    # Parameters -----------------------------------------------------------------------------
    def declare_params(self, defaults, tunables):
        """Declare tunables {name: (description, low, high)} from defaults; return the params.

        ValueError naming the node if the values given do not validate (it does not start).
        """
        values = declare_tunables(self, tunables, defaults)
        try:
            return dataclasses.replace(defaults, **values).validate()
        except ValueError as error:
            raise ValueError(f'{self.get_name()} parameters: {error}') from None

    def settings_from(self, parameters):
        """Return the settings the parameters would give (ValueError: refused); no effect."""
        return None

    def use_settings(self, settings):
        """Start using settings that settings_from() returned."""

    def _check_parameters(self, parameters):
        failed = reject_non_finite(parameters)
        if failed:
            return failed
        try:
            self.settings_from(parameters)
        except ValueError as error:
            return SetParametersResult(successful=False, reason=str(error))
        return SetParametersResult(successful=True)

    def _apply_parameters(self, parameters):
        self.use_settings(self.settings_from(parameters))  # checked: it does not raise

    # State, inputs, diagnostics ---------------------------------------------------------------
    def ready(self, inputs=()):
        """Finish construction: watch the inputs and parameters, publish the first state."""
        self.state_pub = self.create_publisher(ControllerState, '~/state', STATE_QOS)
        self.diagnostics = Diagnostics(self, self._diagnose)
        self.inputs = InputWatch(self, list(inputs), self._on_stale_input)
        self.add_on_set_parameters_callback(self._check_parameters)
        self.add_post_set_parameters_callback(self._apply_parameters)
        self.create_subscription(Bool, 'estop', self._on_estop, STATE_QOS)
        self.create_subscription(PowerShares, 'power/shares', self._on_power_shares, STATE_QOS)
        self.publish_state()

    def _on_power_shares(self, message):
        """Take this controller's entries of the supervisor's power shares as its budgets.

        Set as its own parameters, so they are checked like any set and the parameters
        keep saying what it uses; a share it cannot take is logged with the reason.
        """
        values = {}
        for share in message.shares:
            if share.controller != self.get_name():
                continue
            if not self.has_parameter(share.budget):
                self.get_logger().error(f'power share for {share.budget}: no such budget')
            elif not (math.isfinite(share.power) and share.power >= 0.0):
                self.get_logger().error(f'power share {share.budget} = {share.power}: not a '
                                        'power')
            elif self.get_parameter(share.budget).value != share.power:
                values[share.budget] = float(share.power)
        if not values:
            return
        result = self.set_parameters_atomically(
            [Parameter(name, value=value) for name, value in values.items()])
        if not result.successful:
            self.get_logger().error(f'power shares refused: {result.reason}')

    def condition(self):
        """Return (state, reason, diagnostic level) of the controller now.

        By default that of self.controller's state and reason: ERROR in FAULT, else OK.
        """
        controller = self.controller
        state = controller.state.value
        return state, controller.reason, 'ERROR' if state == states.FAULT else 'OK'

    def status_values(self):
        """Figures for the diagnostics (name: value)."""
        return {}

    def input_lost(self, reason):
        """Fault what is under way, an input having gone stale; return whether it faulted.

        By default self.controller's input_lost(reason) decides.
        """
        return self.controller.input_lost(reason)

    def state_changes(self):
        """Return whether publish_state() would publish a new state now."""
        return self.condition()[0] != self.published_state

    def serve(self, action):
        """Follow a ToolAction's goals with this node's state (publish_state())."""
        self.actions.append(action)
        return action

    def action_changed(self):
        """Publish the state and tell the lockstep world: a goal started or was canceled."""
        self.publish_state()
        self.wake()  # the world learns at once when this tool is due

    def feedback_pace(self):
        """Feedback on each state change, else once per telemetry_period (ToolAction)."""
        time = None if self.seen is None else stamp_to_seconds(self.seen)
        return time, self.condition()[0], self.telemetry_period

    def publish_state(self):
        """Publish ~/state (latched) and log it with its reason if it changed.

        The goals under way hear of it too (feedback, or their result).
        """
        for action in self.actions:
            action.update()
        state, reason, level = self.condition()
        if state == self.published_state:
            return
        self.published_state = state
        self.state_pub.publish(controller_state(state, reason))
        text = f'state {state}' + (f': {reason}' if reason else '')
        if level == 'ERROR':
            self.get_logger().error(text)
        else:
            self.get_logger().info(text)

    def new_period(self, stamp):
        """Return True once per control period (a repeated period's stamp is ignored)."""
        if self.last_stamp is not None and stamp <= self.last_stamp:
            return False
        self.last_stamp = stamp
        return True

    def refused_before_inputs(self):
        """Return why a start must wait ('' if none): e-stop latched, inputs never heard."""
        if self.estop_latched:
            return 'e-stop latched: nothing starts until it is reset'
        return self.inputs.missing() if self.inputs is not None else ''

    def _on_estop(self, message):
        latched = bool(message.data)
        if latched == self.estop_latched:
            return
        self.estop_latched = latched
        if not latched:
            self.get_logger().warning('e-stop released: start again when commanded')
            return
        self.input_lost('e-stop latched')
        self.get_logger().error('e-stop latched: stopped')
        self.stop_actuators()
        self.publish_state()

    def lose_inputs(self, seconds, reason):
        """Take no reading for `seconds` of this node's clock (its sensors struck dumb).

        What is under way faults at once, as when the input watch finds them stale, and
        the actuators get their stop command. (A replayed campaign sample's sensor fault.)
        """
        readings = getattr(self, 'readings', None)
        if readings is None:
            raise ValueError(f'{self.get_name()} takes no readings to lose')
        readings.blind_for(seconds)
        self._on_stale_input(reason)
        self.stop_actuators()

    def _on_stale_input(self, reason):
        if self.input_lost(reason):
            self.get_logger().error(f'input lost: {reason}')
            self.publish_state()

    def _diagnose(self):
        state, reason, level = self.condition()
        values = {'state': state, **self.status_values()}
        if level == 'ERROR':
            return 'ERROR', reason, values
        stale = self.inputs.problems() if self.inputs is not None else ''
        if stale:
            return 'ERROR', stale, values
        return level, reason or state, values

    def respond(self, response, result, action):
        """Fill a Trigger response from (success, message), log it, publish the state.

        The command goes out again with its new pace (wake()) before the answer does.
        """
        response.success, response.message = result
        log_outcome(self, response.success, f'{action}: {response.message}')
        self.publish_state()
        self.wake()
        return response

    def stop_actuators(self):
        """Leave the node's actuators safe (on shutdown)."""
        raise NotImplementedError

    def destroy_node(self):
        """End the goals under way first: their clients hear the node went."""
        for action in self.actions:
            action.end(f'{self.get_name()} shut down')
        release_record(self)
        super().destroy_node()


ACK_WAIT = 3.0  # s all the stop commands together may take to reach their subscribers


def shutdown_nodes(nodes):
    """Leave every node's actuators stopped, destroy the nodes and shut rclpy down.

    In reverse start order, so drivers make their devices safe while the backend they
    talk to (e.g. the HIL emulators in rig_sim) is still there. The stop commands are
    sent over a live context (StopSignals keeps it alive after SIGINT/SIGTERM) and their
    delivery awaited (bounded), so they are not lost with the publisher.
    """
    for node in reversed(nodes):
        stop = getattr(node, 'stop_actuators', None)
        if stop is not None and rclpy.ok():
            try:
                stop()
            except Exception as error:  # noqa: B902 - the other nodes still get stopped
                node.get_logger().error(f'stopping the actuators failed: {error}')
    if rclpy.ok():
        # One bound for all (a reader whose process is stopping too never acknowledges,
        # and a wait per publisher added up past the launcher's grace), the command
        # topics' first: they carry the stops.
        deadline = time.monotonic() + ACK_WAIT
        publishers = [p for node in nodes for p in node.publishers]
        commands = {id(getattr(node, 'command_pub', None)) for node in nodes}
        publishers.sort(key=lambda p: id(p) not in commands)
        for publisher in publishers:
            left = deadline - time.monotonic()
            if left <= 0.0:
                break
            try:
                publisher.wait_for_all_acked(Duration(seconds=left))
            except Exception:  # noqa: B902 - best effort: a best-effort QoS publisher
                pass
    for node in reversed(nodes):
        node.destroy_node()
    rclpy.try_shutdown()


def make_executor():
    """Return the fastest single-threaded executor this rclpy has.

    rclpy's EventsExecutor (rclpy.experimental, in Jazzy's 7.1 and Kilted's 9.1 alike)
    dispatches from C++ instead of rebuilding the wait set in Python for every callback;
    with a whole rig in one process that makes the lockstep simulation about 2.5 times
    faster. An rclpy without it gets the SingleThreadedExecutor. Use it for one rclpy
    life per process (the launcher, the shift): across repeated init/shutdown in one
    process it is not reliable.
    Drive it with spin_until_stopped(): its spin() busy-loops without ever running a
    timer (rclpy 9.1.2), while spin_once() with a timeout works.
    """
    try:
        from rclpy.experimental import EventsExecutor
    except ImportError:
        from rclpy.executors import SingleThreadedExecutor
        return SingleThreadedExecutor()
    return EventsExecutor()


class StopSignals:
    """SIGINT and SIGTERM ask the process to stop instead of tearing ROS down.

    rclpy's own handler shuts the context down at once, so a node could no longer publish
    its zero commands or wait for its drives to confirm a stop. With this (and rclpy
    initialised with init_ros()) a signal only sets `requested`; the spin loop returns and
    the process makes everything safe over a live context, then shuts down.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.requested = threading.Event()
        self.signal_name = ''
        self._previous = {}

    def _on_signal(self, number, frame):
        self.signal_name = signal.Signals(number).name
        self.requested.set()

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = {s: signal.signal(s, self._on_signal) for s in self.SIGNALS}
        return self

    def __exit__(self, *exc):
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        self._previous = {}
        return False


def init_ros(args=None):
    """rclpy.init without rclpy's signal handlers (StopSignals handles SIGINT/SIGTERM)."""
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)


def spin_until_stopped(executor, stop, step=0.1):
    """Spin until a stop is requested (StopSignals) or the context is shut down."""
    while not stop.requested.is_set() and rclpy.ok():
        try:
            executor.spin_once(timeout_sec=step)
        except ExternalShutdownException:
            return


PR_SET_PDEATHSIG = 1  # prctl(2)


def stop_with_parent():
    """Have this process get SIGTERM when the process that launched it dies (Linux).

    Only where the launcher asked for it (STOP_WITH_PARENT in the environment, its process
    id: the launch file and spacemine-rig --processes set it). ros2 launch itself exits on
    SIGTERM without stopping what it started ("using SIGTERM can result in orphaned
    processes"), and a launcher can be killed outright: a node left behind would go on
    running the rig with nobody to stop it. With this it makes its actuators safe and
    exits (StopSignals).
    Returns whether it is armed.
    """
    launcher = os.environ.get(bringup.STOP_WITH_PARENT, '')
    if not launcher.isdigit() or not sys.platform.startswith('linux'):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        rclpy.logging.get_logger('spacemine_ros').warning(
            f'cannot stop with the launcher: prctl failed ({os.strerror(ctypes.get_errno())})')
        return False
    if os.getppid() != int(launcher):  # it died before the request was in: stop now
        os.kill(os.getpid(), signal.SIGTERM)
    return True


def spin_node(node_class, args=None, executor=SingleThreadedExecutor):
    """Run one node until SIGINT/SIGTERM, leaving its actuators stopped on the way out.

    executor: makes the executor, once rclpy is initialised.

    Returns the process's exit code: 0 after a stop, 1 if the node could not start (its
    parameters or configuration refused, in one line on the log; ros2 launch and
    spacemine-rig then take the rest of the rig down).
    """
    with StopSignals() as stop:
        stop_with_parent()
        init_ros(args)
        node = None
        try:
            node = node_class()
            problems = check_params_files(node, args if args is not None else sys.argv)
            if problems:
                for problem in problems:
                    node.get_logger().fatal(problem)
                return 1
            spinner = executor()
            spinner.add_node(node)
            spin_until_stopped(spinner, stop)
        except (ValueError, ConfigError, ParameterException) as error:
            name = node_class.__name__ if node is None else node.get_name()
            rclpy.logging.get_logger(name).fatal(
                f'cannot start: {describe_type_error(str(error))}')
            return 1
        finally:
            shutdown_nodes([node] if node is not None else [])
    return 0


def check_params_files(node, argv):
    """Return problems of the params files on a node's command line (params_files)."""
    files = [(path, load_params_file(path)) for path in params_files_in(list(argv))]
    declared = set(node.list_parameters([], 0).names)
    return problems_for_node(files, node.get_fully_qualified_name(), declared,
                             lambda name: node.get_parameter(name).value)
