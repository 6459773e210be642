"""The rig on the body's surface, in one PyBullet world, stepping its subsystems.

One world, because the drill's reaction pushes the same rig the anchors hold. The rig is
a free multibody resting on its feet on a flat ground under the body's effective gravity
(spin included). What the rig is made of comes from its rig file (config/rigs/*.yaml):
one plugin per subsystem (sim/anchors.py, drill.py, scraper.py, material_line.py,
furnace.py), stepped in file order. The world owns what they share: the rig multibody,
the terrain the tools cut, the material path (sim.material, under a mass ledger), the
power supply, the e-stop and each command's validity window. Commands arrive decoded by
the codec (core.rig_interface): command(subsystem, {joint: {field: value}}, valid_for)
or, from a JointState's arrays, command_arrays(topic, ...).

The world is multi-rate. advance(dt) moves it on by dt: the process models (material
path, furnace, power) in steps of at most process_dt, the rigid body (PyBullet, every
physics_dt) only while it is awake: while a plugin moves it (moving()) or its base is
not at rest, and for settle_time after. Asleep, the rig's pose, joints and contact
forces stand still and cost nothing; any command that moves a drive, the e-stop or a
brownout wakes it at once. always_step=True steps the rigid body throughout (the
reference the multi-rate world is tested against).

Every pybullet call passes this world's physicsClientId: several worlds can coexist.
"""

from dataclasses import dataclass, field
import math
import os

import numpy as np
import pybullet

from spacemine_ros.core.models.material_config import load_material_config
from spacemine_ros.core.models.power import Brownout
from spacemine_ros.core.rig_interface import load_rig_interface
from spacemine_ros.core.models.thermal import load_furnace_design
from spacemine_ros.core.validation import in_range, positive
from spacemine_ros.paths import share_path
from spacemine_ros.sim.anchors import AnchorsSim
from spacemine_ros.sim.description import write_rig_urdf
from spacemine_ros.sim.drill import DrillSim
from spacemine_ros.sim.furnace import FurnacePlugin, FurnaceSim
from spacemine_ros.sim.material import MaterialSystem
from spacemine_ros.sim.material_line import MaterialLineSim
from spacemine_ros.sim.scraper import ScraperSim
from spacemine_ros.sim.subsystem import DRIVE_POSITION_GAIN
from spacemine_ros.sim.terrain import Terrain

BASE_HEIGHT = 0.6  # m, base_link above the ground with the feet on it (see the URDF)
# s: the longest step of the process models. The furnace's shortest thermal time constant
# is about 9 s (door open at 1850 K: heat capacity over dP/dT of its losses), the
# separator's residence half a drum turn (1.6 s at 2 rad/s), a tipped bucket empties in
# 0.5 s: a quarter second keeps each explicit step a small part of them.
PROCESS_DT = 0.25
IDLE_SPEED = 1e-5  # m/s of the base below which the rig stands still
IDLE_TURN = 1e-5  # rad/s of the base below which it does not turn
SETTLE_TIME = 0.5  # s with nothing moving before the rigid body sleeps
PLUGINS = {'anchors': AnchorsSim, 'drill': DrillSim, 'scraper': ScraperSim,
           'material_line': MaterialLineSim, 'furnace': FurnacePlugin}


def default_rig_file():
    """Return the installed (or checked-out) config/rigs/default.yaml."""
    return share_path('config', 'rigs', 'default.yaml')


# rad/s or m/s: a joint slower than this is not driven. A held arm joint still yields a
# little to the base's motion as anchors engage (up to about 6e-4 rad/s, physics, not a
# drive); driven joints move at 1e-2 or more, and every drive's work shows as power.
STILL = 1e-3


def on_control_grid(instant, period):
    """Return the first instant at or after `instant` on the control period's grid [s].

    The controllers act on that grid and a command holds until its next tick there: a
    world stopped off the grid would let each command lapse before it is renewed.
    """
    return math.ceil(instant / period - 1e-6) * period


