"""A drill head in the simulation: feed and spindle drives, the drilling process, reaction.

The drag-bit process model (core.models.drilling) decides how far the bit advances and what
thrust and torque the rock takes; the feed and spindle motors (force-limited, PyBullet
motor control) move the drill string there, and the rock's reaction (thrust back along
the drill axis, torque about it) acts on the bit. The motors pass it to the mast and
the base, so the drill pushes the same rig the anchors hold and every push has its
reaction. Cuttings enter the
material path at the subsystem's `cuttings` transfer point. A rig with two drills has
two of these, each with its own mast (`<name>_bit` link) and joints.
"""

import math

import pybullet

from spacemine_ros.core.models.drilling import BitLoad, DragBit, DrillingProcess
from spacemine_ros.sim.subsystem import (
    DRIVE_EFFICIENCY, DRIVE_IDLE_POWER, PEAK_OVER_RATED, SubsystemSim)

FEED_STROKE = 1.0  # m (URDF feed limit)
# m/s^2 the feed drive accelerates the drill string at most (14.5 kg: a few newtons on
# the base), slowing in time for the ends of its stroke, so a start or stop is no spike
# on the anchors.
FEED_ACCELERATION = 0.5
# rad/s^2 the spindle drive changes speed at most, up or down: a stop is a ramp (20 rad/s
# to rest in 0.4 s, two thirds of a turn, within the e-stop's 0.5 s), not a dead stop in
# one physics step (the motor's whole peak torque through the mast into the base).
SPINDLE_ACCELERATION = 50.0


