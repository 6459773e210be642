"""Helpers every node uses: parameter declaration, QoS, diagnostics, stamps and main()."""

import dataclasses
import math
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
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.signals import SignalHandlerOptions
from std_msgs.msg import Float64, String

from spacemine_ros.core.config import ConfigError
from spacemine_ros.params_files import (
    describe_type_error, load_params_file, params_files_in, problems_for_node)
from spacemine_ros.paths import share_path

# Sensor streams: keep-last, small depth; reliable, because lockstep controllers must see
# every period. Commands: reliable. State that late joiners need: transient local.
SENSOR_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10,
                        reliability=ReliabilityPolicy.RELIABLE)
COMMAND_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10,
                         reliability=ReliabilityPolicy.RELIABLE)
STATE_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                       reliability=ReliabilityPolicy.RELIABLE,
                       durability=DurabilityPolicy.TRANSIENT_LOCAL)

LEVELS = {'OK': DiagnosticStatus.OK, 'WARN': DiagnosticStatus.WARN,
          'ERROR': DiagnosticStatus.ERROR, 'STALE': DiagnosticStatus.STALE}


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


def apply_tunables(params, parameters, tunables):
    """Apply parameter changes to a params dataclass with validate().

    Return (new params, None), or (the old params, a failed SetParametersResult) if the
    changed params do not validate.
    """
    changes = {p.name: p.value for p in parameters if p.name in tunables}
    if not changes:
        return params, None
    try:
        return dataclasses.replace(params, **changes).validate(), None
    except ValueError as error:
        return params, SetParametersResult(successful=False, reason=str(error))


def config_file(node, parameter, filename, description):
    """Declare a read-only file parameter; return its value or the installed config file."""
    path = declare(node, parameter, '', f'{description} (empty: installed config/{filename})',
                   read_only=True)
    return path or share_path('config', filename)


def log_outcome(node, success, text):
    """Log a request's outcome: info if it succeeded, warning if it was refused.

    Two call sites, not one with a chosen severity: rclpy refuses a call site that
    changes severity between calls (ValueError), which would crash a service callback.
    """
    if success:
        node.get_logger().info(text)
    else:
        node.get_logger().warning(text)


class AnchoringStatus:
    """What the anchoring controller publishes, as the tools need it."""

    def __init__(self, node):
        self.state = 'UNKNOWN'
        self.safe_capacity = 0.0  # N
        node.create_subscription(String, 'anchoring/state', self._on_state, STATE_QOS)
        node.create_subscription(Float64, 'anchoring/safe_capacity', self._on_capacity,
                                 STATE_QOS)

    @property
    def anchored(self):
        """True while the anchoring controller reports the rig anchored."""
        return self.state == 'ANCHORED'

    def _on_state(self, message):
        self.state = message.data

    def _on_capacity(self, message):
        self.safe_capacity = message.data if math.isfinite(message.data) else 0.0


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
    """Seconds of a builtin_interfaces/Time."""
    return stamp.sec + stamp.nanosec * 1e-9


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


ACK_WAIT = 1.0  # s a stop command may take to reach its subscribers


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
        for node in nodes:
            for publisher in list(node.publishers):
                try:
                    publisher.wait_for_all_acked(Duration(seconds=ACK_WAIT))
                except Exception:  # noqa: B902 - best effort: a best-effort QoS publisher
                    pass
    for node in reversed(nodes):
        node.destroy_node()
    rclpy.try_shutdown()


def make_executor():
    """Return the fastest single-threaded executor this rclpy has.

    rclpy's EventsExecutor (Kilted and later; still in rclpy.experimental) dispatches from
    C++ instead of rebuilding the wait set in Python for every callback; with a whole rig
    in one process that makes the lockstep simulation about 2.5 times faster. Older rclpy
    (Jazzy) gets the SingleThreadedExecutor. Use it for one rclpy life per process (the
    launcher, the shift): across repeated init/shutdown in one process it is not reliable.
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


def spin_node(node_class, args=None):
    """Run one node until SIGINT/SIGTERM, leaving its actuators stopped on the way out.

    Returns the process's exit code: 0 after a stop, 1 if the node could not start (its
    parameters or configuration refused, in one line on the log; ros2 launch and
    spacemine-rig then take the rest of the rig down).
    """
    with StopSignals() as stop:
        init_ros(args)
        node = None
        try:
            node = node_class()
            problems = check_params_files(node, args if args is not None else sys.argv)
            if problems:
                for problem in problems:
                    node.get_logger().fatal(problem)
                return 1
            executor = SingleThreadedExecutor()
            executor.add_node(node)
            spin_until_stopped(executor, stop)
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
