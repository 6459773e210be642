"""The rig on the body's surface, in one PyBullet world.

One world, because the drill's reaction pushes the same rig the anchors hold. The rig is
a free multibody resting on its feet on a flat ground under the body's effective gravity
(spin included). Anchored feet are held by fixed constraints whose reaction force is
read every step; a load above an anchor's capacity pulls it out. Drilling runs the
drag-bit process model (core.drilling) and applies the rock's reaction force and torque
to the rig at the bit tip, so an unanchored rig is pushed off the surface. The scraper
blade cuts a height map of the regolith (sim.terrain) with the earth-moving model
(core.cutting); its reaction acts on the rig at the blade tip, like the drill's. The
material path (sim.material) moves everything excavated through conveyor, separator and
hoppers under a mass ledger.

Every pybullet call passes this world's physicsClientId: several worlds can coexist.
"""

from dataclasses import dataclass, field
import math
import os

import numpy as np
import pybullet

from spacemine_ros.core.anchoring import anchor_capacity
from spacemine_ros.core.cutting import cutting_force
from spacemine_ros.core.drilling import DragBit, DrillingProcess
from spacemine_ros.core.material_config import load_material_config
from spacemine_ros.core.scraper import ArmGeometry, JOINTS as SCRAPER_JOINTS
from spacemine_ros.core.thermal import load_furnace_design
from spacemine_ros.core.validation import finite, in_range, non_negative, positive
from spacemine_ros.paths import share_path
from spacemine_ros.sim.description import write_rig_urdf
from spacemine_ros.sim.furnace import FurnaceSim
from spacemine_ros.sim.material import MaterialSystem
from spacemine_ros.sim.terrain import Terrain

BASE_HEIGHT = 0.6  # m, base_link above the ground with the feet on it (see the URDF)
ANCHOR_COUNT = 4
FEED_STROKE = 1.0  # m (URDF drill_feed limit)
ANCHOR_ENGAGE_FRACTION = 0.5  # engaged once half the embed depth is reached
ARM_HOLDING_TORQUE = 1000.0  # N m the arm drives may use to hold a pose
MATERIAL_PERIOD = 0.05  # s between updates of the material flows
DUMP_WRIST_ANGLE = 1.0  # rad: the bucket empties when tipped past this ...
DUMP_REACH = 0.15  # m ... with the blade this close to the conveyor intake


@dataclass
class RigLimits:
    """Actuator limits of the simulated rig (what the drives can do)."""

    feed_thrust_max: float = 500.0  # N
    feed_speed_max: float = 0.05  # m/s
    spindle_speed_max: float = 30.0  # rad/s
    spindle_torque_max: float = 20.0  # N m
    bit_radius: float = 0.025  # m
    blade_force_max: float = 300.0  # N the arm drives can push the blade with
    arm_speed_max: float = 0.5  # rad/s per arm joint (URDF)


@dataclass
class AnchorSim:
    """Simulated state of one anchor."""

    capacity_factor: float  # site variability of the true capacity
    embed: float = 0.0  # m
    velocity: float = 0.0  # m/s
    target: float = 0.0  # m
    tension: float = 0.0  # N commanded
    constraint: int = -1  # pybullet constraint id while engaged
    load: float = 0.0  # N axial load (tension + external pull)
    armed: bool = True  # False after a pull-out until commanded back to 0
    pulled_out: bool = False

    @property
    def engaged(self):
        """True while the anchor holds the foot."""
        return self.constraint >= 0


@dataclass
class DrillCommandSim:
    """The drill drives' latest command."""

    feed_speed: float = 0.0
    thrust_limit: float = 0.0
    spindle_speed: float = 0.0


