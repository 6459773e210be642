"""The material line's drives in the simulation: conveyor screw, separator drum, feeders.

The flows themselves (tools' discharge, conveyor, separator, hoppers, feeders, losses)
are sim.material's MaterialSystem, the world's one material path; this plugin is its
drives: it takes their speeds (limited by config/material.yaml), stops them when
commands stop, and advances the flows each material period, with the scraper's bucket
emptying into the intake while it is tipped over it.
"""

import pybullet

from spacemine_ros.core.material_config import IN_TRANSIT
from spacemine_ros.sim.subsystem import DRIVE_IDLE_POWER, SubsystemSim


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
        for name in self.drives:
            self.angles[name] += material.speeds[name] * dt
        pybullet.resetJointStatesMultiDof(
            world.rig, self.indices, [[self.angles[n]] for n in self.drives],
            targetVelocities=[[material.speeds[n]] for n in self.drives],
            physicsClientId=world.client)

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
