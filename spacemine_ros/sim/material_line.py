"""The material line's drives in the simulation: conveyor screw, separator drum, feeders.

The flows themselves (tools' discharge, conveyor, separator, hoppers, feeders, losses)
are sim.material's MaterialSystem, the world's one material path; this plugin is its
drives: it takes their speeds (limited by config/material.yaml), stops them when
commands stop, and advances the flows each material period, with the scraper's bucket
emptying into the intake while it is tipped over it.
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
        self.motor = {index: (0.0, 0.0) for index in self.indices}
        self.torque_max = PEAK_OVER_RATED * world.material_config.conveyor_drive.stall_torque

    def apply(self, command):
        """Drive speeds [rad/s] (clamped to each drive's limit by the material model)."""
        self.material.command({name: command[name]['velocity'] for name in self.drives})

    def hold(self):
        """Hold still: the safe command."""
        self.material.stop()

    def period_step(self, dt, live):
        """Advance one control period."""
        world, material = self.world, self.material
        if not live:
            material.stop()
        material.step(dt, bucket_dumping=world.bucket_dumping())
        for name, index in zip(self.drives, self.indices):
            self.angles[name] += material.speeds[name] * dt
            # Until the next period the motor turns the drive at its speed.
            self.motor[index] = (self.angles[name], material.speeds[name])

    def physics_step(self, dt, live):
        """Keep each drive's motor turning toward its angle (their reactions on the base)."""
        world = self.world
        for index, (angle, speed) in self.motor.items():
            world.drive_joint(index, angle, speed, self.torque_max)

    def electrical_power(self):
        """Every turning drive's idle draw [W] (the flows' lifting work is negligible)."""
        return DRIVE_IDLE_POWER * sum(1 for name in self.drives
                                      if self.material.speeds[name] != 0.0)

    def busy(self):
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