@dataclass
class Readings:
    """Sensor values for one control period (what the backend publishes)."""

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
    bit_thrust: float
    bit_torque: float
    anchor_embeds: list
    anchor_velocities: list
    anchor_loads: list
    anchor_engaged: list
    blade_force: tuple = (0.0, 0.0, 0.0)  # soil force on the blade, world frame [N]
    material_masses: dict = field(default_factory=dict)  # kg per ledger account
    delivered: dict = field(default_factory=dict)  # kg totalizer per transfer point
    lost: dict = field(default_factory=dict)  # kg lost per transfer point
    furnace_temperature: float = math.nan  # K, thermocouple reading
    melt_fraction: float = 0.0  # melt probe, 0..1
    heater_power: float = 0.0  # W delivered
    extra: dict = field(default_factory=dict)


class RigWorld:
    """PyBullet world with the rig, its anchors and the drilling process."""

    def __init__(self, body, anchor_type, limits=None, physics_dt=0.005, seed=0,
                 capacity_spread=0.1, command_timeout=0.5, urdf_path=None, material=None,
                 geometry=None, furnace=None):
        self.body = body
        self.anchor_type = anchor_type
        self.limits = limits or RigLimits()
        self.physics_dt = positive('physics_dt', physics_dt, 's')
        self.command_timeout = positive('command_timeout', command_timeout, 's')
        in_range('capacity_spread', capacity_spread, 0.0, 0.9)
        self.rng = np.random.default_rng(seed)
        self.time = 0.0
        self.estop = False
        self.gravity = body.gravity_vector()
        self.gravity_magnitude = float(np.linalg.norm(self.gravity))
        self.client = pybullet.connect(pybullet.DIRECT)
        self._spread = capacity_spread
        cid = self.client
        pybullet.setTimeStep(self.physics_dt, physicsClientId=cid)
        pybullet.setGravity(*self.gravity, physicsClientId=cid)
        ground_shape = pybullet.createCollisionShape(
            pybullet.GEOM_BOX, halfExtents=[20.0, 20.0, 0.5], physicsClientId=cid)
        self.ground = pybullet.createMultiBody(0.0, ground_shape, basePosition=[0, 0, -0.5],
                                               physicsClientId=cid)
        pybullet.changeDynamics(self.ground, -1, lateralFriction=0.6, physicsClientId=cid)
        path = urdf_path or write_rig_urdf()
        try:
            self.rig = pybullet.loadURDF(path, [0.0, 0.0, BASE_HEIGHT], physicsClientId=cid)
        finally:
            if urdf_path is None:
                os.unlink(path)
        self.joints = {}
        self.links = {}
        for index in range(pybullet.getNumJoints(self.rig, physicsClientId=cid)):
            info = pybullet.getJointInfo(self.rig, index, physicsClientId=cid)
            self.joints[info[1].decode()] = index
            self.links[info[12].decode()] = index
        self.movable = [name for name, index in self.joints.items()
                        if pybullet.getJointInfo(self.rig, index, physicsClientId=cid)[2]
                        != pybullet.JOINT_FIXED]
        # The drill and anchor drives are kinematic (set each step; the rock's reaction is
        # applied explicitly), so their joint motors must be off: a motor fighting a reset
        # joint would push the base with a force that exists nowhere in reality.
        # The same holds for the scraper arm (its blade's reaction is applied at the tip)
        # and the material drives.
        for name in self.movable:
            pybullet.setJointMotorControl2(
                self.rig, self.joints[name], pybullet.VELOCITY_CONTROL, force=0.0,
                physicsClientId=cid)
        for index in range(-1, pybullet.getNumJoints(self.rig, physicsClientId=cid)):
            # No sleeping: in micro-gravity a resting rig must still feel small pushes.
            pybullet.changeDynamics(
                self.rig, index, lateralFriction=0.6, linearDamping=0.0, angularDamping=0.0,
                activationState=pybullet.ACTIVATION_STATE_DISABLE_SLEEPING, physicsClientId=cid)
        self.anchors = [AnchorSim(capacity_factor=self._draw_capacity_factor())
                        for _ in range(ANCHOR_COUNT)]
        self.drill = DrillingProcess(body.strata, DragBit(self.limits.bit_radius))
        self.drill_command = DrillCommandSim()
        self.feed = 0.0
        self.spindle_angle = 0.0
        self.bit_load = None
        self.last_drill_command_time = -math.inf
        self.last_anchor_command_time = -math.inf
        self.initial_position = np.array(self.base_pose()[0])
        self._previous_velocity = np.zeros(3)
        self._acceleration = np.zeros(3)
        self.max_displacement = 0.0
        self.spindle_energy = 0.0  # J
        self.feed_energy = 0.0  # J
        # Scraper and material path.
        self.geometry = geometry or ArmGeometry()
        self.material_config = material or load_material_config(
            share_path('config', 'material.yaml'))
        self.material = MaterialSystem(self.material_config, body)
        self.terrain = Terrain()
        self.arm = dict.fromkeys(SCRAPER_JOINTS, 0.0)
        self.arm_targets = dict(self.arm)
        self.arm_speeds = dict.fromkeys(SCRAPER_JOINTS, self.limits.arm_speed_max)
        self.blade_force_limit = 0.0
        self.blade_force = np.zeros(3)  # soil force on the blade, world frame [N]
        self.blade_blocked = False
        self.last_scraper_command_time = -math.inf
        self.last_material_command_time = -math.inf
        self._material_clock = 0.0
        self.drive_angles = dict.fromkeys(self.material.speeds, 0.0)
        self.furnace = FurnaceSim(furnace or load_furnace_design(
            share_path('config', 'smelter.yaml')), self.material, body.semi_major_axis)
        self.last_furnace_command_time = -math.inf

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

    def _draw_capacity_factor(self):
        return float(self.rng.uniform(1.0 - self._spread, 1.0 + self._spread))

    # Commands ------------------------------------------------------------------------------
    def command_drill(self, feed_speed, thrust_limit, spindle_speed):
        """Set the drill drives; out-of-range values are clamped to the drives' limits.

        Raises ValueError for values that are not finite numbers (nothing is changed).
        """
        limits = self.limits
        feed_speed = finite('feed_speed', feed_speed)
        thrust_limit = finite('thrust_limit', thrust_limit)
        spindle_speed = finite('spindle_speed', spindle_speed)
        self.drill_command = DrillCommandSim(
            feed_speed=float(np.clip(feed_speed, -limits.feed_speed_max, limits.feed_speed_max)),
            thrust_limit=float(np.clip(thrust_limit, 0.0, limits.feed_thrust_max)),
            spindle_speed=float(np.clip(spindle_speed, 0.0, limits.spindle_speed_max)))
        self.last_drill_command_time = self.time

    def command_anchors(self, targets, tensions):
        """Set each anchor's embed target [m] and tension [N]; raises ValueError if bad."""
        if len(targets) != ANCHOR_COUNT or len(tensions) != ANCHOR_COUNT:
            raise ValueError(f'expected {ANCHOR_COUNT} anchor targets and tensions')
        targets = [in_range(f'anchor_{i} target', t, 0.0, self.anchor_type.embed_depth, 'm')
                   for i, t in enumerate(targets)]
        tensions = [non_negative(f'anchor_{i} tension', f, 'N') for i, f in enumerate(tensions)]
        for anchor, target, tension in zip(self.anchors, targets, tensions):
            anchor.target, anchor.tension = target, tension
        self.last_anchor_command_time = self.time

    def command_scraper(self, positions, force_limit, velocities=None):
        """Set arm joint targets [rad], speeds [rad/s] and the blade force limit [N].

        Each joint moves toward its target at its commanded speed (the drive's limit when
        none is given). Raises ValueError for bad values (nothing is changed).
        """
        unknown = set(positions) - set(SCRAPER_JOINTS)
        if unknown:
            raise ValueError(f'unknown scraper joints: {", ".join(sorted(unknown))}')
        limits = {'scraper_slew': self.geometry.slew_limits,
                  'scraper_shoulder': self.geometry.shoulder_limits,
                  'scraper_elbow': self.geometry.elbow_limits,
                  'scraper_wrist': self.geometry.wrist_limits}
        checked = {name: in_range(f'{name} target', value, *limits[name], 'rad')
                   for name, value in positions.items()}
        force_limit = non_negative('blade force limit', force_limit, 'N')
        speeds = {name: min(non_negative(f'{name} speed', abs(finite(name, value)), 'rad/s'),
                            self.limits.arm_speed_max)
                  for name, value in (velocities or {}).items() if name in checked}
        self.arm_targets.update(checked)
        self.arm_speeds = {name: speeds.get(name, self.limits.arm_speed_max)
                           for name in SCRAPER_JOINTS}
        self.blade_force_limit = min(force_limit, self.limits.blade_force_max)
        self.last_scraper_command_time = self.time

    def command_material(self, speeds):
        """Set material drive speeds [rad/s] by joint name; raises ValueError if bad."""
        self.material.command(speeds)
        self.last_material_command_time = self.time

    def command_furnace(self, heater_power, door_open, tap_open):
        """Set the heater power [W], cooling door and tap; raises ValueError if bad."""
        self.furnace.command(heater_power, door_open, tap_open)
        self.last_furnace_command_time = self.time

    def set_estop(self, latched):
        """Latch or release the emergency stop."""
        self.estop = bool(latched)

    # Queries -------------------------------------------------------------------------------
    def base_pose(self):
        """Return the base position and orientation (x, y, z, w) in the world frame."""
        return pybullet.getBasePositionAndOrientation(self.rig, physicsClientId=self.client)

    def displacement(self):
        """Distance of the base from where it started [m]."""
        return float(np.linalg.norm(np.array(self.base_pose()[0]) - self.initial_position))

    def bit_tip_depth(self):
        """Depth of the bit tip below the ground plane [m]."""
        state = pybullet.getLinkState(self.rig, self.links['drill_bit'],
                                      computeForwardKinematics=True, physicsClientId=self.client)
        return -state[4][2]

    def anchor_capacity(self, index):
        """Return the true holding capacity of an anchor at its embed depth [N]."""
        anchor = self.anchors[index]
        nominal = anchor_capacity(self.anchor_type, self.body.site.substrate, self.body.regolith,
                                  self.gravity_magnitude,
                                  min(anchor.embed, self.anchor_type.embed_depth))
        return nominal * anchor.capacity_factor

    # Stepping ------------------------------------------------------------------------------
    def _commands_live(self, last_time):
        return not self.estop and self.time - last_time <= self.command_timeout

    def step(self, duration):
        """Advance the world by duration [s] in physics steps."""
        steps = max(int(round(duration / self.physics_dt)), 1)
        for _ in range(steps):
            self._physics_step()

    def _physics_step(self):
        dt = self.physics_dt
        self._step_anchors(dt)
        self._step_drill(dt)
        self._step_scraper(dt)
        pybullet.stepSimulation(physicsClientId=self.client)
        self.time += dt
        self._material_clock += dt
        if self._material_clock >= MATERIAL_PERIOD - 1e-12:
            self._step_material(self._material_clock)
            self._material_clock = 0.0
        _, velocity = self._base_velocity()
        velocity = np.array(velocity)
        self._acceleration = (velocity - self._previous_velocity) / dt
        self._previous_velocity = velocity
        self.max_displacement = max(self.max_displacement, self.displacement())
        self._read_anchor_loads()

    def _base_velocity(self):
        linear, angular = pybullet.getBaseVelocity(self.rig, physicsClientId=self.client)
        return angular, linear

    def _step_anchors(self, dt):
        live = self._commands_live(self.last_anchor_command_time)
        drive = self.anchor_type.drive_speed
        engage_at = ANCHOR_ENGAGE_FRACTION * self.anchor_type.embed_depth
        for index, anchor in enumerate(self.anchors):
            if not anchor.armed:
                anchor.velocity = 0.0
                if anchor.target <= 1e-6 and live:
                    anchor.armed, anchor.pulled_out = True, False
                continue
            target = anchor.target if live else anchor.embed  # timeout: hold still
            step = float(np.clip(target - anchor.embed, -drive * dt, drive * dt))
            anchor.embed += step
            anchor.velocity = step / dt
            joint = self.joints[f'anchor_{index}_joint']
            pybullet.resetJointState(self.rig, joint, anchor.embed, physicsClientId=self.client)
            if not anchor.engaged and anchor.embed >= engage_at and step >= 0.0:
                self._engage(index)
            elif anchor.engaged and anchor.embed < engage_at:
                self._disengage(index)

    def _engage(self, index):
        foot = self.links[f'foot_{index}']
        state = pybullet.getLinkState(self.rig, foot, computeForwardKinematics=True,
                                      physicsClientId=self.client)
        position, orientation = state[4], state[5]
        self.anchors[index].constraint = pybullet.createConstraint(
            self.rig, foot, -1, -1, pybullet.JOINT_FIXED, [0, 0, 0], [0, 0, 0], position,
            childFrameOrientation=orientation, physicsClientId=self.client)
        pybullet.changeConstraint(self.anchors[index].constraint, maxForce=1e6,
                                  physicsClientId=self.client)

    def _disengage(self, index):
        anchor = self.anchors[index]
        if anchor.constraint >= 0:
            pybullet.removeConstraint(anchor.constraint, physicsClientId=self.client)
        anchor.constraint = -1
        anchor.load = 0.0

    def _read_anchor_loads(self):
        live = self._commands_live(self.last_anchor_command_time)
        for index, anchor in enumerate(self.anchors):
            if not anchor.engaged:
                anchor.load = 0.0
                continue
            force = pybullet.getConstraintState(anchor.constraint, physicsClientId=self.client)
            # The constraint pulls the foot down (negative z) when the rig pulls up on the
            # anchor: that, and any shear, loads the anchor; pushing into the ground does not.
            pull = np.array([force[0], force[1], min(force[2], 0.0)])
            tension = anchor.tension if live else 0.0
            anchor.load = tension + float(np.linalg.norm(pull))
            if anchor.load > self.anchor_capacity(index):
                self._disengage(index)
                anchor.load = 0.0
                anchor.embed = 0.0
                anchor.armed, anchor.pulled_out = False, True
                anchor.capacity_factor = self._draw_capacity_factor()  # reseat elsewhere
                pybullet.resetJointState(self.rig, self.joints[f'anchor_{index}_joint'], 0.0,
                                         physicsClientId=self.client)

    def _step_drill(self, dt):
        command = self.drill_command
        if not self._commands_live(self.last_drill_command_time):
            command = DrillCommandSim()
        load = self.drill.step(
            dt, self.bit_tip_depth(), command.feed_speed, command.thrust_limit,
            command.spindle_speed, self.limits.spindle_torque_max,
            feed_travel_left=FEED_STROKE - self.feed)
        self.feed = float(np.clip(self.feed + load.feed_advance, 0.0, FEED_STROKE))
        self.spindle_angle += load.spindle_speed * dt
        self.bit_load = load
        pybullet.resetJointState(self.rig, self.joints['drill_feed'], self.feed,
                                 physicsClientId=self.client)
        pybullet.resetJointState(self.rig, self.joints['drill_spindle'], self.spindle_angle,
                                 load.spindle_speed, physicsClientId=self.client)
        self.spindle_energy += load.torque * load.spindle_speed * dt
        self.feed_energy += load.thrust * load.rate_of_penetration * dt
        if load.in_contact and (load.thrust > 0.0 or load.torque > 0.0):
            # The rock pushes the bit back along the drill axis and resists its rotation;
            # both reach the rig through the mast.
            _, orientation = self.base_pose()
            rotation = np.array(pybullet.getMatrixFromQuaternion(orientation)).reshape(3, 3)
            drill_axis = rotation @ np.array([0.0, 0.0, -1.0])
            tip = pybullet.getLinkState(self.rig, self.links['drill_bit'],
                                        computeForwardKinematics=True,
                                        physicsClientId=self.client)[4]
            pybullet.applyExternalForce(self.rig, -1, list(-load.thrust * drill_axis), tip,
                                        pybullet.WORLD_FRAME, physicsClientId=self.client)
            pybullet.applyExternalTorque(self.rig, -1, list(-load.torque * drill_axis),
                                         pybullet.WORLD_FRAME, physicsClientId=self.client)

    def tip_position(self, arm=None):
        """Blade tip in the world frame [m] for arm joint positions (default: current)."""
        arm = arm or self.arm
        local = self.geometry.forward(arm['scraper_slew'], arm['scraper_shoulder'],
                                      arm['scraper_elbow'])
        local = (local[0], local[1], local[2] - self.geometry.base_height)  # base frame
        position, orientation = self.base_pose()
        return np.array(pybullet.multiplyTransforms(position, orientation, local,
                                                    (0, 0, 0, 1))[0])

    def _step_scraper(self, dt):
        if self._commands_live(self.last_scraper_command_time):
            targets, limit = self.arm_targets, self.blade_force_limit
        else:  # no command: hold still with the drives relaxed
            targets, limit = self.arm, 0.0
        candidate = {name: self.arm[name] + float(np.clip(
            targets[name] - self.arm[name], -self.arm_speeds[name] * dt,
            self.arm_speeds[name] * dt)) for name in SCRAPER_JOINTS}
        self.blade_force = np.zeros(3)
        self.blade_blocked = False
        if candidate != self.arm:
            tip, new_tip = self.tip_position(), self.tip_position(candidate)
            motion = new_tip - tip
            horizontal = np.array([motion[0], motion[1], 0.0])
            travel = float(np.linalg.norm(horizontal))
            slew = candidate['scraper_slew']
            across = np.array([-math.sin(slew), math.cos(slew)])  # blade width direction
            cells = self.terrain.blade_cells(new_tip, across, self.material_config.blade.width)
            direction = horizontal / travel if travel > 1e-12 else np.zeros(3)
            ahead = self.terrain.blade_cells(new_tip + direction * self.terrain.resolution,
                                             across, self.material_config.blade.width)
            depth = self.terrain.depth_at(ahead, new_tip[2]) if travel > 1e-12 else \
                self.terrain.depth_at(cells, new_tip[2])
            regolith = self.body.regolith
            force = cutting_force(depth, travel / dt, self.gravity_magnitude, regolith.density,
                                  regolith.cohesion, regolith.friction_angle,
                                  self.material_config.blade)
            rising = new_tip[2] > tip[2] + 1e-12
            if self.terrain.blocked(cells, new_tip[2]) or (
                    force.magnitude > limit and not rising):
                # The drives push at their limit and the blade does not move.
                self.blade_blocked = True
                push = direction if travel > 1e-12 else np.array([0.0, 0.0, -1.0])
                self.blade_force = -push * limit if depth > 0.0 or self.terrain.blocked(
                    cells, new_tip[2]) else np.zeros(3)
                candidate = {name: (candidate[name] if name == 'scraper_wrist'
                                    else self.arm[name]) for name in SCRAPER_JOINTS}
            else:
                self._cut(cells, new_tip, travel / dt)
                self.blade_force = -direction * force.draught + np.array(
                    [0.0, 0.0, -force.vertical])
            self.arm = candidate
        # Kinematic joints are set every step, moving or not, and held there by their
        # drives: the drives carry the arm's weight (a real load on the base), and a drive
        # holding the position it was reset to adds no force that does not exist.
        for name in SCRAPER_JOINTS:
            pybullet.resetJointState(self.rig, self.joints[name], self.arm[name],
                                     physicsClientId=self.client)
            pybullet.setJointMotorControl2(
                self.rig, self.joints[name], pybullet.POSITION_CONTROL,
                targetPosition=self.arm[name], force=ARM_HOLDING_TORQUE,
                physicsClientId=self.client)
        if np.any(self.blade_force):
            pybullet.applyExternalForce(self.rig, -1, list(self.blade_force),
                                        list(self.tip_position()), pybullet.WORLD_FRAME,
                                        physicsClientId=self.client)

    def _cut(self, cells, tip, speed):
        material = self.material
        room = material.ledger.room('scraper')
        density = self.body.regolith.density
        volume = self.terrain.cut(cells, tip[2], max_volume=room / density)
        if volume > 0.0:
            material.excavate('scraper_cut', volume * density, speed)

    def _step_material(self, dt):
        material = self.material
        if not self._commands_live(self.last_material_command_time):
            material.stop()
        tip = self.tip_position()
        geometry = self.geometry
        intake = np.array([geometry.shoulder_x + geometry.intake_radius, 0.0,
                           geometry.intake_height])
        intake = intake + np.array(self.initial_position) - [0.0, 0.0, BASE_HEIGHT]
        dumping = (self.arm['scraper_wrist'] >= DUMP_WRIST_ANGLE
                   and float(np.linalg.norm(tip - intake)) <= DUMP_REACH)
        # Drill cuttings enter the ledger as the drill cuts them.
        cut = self.drill.excavated_mass - material.delivered['drill_cut'] - \
            material.lost['drill_cut']
        if cut > 0.0:
            material.excavate('drill_cut', cut, 0.0)
        material.step(dt, bucket_dumping=dumping)
        if not self._commands_live(self.last_furnace_command_time):
            self.furnace.stop()  # heater off and tap shut; the door stays as it was
        self.furnace.step(dt)
        for name, speed in material.speeds.items():
            self.drive_angles[name] += speed * dt
            pybullet.resetJointState(self.rig, self.joints[name], self.drive_angles[name],
                                     speed, physicsClientId=self.client)

    # Sensors -------------------------------------------------------------------------------
    def readings(self):
        """Sensor values now."""
        cid = self.client
        names, positions, velocities, efforts = [], [], [], []
        for name in self.movable:
            state = pybullet.getJointState(self.rig, self.joints[name], physicsClientId=cid)
            names.append(name)
            positions.append(state[0])
            velocities.append(state[1])
            efforts.append(state[3])
        load = self.bit_load
        feed_index = names.index('drill_feed')
        spindle_index = names.index('drill_spindle')
        if load is not None:
            velocities[feed_index] = load.feed_advance / self.physics_dt
            velocities[spindle_index] = load.spindle_speed
            efforts[feed_index] = load.thrust
            efforts[spindle_index] = load.torque
        for name in SCRAPER_JOINTS:  # the kinematic state, not the solver's
            positions[names.index(name)] = self.arm[name]
        for name, torque in self.material.torques.items():
            index = names.index(name)
            velocities[index] = self.material.speeds[name]
            efforts[index] = torque
        for index, anchor in enumerate(self.anchors):
            joint_index = names.index(f'anchor_{index}_joint')
            positions[joint_index] = anchor.embed
            velocities[joint_index] = anchor.velocity
            efforts[joint_index] = anchor.load
        position, orientation = self.base_pose()
        angular, linear = self._base_velocity()
        proper = tuple(self._acceleration - self.gravity)
        return Readings(
            time=self.time, joint_names=names, joint_positions=positions,
            joint_velocities=velocities, joint_efforts=efforts,
            base_position=tuple(position), base_orientation=tuple(orientation),
            base_linear_velocity=tuple(linear), base_angular_velocity=tuple(angular),
            base_linear_acceleration=proper,
            bit_thrust=load.thrust if load else 0.0, bit_torque=load.torque if load else 0.0,
            anchor_embeds=[a.embed for a in self.anchors],
            anchor_velocities=[a.velocity for a in self.anchors],
            anchor_loads=[a.load for a in self.anchors],
            anchor_engaged=[a.engaged for a in self.anchors],
            blade_force=tuple(float(f) for f in self.blade_force),
            material_masses=self.material.masses(),
            delivered=dict(self.material.delivered), lost=dict(self.material.lost),
            furnace_temperature=self.furnace.thermocouple(),
            melt_fraction=self.furnace.thermal.melt_fraction(),
            heater_power=self.furnace.heater_power,
            extra={'hole_depth': self.drill.hole_depth,
                   'excavated_mass': self.drill.excavated_mass,
                   'max_displacement': self.max_displacement})
