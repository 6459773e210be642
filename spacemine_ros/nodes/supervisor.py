"""supervisor: runs shift plans, owns the rig's mode, the e-stop's reset and the power shares.

Glue around core.mission.supervisor.Mission: it feeds the mission what the rig publishes
(controllers' states, the anchors' safe capacity, the ledger, power), sends the mission's
actions (goals to the controllers' actions, cancels, reset calls), watches every node's
diagnostics and the sensor streams it depends on (steady clock, so a stopped
simulation is noticed too), latches the rig-wide e-stop (`estop`, std_msgs/Bool,
transient local) and records everything in the mission store (SQLite, WAL).

In the lockstep simulation (use_sim_time) the supervisor is one of the world's
participants: it acts on a period of the rig's clock when due (every period_working
seconds while a plan is under way, period_idle otherwise), sends the mission's actions,
and answers the period on ~/lockstep (sensor_msgs/TimeReference: the period and when it
is next due) once their results are in, so a plan's steps follow each other at the same
simulated instants however fast the machine. Off the simulation it acts on a wall-clock
timer. Liveness is judged on the steady clock in both.

Operator commands: ~/command (spacemine_interfaces/OperatorCommand): `command`
(load_plan, start, pause, resume, abort, estop, reset), `issued_at` (on the rig's clock),
`valid_for` (seconds) and, for load_plan, `plan` (a file or a name in config/plans/),
signed with an authorised operator's key (core.mission.operators; the e-stop needs no
signature, its release does). ~/run_plan (spacemine_interfaces/RunPlan) loads and starts a
plan in one signed goal and follows it to its end. Every refusal is on /diagnostics
(<supervisor>/operator_commands) and in the mission record. ~/estop (std_srvs/Trigger)
latches the e-stop at once, ~/status and ~/preflight (Trigger) answer in one line. The
mission's mode, step and reason are on ~/status (spacemine_interfaces/MissionStatus,
latched, sent when they change).
"""

import math
import os
import sys
import time

from action_msgs.msg import GoalStatus
from action_msgs.srv import CancelGoal
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from nav_msgs.msg import Odometry
from rcl_interfaces.msg import SetParametersResult
from rclpy.action import ActionClient
from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from sensor_msgs.msg import JointState, TimeReference
from std_msgs.msg import Bool
from spacemine_interfaces.action import (
    DeployAnchors, DrainLine, DrillToDepth, ReleaseAnchors, RunPlan, Scrape, SmeltBatch)
from spacemine_interfaces import msg as interfaces
from spacemine_interfaces.srv import OperatorCommand
from std_srvs.srv import Trigger

from spacemine_ros.core.config import ConfigError
from spacemine_ros.core.control import states
from spacemine_ros.core.control.adapters import Pace, Periods
from spacemine_ros.core.models.material_config import IN_TRANSIT
from spacemine_ros.core.mission.diagnostics import RigDiagnostics
from spacemine_ros.core.mission.mission_store import MissionStore
from spacemine_ros.core.mission.operators import (
    AuthorityError, CommandGate, make_sim_operator, OPERATORS_FILE, SIM_KEY_FILE)
from spacemine_ros.core.mission.plan import check_against_rig, load_plan, plan_from, PlanError
from spacemine_ros.core.mission.power import active_consumers, PowerShares
from spacemine_ros.core.models.power import power_config_from, PowerConfig
from spacemine_ros.core.mission.streams import joint_state_problem, odometry_problem, StreamMonitor
from spacemine_ros.core.mission.supervisor import Cancel, Goal, Mission, Observation, OPERATOR
from spacemine_ros.nodes.actions import ToolAction
from spacemine_ros.nodes.common import (
    COMMAND_QOS, config_file, declare, Diagnostics, ledger_totals, release_record, rig_files,
    rig_record,
    seconds_to_stamp, SENSOR_QOS, stamp_to_seconds, STATE_QOS)
from spacemine_ros.nodes.rig_inputs import RigInputs
from spacemine_ros.core.config import load_yaml
from spacemine_ros.paths import share_path

STREAMS = {'joint_states': JointState, 'odom': Odometry}
# The controllers' actions the mission's goals go to, by name (docs/interfaces.md).
ACTIONS = {'deploy': DeployAnchors, 'release': ReleaseAnchors, 'drill_to_depth': DrillToDepth,
           'scrape': Scrape, 'drain': DrainLine, 'smelt_batch': SmeltBatch}
GOAL_STATUS = {GoalStatus.STATUS_SUCCEEDED: 'succeeded', GoalStatus.STATUS_ABORTED: 'aborted',
               GoalStatus.STATUS_CANCELED: 'canceled'}
STARTUP_GRACE = 30.0  # s (steady clock) a node may take to be heard after a start
ACTION_TIMEOUT = 30.0  # s (steady clock) a controller may take to answer a call
TICK_PERIOD = 0.1  # s (steady clock) of the supervisor's loop
TICK_STALL = 1.0  # s between two ticks that means this process itself was stalled


