"""rig_sim: the simulation backend behind the rig's hardware-interface topics.

It owns the PyBullet world of the rig described by its rig file (config/rigs/*.yaml:
one simulated subsystem per entry), publishes the rig's clock (`clock` in its
namespace) and sensor topics, and obeys every subsystem's command topic, decoded by the
rig file's codec.

Lockstep mode (default) is event-driven: each participant (every subsystem's controller,
on its command topic, and the supervisor, on supervisor/lockstep) says with each answer
until when it needs nothing: a command holds for its validity window (its trajectory
point's time_from_start), the supervisor names its next time (sensor_msgs/TimeReference).
After publishing the sensors for time t the world waits for every participant due at t,
then advances straight to the next time one of them is due (at least control_period, at
most max_step while any actuator works, so an e-stop is obeyed within that, or idle_step
when nothing does), and publishes the clock and the sensors there. The trajectory
therefore does not depend on how fast the machine or the controllers are. A participant
silent for lockstep_timeout wall seconds is no longer waited for until it answers again
(its command runs out and its actuator stops); meanwhile the world goes on no faster than
real time (silent_realtime_factor), as a real rig's would while the node restarts, instead
of racing through hundreds of sim seconds at the others' idle pace. Real-time mode: the
world advances on a wall-clock timer.
"""

import heapq
import math
import os
import sys
import time

from geometry_msgs.msg import WrenchStamped
from nav_msgs.msg import Odometry
from rcl_interfaces.msg import SetParametersResult
from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from rosgraph_msgs.msg import Clock as ClockMsg
from sensor_msgs.msg import BatteryState, Imu, JointState, Temperature, TimeReference
from std_msgs.msg import Bool, Float64
from spacemine_interfaces.msg import Gauge, PowerStatus, RigState, ToolWrench
from std_srvs.srv import SetBool, Trigger
from trajectory_msgs.msg import JointTrajectory

from spacemine_ros.core.models.anchors import load_anchor_types
from spacemine_ros.core.models.body import load_body
from spacemine_ros.core.config import ConfigError, load_yaml
from spacemine_ros.core.models.power import power_config_from, PowerSystem
from spacemine_ros.core.models.material_config import load_material_config
from spacemine_ros.core.models.thermal import load_furnace_design
from spacemine_ros.hardware.hil import HilRig
from spacemine_ros.hardware.rig_description import load_rig_description
from spacemine_ros.nodes.common import (
    COMMAND_QOS, command_arrays, config_file, declare, declare_frame_prefix, Diagnostics,
    LOCKSTEP_TOPIC,
    reject_non_finite, release_record, rig_files, rig_record, seconds_to_stamp, SENSOR_QOS,
    SITE_DESCRIPTION,
    spin_node, stamp_to_seconds, STATE_QOS)
from spacemine_ros.sim.checkpoint import CheckpointError, take_up_checkpoint, WorldCheckpoints
from spacemine_ros.sim.furnace import THERMOCOUPLE_FAULTS
from spacemine_ros.sim.world import RigWorld

# Accounts a rig can weigh: bucket load cell, belt scale, hopper and furnace load cells.
MEASURED_ACCOUNTS = ('drill', 'scraper', 'conveyor', 'separator', 'hopper_metal',
                     'hopper_silicate', 'furnace', 'products', 'slag', 'volatiles')
TEMPERATURE_TOPICS = ('furnace/temperature',)
MATERIAL_REFRESH = 1.0  # s of sim time between two sends of unchanged material figures
BATTERY_VOLTAGE = 28.0  # V, the bus voltage (the usual 28 V spacecraft bus)


def gauge_unit(name):
    """Return the SI unit of a gauge of RigState by its name."""
    if name.startswith('material/'):
        return 'kg'
    for suffix, unit in (('temperature', 'K'), ('power', 'W'), ('fraction', '1')):
        if name.endswith(suffix):
            return unit
    raise ValueError(f'no unit known for the gauge {name}')


