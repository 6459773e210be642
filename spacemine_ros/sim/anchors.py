"""The anchors in the simulation: drives, engagement constraints, loads and pull-out.

Each anchor joint drives along -z out of its foot, moved by its force-limited motor.
Once half the design's embed depth is reached the foot is held by a fixed constraint;
the constraint's reaction (the rig pulling up or sideways) plus the commanded tension is
the anchor's axial load, read every physics step. Above the anchor's true capacity (the
design's capacity at its embed depth in the site's substrate, times a seeded scatter)
it pulls out, its motor takes it back to 0, and it must be commanded back to 0 before
it can be driven again. An anchor bites only the ground: it engages once its rod is half
its embed depth below the ground, even from a foot a little above it; one driven all the
way out into nothing is pulled out the same way by the first tension on it.
"""

from dataclasses import dataclass
import math

import pybullet

from spacemine_ros.core.models.anchors import anchor_capacity
from spacemine_ros.sim.subsystem import PEAK_OVER_RATED, SubsystemSim

ENGAGE_FRACTION = 0.5  # engaged once half the embed depth is reached


@dataclass
class AnchorSim:
    """Simulated state of one anchor."""

    joint: str
    foot: int  # link index of its foot
    capacity_factor: float  # site variability of the true capacity
    embed: float = 0.0  # m
    velocity: float = 0.0  # m/s
    target: float = 0.0  # m
    tension: float = 0.0  # N commanded
    constraint: int = -1  # pybullet constraint id while engaged
    load: float = 0.0  # N axial load (tension + external pull)
    armed: bool = True  # False after a pull-out until commanded back to 0
    pulled_out: bool = False
    nominal: tuple = (None, 0.0)  # (embed, nominal capacity there): checked every step

    @property
    def engaged(self):
        """True while the anchor holds the foot."""
        return self.constraint >= 0