@dataclass
class Readings:
    """Sensor values for one control period (what the backend publishes).

    joint_* are in the rig file's order of the joints with state; sensors holds every
    subsystem's own sensor topics ({topic: values}); the rest are the rig base's and the
    material path's, and shortcuts to the first drill, scraper and furnace.
    """

    time: float
    joint_names: list
    joint_positions: list
    joint_velocities: list
    joint_efforts: list
    base_position: tuple
    base_orientation: tuple  # quaternion x, y, z, w
    base_linear_velocity: tuple
    base_angular_velocity: tuple
    base_linear_acceleration: tuple  # proper acceleration (what an IMU measures)
    sensors: dict = field(default_factory=dict)
    material_masses: dict = field(default_factory=dict)  # kg per ledger account
    delivered: dict = field(default_factory=dict)  # kg totalizer per transfer point
    lost: dict = field(default_factory=dict)  # kg lost per transfer point
    bit_thrust: float = 0.0
    bit_torque: float = 0.0
    anchor_embeds: list = field(default_factory=list)
    anchor_loads: list = field(default_factory=list)
    anchor_engaged: list = field(default_factory=list)
    blade_force: tuple = (0.0, 0.0, 0.0)  # soil force on the blade, world frame [N]
    furnace_temperature: float = math.nan  # K, thermocouple reading
    melt_fraction: float = 0.0  # melt probe, 0..1
    heater_power: float = 0.0  # W delivered
    extra: dict = field(default_factory=dict)