class RigSimNode(Node):
    """The simulated rig behind the hardware-interface topics."""

    def __init__(self, **kwargs):
        super().__init__('rig_sim', **kwargs)
        self.body_key = declare(self, 'body', 'bennu', 'Body preset from the bodies file',
                                read_only=True)
        bodies_file = config_file(self, 'bodies_file', 'bodies.yaml', 'Body presets YAML')
        power_file = config_file(self, 'power_file', 'power.yaml', 'Power system YAML')
        anchors_file = config_file(self, 'anchors_file', 'anchors.yaml', 'Anchor designs YAML')
        rig, description_file = rig_files(self)  # ConfigError: the node does not start
        anchor_type = declare(self, 'anchor_type', '', 'Anchor design fitted to the feet '
                              "(empty: the body site's, bodies.yaml)", read_only=True)
        material_file = config_file(self, 'material_file', 'material.yaml',
                                    'Material path YAML')
        smelter_file = config_file(self, 'smelter_file', 'smelter.yaml',
                                   'Furnace and recipes YAML')
        declare(self, 'thermocouple_fault', 'none', 'Inject a thermocouple fault: '
                + ', '.join(THERMOCOUPLE_FAULTS))
        self.control_period = declare(self, 'control_period', 0.05, 'Control period [s]',
                                      0.001, 1.0, read_only=True)
        physics_dt = declare(self, 'physics_dt', 0.005, 'Physics time step [s]', 0.0005, 0.05,
                             read_only=True)
        seed = declare(self, 'seed', 0, 'Random seed (anchor capacity scatter)', 0, 2**31 - 1,
                       read_only=True)
        spread = declare(self, 'capacity_spread', 0.1, 'Scatter of true anchor capacity '
                         'around the model (fraction)', 0.0, 0.9, read_only=True)
        self.lockstep = declare(self, 'lockstep', True, 'Wait for the controllers each '
                                'period (deterministic) instead of running in real time',
                                read_only=True)
        self.lockstep_topics = [t for t in declare(
            self, 'lockstep_topics', [''], 'Command topics of the controllers the world waits '
            'for in lockstep mode (empty: every subsystem of the rig file)',
            read_only=True) if t]
        self.lockstep_topics = self.lockstep_topics or rig.command_topics
        if declare(self, 'lockstep_supervisor', False, 'Lockstep: wait for the supervisor '
                   f'too, on {LOCKSTEP_TOPIC} (the graph of bringup has one)', read_only=True):
            self.lockstep_topics = [*self.lockstep_topics, LOCKSTEP_TOPIC]
        self.max_step = declare(self, 'max_step', 0.25, 'Lockstep: longest advance while any '
                                'actuator works or the rigid body moves [s] (an e-stop is '
                                'obeyed within it)', 0.001, 10.0, read_only=True)
        self.idle_step = declare(self, 'idle_step', 1.0, 'Lockstep: longest advance while '
                                 'nothing works [s]', 0.001, 60.0, read_only=True)
        self.lockstep_timeout = declare(self, 'lockstep_timeout', 2.0, 'Wall seconds to wait '
                                        'for a silent controller before advancing', 0.01, 60.0)
        self.realtime_factor = declare(self, 'realtime_factor', 1.0, 'Sim seconds per wall '
                                       'second in real-time mode', 0.01, 100.0, read_only=True)
        self.idle_realtime_factor = declare(
            self, 'idle_realtime_factor', 1.0, 'Lockstep: once nothing has moved or worked '
            'for idle_after, sim seconds per wall second at most (0: flat out); an idle rig '
            'then waits instead of burning a core', 0.0, 1000.0)
        self.silent_realtime_factor = declare(
            self, 'silent_realtime_factor', 1.0, 'Lockstep: while a participant is silent, '
            'sim seconds per wall second at most (0: flat out), so that a restarting node '
            'is back within the sim time its restart takes on a real rig', 0.0, 1000.0)
        self.max_realtime_factor = declare(
            self, 'max_realtime_factor', 0.0, 'Lockstep: sim seconds per wall second at most '
            'at any time (0: flat out), e.g. to follow a shift live or to give an outside '
            'observer time to act on it', 0.0, 1000.0)
        self.idle_after = declare(self, 'idle_after', 5.0, 'Sim seconds with nothing moving '
                                  'or working before the rig counts as idle', 0.0, 3600.0,
                                  read_only=True)
        command_timeout = declare(self, 'command_timeout', 0.5, 'Sim seconds a command '
                                  'holds when it gives no validity window of its own [s]',
                                  0.01, 10.0)
        devices_file = config_file(self, 'devices_file', 'devices.yaml',
                                   'Device profiles YAML')
        self.hil_mode = declare(self, 'hil', False, 'Hardware in the loop: serve the '
                                'described devices on virtual serial lines instead of the '
                                'topics they carry (real-time, no clock topic)', read_only=True)
        hil_port_dir = declare(self, 'hil_port_dir', '', 'Directory for the HIL port links, '
                               'one per bus (empty: the pty paths themselves)',
                               read_only=True)
        self.checkpoint_period = declare(
            self, 'checkpoint_period', 5.0, 'Sim seconds between two checkpoints of the world '
            "in the rig's data directory, from which a restarted simulation goes on (0: "
            'none)', 0.0, 3600.0, read_only=True)
        self.record = rig_record(self)
        self.frame_prefix = declare_frame_prefix(self)
        self.odom_frame = self.frame_prefix + declare(
            self, 'odom_frame', 'odom', 'Frame of odometry (after frame_prefix)', read_only=True)
        self.base_frame = self.frame_prefix + declare(
            self, 'base_frame', 'base_link', 'Rig base frame (after frame_prefix)',
            read_only=True)
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self.add_post_set_parameters_callback(self._use_parameters)

        self.hil = None
        # A bad file or name is a ConfigError: the node does not start (one line).
        site = declare(self, 'site', '', SITE_DESCRIPTION, read_only=True)
        body = load_body(bodies_file, self.body_key, site)
        anchors = load_anchor_types(anchors_file)
        anchor_type = anchor_type or body.site.anchor_type
        if anchor_type not in anchors:
            raise ConfigError(f'unknown anchor_type {anchor_type!r}; known: '
                              f'{", ".join(sorted(anchors))}')
        power = PowerSystem(power_config_from(load_yaml(power_file).get('power', {}),
                                              power_file),
                            body.semi_major_axis, body.site.latitude, body.rotation_period)
        material = load_material_config(material_file)
        furnace = load_furnace_design(smelter_file)
        self.world = RigWorld(body, anchors[anchor_type], rig=rig, physics_dt=physics_dt,
                              seed=seed, capacity_spread=spread, command_timeout=command_timeout,
                              material=material, furnace=furnace, power=power)
        self.checkpoints = WorldCheckpoints(self.record.data_dir, self.record.session)
        self.last_checkpoint = -math.inf
        self.restored_from = None  # the checkpoint's sim time, if this world is one
        self._take_up_checkpoint()
        served = set()
        # The sim backend's controllers read the rig from rig_state (one RigState per
        # instant); on the field bus they read a topic per sensor, which the devices carry
        # (rig_sim's own under ~/truth/ as ground truth).
        sensor_topics = self.hil_mode
        if self.hil_mode:
            # The devices carry these topics now (through the drivers); the world's own
            # values stay visible as ground truth under ~/truth/.
            self.lockstep = False
            description = load_rig_description(description_file, devices_file, rig)
            self.hil = HilRig(description, port_dir=hil_port_dir, seed=seed)
            served = {'joint_states', 'rig_state'} | {
                output.topic for device in description.devices.values()
                for output in device.outputs}
            self.get_logger().info('HIL: ' + ', '.join(
                f'{bus} on {port}' for bus, port in self.hil.ports.items()))

        def topic(name):
            return f'~/truth/{name}' if name in served else name
        # The rig's own clock topic (its namespace), which bringup remaps /clock to for
        # every node of the rig: two rigs on one domain keep their times apart.
        self.clock_pub = self.create_publisher(ClockMsg, 'clock', SENSOR_QOS)
        self.rig_state_pub = self.create_publisher(RigState, topic('rig_state'), SENSOR_QOS)
        self.joint_pub = self.create_publisher(JointState, topic('joint_states'), SENSOR_QOS)
        self.odom_pub = self.create_publisher(Odometry, topic('odom'), SENSOR_QOS)
        # odom -> base_link on /tf where tf2_msgs is installed (every ROS install): RViz and
        # Foxglove show the rig moving beside robot_state_publisher's joints. Without it
        # the recorder writes the frames into its file instead (nodes/recorder.py).
        self.tf_pub = None
        try:
            from geometry_msgs.msg import TransformStamped
            from tf2_msgs.msg import TFMessage
        except ImportError:
            pass
        else:
            self.tf_types = (TFMessage, TransformStamped)
            self.tf_pub = self.create_publisher(TFMessage, '/tf', 100)
        self.power_pub = self.create_publisher(PowerStatus, 'power/status', SENSOR_QOS)
        self.battery_pub = self.create_publisher(BatteryState, 'power/battery', SENSOR_QOS)
        self.imu_pub = self.create_publisher(Imu, 'imu', SENSOR_QOS)
        # Each subsystem's own sensors: wrenches (6 values), temperatures, the rest Float64.
        self.sensor_pubs = {}
        for name, values in self.world.readings().sensors.items() if sensor_topics else ():
            kind = WrenchStamped if len(values) == 6 else (
                Temperature if name in TEMPERATURE_TOPICS else Float64)
            self.sensor_pubs[name] = (kind, self.create_publisher(kind, topic(name),
                                                                  SENSOR_QOS))
        # Mass sensors (load cells, belt scales) and transfer-point totalizers: one Float64
        # topic each, sent when the value changes and once a simulated second anyway.

        def material_publisher(name):
            return self.create_publisher(Float64, topic(name), SENSOR_QOS)
        self.measured = [name for name in MEASURED_ACCOUNTS if name in material.accounts]
        self.mass_pubs = {name: material_publisher(f'material/{name}/mass')
                          for name in self.measured if sensor_topics}
        self.total_pubs = {(point, kind): material_publisher(f'material/{point}/{kind}')
                           for point in material.transfer_points
                           for kind in ('delivered', 'lost') if sensor_topics}
        self.last_sent = {}
        self.material_refreshed = -math.inf
        # The pace of what goes out beside rig_state in lockstep (the participants whose
        # ticks need it): the power status the supervisor's, odometry and /tf (for
        # whoever watches) the anchoring's. The per-sensor topics exist only in HIL, which
        # runs in real time.
        self.readers = {'power': {LOCKSTEP_TOPIC},
                        'odom': {s.command_topic for s in rig.subsystems.values()
                                 if s.kind == 'anchors'}}
        if not self.hil_mode:  # in HIL the commands reach the world through the devices
            for command_topic in rig.command_topics:
                self.create_subscription(
                    JointTrajectory, command_topic,
                    lambda message, t=command_topic: self._on_command(t, message), COMMAND_QOS)
            if LOCKSTEP_TOPIC in self.lockstep_topics:
                self.create_subscription(TimeReference, LOCKSTEP_TOPIC, self._on_lockstep,
                                         COMMAND_QOS)
        # Latched: the world went back to its checkpoint (what was booked since must be
        # booked again: material_handling's ledger).
        self.restored_pub = self.create_publisher(Float64, 'world/restored', STATE_QOS)
        if self.restored_from is not None:
            self.restored_pub.publish(Float64(data=float(self.restored_from)))
        self.create_service(SetBool, '~/estop', self._on_estop)
        self.estop_service = False  # latched by ~/estop
        self.estop_topic = False  # the rig-wide e-stop
        if not self.hil_mode:  # in HIL the driver obeys it through the devices, as on a rig
            self.create_subscription(Bool, 'estop', self._on_rig_estop, STATE_QOS)
        self.create_service(Trigger, '~/inject_clog', self._on_inject_clog)

        # Lockstep: when each participant is next due (sim time), those it waits for now,
        # and those that fell silent (not waited for until they answer again).
        self.deadlines = dict.fromkeys(self.lockstep_topics, self.world.time)
        self.silent = set()
        self.awaiting = set(self.lockstep_topics)
        self.waiting_since = time.monotonic()
        self.wall_start = time.monotonic()
        self.pace_origin = None  # (wall, sim, factor) when the pacing began
        self.paced = False  # every command is in, the advance waits for the idle pace
        self.stalls = 0
        self.rejected_commands = 0
        # What an observer in this process adds (a campaign sample replayed on the graph:
        # its faults and invariants): sim instants the world must stop at (a heap), and a
        # call after each advance, on the instant's readings.
        self.stops_at = []
        self.on_advanced = None
        self.readings = None
        wall = Clock(clock_type=ClockType.STEADY_TIME)
        if self.lockstep:
            self.create_timer(0.05, self._lockstep_watchdog, clock=wall)
        else:
            self.create_timer(self.control_period / self.realtime_factor, self._advance,
                              clock=wall)
        self.diagnostics = Diagnostics(self, self._status)
        self.get_logger().info(
            f'{body.name}: effective gravity {body.effective_gravity():.3g} m/s^2 at a '
            f'{math.degrees(body.site_gravity().slope):.1f} deg slope, escape speed '
            f'{body.site_gravity().escape_speed:.3g} m/s from the site, {anchor_type} anchors, '
            f'{"lockstep" if self.lockstep else "real-time"} mode')
        self._publish_sensors()

    # Checkpoints ---------------------------------------------------------------------------
    def _take_up_checkpoint(self):
        """Go on from the stored world if this start takes it up (see rig_record()).

        resume: the checkpoint must be usable (else the node does not start, saying why).
        A respawn within one start of the rig takes up its own checkpoint; a fresh start
        builds a fresh world.
        """
        record, checkpoints = self.record, self.checkpoints
        if not os.path.exists(checkpoints.path):
            if record.resume:
                self.get_logger().warning(f'resume: no world checkpoint in {record.data_dir}: '
                                          'a fresh world')
            return
        try:
            checkpointed = take_up_checkpoint(self.world, checkpoints, self.control_period,
                                              record.session, record.resume)
        except (CheckpointError, OSError) as error:
            if record.resume:
                raise ConfigError(f'rig_sim: cannot resume the world: {error}') from None
            self.get_logger().error(f'world checkpoint not taken up: {error}; a fresh world')
            return
        if checkpointed is None:
            return
        self.restored_from = checkpointed
        # Saved again at once, on the new clock: a restart before the next checkpoint
        # restores to this time, not the old one again, so every restore has its own time
        # and whoever follows them (ledger, scraper) takes each once.
        self._checkpoint(force=True)
        self.get_logger().warning(
            f'world restored from its checkpoint at {checkpointed:.2f} s; the clock goes on '
            f'at {self.world.time:.2f} s')

    def _checkpoint(self, force=False):
        period = self.checkpoint_period
        if period <= 0.0 or not (force or self.world.time - self.last_checkpoint >= period):
            return
        self.last_checkpoint = self.world.time
        try:
            # Forced (a restore, a stop): on disk before it returns.
            self.checkpoints.save(self.world, wait=force)
        except OSError as error:  # the rig goes on; a restart would lose more
            self.get_logger().error(f'world checkpoint: {error}', throttle_duration_sec=30.0)

    # Parameters and services --------------------------------------------------------------
    def _on_set_parameters(self, parameters):
        failed = reject_non_finite(parameters)
        if failed:
            return failed
        for parameter in parameters:
            if parameter.name == 'thermocouple_fault':
                try:
                    self.world.furnace.set_thermocouple_fault(parameter.value)
                except ValueError as error:
                    return SetParametersResult(successful=False, reason=str(error))
                self.get_logger().warning(f'thermocouple fault injected: {parameter.value}')
        return SetParametersResult(successful=True)

    def _use_parameters(self, parameters):
        # Applied after the whole set was accepted (a refused set changes nothing).
        for parameter in parameters:
            if parameter.name in ('lockstep_timeout', 'idle_realtime_factor',
                                  'silent_realtime_factor', 'max_realtime_factor'):
                setattr(self, parameter.name, parameter.value)

    def _on_rig_estop(self, message):
        if bool(message.data) != self.estop_topic:
            self.estop_topic = bool(message.data)
            self.world.set_estop(self.estop_service or self.estop_topic)
            self.get_logger().warning('rig e-stop ' + ('latched: actuators stopped'
                                                       if self.estop_topic else 'released'))

    def _on_estop(self, request, response):
        self.estop_service = bool(request.data)
        self.world.set_estop(self.estop_service or self.estop_topic)
        response.success = True
        response.message = 'e-stop latched: actuators stopped' if request.data else \
            'e-stop released'
        self.get_logger().warning(response.message)
        return response

    def _on_inject_clog(self, request, response):
        self.world.material.inject_clog()
        response.success, response.message = True, 'conveyor clogged (fault injection)'
        self.get_logger().warning(response.message)
        return response

    # Commands and the lockstep -----------------------------------------------------------
    def _on_command(self, topic, message):
        try:
            names, position, velocity, effort, window = command_arrays(message)
            window = window if window > 0.0 else None  # none given: command_timeout
            self.world.command_arrays(topic, names, position, velocity, effort, window)
        except ValueError as error:  # the subsystem holds; nothing half-applied
            self.rejected_commands += 1
            self.get_logger().error(f'rejected {topic}: {error}; held safe',
                                    throttle_duration_sec=1.0)
            window = None
        stamp = stamp_to_seconds(message.header.stamp)
        self._answered(topic, stamp, stamp + (window or self.control_period))

    def _on_lockstep(self, message):
        stamp = stamp_to_seconds(message.header.stamp)
        self._answered(LOCKSTEP_TOPIC, stamp, stamp_to_seconds(message.time_ref))

    def _answered(self, topic, stamp, until):
        """Note a participant's answer stamped `stamp` that needs nothing before `until`.

        An answer to this period (or a later one) lets the world go on once every one
        due has come. One stamped before it comes from a participant that has not seen
        this period yet (a controller woken by a request between two periods, its pace
        changed): it is waited for at this period if its new time has come (it answers
        this period when it sees it), and not if its new time is later.
        """
        if not self.lockstep or topic not in self.deadlines:
            return
        now = self.world.time
        self.deadlines[topic] = max(until, stamp + 1e-9)
        self.silent.discard(topic)
        if stamp < now - 1e-9 and self.deadlines[topic] <= now + 1e-9:
            self.awaiting.add(topic)
        else:
            self.awaiting.discard(topic)
        if not self.awaiting:
            self._advance_when_due()

    def _next_step(self):
        """Return how far the world goes on next [s]: to the first participant due."""
        now = self.world.time
        waiting = [d for topic, d in self.deadlines.items() if topic not in self.silent]
        while self.stops_at and self.stops_at[0] <= now + 1e-9:
            heapq.heappop(self.stops_at)
        waiting += self.stops_at[:1]
        world = self.world
        busy = world.awake or world.working() or world.electrical_power() > 0.0
        longest = self.max_step if busy else self.idle_step
        return min(max(min(waiting, default=now + longest) - now, self.control_period),
                   longest)

    def _advance_when_due(self):
        """Advance now (again while no participant is due), or wait for the idle pace.

        With every participant silent the world goes on one period per watchdog tick,
        never in a loop that would keep this callback from returning.
        """
        while True:
            factor = self._pace_limit()
            if factor > 0.0:
                now = time.monotonic()
                if self.pace_origin is None or self.pace_origin[2] != factor:
                    self.pace_origin = (now, self.world.time, factor)
                wall, sim, _ = self.pace_origin
                if now < wall + (self.world.time - sim) / factor:
                    self.paced = True  # the watchdog advances when it is due
                    return
            else:
                self.pace_origin = None
            self._advance()
            if self.awaiting or set(self.deadlines) <= self.silent:
                return

    def _pace_limit(self):
        """Return the sim seconds per wall second the world may go at now (0: flat out)."""
        limits = [self.max_realtime_factor] if self.max_realtime_factor > 0.0 else []
        if self.idle_realtime_factor > 0.0 and self.world.idle_for() >= self.idle_after:
            limits.append(self.idle_realtime_factor)
        if self.silent and self.silent_realtime_factor > 0.0:
            limits.append(self.silent_realtime_factor)
        return min(limits, default=0.0)

    def _lockstep_watchdog(self):
        if self.paced:
            self.paced = False
            self._advance_when_due()
            return
        if not self.awaiting:  # nobody to wait for (every participant silent)
            self._advance_when_due()
            return
        waited = time.monotonic() - self.waiting_since
        if 0.2 < waited <= self.lockstep_timeout:
            # A controller may have joined after this period was published: repeat it.
            # Controllers ignore a period they have already answered.
            self._publish_sensors()
        elif waited > self.lockstep_timeout:
            self.stalls += 1
            self.get_logger().warning(
                f'no answer from {", ".join(sorted(self.awaiting))} for '
                f'{self.lockstep_timeout:g} s: going on without it until it answers again',
                throttle_duration_sec=10.0)
            self.silent |= self.awaiting
            self.awaiting = set()
            self._advance_when_due()

    # Stepping ------------------------------------------------------------------------------
    def _advance(self):
        if self.hil is not None:
            for refusal in self.hil.apply(self.world):
                self.rejected_commands += 1
                self.get_logger().error(f'HIL: world refused {refusal}',
                                        throttle_duration_sec=1.0)
        browned = self.world.brownout
        self.world.advance(self._next_step() if self.lockstep else self.control_period)
        if self.world.brownout != browned:
            if self.world.brownout:
                self.get_logger().error(
                    f'brownout: the supply gave {self.world.power.drawn:.0f} W of the '
                    f'{self.world.brownout_state.wanted:.0f} W drawn; every drive stops '
                    'until it can give that again')
            else:
                self.get_logger().warning('power back: the drives are powered again')
        self.checkpoints.note_time(self.world.time)
        self._checkpoint()
        now = self.world.time
        self.awaiting = {topic for topic, due in self.deadlines.items()
                         if due <= now + 1e-9 and topic not in self.silent}
        self.waiting_since = time.monotonic()
        self._publish_sensors()
        if self.on_advanced is not None:
            self.on_advanced(self)

    def stop_at(self, instant):
        """Make the world stop at a sim instant [s] (lockstep: it steps no further at once)."""
        if instant > self.world.time + 1e-9:
            heapq.heappush(self.stops_at, instant)

    def _publish_sensors(self):
        readings = self.readings = self.world.readings()
        clock = ClockMsg()
        seconds_to_stamp(readings.time, clock.clock)
        if self.hil is not None:
            self.hil.update(readings)  # the devices report this period's readings
            # Real time: everyone runs on the wall clock, as on a real rig; odometry
            # (the rig's navigation sensors, not on the field bus) is stamped now.
            clock.clock = self.get_clock().now().to_msg()
        else:
            self.clock_pub.publish(clock)
        stamp = clock.clock
        if self.hil is None or self.rig_state_pub.get_subscription_count():
            self.rig_state_pub.publish(self._rig_state(readings, stamp))
        self._publish_material(readings)
        for name, (kind, publisher) in self.sensor_pubs.items():
            # A message nobody takes is not built (a recorder or an echo subscribes and
            # gets it from the next period on).
            if publisher.get_subscription_count():
                publisher.publish(self._sensor_message(kind, name, readings.sensors[name],
                                                       stamp))
        if self._wanted('power'):
            self._publish_power(stamp)
        # The standard topics, for whoever takes them (robot_state_publisher, RViz,
        # Foxglove, a recording; the field bus's controllers in HIL take joint_states from
        # the devices): odometry and its transform at the anchoring's pace.
        if self._wanted('odom'):
            self._publish_odometry(readings, stamp)
        if self.joint_pub.get_subscription_count():
            self.joint_pub.publish(self._joint_states(readings, stamp))

    def _publish_odometry(self, readings, stamp):
        odom = Odometry()
        odom.header.stamp, odom.header.frame_id = stamp, self.odom_frame
        odom.child_frame_id = self.base_frame
        self._base(readings, odom.pose.pose, odom.twist.twist)
        if self.odom_pub.get_subscription_count():
            self.odom_pub.publish(odom)
        if self.tf_pub is not None and self.tf_pub.get_subscription_count():
            message_type, transform_type = self.tf_types
            transform = transform_type()
            transform.header = odom.header
            transform.child_frame_id = self.base_frame
            position = odom.pose.pose.position
            transform.transform.translation.x = position.x
            transform.transform.translation.y = position.y
            transform.transform.translation.z = position.z
            transform.transform.rotation = odom.pose.pose.orientation
            self.tf_pub.publish(message_type(transforms=[transform]))
        if self.imu_pub.get_subscription_count():
            imu = Imu()
            imu.header.stamp, imu.header.frame_id = stamp, self.base_frame
            imu.orientation = odom.pose.pose.orientation
            imu.angular_velocity = odom.twist.twist.angular
            acceleration = imu.linear_acceleration
            acceleration.x, acceleration.y, acceleration.z = readings.base_linear_acceleration
            self.imu_pub.publish(imu)

    @staticmethod
    def _base(readings, pose, twist):
        """Fill a Pose and a Twist with the base's pose (odom) and velocity."""
        position, orientation = pose.position, pose.orientation
        position.x, position.y, position.z = readings.base_position
        orientation.x, orientation.y, orientation.z, orientation.w = readings.base_orientation
        twist.linear.x, twist.linear.y, twist.linear.z = readings.base_linear_velocity
        twist.angular.x, twist.angular.y, twist.angular.z = readings.base_angular_velocity

    def _rig_state(self, readings, stamp):
        """Return the RigState of this instant: joints, base, tool wrenches, gauges."""
        state = RigState()
        state.header.stamp, state.header.frame_id = stamp, self.odom_frame
        state.joints = self._joint_states(readings, stamp)
        state.child_frame_id = self.base_frame
        self._base(readings, state.base_pose, state.base_twist)
        gauges = []
        for name, values in readings.sensors.items():
            if len(values) == 6:
                wrench = ToolWrench(name=name, frame_id=self._wrench_frame(name))
                force, torque = wrench.wrench.force, wrench.wrench.torque
                force.x, force.y, force.z, torque.x, torque.y, torque.z = (
                    float(v) for v in values)
                state.wrenches.append(wrench)
            else:
                gauges.append(Gauge(name=name, value=float(values[0]), unit=gauge_unit(name)))
        for name in self.measured:
            gauges.append(Gauge(name=f'material/{name}/mass',
                                value=float(readings.material_masses[name]), unit='kg'))
        for point, delivered in readings.delivered.items():
            gauges.append(Gauge(name=f'material/{point}/delivered', value=float(delivered),
                                unit='kg'))
            gauges.append(Gauge(name=f'material/{point}/lost',
                                value=float(readings.lost[point]), unit='kg'))
        state.gauges = gauges
        return state

    def _wrench_frame(self, name):
        # A bit's wrench in its own frame; a blade's in odom (it is a world force).
        if name.endswith('bit_wrench'):
            return f'{self.frame_prefix}{name.split("/")[0]}_bit'
        return self.odom_frame

    def _wanted(self, name):
        """Tell whether a topic of self.readers ('power', 'odom') goes out now.

        In lockstep, at the instants one of its readers is due, or always while one of
        them does not take part (silent, restarting, not in the lockstep): what a
        controller reads between its own ticks it would only overwrite. A recorder gets
        each at its readers' pace (every control period while they move). joint_states
        and the clock go out at every instant.
        """
        if not self.lockstep:
            return True
        readers = self.readers.get(name, ())
        if not readers:
            return True
        taking_part = set(self.deadlines) - self.silent
        return bool(readers & self.awaiting) or not readers <= taking_part

    @staticmethod
    def _joint_states(readings, stamp):
        joints = JointState()
        joints.header.stamp = stamp
        joints.name = readings.joint_names
        joints.position = [float(v) for v in readings.joint_positions]
        joints.velocity = [float(v) for v in readings.joint_velocities]
        joints.effort = [float(v) for v in readings.joint_efforts]
        return joints

    def _publish_power(self, stamp):
        # The supervisor takes the status; the battery (sensor_msgs) goes out while someone
        # takes it (a recorder, an echo, a dashboard).
        power = self.world.power
        status = PowerStatus(available=float(power.available()),
                             generation=float(power.generation()), draw=float(power.drawn),
                             battery_energy=float(power.charge),
                             state_of_charge=float(power.state_of_charge),
                             brownout=bool(self.world.brownout))
        status.stamp = stamp
        self.power_pub.publish(status)
        if not self.battery_pub.get_subscription_count():
            return
        battery = BatteryState(
            charge=power.charge / 3600.0 / BATTERY_VOLTAGE,  # Ah
            capacity=power.config.battery_capacity / 3600.0 / BATTERY_VOLTAGE,
            design_capacity=power.config.battery_capacity / 3600.0 / BATTERY_VOLTAGE,
            percentage=float(power.state_of_charge), voltage=BATTERY_VOLTAGE,
            present=True, power_supply_technology=BatteryState.POWER_SUPPLY_TECHNOLOGY_LION)
        battery.header.stamp = stamp
        battery.temperature = battery.current = math.nan
        self.battery_pub.publish(battery)

    def _sensor_message(self, kind, name, values, stamp):
        if kind is WrenchStamped:
            message = WrenchStamped()
            message.header.frame_id = self._wrench_frame(name)
            force, torque = message.wrench.force, message.wrench.torque
            force.x, force.y, force.z, torque.x, torque.y, torque.z = (float(v) for v in values)
        elif kind is Temperature:
            message = Temperature(temperature=float(values[0]), variance=0.0)
            message.header.frame_id = name.split('/')[0]
        else:
            return Float64(data=float(values[0]))
        message.header.stamp = stamp
        return message

    def _publish_material(self, readings):
        if not self.mass_pubs and not self.total_pubs:
            return  # the sim backend: the material gauges are in rig_state
        values = {('mass', name): readings.material_masses[name] for name in self.mass_pubs}
        for point in readings.delivered:
            values[('delivered', point)] = readings.delivered[point]
            values[('lost', point)] = readings.lost[point]
        # Sent on a change, and every MATERIAL_REFRESH s of sim time anyway: a node that
        # starts late (restarted, respawned) gets every cumulative total within that.
        refresh = readings.time - self.material_refreshed >= MATERIAL_REFRESH
        if refresh:
            self.material_refreshed = readings.time
        for key, value in values.items():
            if self.last_sent.get(key) == value and not refresh:
                continue
            kind, name = key
            publisher = self.mass_pubs[name] if kind == 'mass' else self.total_pubs[(name, kind)]
            self.last_sent[key] = value
            publisher.publish(Float64(data=float(value)))

    def _status(self):
        wall = time.monotonic() - self.wall_start
        values = {
            'sim_time_s': f'{self.world.time:.2f}',
            'real_time_factor': f'{self.world.time / wall:.2f}' if wall > 0 else '0',
            'mode': 'lockstep' if self.lockstep else 'real-time',
            'lockstep_stalls': self.stalls,
            'rejected_commands': self.rejected_commands,
            'estop': self.world.estop,
            'max_displacement_m': f'{self.world.max_displacement:.6f}',
            'conveyor_clogged': self.world.material.clogged,
            'furnace_K': f'{self.world.furnace.thermal.temperature:.1f}',
            'thermocouple_fault': self.world.furnace.thermocouple_fault,
        }
        values['brownout'] = self.world.brownout
        if self.world.estop:
            return 'WARN', 'e-stop latched', values
        if self.world.brownout:
            return 'ERROR', 'brownout: the supply cannot meet the draw', values
        if self.stalls:
            return 'WARN', f'{self.stalls} lockstep periods advanced without a controller', values
        return 'OK', 'running', values

    def stop_actuators(self):
        """Stop every drive (used on shutdown).

        In HIL the emulated devices are served on until the drivers have gone quiet, so
        the field bus can write and confirm its safe values before they disappear.
        """
        self.world.set_estop(True)
        self._checkpoint(force=True)  # a resume goes on from where it stopped
        if self.hil is not None and not self.hil.wait_quiet():
            self.get_logger().warning('the field bus was still talking to the emulated '
                                      'devices when they closed')

    def destroy_node(self):
        """Close the physics world (and the HIL emulators) with the node."""
        if getattr(self, 'hil', None) is not None:  # None if the constructor failed early
            self.hil.close()
        if getattr(self, 'checkpoints', None) is not None:
            self.checkpoints.close()
        if getattr(self, 'world', None) is not None:  # None if the constructor failed
            self.world.close()
        release_record(self)
        return super().destroy_node()


def main(args=None):
    """Run the rig_sim node."""
    return spin_node(RigSimNode, args)


if __name__ == '__main__':
    sys.exit(main())