class AnchorsSim(SubsystemSim):
    """Every anchor of the rig (one subsystem of kind anchors)."""

    def __init__(self, world, spec):
        super().__init__(world, spec)
        self.design = world.anchor_type
        cid = world.client
        self.anchors = []
        for joint in spec.role_joints('anchor'):
            parent = pybullet.getJointInfo(world.rig, world.joints[joint.name],
                                           physicsClientId=cid)[16]
            self.anchors.append(AnchorSim(joint.name, parent, world.draw_capacity_factor()))
        self.indices = [world.joints[a.joint] for a in self.anchors]
        self.force_max = PEAK_OVER_RATED * max(
            joint.command['effort'].maximum for joint in spec.role_joints('anchor'))
        # What the last physics step saw: a tension changed since (a proof load ramping)
        # moves the rig, and what each motor was last set to (a motor keeps its setting).
        self.stepped_tensions = [a.tension for a in self.anchors]
        self.motor = [None] * len(self.anchors)
        self.pulled_out = []  # (time, anchor index, load, capacity) of each pull-out under load

    def apply(self, command):
        """Set each anchor's embed target [m] (within the design's) and tension [N]."""
        depth = self.design.embed_depth
        values = [command[a.joint] for a in self.anchors]
        for anchor, value in zip(self.anchors, values):
            if value['position'] > depth * 1.0001:
                raise ValueError(f'{anchor.joint} target {value["position"]:g} m is beyond the '
                                 f'{self.design.name} embed depth {depth:g} m')
        for anchor, value in zip(self.anchors, values):
            anchor.target, anchor.tension = value['position'], value['effort']

    def hold(self):
        """Hold every anchor where it is with no commanded tension (never retract)."""
        for anchor in self.anchors:
            anchor.target, anchor.tension = anchor.embed, 0.0

    def capacity(self, index):
        """Return the true holding capacity of an anchor at its embed depth [N]."""
        anchor, world = self.anchors[index], self.world
        embed = min(anchor.embed, self.design.embed_depth)
        if anchor.nominal[0] != embed:  # the model depends on the embed alone
            anchor.nominal = (embed, anchor_capacity(
                self.design, world.body.site.substrate, world.body.regolith,
                world.gravity_magnitude, embed))
        return anchor.nominal[1] * anchor.capacity_factor

    def physics_step(self, dt, live):
        """Advance one physics step (the base class says what live means)."""
        drive = self.design.drive_speed
        engage_at = ENGAGE_FRACTION * self.design.embed_depth
        self.stepped_tensions = [a.tension for a in self.anchors]
        for number, (index, anchor) in enumerate(zip(self.indices, self.anchors)):
            if not anchor.armed:
                anchor.velocity = 0.0
                self._drive(number, index, 0.0, 0.0)
                if anchor.target <= 1e-6 and live:
                    anchor.armed, anchor.pulled_out = True, False
                continue
            target = anchor.target if live else anchor.embed  # timeout: hold still
            step = min(max(target - anchor.embed, -drive * dt), drive * dt)
            anchor.embed += step
            anchor.velocity = step / dt
            self._drive(number, index, anchor.embed, anchor.velocity)
            if not anchor.engaged and anchor.embed >= engage_at and step >= 0.0 \
                    and self._bites(anchor, anchor.embed - engage_at):
                self._engage(anchor)  # at its foot, whose pose the embed does not change
            elif anchor.engaged and anchor.embed < engage_at:
                self._disengage(anchor)

    def _drive(self, number, index, position, velocity):
        if self.motor[number] != (position, velocity):
            self.motor[number] = (position, velocity)
            self.world.drive_joint(index, position, velocity, self.force_max)

    def _bites(self, anchor, gap):
        """Tell whether the anchor's foot is within gap [m] of the ground.

        The rod reaches past its foot: from a foot that much above the ground it is
        still half its embed depth in (an anchor bites nothing but the ground).
        """
        world = self.world
        return bool(pybullet.getClosestPoints(world.rig, world.ground, max(gap, 0.0),
                                              linkIndexA=anchor.foot,
                                              physicsClientId=world.client))

    def _engage(self, anchor):
        world, cid = self.world, self.world.client
        state = pybullet.getLinkState(world.rig, anchor.foot, computeForwardKinematics=True,
                                      physicsClientId=cid)
        position, orientation = state[4], state[5]
        anchor.constraint = pybullet.createConstraint(
            world.rig, anchor.foot, -1, -1, pybullet.JOINT_FIXED, [0, 0, 0], [0, 0, 0],
            position, childFrameOrientation=orientation, physicsClientId=cid)
        pybullet.changeConstraint(anchor.constraint, maxForce=1e6, physicsClientId=cid)

    def _disengage(self, anchor):
        if anchor.constraint >= 0:
            pybullet.removeConstraint(anchor.constraint, physicsClientId=self.world.client)
        anchor.constraint = -1
        anchor.load = 0.0

    def after_physics(self, dt, live):
        """Read back what the physics step did."""
        cid = self.world.client
        engage_at = ENGAGE_FRACTION * self.design.embed_depth
        for index, anchor in enumerate(self.anchors):
            if not anchor.engaged:
                anchor.load = 0.0
                if live and anchor.tension > 0.0 and anchor.embed >= engage_at and \
                        anchor.velocity == 0.0:
                    # Driven all the way out into nothing (its foot too far off the
                    # ground): a pull draws the rod back out, as a pull-out (a proof
                    # load never passes).
                    self._pull_out(anchor)
                continue
            force = pybullet.getConstraintState(anchor.constraint, physicsClientId=cid)
            # The constraint pulls the foot down (negative z) when the rig pulls up on the
            # anchor: that, and any shear, loads the anchor; pushing into the ground does not.
            tension = anchor.tension if live else 0.0
            anchor.load = tension + math.hypot(force[0], force[1], min(force[2], 0.0))
            if anchor.load > self.capacity(index):
                self.pulled_out.append((self.world.time, index, anchor.load,
                                        self.capacity(index)))
                self._pull_out(anchor)

    def _pull_out(self, anchor):
        self._disengage(anchor)
        anchor.load = 0.0
        anchor.embed = 0.0
        anchor.armed, anchor.pulled_out = False, True
        anchor.capacity_factor = self.world.draw_capacity_factor()  # reseat elsewhere
        # Its motor takes the rod back up (physics_step) before it may drive again.

    def before_restore(self):
        """Remove this world's anchor constraints (the checkpoint's anchors replace them)."""
        for anchor in self.anchors:
            self._disengage(anchor)

    def after_restore(self):
        """Engage again, at their feet, the anchors the checkpoint has engaged."""
        self.motor = [None] * len(self.anchors)  # a restored world's motors are unset
        for anchor in self.anchors:
            if anchor.constraint >= 0:  # an id of the world that wrote the checkpoint
                anchor.constraint = -1
                self._engage(anchor)

    def joint_states(self):
        """Return {joint: (position, velocity, effort)} of its URDF joints."""
        return {a.joint: (a.embed, a.velocity, a.load) for a in self.anchors}

    def moving(self):
        """Return whether an anchor moves, is told to, or its tension changes (a proof load).

        A rod pulled out moves until its motor has it back at 0.
        """
        live = self.world.live(self)
        for number, anchor in enumerate(self.anchors):
            if anchor.velocity != 0.0 or (live and anchor.armed and anchor.target != anchor.embed):
                return True
            if not anchor.armed and self.world.joint_positions(
                    [self.indices[number]])[0][0] > 1e-4:
                return True
        return [a.tension for a in self.anchors] != self.stepped_tensions
