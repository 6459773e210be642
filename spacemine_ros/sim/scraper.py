"""The scraper arm in the simulation: motor-driven joints, the blade cutting the terrain.

The arm's joints are planned toward their targets at their commanded speeds and their
force-limited motors follow the plan. The blade cuts a height map of the regolith
(sim.terrain) with the earth-moving model (core.models.cutting); where the soil would push
back harder than the commanded force limit, or a rock is in the way, the blade stops
(the drives push at their limit). The soil's force acts on the blade, and the arm's
motors carry it to the base, like the drill's reaction. The bucket empties into the
conveyor intake when tipped over it.
"""

import math

import numpy as np
import pybullet

from spacemine_ros.core.models.cutting import cutting_force
from spacemine_ros.core.control.scraper import ArmGeometry
from spacemine_ros.sim.subsystem import DRIVE_EFFICIENCY, DRIVE_IDLE_POWER, SubsystemSim

BLADE_SPEED = 0.05  # m/s: the scraper's default cut_speed, for the blade's work

ROLES = ('slew', 'shoulder', 'elbow', 'wrist')
HOLDING_TORQUE = 1000.0  # N m: the arm drives' peak torque
# rad/s^2 the drives accelerate a joint at most: a step in speed would be a force spike
# on the anchors (0.5 rad/s^2 is 0.7 m/s^2 at the 1.4 m reach, a few newtons on the base).
# A stop (e-stop, command timeout, hold) brakes at the same rate: an arm stopped dead
# from speed kicks the base with hundreds of newtons, enough to pull the anchors out.
ARM_ACCELERATION = 0.5
# rad: a commanded arm this close to its targets is holding, not driving (a hold command
# is the measured pose, a motor's following error away from the plan; 1.4 mm at reach).
HOLD_TOLERANCE = 1e-3
DUMP_WRIST_ANGLE = 1.0  # rad: the bucket empties when tipped past this ...
DUMP_REACH = 0.15  # m ... with the blade this close to the conveyor intake

NO_FORCE = (0.0, 0.0, 0.0)