class RigWorld:
    """PyBullet world with the rig and its subsystems."""

    def __init__(self, body, anchor_type, rig=None, physics_dt=0.005, seed=0,
                 capacity_spread=0.1, command_timeout=0.5, urdf_path=None, material=None,
                 geometry=None, furnace=None, power=None, process_dt=PROCESS_DT,
                 always_step=False, settle_time=SETTLE_TIME):
        """Build the world.

        command_timeout: how long a command holds when it says nothing of its own
        validity [s]. power: the rig's PowerSystem (core.models.power), stepped with the
        world (None: an unlimited supply). process_dt: the process models' longest step
        [s], a whole number of physics steps. always_step: step the rigid body every
        physics_dt whatever moves (the single-rate reference).
        """
        self.body = body
        self.anchor_type = anchor_type
        self.rig_interface = rig or load_rig_interface(default_rig_file())
        self.physics_dt = positive('physics_dt', physics_dt, 's')
        self.command_timeout = positive('command_timeout', command_timeout, 's')
        positive('process_dt', process_dt, 's')
        self.process_steps = max(int(round(process_dt / self.physics_dt)), 1)
        self.settle_time = in_range('settle_time', settle_time, 0.0, 60.0, 's')
        self.always_step = bool(always_step)
        in_range('capacity_spread', capacity_spread, 0.0, 0.9)
        self.rng = np.random.default_rng(seed)
        self._spread = capacity_spread
        self.steps = 0  # physics steps since the start: the world's clock
        self.estop = False
        self.brownout = False  # the power supply cut the draw: no drive is powered
        self.deaf_until = {}  # subsystem: until when no command reaches its drives [s]
        self.power = power
        self.brownout_state = Brownout()
        self.awake = True  # the rigid body steps (it settles on its feet first)
        self.quiet_for = 0.0  # s the awake rigid body has had nothing moving
        self.physics_steps = 0  # physics steps the rigid body has really taken
        self.base_height = BASE_HEIGHT
        self.gravity = body.gravity_vector()
        self.gravity_magnitude = float(np.linalg.norm(self.gravity))
        self.client = pybullet.connect(pybullet.DIRECT)
        cid = self.client
        pybullet.setTimeStep(self.physics_dt, physicsClientId=cid)
        pybullet.setGravity(*self.gravity, physicsClientId=cid)
        ground_shape = pybullet.createCollisionShape(
            pybullet.GEOM_BOX, halfExtents=[20.0, 20.0, 0.5], physicsClientId=cid)
        self.ground = pybullet.createMultiBody(0.0, ground_shape, basePosition=[0, 0, -0.5],
                                               physicsClientId=cid)
        pybullet.changeDynamics(self.ground, -1, lateralFriction=0.6, physicsClientId=cid)
        path = urdf_path or write_rig_urdf(drills=self.rig_interface.drill_masts())
        try:
            self.rig = pybullet.loadURDF(path, [0.0, 0.0, BASE_HEIGHT], physicsClientId=cid)
        finally:
            if urdf_path is None:
                os.unlink(path)
        self.joints, self.links = {}, {}
        movable = []
        for index in range(pybullet.getNumJoints(self.rig, physicsClientId=cid)):
            info = pybullet.getJointInfo(self.rig, index, physicsClientId=cid)
            self.joints[info[1].decode()] = index
            self.links[info[12].decode()] = index
            if info[2] != pybullet.JOINT_FIXED:
                movable.append(index)
        # Every drive is a force-limited motor (drive_joint): it moves its joint toward
        # where the process models put it, and the solver gives every push its reaction
        # on the rig, so the multibody's momentum changes only by the external forces
        # (ground, rock, soil, gravity). A joint no plugin drives is free.
        pybullet.setJointMotorControlArray(self.rig, movable, pybullet.VELOCITY_CONTROL,
                                           forces=[0.0] * len(movable), physicsClientId=cid)
        for index in range(-1, pybullet.getNumJoints(self.rig, physicsClientId=cid)):
            # No sleeping: in micro-gravity a resting rig must still feel small pushes.
            pybullet.changeDynamics(
                self.rig, index, lateralFriction=0.6, linearDamping=0.0, angularDamping=0.0,
                activationState=pybullet.ACTIVATION_STATE_DISABLE_SLEEPING, physicsClientId=cid)
        self.initial_position = tuple(self.base_pose()[0])
        self._previous_velocity = (0.0, 0.0, 0.0)
        self._acceleration = (0.0, 0.0, 0.0)
        self.max_displacement = 0.0
        self.idle_since = 0.0  # sim time since which nothing has moved or worked
        self._pending_joints = {}  # joint index -> (position, velocity, force) to drive
        self._pending_speeds = {}  # joint index -> (velocity, force): velocity motors
        # What the subsystems share: the terrain, the material path and the furnace.
        self.geometry = geometry
        self.material_config = material or load_material_config(
            share_path('config', 'material.yaml'))
        self.material = MaterialSystem(self.material_config, body)
        self.terrain = Terrain()
        self.furnace_sim = FurnaceSim(furnace or load_furnace_design(
            share_path('config', 'smelter.yaml')), self.material, body.semi_major_axis)
        self.plugins = {}
        for name, spec in self.rig_interface.subsystems.items():
            self.plugins[name] = PLUGINS[spec.kind](self, spec)
        self.drills = [p for p in self.plugins.values() if isinstance(p, DrillSim)]
        self.scrapers = [p for p in self.plugins.values() if isinstance(p, ScraperSim)]
        self.anchor_plugin = next(p for p in self.plugins.values() if isinstance(p, AnchorsSim))
        self._state_joints = [j.name for j in self.rig_interface.state_joints]

    # Lifecycle -----------------------------------------------------------------------------
    def close(self):
        """Disconnect from PyBullet."""
        if self.client is not None and pybullet.isConnected(physicsClientId=self.client):
            pybullet.disconnect(physicsClientId=self.client)
        self.client = None

    def __enter__(self):
        """Use as a context manager that closes the world."""
        return self

    def __exit__(self, *exc):
        """Close the world."""
        self.close()

    def draw_capacity_factor(self):
        """Draw (seeded) an anchor's true capacity around the model."""
        return float(self.rng.uniform(1.0 - self._spread, 1.0 + self._spread))

    # Commands ------------------------------------------------------------------------------
    @property
    def time(self):
        """The world's clock [s]: a whole number of physics steps."""
        return self.steps * self.physics_dt

    @time.setter
    def time(self, seconds):
        self.steps = int(round(seconds / self.physics_dt))

    def command(self, subsystem, command, valid_for=None):
        """Give a subsystem a decoded command {joint: {field: value}}.

        valid_for [s]: how long it holds; past that with nothing newer the subsystem
        goes to its safe state (None: command_timeout). ValueError (nothing changed) if
        the subsystem refuses it. A command that moves a drive wakes the rigid body.
        """
        plugin = self.plugins[subsystem]
        window = self.command_timeout if valid_for is None else valid_for
        if not window >= 0.0:  # NaN included
            raise ValueError(f'a command holds for a number of seconds >= 0, not {window}')
        if self.time < self.deaf_until.get(subsystem, -math.inf) - 1e-9:
            return  # lost on a silent bus: the drives keep the last one until it lapses
        plugin.apply(command)
        plugin.valid_until = self.time + window
        if self.estop or self.brownout:
            plugin.hold()  # taken, but nothing moves or heats while latched or unpowered
        if not self.awake and plugin.moving():
            self.wake()

    def command_arrays(self, topic, names, position=(), velocity=(), effort=(),
                       valid_for=None):
        """Decode a JointState command for the subsystem of a topic and apply it.

        ValueError says why a command is refused; the subsystem then holds (a drive that
        cannot be told what to do stops).
        """
        spec = self.rig_interface.by_topic(topic)
        if spec is None:
            raise ValueError(f'no subsystem is commanded on {topic}')
        try:
            self.command(spec.name, spec.decode(names, position, velocity, effort), valid_for)
        except ValueError:
            self.plugins[spec.name].hold()
            self.wake()
            raise

    def set_estop(self, latched):
        """Latch or release the emergency stop (either wakes the rigid body).

        Latched, every subsystem goes to its safe state at once: heater off, drives told
        to stop (an arm brakes to rest), before the world moves on.
        """
        if bool(latched) != self.estop:
            self.estop = bool(latched)
            if self.estop:
                self._hold_all()
            self.wake()

    def set_brownout(self, browned_out):
        """Cut (or give back) every drive's power: the supply cannot meet the draw."""
        if bool(browned_out) != self.brownout:
            self.brownout = bool(browned_out)
            if self.brownout:
                self._hold_all()
            self.wake()

    def cut_power(self, until):
        """Cut the power bus until a sim instant [s] (a supply fault): a brownout from now.

        The drives lose their power at once, not at the next process step. ValueError if
        the rig has an unlimited supply (no power system).
        """
        if self.power is None:
            raise ValueError('the rig has an unlimited supply: no power to cut')
        self.power.outage_until = until
        self.brownout_state.update(self.power.config.base_load + self.electrical_power(),
                                   0.0, 0.0)
        self.set_brownout(True)

    def deafen(self, subsystem, until):
        """No command reaches a subsystem's drives until a sim instant [s] (a silent bus).

        Each drive keeps its last command until that lapses (command_timeout) and then
        stops, as a drive does on its own when its field bus goes quiet.
        """
        if subsystem not in self.plugins:
            raise ValueError(f'no subsystem {subsystem}')
        self.deaf_until[subsystem] = until

    def slip_anchor(self, index, fraction):
        """Anchor `index` keeps only `fraction` of its holding capacity from now on."""
        anchors = self.anchor_plugin.anchors
        if not 0 <= index < len(anchors):
            raise ValueError(f'no anchor {index}: the rig has {len(anchors)}')
        anchors[index].capacity_factor *= fraction
        self.wake()

    def _hold_all(self):
        for plugin in self.plugins.values():
            plugin.hold()

    def wake(self):
        """Step the rigid body again from now (a command, a fault, the e-stop)."""
        self.quiet_for = 0.0
        if not self.awake:
            self.awake = True
            for plugin in self.plugins.values():
                plugin.wake()

    # What plugins use ---------------------------------------------------------------------------
    def drive_joint(self, index, position, velocity, force):
        """Queue a joint's drive for this step (one batched call before the solver).

        Target position [m or rad] and velocity, and the most force or torque [N or N m]
        its motor may use.
        """
        self._pending_joints[index] = (position, velocity, force)

    def drive_speed(self, index, velocity, force):
        """Queue a velocity-controlled drive (a screw or drum turning at a speed).

        Its motor holds the speed [rad/s] with at most force [N m]: a process drive whose
        angle matters to nobody, so it goes on turning where the rigid body slept.
        """
        self._pending_speeds[index] = (velocity, force)

    def flush_joints(self):
        """Set every queued drive now, before the solver steps.

        A motor keeps its last setting: a drive that holds need not be set again.
        """
        pending = self._pending_joints
        if pending:
            indices = list(pending)
            pybullet.setJointMotorControlArray(
                self.rig, indices, pybullet.POSITION_CONTROL,
                targetPositions=[pending[i][0] for i in indices],
                targetVelocities=[pending[i][1] for i in indices],
                forces=[pending[i][2] for i in indices],
                positionGains=[DRIVE_POSITION_GAIN] * len(indices),
                velocityGains=[1.0] * len(indices), physicsClientId=self.client)
            pending.clear()
        speeds = self._pending_speeds
        if speeds:
            indices = list(speeds)
            pybullet.setJointMotorControlArray(
                self.rig, indices, pybullet.VELOCITY_CONTROL,
                targetVelocities=[speeds[i][0] for i in indices],
                forces=[speeds[i][1] for i in indices], physicsClientId=self.client)
            speeds.clear()

    def joint_positions(self, indices):
        """Return the joints' positions and velocities now ([(q, qdot), ...])."""
        return [state[:2] for state in pybullet.getJointStates(
            self.rig, indices, physicsClientId=self.client)]

    def base_pose(self):
        """Return the base position and orientation (x, y, z, w) in the world frame."""
        return pybullet.getBasePositionAndOrientation(self.rig, physicsClientId=self.client)

    def base_rotation(self):
        """Return the base's rotation matrix (3 x 3)."""
        return np.array(pybullet.getMatrixFromQuaternion(self.base_pose()[1])).reshape(3, 3)

    def momentum(self, gross=False):
        """Return (mass [kg], centre of mass [m], linear momentum [kg m/s]) of the rig.

        Summed over the base and every link at its centre of mass (world frame). gross:
        the sum of the parts' momentum magnitudes instead (how much is moving).
        """
        cid = self.client
        mass = pybullet.getDynamicsInfo(self.rig, -1, physicsClientId=cid)[0]
        linear, _ = pybullet.getBaseVelocity(self.rig, physicsClientId=cid)
        momentum = mass * np.array(linear)
        magnitude = mass * float(np.linalg.norm(linear))
        # The base's centre of mass: its inertial frame's origin in the world.
        local = pybullet.getDynamicsInfo(self.rig, -1, physicsClientId=cid)[3]
        position, orientation = self.base_pose()
        centre = pybullet.multiplyTransforms(position, orientation, local, (0, 0, 0, 1))[0]
        moment = mass * np.array(centre)
        total = mass
        for index in range(pybullet.getNumJoints(self.rig, physicsClientId=cid)):
            link_mass = pybullet.getDynamicsInfo(self.rig, index, physicsClientId=cid)[0]
            state = pybullet.getLinkState(self.rig, index, computeLinkVelocity=1,
                                          computeForwardKinematics=1, physicsClientId=cid)
            momentum += link_mass * np.array(state[6])
            magnitude += link_mass * float(np.linalg.norm(state[6]))
            moment += link_mass * np.array(state[0])
            total += link_mass
        return total, moment / total, magnitude if gross else momentum

    def displacement(self):
        """Distance of the base from where it started [m]."""
        return math.dist(self.base_pose()[0], self.initial_position)

    def electrical_power(self):
        """Return what every subsystem draws now [W] (base load not included)."""
        return sum(plugin.electrical_power() for plugin in self.plugins.values())

    def unsafe(self):
        """Return why an actuator is not safe now ('' when every one is).

        Unsafe: a drive draws power or a joint moves faster than STILL (what an e-stop
        must bring about).
        """
        power = self.electrical_power()
        if power > 0.0:
            return f'drawing {power:.1f} W'
        readings = self.readings()
        moving = [f'{name} {speed:.2g} /s' for name, speed in zip(
            readings.joint_names, readings.joint_velocities) if abs(speed) > STILL]
        return f'moving: {", ".join(moving)}' if moving else ''

    def idle_for(self):
        """Return how long [s of sim time] nothing of the rig has moved or worked."""
        return self.time - self.idle_since

    def bucket_dumping(self):
        """Tell whether a scraper's tipped bucket is over the conveyor intake."""
        return any(scraper.dumping for scraper in self.scrapers)

    def live(self, plugin):
        """Tell whether a plugin is commanded now: its command holds, no e-stop, no brownout."""
        return not (self.estop or self.brownout) and self.time <= plugin.valid_until + 1e-9

    def moving(self):
        """Tell whether something moves the rigid body now (a plugin, or its base)."""
        if any(plugin.moving() for plugin in self.plugins.values()):
            return True
        linear, angular = pybullet.getBaseVelocity(self.rig, physicsClientId=self.client)
        return math.hypot(*linear) > IDLE_SPEED or math.hypot(*angular) > IDLE_TURN

    def working(self):
        """Tell whether anything of the rig works now (moves, carries, heats)."""
        return self.awake or any(plugin.working() for plugin in self.plugins.values())

    # Stepping ------------------------------------------------------------------------------
    def advance(self, duration):
        """Advance the world by duration [s] (a whole number of physics steps, at least one).

        The process models step at most process_dt at a time, in equal whole numbers of
        physics steps; the rigid body steps every physics_dt while it is awake (or
        always, with always_step) and sleeps once nothing has moved for settle_time.
        """
        steps = max(int(round(duration / self.physics_dt)), 1)
        slices = -(-steps // self.process_steps)  # ceil
        done = 0
        for index in range(slices):
            size = (steps - done) // (slices - index)
            done += size
            self._slice(size)
        if self.working():
            self.idle_since = self.time

    def _slice(self, steps):
        """Advance `steps` physics steps and then the process models by as much."""
        dt = self.physics_dt
        if not self.awake and (self.always_step or self.moving()):
            self.wake()
        if self.awake or self.always_step:
            for _ in range(steps):
                self._physics_step()
        else:
            self.steps += steps
        live = {name: self.live(plugin) for name, plugin in self.plugins.items()}
        self._step_process(steps * dt, live)
        if self.awake:
            if self.moving():
                self.quiet_for = 0.0
            else:
                self.quiet_for += steps * dt
                if self.quiet_for >= self.settle_time - 1e-9 and not self.always_step:
                    self.awake = False
                    self._acceleration = (0.0, 0.0, 0.0)

    def _physics_step(self):
        dt = self.physics_dt
        live = {name: self.live(plugin) for name, plugin in self.plugins.items()}
        for name, plugin in self.plugins.items():
            plugin.physics_step(dt, live[name])
        self.flush_joints()
        pybullet.stepSimulation(physicsClientId=self.client)
        self.steps += 1
        self.physics_steps += 1
        # Small vectors in plain floats: numpy's per-call cost dominates at this size.
        velocity = pybullet.getBaseVelocity(self.rig, physicsClientId=self.client)[0]
        self._acceleration = tuple((v - p) / dt for v, p in zip(velocity,
                                                                self._previous_velocity))
        self._previous_velocity = velocity
        self.max_displacement = max(self.max_displacement, self.displacement())

        for name, plugin in self.plugins.items():
            plugin.after_physics(dt, live[name])

    def _step_process(self, dt, live):
        self._step_material(dt, live)
        if self.power is not None:
            wanted = self.power.config.base_load + self.electrical_power()
            got = self.power.step(dt, wanted)
            self.set_brownout(self.brownout_state.update(wanted, got, self.power.available()))

    def _step_material(self, dt, live):
        material = self.material
        # Drill cuttings enter the ledger as the drills cut them (drills sharing a
        # transfer point share its totals).
        cut = {}
        for drill in self.drills:
            cut[drill.cuttings] = cut.get(drill.cuttings, 0.0) + drill.excavated_mass
        for point, mass in cut.items():
            mass -= material.delivered[point] + material.lost[point]
            if mass > 0.0:
                material.excavate(point, mass, 0.0)
        ran = False
        for name, plugin in self.plugins.items():
            plugin.period_step(dt, live[name])
            ran = ran or isinstance(plugin, MaterialLineSim)
        if not ran:  # a rig without a material line: the flows still move
            material.step(dt, bucket_dumping=self.bucket_dumping())
        material.ledger.check()  # every flow of this step balanced (LedgerViolation if not)

    # Sensors -------------------------------------------------------------------------------
    def readings(self):
        """Sensor values now."""
        states = {}
        sensors = {}
        for plugin in self.plugins.values():
            states.update(plugin.joint_states())
            sensors.update(plugin.sensors())
        names = self._state_joints
        position, orientation = self.base_pose()
        linear, angular = pybullet.getBaseVelocity(self.rig, physicsClientId=self.client)
        proper = tuple(a - g for a, g in zip(self._acceleration, self.gravity))
        drill = self.drills[0] if self.drills else None
        load = drill.load if drill is not None else None
        anchors = self.anchor_plugin.anchors
        scraper = self.scrapers[0] if self.scrapers else None
        furnace = self.furnace_sim
        return Readings(
            time=self.time, joint_names=list(names),
            joint_positions=[states[n][0] for n in names],
            joint_velocities=[states[n][1] for n in names],
            joint_efforts=[states[n][2] for n in names],
            base_position=tuple(position), base_orientation=tuple(orientation),
            base_linear_velocity=tuple(linear), base_angular_velocity=tuple(angular),
            base_linear_acceleration=proper, sensors=sensors,
            material_masses=self.material.masses(),
            delivered=dict(self.material.delivered), lost=dict(self.material.lost),
            bit_thrust=load.thrust if load else 0.0, bit_torque=load.torque if load else 0.0,
            anchor_embeds=[a.embed for a in anchors], anchor_loads=[a.load for a in anchors],
            anchor_engaged=[a.engaged for a in anchors],
            blade_force=tuple(float(f) for f in scraper.blade_force) if scraper else
            (0.0, 0.0, 0.0),
            furnace_temperature=furnace.thermocouple(),
            melt_fraction=furnace.thermal.melt_fraction(), heater_power=furnace.heater_power,
            extra={'hole_depth': drill.hole_depth if drill else 0.0,
                   'excavated_mass': sum(d.excavated_mass for d in self.drills),
                   'max_displacement': self.max_displacement})

    # Shortcuts for tests and tools ------------------------------------------------------------
    @property
    def drill(self):
        """The first drill's process model (hole depth, excavated mass)."""
        return self.drills[0].process

    @property
    def anchors(self):
        """The anchors' simulated states."""
        return self.anchor_plugin.anchors

    @property
    def furnace(self):
        """The furnace model."""
        return self.furnace_sim

    def anchor_capacity(self, index):
        """Return the true holding capacity of an anchor at its embed depth [N]."""
        return self.anchor_plugin.capacity(index)

    def tip_position(self, arm=None):
        """Return the first scraper's blade tip in the world frame [m]."""
        return self.scrapers[0].tip_position(arm)
