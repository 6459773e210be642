"""The material line's drives in the simulation: conveyor screw, separator drum, feeders.

The flows themselves (tools' discharge, conveyor, separator, hoppers, feeders, losses)
are sim.material's MaterialSystem, the world's one material path; this plugin is its
drives: it takes their speeds (limited by config/material.yaml), stops them when
commands stop, and advances the flows each process step, with the scraper's bucket
emptying into the intake while it is tipped over it. Its drives are velocity-controlled
motors: a screw turning at a steady speed does not move the rig, so the rigid body may
sleep while the line runs, and the motors go on at their speeds when it wakes.
"""

from spacemine_ros.core.models.material_config import IN_TRANSIT
from spacemine_ros.sim.subsystem import DRIVE_IDLE_POWER, PEAK_OVER_RATED, SubsystemSim


class MaterialLineSim(SubsystemSim):
    """The material line (a subsystem of kind material_line)."""

    def __init__(self, world, spec):
        super().__init__(world, spec)
        self.material = world.material
        self.drives = [joint.name for joint in spec.joints]
        unknown = set(self.drives) - set(self.material.speeds)
        if unknown:
            raise ValueError(f'{spec.name}: the material path has no drive '
                             f'{", ".join(sorted(unknown))}')
        self.indices = [world.joints[name] for name in self.drives]
        self.angles = dict.fromkeys(self.drives, 0.0)
        self.motor = {index: None for index in self.indices}  # speed each motor was set to
        self.torque_max = PEAK_OVER_RATED * world.material_config.conveyor_drive.stall_torque

    def apply(self, command):
        """Drive speeds [rad/s] (clamped to each drive's limit by the material model)."""
        self.material.command({name: command[name]['velocity'] for name in self.drives})

    def hold(self):
        """Hold still: the safe command."""
        self.material.stop()

    def period_step(self, dt, live):
        """Advance one process step."""
        world, material = self.world, self.material
        if not live:
            material.stop()
        material.step(dt, bucket_dumping=world.bucket_dumping())
        for name in self.drives:
            self.angles[name] += material.speeds[name] * dt

    def physics_step(self, dt, live):
        """Set each drive's motor to its speed when it changed (their reactions on the base)."""
        world, speeds = self.world, self.material.speeds
        for name, index in zip(self.drives, self.indices):
            if self.motor[index] != speeds[name]:
                self.motor[index] = speeds[name]
                world.drive_speed(index, speeds[name], self.torque_max)

    def after_restore(self):
        """Set every motor again (a restored world's motors start from nothing)."""
        self.motor = dict.fromkeys(self.indices)

    def electrical_power(self):
        """Every turning drive's idle draw [W] (the flows' lifting work is negligible)."""
        return DRIVE_IDLE_POWER * sum(1 for name in self.drives
                                      if self.material.speeds[name] != 0.0)

    def working(self):
        """Return whether material is on its way (a drive turning empty does no work)."""
        material = self.material
        moving = sum(material.ledger.mass(name) for name in IN_TRANSIT)
        feeding = any(material.speeds[n] > 0.0 for n in self.drives if n.startswith('feeder_'))
        return moving > 0.0 or feeding

    def joint_states(self):
        """Return {joint: (position, velocity, effort)} of its URDF joints."""
        material = self.material
        return {name: (self.angles[name], material.speeds[name], material.torques[name])
                for name in self.drives}
