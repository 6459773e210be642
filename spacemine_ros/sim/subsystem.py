"""What a simulated subsystem is to the world: a plugin with apply, step and readings.

RigWorld builds one plugin per subsystem of the rig file (config/rigs/<rig>.yaml) by its
kind (sim/<kind>.py) and steps them in file order. A plugin gets its commands already
decoded and checked by the codec (core.rig_interface: {joint: {field: value}}, inside
the drives' limits), holds its actuators when its last command's validity window has
passed or the e-stop is latched, and reports joint states and sensor values.

The world steps the rigid body only while something can move (sim/world.py), so each
plugin says apart whether it moves the rig (moving(): a drive on its way, a tool
pushing) and whether it works at all (working(): material on its way, a heater on).
"""

import math

# Drive efficiency (motor and gearbox) from mechanical to electrical power, and what a
# drive that turns draws at the least: typical of small brushless servo drives (assumed).
DRIVE_EFFICIENCY = 0.7
DRIVE_IDLE_POWER = 10.0  # W
# A servo drive gives twice its continuous rating for short peaks (typical of brushless
# servo drives, assumed): a motor's force or torque cap over its rated limit.
PEAK_OVER_RATED = 2.0
# The drives' position loop: the share of the position error closed each physics step
# (PyBullet POSITION_CONTROL), with full velocity feed-forward.
DRIVE_POSITION_GAIN = 0.5


class SubsystemSim:
    """Base of the simulated subsystems (sim/anchors.py, drill.py, scraper.py, ...)."""

    def __init__(self, world, spec):
        self.world = world
        self.spec = spec
        self.name = spec.name
        self.valid_until = -math.inf  # sim time until which its last command holds

    # What the world calls ---------------------------------------------------------------------
    def apply(self, command):
        """Take a decoded command {joint: {field: value}} (ValueError: nothing changes)."""

    def hold(self):
        """Go to the safe state: commands stopped coming, or the e-stop is latched."""

    def physics_step(self, dt, live):
        """Advance the actuators by one physics step, before the solver (live: commanded).

        Called only while the rigid body steps (the world is awake).
        """

    def after_physics(self, dt, live):
        """Read what the solver did (constraint forces) after its step."""

    def period_step(self, dt, live):
        """Advance the slow processes (material flows, furnace) by one process step.

        Called whether the rigid body steps or not, at the process model's own step.
        """

    def wake(self):
        """Take the rigid body up again after the world slept (e.g. reset drive motors)."""

    def joint_states(self):
        """Return {joint: (position, velocity, effort)} of the joints with state."""
        return {}

    def before_restore(self):
        """Let go of what PyBullet holds for it (constraints) before a checkpoint loads."""

    def after_restore(self):
        """Rebuild what PyBullet holds for it from its restored state (sim/checkpoint.py)."""

    def sensors(self):
        """Return {topic: tuple of values} of the subsystem's own sensor topics."""
        return {}

    def reaction_load(self):
        """Return the force [N] the subsystem puts on the anchors now."""
        return 0.0

    def moving(self):
        """Return whether it moves the rigid body now (a drive on its way, a tool pushing).

        While nothing moves and the base is at rest, the world stops stepping the rigid
        body: the rig's pose, joints and contact forces stand still until this is true
        again (a command, a fault or the e-stop).
        """
        return False

    def working(self):
        """Return whether it does any work now (moving, material on its way, heating).

        A rig on which nothing works is idle: the lockstep simulation may pace it.
        """
        return self.moving()

    def electrical_power(self):
        """Return the electrical power [W] it draws now (the power model's load)."""
        return 0.0

    # Helpers -------------------------------------------------------------------------------------
    def joint_index(self, joint):
        """Return the PyBullet index of a joint of this subsystem."""
        return self.world.joints[joint]