class ScraperSim(SubsystemSim):
    """The scraper arm (a subsystem of kind scraper)."""

    def __init__(self, world, spec):
        super().__init__(world, spec)
        self.geometry = world.geometry or ArmGeometry()
        self.names = {role: spec.joint(role).name for role in ROLES}
        self.indices = [world.joints[self.names[role]] for role in ROLES]
        self.arm = dict.fromkeys(ROLES, 0.0)
        self.targets = dict(self.arm)
        self.speed_max = {r: spec.joint(r).command['velocity'].maximum for r in ROLES}
        self.force_max = min(spec.joint(r).command['effort'].maximum for r in ROLES)
        self.speeds = dict(self.speed_max)
        self.rates = dict.fromkeys(ROLES, 0.0)  # rad/s each joint's plan moves at now
        self.force_limit = 0.0
        self.blade_force = NO_FORCE  # soil force on the blade, world frame [N]
        self.blade_link = world.links.get(f'{spec.name}_blade', world.links.get(
            'scraper_blade', -1))
        self.blocked = False
        self.live = False  # commanded in the last physics step (not stopped, not timed out)
        self.stopping = False  # told to hold: braking to rest, then holding there
        self.held = None  # the pose its motors were last told to hold at rest

    def apply(self, command):
        """Take joint targets [rad] and speeds [rad/s]; the blade force limit [N].

        The limit is the weakest joint's effort: each joint's torque bounds the blade.
        """
        joints = {role: command[self.names[role]] for role in ROLES}
        self.targets = {role: joints[role]['position'] for role in ROLES}
        self.speeds = {role: min(abs(joints[role]['velocity']), self.speed_max[role])
                       for role in ROLES}
        self.force_limit = min(min(joints[role]['effort'] for role in ROLES), self.force_max)
        self.stopping = False

    def hold(self):
        """Stop (the safe command): brake to rest at the drives' acceleration, hold there."""
        self.targets, self.force_limit, self.stopping = dict(self.arm), 0.0, True

    def tip_position(self, arm=None):
        """Blade tip in the world frame [m] for arm joint positions (default: current)."""
        return np.array(self._tip(arm or self.arm))

    def _tip(self, arm):
        """Return the blade tip (x, y, z) in the world frame [m] (plain floats)."""
        local = self.geometry.forward(arm['slew'], arm['shoulder'], arm['elbow'])
        local = (local[0], local[1], local[2] - self.geometry.base_height)  # base frame
        position, orientation = self.world.base_pose()
        return pybullet.multiplyTransforms(position, orientation, local, (0, 0, 0, 1))[0]

    def physics_step(self, dt, live):
        """Advance one physics step (the base class says what live means)."""
        world = self.world
        self.live = live
        if not self._will_move(live):
            # At rest and told to stay: the blade pushes nothing and the motors hold the
            # arm where the plan has it.
            if self.stopping:
                self.targets = dict(self.arm)
            self.blade_force, self.blocked = NO_FORCE, False
            held = tuple(self.arm[role] for role in ROLES)
            if self.held != held:
                self.held = held
                for role, index in zip(ROLES, self.indices):
                    world.drive_joint(index, self.arm[role], 0.0, HOLDING_TORQUE)
            return
        self.held = None
        if live and not self.stopping:
            candidate, limit = self._plan(self.targets, dt), self.force_limit
        else:  # stopped, or no command: brake to rest, the blade pushing nothing
            candidate, limit = self._brake(dt), 0.0
            if self.stopping and not any(self.rates.values()):
                self.targets = dict(candidate)  # at rest: hold here
        self.blade_force = NO_FORCE
        self.blocked = False
        before = dict(self.arm)
        if candidate != self.arm:
            self._move(candidate, limit, dt)
        # The motors follow the plan; they carry the arm's weight and the soil's push.
        for role, index in zip(ROLES, self.indices):
            world.drive_joint(index, self.arm[role], (self.arm[role] - before[role]) / dt,
                              HOLDING_TORQUE)
        if any(self.blade_force):
            pybullet.applyExternalForce(world.rig, self.blade_link, list(self.blade_force),
                                        self._tip(self.arm), pybullet.WORLD_FRAME,
                                        physicsClientId=world.client)

    def _plan(self, targets, dt):
        """Return the arm's next planned pose toward targets.

        It accelerates at most ARM_ACCELERATION: the change of the joints' speeds is
        scaled as one vector, so the path keeps its direction, and every joint slows down
        in time to stop on its own target, whatever speeds it was given (speeds out of
        proportion to what each joint has to go ran the nearer joints past their targets).
        """
        errors = {role: targets[role] - self.arm[role] for role in ROLES}
        wanted = {role: math.copysign(min(self.speeds[role], abs(errors[role]) / dt), errors[role])
                  for role in ROLES}
        largest_error = max(abs(e) for e in errors.values())
        fastest = max(abs(w) for w in wanted.values())
        # Braking as one vector, joint j decelerates at ARM_ACCELERATION x |w_j| / fastest:
        # it stops within its error e_j if |w_j| x fastest <= 2 a e_j, for every joint not
        # there already (within a step's travel at the acceleration: held there).
        there = ARM_ACCELERATION * dt * dt
        scale = min([1.0] + [math.sqrt(2.0 * ARM_ACCELERATION * abs(errors[role]) /
                                       (abs(w) * fastest))
                             for role, w in wanted.items() if w and abs(errors[role]) > there])
        if scale < 1.0:
            wanted = {role: w * scale for role, w in wanted.items()}
        self._accelerate(wanted, dt)
        if largest_error <= ARM_ACCELERATION * dt * dt and \
                max(abs(rate) for rate in self.rates.values()) <= ARM_ACCELERATION * dt:
            # There, and slow enough to stop on it (a target reached at speed is passed
            # and come back to: the drives never stop dead).
            self.rates = dict.fromkeys(ROLES, 0.0)
            return dict(targets)
        return {role: self.arm[role] + self.rates[role] * dt for role in ROLES}

    def _brake(self, dt):
        """Return the arm's next pose braking to rest along its path (ARM_ACCELERATION)."""
        self._accelerate(dict.fromkeys(ROLES, 0.0), dt)
        return {role: self.arm[role] + self.rates[role] * dt for role in ROLES}

    def _accelerate(self, wanted, dt):
        """Change the joints' rates toward wanted, by ARM_ACCELERATION * dt at most.

        The change is scaled as one vector, so the path keeps its direction.
        """
        change = {role: wanted[role] - self.rates[role] for role in ROLES}
        biggest = max(abs(c) for c in change.values())
        if biggest > ARM_ACCELERATION * dt:
            change = {role: c * ARM_ACCELERATION * dt / biggest for role, c in change.items()}
        self.rates = {role: self.rates[role] + change[role] for role in ROLES}

    def _move(self, candidate, limit, dt):
        # Plain floats: this runs every physics step of a moving arm (numpy's cost per
        # call on three numbers is many times the arithmetic).
        world = self.world
        terrain, blade = world.terrain, world.material_config.blade
        tip, new_tip = self._tip(self.arm), self._tip(candidate)
        mx, my = new_tip[0] - tip[0], new_tip[1] - tip[1]
        travel = math.sqrt(mx * mx + my * my)
        slew = candidate['slew']
        across = (-math.sin(slew), math.cos(slew))  # blade width direction
        cells = terrain.blade_cells(new_tip, across, blade.width)
        moving = travel > 1e-12
        dx, dy = (mx / travel, my / travel) if moving else (0.0, 0.0)
        if moving:
            ahead = terrain.blade_cells((new_tip[0] + dx * terrain.resolution,
                                         new_tip[1] + dy * terrain.resolution), across,
                                        blade.width)
            depth = terrain.depth_at(ahead, new_tip[2])
        else:
            depth = terrain.depth_at(cells, new_tip[2])
        regolith = world.body.regolith
        force = cutting_force(depth, travel / dt, world.gravity_magnitude, regolith.density,
                              regolith.cohesion, regolith.friction_angle, blade)
        rising = new_tip[2] > tip[2] + 1e-12
        blocked = terrain.blocked(cells, new_tip[2])
        if blocked or (force.magnitude > limit and not rising):
            # The drives push at their limit and the blade does not move.
            self.blocked = True
            for role in ROLES:
                if role != 'wrist':
                    self.rates[role] = 0.0
            push = (dx, dy, 0.0) if moving else (0.0, 0.0, -1.0)
            self.blade_force = (-push[0] * limit, -push[1] * limit, -push[2] * limit) \
                if depth > 0.0 or blocked else NO_FORCE
            candidate = {role: (candidate[role] if role == 'wrist' else self.arm[role])
                         for role in ROLES}
        else:
            self._cut(cells, new_tip, travel / dt)
            self.blade_force = (-dx * force.draught, -dy * force.draught, -force.vertical)
        self.arm = candidate

    def _cut(self, cells, tip, speed):
        material = self.world.material
        density = self.world.body.regolith.density
        room = material.ledger.room('scraper')
        volume = self.world.terrain.cut(cells, tip[2], max_volume=room / density)
        if volume > 0.0:
            material.excavate('scraper_cut', volume * density, speed)

    @property
    def dumping(self):
        """True while the tipped bucket is over the conveyor intake."""
        geometry, world = self.geometry, self.world
        intake = np.array([geometry.shoulder_x + geometry.intake_radius, 0.0,
                           geometry.intake_height])
        intake = intake + np.array(world.initial_position) - [0.0, 0.0, world.base_height]
        return (self.arm['wrist'] >= DUMP_WRIST_ANGLE
                and float(np.linalg.norm(self.tip_position() - intake)) <= DUMP_REACH)

    def joint_states(self):
        """Return {joint: (position, velocity, effort)} of its URDF joints."""
        states = pybullet.getJointStates(self.world.rig, self.indices,
                                         physicsClientId=self.world.client)
        # Where the motors have the joints, their speeds and torques.
        return {self.names[role]: (state[0], state[1], state[3])
                for role, state in zip(ROLES, states)}

    def sensors(self):
        """Return {sensor topic: value} of its sensors."""
        return {f'{self.name}/blade_wrench': (*(float(f) for f in self.blade_force),
                                              0.0, 0.0, 0.0)}

    def _will_move(self, live):
        """Tell whether the arm moves in the next step: it still turns, or is sent on.

        Sent on: commanded, a joint not at its target and given a speed to get there (a
        hold is a command with no speed: the plan could not move the arm toward it).
        """
        if any(self.rates.values()):
            return True
        if not live or self.stopping:
            return False
        return any(self.speeds[role] > 0.0 and abs(self.targets[role] - self.arm[role]) > 1e-12
                   for role in ROLES)

    def driving(self, live=None):
        """Return whether the commanded arm is on its way to a target (not just holding)."""
        live = self.live if live is None else live
        return live and max(abs(self.targets[role] - self.arm[role])
                            for role in ROLES) > HOLD_TOLERANCE

    def moving(self):
        """Return whether the arm moves, is told to, or its blade pushes the ground."""
        return self._will_move(self.world.live(self)) or any(self.blade_force)

    def after_restore(self):
        """Set the motors again (a restored world's motors start from nothing)."""
        self.held = None

    def electrical_power(self):
        """Idle draw of the arm's drives while it moves, plus the blade's work [W]."""
        if not self.driving():
            return 0.0
        return 3 * DRIVE_IDLE_POWER + float(np.linalg.norm(self.blade_force)) * BLADE_SPEED / \
            DRIVE_EFFICIENCY

    def reaction_load(self):
        """Return the load its work puts into the anchors [N]."""
        return float(np.linalg.norm(self.blade_force))