def mission_status(mission):
    """Return the MissionStatus message of a Mission now."""
    status = mission.status()
    return interfaces.MissionStatus(
        mode=status['mode'], plan=status['plan'], step=int(status['step']),
        steps=int(status['steps']), step_type=status['step_type'],
        step_title=status['step_title'], attempt=int(status['attempt']),
        progress=status['progress'], reason=status['reason'],
        estop_causes=sorted(mission.causes), lost=sorted(mission.lost))


def plan_path(name):
    """Return a plan file path: a path as given, or a name in config/plans/."""
    if os.sep in name or name.endswith(('.yaml', '.yml')):
        return name
    return share_path('config', 'plans', f'{name}.yaml')


class SupervisorNode(Node):
    """The mission supervisor node (see the module's docstring)."""

    def __init__(self, **kwargs):
        super().__init__('supervisor', **kwargs)
        # In the lockstep simulation its time is that of the period it acts on.
        self.lockstep = bool(self.get_parameter('use_sim_time').value)
        self.period_time = None
        self.rig, _ = rig_files(self)
        self.body = declare(self, 'body', 'bennu', 'Body the rig is on (plans written for '
                            'another are refused)', read_only=True)
        plan = declare(self, 'plan', '', 'Plan to load at start: a file or a name in '
                       "config/plans/ ('': none; load one with ~/command)", read_only=True)
        autostart = declare(self, 'autostart', False, 'Start the plan as soon as every '
                            'node is alive', read_only=True)
        self.resume_when_alive = False
        self.liveness_timeout = declare(
            self, 'liveness_timeout', 10.0, 'A node or stream silent this long (steady '
            'clock) holds the plan [s]', 1.0, 600.0)
        self.watched_nodes = list(declare(
            self, 'watched_nodes', [''], 'Nodes whose diagnostics must keep coming '
            "(names in the rig's namespace; [''] : every controller of the rig file)",
            read_only=True))
        self.watched_streams = [s for s in declare(
            self, 'watched_streams', ['joint_states'], 'Sensor streams that must keep '
            'coming (joint_states, odom)', read_only=True) if s]
        stream_rate = declare(self, 'stream_rate', 20.0, 'Rate each watched stream must '
                              "keep on the rig's clock for preflight, at least half of it [Hz]",
                              0.1, 1000.0, read_only=True)
        power_file = config_file(self, 'power_file', 'power.yaml', 'Power system YAML')
        unknown = set(self.watched_streams) - set(STREAMS)
        if unknown:
            raise ConfigError(f'supervisor: watched_streams: unknown {", ".join(unknown)}; '
                              f'known: {", ".join(STREAMS)}')
        if self.watched_nodes in ([], ['']):
            self.watched_nodes = [s.controller for s in self.rig.subsystems.values()]
        self.power_config = power_config_from(load_yaml(power_file).get('power', {}),
                                              power_file) if power_file else PowerConfig()
        self.power_shares = PowerShares(self.power_config, self.rig)

        record = rig_record(self)
        self.resume_stored, self.session, self.data_dir = (record.resume, record.session,
                                                           record.data_dir)
        self.store = MissionStore(os.path.join(self.data_dir, 'mission.sqlite'))
        operators_file = declare(
            self, 'operators_file', '', "The rig's authorised-operators file (empty: "
            f'{OPERATORS_FILE} in the data directory); re-read when it changes',
            read_only=True) or os.path.join(self.data_dir, OPERATORS_FILE)
        if declare(self, 'own_operator_key', False, 'Sim and HIL runs: with no operators '
                   f'file, make an operator key ({SIM_KEY_FILE}) in the data directory and '
                   'authorise it', read_only=True) and not os.path.exists(operators_file):
            try:
                make_sim_operator(os.path.dirname(operators_file))
            except (AuthorityError, OSError) as error:
                raise ConfigError(f'supervisor: cannot make the sim operator: {error}') \
                    from None
        self.gate = CommandGate(self.get_namespace(), operators_file, self.store.claim_nonce)
        _, problem = self.gate.operators()
        if problem:  # every command but the e-stop is refused until there is one
            self.get_logger().warning(f'no authorised operators: {problem}')
        self.mission = Mission(self.rig, self._on_event)
        self.plan_text = ''
        self.states = {s.controller: '' for s in self.rig.subsystems.values()}
        self.safe_capacity = 0.0
        self.ledger = {}
        self.power_available = math.nan
        self.battery = math.nan
        self.steady = Clock(clock_type=ClockType.STEADY_TIME)
        started = self._steady()
        self.heard = {name: started for name in self.watched_nodes}
        self.heard.update({f'stream {name}': started for name in self.watched_streams})
        self.seen_once = set()
        self.estop_latched = None  # what this node last published
        # (action, future, first tried at) of the mission's outstanding call; future None
        # while its service is not found yet.
        self.pending = None
        self.service_clients = {}

        anchoring = self.rig.anchoring_controller
        self.state_subscriptions = {}
        self.retired_clients = []  # clients of instances that are gone (see _forget_calls_to)
        self.state_writers = {}  # controller: the GIDs of the writers of its state heard
        for controller in self.states:
            self._subscribe_state(controller)
        self.create_subscription(interfaces.AnchoringStatus, f'{anchoring}/status',
                                 self._on_capacity, STATE_QOS)
        self.create_subscription(interfaces.Ledger, 'material/ledger', self._on_ledger,
                                 STATE_QOS)
        self.readings = RigInputs(self)  # the rig_state or a topic per sensor
        self.streams = {name: StreamMonitor(name, stream_rate) for name in self.watched_streams}
        self.state_joints = [j.name for j in self.rig.state_joints]
        for name in self.watched_streams:
            self.readings.take(name, STREAMS[name], lambda m, n=name: self._on_stream(n, m))
        self.create_subscription(DiagnosticArray, '/diagnostics', self._on_diagnostics, 50)
        self.create_subscription(interfaces.PowerStatus, 'power/status', self._on_power,
                                 SENSOR_QOS)
        self.create_subscription(Bool, 'estop', self._on_estop_topic, STATE_QOS)
        self.estop_pub = self.create_publisher(Bool, 'estop', STATE_QOS)
        self.status_pub = self.create_publisher(interfaces.MissionStatus, '~/status', STATE_QOS)
        self.shares_pub = self.create_publisher(interfaces.PowerShares, 'power/shares',
                                                STATE_QOS)
        self.create_service(OperatorCommand, '~/command', self.on_command_request)
        self.create_service(Trigger, '~/estop', self.on_estop_request)
        self.create_service(Trigger, '~/status', self._on_status)
        self.create_service(Trigger, '~/preflight', self._on_preflight)
        # ~/run_plan: one plan goal at a time (load and start; cancel: abort).
        self.run_plan = ToolAction(self, RunPlan, '~/run_plan', self._start_plan,
                                   self._plan_outcome, self._plan_feedback,
                                   self._plan_result, stop=self._abort_plan)
        self.diagnostics = Diagnostics(self, self._diagnose)
        # The rig's own view of /diagnostics (every rig's nodes publish there), in
        # diagnostic_aggregator's form, on diagnostics_agg in its namespace.
        self.rig_diagnostics = RigDiagnostics(
            self.get_namespace(), [*self.watched_nodes, self.get_name()])
        self.aggregated_pub = self.create_publisher(DiagnosticArray, 'diagnostics_agg', 10)
        self.create_timer(1.0, self._publish_aggregated,
                          clock=Clock(clock_type=ClockType.STEADY_TIME))
        self.add_on_set_parameters_callback(self._check_parameters)

        stored = self.store.mission()
        respawned = bool(stored and self.session and
                         stored[3].get('session') == self.session)
        take_up = stored is not None and (self.resume_stored or respawned)
        under_way = stored is not None and stored[3].get('mode') in (
            'running', 'paused', 'holding', 'estopped')
        if self.resume_stored and stored is None:
            self.get_logger().warning(f'resume: no shift stored in {self.data_dir}')
        if under_way and not take_up:
            # A fresh start: the unfinished shift stays in the record, marked so.
            self.store.log(self._now(), 'mode', f'plan {stored[0]} left unfinished at step '
                           f'{stored[3].get("step_index", 0) + 1} (not resumed)')
        if take_up:
            self._restore(stored)  # the plan parameter is the one it was started with
        elif plan:
            accepted, reason = self._load(plan)
            if not accepted:
                raise ConfigError(f'supervisor: {reason}')
        self.autostart = autostart and self.mission.plan is not None
        if self.mission.state == 'idle':
            self.get_logger().info('mode idle: no plan loaded; data directory '
                                   f'{self.data_dir}')
        self._publish_estop(self.mission.state == 'estopped')
        self.last_published = None
        self._publish()
        # The lockstep simulation: the rig's clock at the period acted on, when it is next
        # due, and the period it still owes an answer (its actions' results not in yet).
        defaults = Periods()
        self.periods = Periods(
            defaults.moving,
            declare(self, 'period_working', defaults.working, 'Lockstep: how often the '
                    'supervisor acts while a plan is under way [s]', 0.001, 60.0,
                    read_only=True),
            declare(self, 'period_idle', defaults.idle, 'Lockstep: how often it acts '
                    'otherwise [s]', 0.001, 60.0, read_only=True))
        self.lockstep_pub = self.create_publisher(TimeReference, '~/lockstep', COMMAND_QOS)
        self.next_tick = -math.inf
        self.owed = None
        self.last_tick = self._steady()
        self.create_timer(TICK_PERIOD, self._tick, clock=self.steady)

    # Helpers -------------------------------------------------------------------------------
    def _steady(self):
        return self.steady.now().nanoseconds * 1e-9

    def _now(self):
        """Return the rig's time: the period acted on in lockstep, else its clock now."""
        if self.lockstep and self.period_time is not None:
            return self.period_time
        return self.get_clock().now().nanoseconds * 1e-9

    def _check_parameters(self, parameters):
        for parameter in parameters:
            if parameter.name == 'liveness_timeout':
                self.liveness_timeout = parameter.value
        return SetParametersResult(successful=True)

    # What the rig publishes --------------------------------------------------------------
    def _heard(self, name):
        self.heard[name] = self._steady()
        self.seen_once.add(name)

    def _on_stream(self, name, message):
        self._heard(f'stream {name}')
        if name == 'joint_states' and self.lockstep:
            self._on_period(message.header.stamp)
        if name == 'joint_states':
            problem = joint_state_problem(message.name, message.position, message.velocity,
                                          message.effort, self.state_joints)
        else:
            pose = message.pose.pose
            problem = odometry_problem((pose.position.x, pose.position.y, pose.position.z),
                                       (pose.orientation.x, pose.orientation.y,
                                        pose.orientation.z, pose.orientation.w))
        self.streams[name].add(stamp_to_seconds(message.header.stamp), problem)

    def _subscribe_state(self, controller):
        """Subscribe (again) to a controller's latched state.

        A new subscription is sent the state the controller holds now, so one that hung
        or was restarted is known afresh.
        """
        old = self.state_subscriptions.pop(controller, None)
        if old is not None:
            self.destroy_subscription(old)
        self.state_subscriptions[controller] = self.create_subscription(
            interfaces.ControllerState, f'{controller}/state',
            lambda m, c=controller: self._on_state(c, m),
            STATE_QOS)

    def _on_state(self, controller, message):
        # A writer of its state not heard before is a new instance of the controller (a
        # respawn): one back within liveness_timeout is never heard silent otherwise.
        writers = self._state_writers(controller)
        known = self.state_writers.get(controller)
        if known and writers and not writers <= known:
            self.get_logger().warning(f'{controller} restarted (a new instance publishes '
                                      'its state)')
            self.mission.restarted(controller, self._now())
            self._forget_calls_to(controller)
        if writers:
            self.state_writers[controller] = writers
        self.states[controller] = message.label

    def _state_writers(self, controller):
        topic = self.state_subscriptions[controller].topic_name
        return {bytes(info.endpoint_gid) for info in self.get_publishers_info_by_topic(topic)}

    def _on_capacity(self, message):
        capacity = message.safe_capacity
        self.safe_capacity = capacity if math.isfinite(capacity) else 0.0

    def _on_ledger(self, message):
        self.ledger = ledger_totals(message)

    def _on_power(self, message):
        self.power_available = message.available
        self.battery = message.state_of_charge

    def _on_diagnostics(self, message):
        namespace = self.get_namespace().rstrip('/')
        now = time.monotonic()
        for status in message.status:
            self.rig_diagnostics.take(status.name, ord(status.level), status.message,
                                      {v.key: v.value for v in status.values}, now)
            name = status.name
            if name.startswith(namespace + '/'):
                name = name[len(namespace) + 1:]
            # A node may report per part ('field_bus/drill_bus'): any of them is the node.
            node = name.split('/', 1)[0]
            if node in self.watched_nodes:
                self._heard(node)

    def _publish_aggregated(self):
        array = DiagnosticArray(status=[
            DiagnosticStatus(level=bytes([item.level]), name=item.name, message=item.message,
                             hardware_id=self.rig_diagnostics.rig,
                             values=[KeyValue(key=k, value=str(v)) for k, v in
                                     item.values.items()])
            for item in self.rig_diagnostics.view(time.monotonic())])
        array.header.stamp = self.get_clock().now().to_msg()
        self.aggregated_pub.publish(array)

    def _on_estop_topic(self, message):
        if message.data and self.mission.state != 'estopped':
            self.get_logger().error('e-stop latched on the estop topic')
            self.mission.estop(OPERATOR)
            self._after_change()
        elif not message.data and self.mission.state == 'estopped':
            # Only a reset through the supervisor releases it: latch it again.
            self.get_logger().warning('estop released by someone else: latched again '
                                      '(reset with ~/command reset)')
            self.estop_latched = None
            self._publish_estop(True)

    def observation(self):
        """Return what the mission needs to know of the rig now."""
        in_transit = (sum(self.ledger.get(name, 0.0) for name in IN_TRANSIT)
                      if all(name in self.ledger for name in IN_TRANSIT) else math.inf)
        return Observation(time=self._now(), states=dict(self.states),
                           safe_capacity=self.safe_capacity, in_transit=in_transit,
                           power_available=self.power_available, battery=self.battery)

    def silent(self):
        """Return the watched nodes and streams silent for longer than liveness_timeout."""
        now = self._steady()
        # One never heard yet counts only after a grace for discovery (a supervisor that
        # has just started, e.g. respawned, does not see a live rig at once).
        grace = max(STARTUP_GRACE, 3.0 * self.liveness_timeout)
        return sorted(name for name, last in self.heard.items()
                      if now - last > (self.liveness_timeout if name in self.seen_once
                                       else grace))

    # Commands ------------------------------------------------------------------------------
    def _load(self, name, issued_at=None, valid_for=60.0):
        path = plan_path(name)
        try:
            plan = load_plan(path)
            check_against_rig(plan, self.rig, self.body)
        except (PlanError, ConfigError) as error:
            self.mission.on_event('command', f'load_plan {name} refused: {error}')
            return False, str(error)
        now = self._now()
        accepted, reason = self.mission.command(
            'load_plan', now if issued_at is None else issued_at, valid_for, now, plan=plan)
        if accepted:
            with open(path, encoding='utf-8') as stream:
                self.plan_text = stream.read()
            self.store.save_plan(plan.name, os.path.abspath(path), self.plan_text,
                                 self.snapshot())
        return accepted, reason

    def _restore(self, stored):
        name, source, text, snapshot = stored
        import yaml
        try:
            plan = plan_from(yaml.safe_load(text)['plan'], source)
        except (PlanError, KeyError, TypeError, yaml.YAMLError) as error:
            raise ConfigError(f'supervisor: the stored plan cannot be read: {error}') from None
        self.plan_text = text
        self.mission.restore(plan, snapshot)
        self.get_logger().warning(f'restored plan {name} at step '
                                  f'{self.mission.step_index + 1} ({snapshot["mode"]})')
        # Running when it stopped: go on once every node is heard. Paused or holding by
        # the operator's decision: that stands.
        self.resume_when_alive = snapshot['mode'] == 'running'

    def snapshot(self):
        """Return the mission's snapshot with this start's session (see `session`)."""
        return {**self.mission.snapshot(), 'session': self.session}

    def on_command_request(self, request, response):
        """Answer an operator command (the ~/command service): signed, else refused.

        The e-stop is taken from anyone; its release (reset) only from an operator.
        """
        operator = ''
        if request.command != OperatorCommand.Request.ESTOP:
            accepted, reason, operator = self._signed(request.command, request)
            if not accepted:
                response.success, response.message = False, reason
                return response
        self.apply_command(request, response)
        self._report(request.command, response.success, response.message, request.key_id,
                     operator)
        return response

    def _signed(self, command, signed):
        """Check the signature of a command or plan goal; a refusal is recorded and reported.

        signed: an OperatorCommand request or a RunPlan goal (the same signed fields).
        Returns (accepted, reason, operator name).
        """
        accepted, reason, operator = self.gate.check(
            command, {'plan': signed.plan}, (signed.issued_at.sec, signed.issued_at.nanosec),
            signed.valid_for, signed.key_id, signed.nonce, bytes(signed.signature))
        if not accepted:
            self.mission.on_event('command', f'{command} refused: {reason}')
            self._report(command, False, reason, signed.key_id, operator)
        return accepted, reason, operator

    def _report(self, command, accepted, reason, key, operator):
        """Put an operator command's outcome on /diagnostics at once (a refusal as WARN)."""
        message = f'{command} {"accepted" if accepted else "refused"}: {reason}'
        if not accepted:
            self.get_logger().warning(message)
        self.diagnostics.publisher.publish(DiagnosticArray(status=[DiagnosticStatus(
            level=DiagnosticStatus.OK if accepted else DiagnosticStatus.WARN,
            name=f'{self.get_fully_qualified_name()}/operator_commands', message=message,
            hardware_id=self.get_name(),
            values=[KeyValue(key='command', value=command), KeyValue(key='key_id', value=key),
                    KeyValue(key='operator', value=operator),
                    KeyValue(key='accepted', value=str(bool(accepted)).lower())])]))

    def apply_command(self, request, response):
        """Apply an operator command whose signature was checked (or in-process: a replay)."""
        issued_at = stamp_to_seconds(request.issued_at)
        if request.command == OperatorCommand.Request.LOAD_PLAN:
            if not request.plan:
                response.message = 'load_plan needs a plan (a file or a name in config/plans/)'
                return response
            accepted, reason = self._load(request.plan, issued_at, request.valid_for)
        elif request.plan:
            accepted, reason = False, f'a plan is for load_plan, not {request.command!r}'
        else:
            accepted, reason = self.mission.command(request.command, issued_at,
                                                    request.valid_for, self._now())
        response.success, response.message = accepted, reason
        self._after_change()
        return response

    # The run_plan action (nodes.actions) -------------------------------------------------
    def _start_plan(self, goal):
        mission = self.mission
        if mission.state in ('running', 'paused', 'holding', 'estopped'):
            return False, f'the rig is {mission.state}: a plan is under way or the e-stop latched'
        if not goal.plan:
            return False, 'plan: a file or a name in config/plans/'
        accepted, reason, _ = self._signed('run_plan', goal)
        if not accepted:
            return False, reason
        started, reason = self._load(goal.plan)
        if started:
            now = self._now()
            started, reason = mission.command('start', now, 60.0, now)
        if not started:
            self._after_change()  # a refused load may have changed the status
        return started, reason

    def _plan_outcome(self):
        status = self.mission.status()
        if status['mode'] in ('completed', 'aborted'):
            return status['mode'] == 'completed', status['reason'] or status['mode']
        return None

    def _plan_feedback(self):
        status = self.mission.status()
        return RunPlan.Feedback(
            step_number=int(status['step']), steps=int(status['steps']),
            step_title=status['step_title'], mode=status['mode'], progress=status['progress'])

    def _plan_result(self, succeeded, message):
        steps = int(self.mission.status()['steps'])
        return RunPlan.Result(success=succeeded, message=message,
                              steps_done=steps if succeeded else self.mission.step_index)

    def _abort_plan(self):
        now = self._now()
        return self.mission.command('abort', now, 60.0, now)

    def action_changed(self):
        """Publish the status now: the plan goal started or was canceled (ToolAction)."""
        self._after_change()

    def feedback_pace(self):
        """Plan feedback whenever the step, mode or progress changes (ToolAction)."""
        status = self.mission.status()
        return None, (status['step'], status['mode'], status['progress']), math.inf

    def on_estop_request(self, request, response):
        """Latch the e-stop (the ~/estop service; a replay calls it in-process)."""
        self.mission.estop(OPERATOR)
        self._after_change()
        response.success, response.message = True, 'e-stop latched'
        return response

    def _on_status(self, request, response):
        response.success, response.message = True, self.mission.describe()
        return response

    def _on_preflight(self, request, response):
        response.success, reasons = self.preflight()
        response.message = ('GO' if response.success else 'NO-GO: ' + '; '.join(reasons))
        return response

    def preflight(self):
        """Return (go, reasons): every node alive, streams, anchors, e-stop, power."""
        reasons = []
        never = [n for n in self.heard if n not in self.seen_once]
        if never:
            reasons.append(f'never heard: {", ".join(never)}')
        silent = [n for n in self.silent() if n not in never]
        if silent:
            reasons.append(f'silent: {", ".join(silent)}')
        for name, monitor in self.streams.items():
            problem = monitor.judge() if f'stream {name}' not in never + silent else ''
            if problem:
                reasons.append(problem)
        anchoring = self.states.get(self.rig.anchoring_controller, '')
        if anchoring not in (states.STOWED, states.ANCHORED):
            reasons.append(f'anchors neither stowed nor holding ({anchoring or "unknown"})')
        faults = [c for c, s in self.states.items() if s == states.FAULT]
        if faults:
            reasons.append(f'in FAULT: {", ".join(faults)}')
        if self.mission.state == 'estopped':
            reasons.append('e-stop latched')
        plan = self.mission.plan
        if plan is not None and self.mission.step is not None:
            need = self._power_needed(self.mission.step)
            if need > 0 and not self.power_available >= need:
                reasons.append(f'power {self.power_available:.0f} W, the first step needs '
                               f'{need:.0f} W')
        return not reasons, reasons

    def _power_needed(self, step):
        base = self.power_config.base_load
        if step.type == 'wait':
            return 0.0
        needs = {'drill': 'drill', 'scrape': 'scraper', 'smelt': 'furnace',
                 'material_line': 'conveyors'}
        kind = needs.get(step.type)
        return base + (0.0 if kind is None else min(self.power_shares.demands()[kind], 100.0))

    # The loop -------------------------------------------------------------------------------
    def pace(self):
        """Return the supervisor's pace: working while a plan is under way, else idle."""
        return Pace.WORKING if self.mission.state in ('running', 'paused', 'holding') \
            else Pace.IDLE

    def _on_period(self, stamp):
        """Act on a period of the lockstep world if due; answer it once the actions are in."""
        time = stamp_to_seconds(stamp)
        if self.owed is not None or time < self.next_tick - 1e-9:
            return
        if self.period_time is not None and time <= self.period_time:
            return  # a period published again
        self.period_time, self.owed = time, stamp
        self._act()
        self._answer()

    def _waiting_for_graph(self):
        """Return whether a start waits to hear every node, or a restored plan its resume.

        The period is not answered meanwhile: hearing them takes discovery's wall seconds,
        which the lockstep world would otherwise race through at full speed (a restored
        supervisor's resume cost the shift 100-140 sim s). The world waits for it up to
        its lockstep_timeout, then goes on at real time until it answers.
        """
        mission = self.mission
        if self.resume_when_alive and mission.state == 'paused':
            return True
        return self.autostart and mission.state == 'ready' and (
            bool(mission.lost) or len(self.seen_once) < len(self.heard))

    def _answer(self):
        """Answer the period owed once no action of the mission is outstanding."""
        if self.owed is None or self.pending is not None or self._waiting_for_graph():
            return
        owed = stamp_to_seconds(self.owed)
        self.next_tick = owed + self.periods.until_next(self.pace(), owed)
        answer = TimeReference(source=self.get_name())
        answer.header.stamp = self.owed
        seconds_to_stamp(self.next_tick, answer.time_ref)
        self.lockstep_pub.publish(answer)
        self.owed = None

    def _tick(self):
        """Judge liveness, retry calls that wait (steady clock); act here off lockstep."""
        mission = self.mission
        now = self._steady()
        gap = now - self.last_tick
        self.last_tick = now
        if gap > TICK_STALL:
            # This process did not run for a while (a starved host): what it could not
            # hear meanwhile is not the others' silence. Count only time it was awake.
            for name in self.heard:
                self.heard[name] += gap - TICK_PERIOD
        lost = self.silent()
        for name in lost:  # a silent controller's last state no longer stands
            if name in self.states:
                self.states[name] = ''
        for name in set(self.mission.lost) - set(lost):
            if name in self.states:
                # Back (restarted, or it had hung): take its state from a fresh
                # subscription, never from a message of before, and act on nothing
                # until it is in.
                self.states[name] = ''
                self._subscribe_state(name)
                self._forget_calls_to(name)
                # Its return is handled as such (liveness), not as a restart besides.
                self.state_writers[name] = self._state_writers(name)
        mission.liveness(lost, self._now())
        self._send_stops()
        if self.pending is not None and self._steady() - self.pending[2] > ACTION_TIMEOUT:
            # A call nobody answers (a controller hung or restarting) fails the action,
            # so the step's policy applies instead of waiting for ever.
            action, future, _ = self.pending
            self.pending = None
            if future is not None:
                future.cancel()
            # A client that lost an answer may stay one answer behind for good: the next
            # try goes through a new one.
            self._drop_client(action)
            why = (f'no answer in {ACTION_TIMEOUT:g} s' if future
                   else f'not available in {ACTION_TIMEOUT:g} s')
            self.get_logger().warning(f'{self._endpoint(action)[1]}: {why}: given up')
            mission.action_done(action, False, why, self._now())
            self._answer()
        if self.pending is not None and self.pending[1] is None:
            # Its service not found yet: try again, unless the mission gave it up meanwhile.
            if mission.outstanding is self.pending[0]:
                self._send(*self.pending[::2])
            else:
                self.pending = None
                self._answer()
        if not self.lockstep:
            self._act()
        elif self.owed is not None and self.pending is None:
            self._act()  # a period held for the graph: act on it again, answer once heard
            self._answer()
        self._after_change()

    def _act(self):
        """Advance the mission with what the rig looks like now and send its next action."""
        mission = self.mission
        lost = sorted(mission.lost)
        alive = not lost and len(self.seen_once) == len(self.heard)
        if self.autostart and mission.state == 'ready' and alive:
            self.autostart = False
            now = self._now()
            mission.command('start', now, 60.0, now)
        if self.resume_when_alive and mission.state == 'paused' and alive:
            self.resume_when_alive = False
            now = self._now()
            mission.command('resume', now, 60.0, now)
        obs = self.observation()
        mission.tick(obs)
        self._send_stops()
        if self.pending is None:
            action = mission.next_action(obs)
            if action is not None:
                self._send(action)
        self._allocate_power()
        self._after_change()

    def _client(self, kind, name):
        key = (kind, name)
        if key not in self.service_clients:
            self.service_clients[key] = (ActionClient(self, kind, name)
                                         if kind in ACTIONS.values()
                                         else self.create_client(kind, name))
        return self.service_clients[key]

    @staticmethod
    def _endpoint(action):
        """Return (type, name) of what carries a mission action: an action or a service."""
        if isinstance(action, Goal):
            return ACTIONS[action.action], action.service
        if isinstance(action, Cancel):
            return CancelGoal, f'{action.service}/_action/cancel_goal'
        return Trigger, action.service

    def _drop_client(self, action):
        self._destroy_client(self.service_clients.pop(self._endpoint(action), None))

    def _destroy_client(self, client):
        if isinstance(client, ActionClient):
            client.destroy()
        elif client is not None:
            self.destroy_client(client)

    def _forget_calls_to(self, controller):
        """Drop the clients of a controller that started again, and a call waiting on it.

        The old instance will never answer: a client that sent to it may stay one answer
        behind for good, and a call left pending would hold every action for
        ACTION_TIMEOUT. The next one goes through a new client to the new instance.
        """
        prefix = f'{controller}/'
        for key in [key for key in self.service_clients if key[1].startswith(prefix)]:
            # Kept, not destroyed: destroying an action client from inside a callback
            # under the EventsExecutor breaks the other nodes of the process.
            self.retired_clients.append(self.service_clients.pop(key))
        if self.pending is not None and self._endpoint(self.pending[0])[1].startswith(prefix):
            action, future, _ = self.pending
            self.pending = None
            if future is not None:
                future.cancel()
            self.mission.action_done(action, False, f'{controller} started again before '
                                     'it answered', self._now())

    def _send(self, action, since=None):
        """Send a goal or call a service; since: when it was first tried (steady clock)."""
        since = self._steady() if since is None else since
        kind, name = self._endpoint(action)
        client = self._client(kind, name)
        ready = client.server_is_ready() if isinstance(client, ActionClient) else \
            client.service_is_ready()
        if not ready:
            # Not discovered yet (a controller just restarted, a busy host): waited for
            # within the same ACTION_TIMEOUT as an answer, not refused at once.
            self.pending = (action, None, since)
            return
        if isinstance(action, Goal):
            future = client.send_goal_async(kind.Goal(**dict(action.fields)))
        else:
            future = client.call_async(Trigger.Request())
        self.pending = (action, future, since)
        future.add_done_callback(lambda f, a=action: self._on_result(a, f))

    def _on_result(self, action, future):
        if self.pending is None or self.pending[0] is not action:
            return  # given up on already (ACTION_TIMEOUT)
        self.pending = None
        try:
            response = future.result()
        except Exception as error:  # noqa: B902 - a failed call is a refused action
            self.mission.action_done(action, False, str(error), self._now())
            self._answer()
            return
        if isinstance(action, Goal):
            success = response.accepted
            message = 'accepted' if success else \
                f'goal rejected (the reason is on the log of {action.controller})'
            if success:
                response.get_result_async().add_done_callback(
                    lambda f, a=action: self._on_goal_result(a, f))
        else:
            success, message = response.success, response.message
        if success:
            for controller, state in action.assume:
                self.states[controller] = state
        self.mission.action_done(action, success, message, self._now())
        if self.lockstep and self.owed is not None:
            # The next action of the same period goes at once (a reset, then the goal
            # it clears the way for); the period is answered when none is left.
            next_action = self.mission.next_action(self.observation())
            if next_action is not None:
                self._send(next_action)
            self._answer()
        self._after_change()

    def _on_goal_result(self, action, future):
        """Record how a goal ended (the step itself follows its tools' states)."""
        try:
            response = future.result()
        except Exception as error:  # noqa: B902 - the record must never stop the rig
            self._on_event('result', f'{action.service}: no result ({error})')
            return
        status = GOAL_STATUS.get(response.status, str(response.status))
        self._on_event('result', f'{action.service} {status}: {response.result.message}')

    def _send_stops(self):
        for action in self.mission.take_stop_actions():
            kind, name = self._endpoint(action)
            client = self._client(kind, name)
            if client.service_is_ready():
                # A zero goal id and stamp: every goal of that action, whoever sent it.
                client.call_async(CancelGoal.Request() if kind is CancelGoal
                                  else Trigger.Request())

    def _allocate_power(self):
        """Share the power by priority; publish the shares when one of them changes."""
        available = self.power_available
        if not math.isfinite(available):
            return
        step = self.mission.step if self.mission.state == 'running' else None
        active = active_consumers(self.rig, self.states, step.type if step else '')
        changed = self.power_shares.shares(available, active)
        if not changed:
            return
        for controller, values in changed.items():
            self.power_shares.sent(controller, values)
        # A change of shares is what holds or frees a tool: on the log with its cause.
        self.get_logger().info(
            f'power shares of {available:.0f} W to {", ".join(sorted(active)) or "none"}: '
            + ', '.join(f'{controller} {parameter} {share:.0f} W'
                        for controller, values in sorted(changed.items())
                        for parameter, share in sorted(values.items())))
        message = interfaces.PowerShares(shares=[
            interfaces.PowerShare(controller=controller, budget=parameter, power=float(share))
            for controller, parameter, share in self.power_shares.table()])
        seconds_to_stamp(self._now(), message.stamp)
        self.shares_pub.publish(message)

    # Publishing and the record ---------------------------------------------------------------
    def _on_event(self, kind, text):
        now = self._now()
        if kind in ('fault',):
            self.get_logger().error(text)
        elif kind == 'command' and 'refused' in text:
            self.get_logger().warning(text)
        else:
            self.get_logger().info(text)
        try:
            if kind in ('mode', 'step'):
                self.store.log(now, kind, text, self.snapshot(), self.ledger)
            else:
                self.store.log(now, kind, text)
        except Exception as error:  # noqa: B902 - the record must never stop the rig
            self.get_logger().error(f'mission store: {error}', throttle_duration_sec=10.0)

    def _publish_estop(self, latched):
        if latched != self.estop_latched:
            self.estop_latched = latched
            self.estop_pub.publish(Bool(data=latched))

    def _after_change(self):
        self._publish_estop(self.mission.state == 'estopped')
        self._publish()
        self.run_plan.update()

    def _publish(self):
        status = self.mission.status()
        if status == self.last_published:
            return
        self.last_published = status
        message = mission_status(self.mission)
        seconds_to_stamp(self._now(), message.stamp)
        self.status_pub.publish(message)

    def _diagnose(self):
        status = self.mission.status()
        level = {'aborted': 'ERROR', 'estopped': 'ERROR', 'holding': 'WARN'}.get(
            status['mode'], 'OK')
        values = dict(status)
        values.update({f'power_{k}_W': f'{v:.0f}' for k, v in
                       self.power_shares.grants.items()})
        return level, self.mission.describe(), values

    def stop_actuators(self):
        """Drive nothing: the supervisor has no actuators and its record is committed."""

    def destroy_node(self):
        """End the plan goal (its client hears the node went); close the mission store."""
        self.run_plan.end(f'{self.get_name()} shut down')
        store = getattr(self, 'store', None)
        if store is not None:
            store.close()
        release_record(self)
        super().destroy_node()


def main(args=None):
    """Run the supervisor node."""
    from spacemine_ros.nodes.common import spin_node
    return spin_node(SupervisorNode, args)


if __name__ == '__main__':
    sys.exit(main())