class DrillSim(SubsystemSim):
    """One drill head (a subsystem of kind drill)."""

    def __init__(self, world, spec):
        super().__init__(world, spec)
        self.feed_joint = spec.joint('feed')
        self.spindle_joint = spec.joint('spindle')
        self.bit_link = world.links[f'{spec.name}_bit']
        self.torque_max = float(spec.settings.get('spindle_torque_max', 20.0))
        self.cuttings = str(spec.settings.get('cuttings', 'drill_cut'))
        settings = spec.settings
        self.process = DrillingProcess(world.body.strata, DragBit(
            float(settings.get('bit_radius', 0.025)), int(settings.get('bit_blades', 2)),
            float(settings.get('cutter_exposure', 0.003))))
        self.feed_speed = self.thrust_limit = self.spindle_speed = 0.0
        self.feed_index = world.joints[self.feed_joint.name]
        self.spindle_index = world.joints[self.spindle_joint.name]
        self.feed = 0.0
        self.feed_rate = 0.0  # m/s the feed moves at now (its drive's plan)
        self.spindle_rate = 0.0  # rad/s the spindle turns at now (its drive's ramp)
        self.spindle_angle = 0.0
        self.load = None  # the last step's bit load
        self.spindle_energy = 0.0  # J
        self.feed_energy = 0.0  # J
        self.motors_set = False  # its motors hold a target (a new world's hold nothing)

    def after_restore(self):
        """Set the motors again (a restored world's motors start from nothing)."""
        self.motors_set = False

    @property
    def thrust_max(self):
        """The feed drive's thrust limit [N] (the rig file's)."""
        return self.feed_joint.command['effort'].maximum

    def apply(self, command):
        """Feed speed [m/s], thrust limit [N] and spindle speed [rad/s] (codec-clamped)."""
        feed, spindle = command[self.feed_joint.name], command[self.spindle_joint.name]
        self.feed_speed, self.thrust_limit = feed['velocity'], feed['effort']
        self.spindle_speed = spindle['velocity']

    def hold(self):
        """Hold still: the safe command."""
        self.feed_speed = self.thrust_limit = self.spindle_speed = 0.0

    def tip(self):
        """Return the bit tip's world position [m]."""
        return pybullet.getLinkState(self.world.rig, self.bit_link,
                                     computeForwardKinematics=True,
                                     physicsClientId=self.world.client)[4]

    def physics_step(self, dt, live):
        """Advance one physics step (the base class says what live means)."""
        world, cid = self.world, self.world.client
        if not live:
            self.hold()
        if not self.moving():
            # Feed and spindle stopped: the rock takes no load, the motors hold where
            # they were last set (set here first if they never were).
            if self.load is None or self.load.thrust or self.load.torque or \
                    self.load.spindle_speed:
                self.load = BitLoad()
            if not self.motors_set:
                self.motors_set = True
                self.feed = world.joint_positions([self.feed_index])[0][0]
                world.drive_joint(self.feed_index, self.feed, 0.0,
                                  PEAK_OVER_RATED * self.thrust_max)
                world.drive_joint(self.spindle_index, self.spindle_angle, 0.0,
                                  PEAK_OVER_RATED * self.torque_max)
            return
        self.motors_set = True
        self.feed = world.joint_positions([self.feed_index])[0][0]  # where the motor got to
        depth = -self.tip()[2]
        change = SPINDLE_ACCELERATION * dt
        self.spindle_rate = min(max(self.spindle_speed, self.spindle_rate - change),
                                self.spindle_rate + change)
        load = self.process.step(dt, depth, self.feed_speed, self.thrust_limit,
                                 self.spindle_rate, self.torque_max,
                                 feed_travel_left=FEED_STROKE - self.feed)
        self.spindle_rate = load.spindle_speed  # the rock may hold it back
        wanted = load.feed_advance / dt
        room = FEED_STROKE - self.feed if wanted > 0.0 else self.feed  # to the stroke's end
        wanted = math.copysign(min(abs(wanted), math.sqrt(2.0 * FEED_ACCELERATION
                                                          * max(room, 0.0))), wanted)
        change = FEED_ACCELERATION * dt
        self.feed_rate = min(max(wanted, self.feed_rate - change), self.feed_rate + change)
        target = min(max(self.feed + self.feed_rate * dt, 0.0), FEED_STROKE)
        self.spindle_angle += load.spindle_speed * dt
        self.load = load
        world.drive_joint(self.feed_index, target, (target - self.feed) / dt,
                          PEAK_OVER_RATED * self.thrust_max)
        world.drive_joint(self.spindle_index, self.spindle_angle, load.spindle_speed,
                          PEAK_OVER_RATED * self.torque_max)
        self.spindle_energy += load.torque * load.spindle_speed * dt
        self.feed_energy += load.thrust * load.rate_of_penetration * dt
        if load.in_contact and (load.thrust > 0.0 or load.torque > 0.0):
            # The rock pushes the bit back along the drill axis and resists its rotation;
            # the feed and spindle motors carry both to the mast.
            # The drill axis is the base's -z: minus the rotation matrix's third column.
            m = pybullet.getMatrixFromQuaternion(world.base_pose()[1])
            up = (m[2], m[5], m[8])
            pybullet.applyExternalForce(world.rig, self.bit_link,
                                        [load.thrust * u for u in up], self.tip(),
                                        pybullet.WORLD_FRAME, physicsClientId=cid)
            pybullet.applyExternalTorque(world.rig, self.bit_link,
                                         [load.torque * u for u in up],
                                         pybullet.WORLD_FRAME, physicsClientId=cid)

    def joint_states(self):
        """Return {joint: (position, velocity, effort)} of its URDF joints."""
        load = self.load
        (feed, feed_speed), (angle, _) = self.world.joint_positions(
            [self.feed_index, self.spindle_index])  # where the motors have them
        if load is None:
            return {self.feed_joint.name: (feed, feed_speed, 0.0),
                    self.spindle_joint.name: (angle, 0.0, 0.0)}
        return {self.feed_joint.name: (feed, feed_speed, load.thrust),
                self.spindle_joint.name: (angle, load.spindle_speed, load.torque)}

    def sensors(self):
        """Return {sensor topic: value} of its sensors."""
        load = self.load
        thrust, torque = (load.thrust, load.torque) if load else (0.0, 0.0)
        return {f'{self.name}/bit_wrench': (0.0, 0.0, thrust, 0.0, 0.0, torque)}

    def moving(self):
        """Return whether the feed or the spindle is commanded to move, or still does."""
        load = self.load
        return self.feed_speed != 0.0 or self.spindle_speed != 0.0 or \
            self.feed_rate != 0.0 or self.spindle_rate != 0.0 or \
            (load is not None and load.spindle_speed != 0.0)

    def electrical_power(self):
        """Spindle and feed mechanical power through the drives' efficiency [W]."""
        load = self.load
        if load is None or not (self.feed_speed != 0.0 or self.spindle_speed != 0.0):
            return 0.0
        mechanical = load.torque * abs(load.spindle_speed) + load.thrust * abs(
            load.rate_of_penetration)
        return DRIVE_IDLE_POWER + mechanical / DRIVE_EFFICIENCY

    def reaction_load(self):
        """Return the load its work puts into the anchors [N]."""
        return self.load.thrust if self.load is not None else 0.0

    @property
    def hole_depth(self):
        """Depth of the hole in the rock [m]."""
        return self.process.hole_depth

    @property
    def excavated_mass(self):
        """Mass of rock the bit has cut [kg]."""
        return self.process.excavated_mass
