"""The furnace in the simulation: thermal model, thermocouple, melt probe, tap, condenser.

Material reaches the furnace through the material path (a feeder moves it into the
ledger's furnace account); this model takes it in at the deck's temperature, heats it
with the commanded heater power, sends released vapour to the condenser (the ledger's
volatiles account) and, with the tap open, sends molten metal to products (with the
furnace's metal recovery) and everything else to slag.
"""

import math

from spacemine_ros.core.models.thermal import FurnaceThermal
from spacemine_ros.sim.subsystem import SubsystemSim

THERMOCOUPLE_FAULTS = ('none', 'nan', 'stuck', 'out_of_range')


class FurnaceSim:
    """Furnace of the simulated rig, coupled to the material system's ledger."""

    def __init__(self, design, material, heliocentric_distance):
        self.design = design
        self.material = material
        self.thermal = FurnaceThermal(design)
        self.max_power = design.max_heater_power(heliocentric_distance)
        self.heater_power = 0.0  # W, commanded and delivered
        self.door_open = False
        self.tap_open = False
        self.thermocouple_fault = 'none'
        self.stuck_reading = math.nan
        self.tap_rate = 0.0  # kg/s while tapping

    def command(self, heater_power, door_open, tap_open):
        """Set the heater [W] (clamped to what the heater can give), door and tap."""
        if not math.isfinite(heater_power):
            raise ValueError(f'heater power must be finite, got {heater_power}')
        self.heater_power = min(max(float(heater_power), 0.0), self.max_power)
        self.door_open, self.tap_open = bool(door_open), bool(tap_open)

    def stop(self):
        """Heater off, tap shut (the door stays as it is)."""
        self.heater_power, self.tap_open = 0.0, False

    def set_thermocouple_fault(self, fault):
        """Inject a thermocouple fault (none, nan, stuck, out_of_range)."""
        if fault not in THERMOCOUPLE_FAULTS:
            raise ValueError(f'unknown thermocouple fault {fault!r}; one of '
                             f'{", ".join(THERMOCOUPLE_FAULTS)}')
        self.thermocouple_fault = fault
        self.stuck_reading = self.thermal.temperature

    def _take_in_charge(self):
        ledger, thermal = self.material.ledger, self.thermal
        arrived = {s: m - thermal.masses.get(s, 0.0)
                   for s, m in ledger.accounts['furnace'].items()}
        arrived = {s: m for s, m in arrived.items() if m > 1e-15}
        if arrived:
            if sum(thermal.masses.values()) <= 1e-12:
                thermal.new_batch()
            thermal.charge(arrived)

    def step(self, dt):
        """Advance the furnace by dt [s]."""
        material, thermal = self.material, self.thermal
        self._take_in_charge()
        released = thermal.step(dt, self.heater_power, self.door_open)
        if released:
            material.pass_on('furnace_volatiles', 0.0, masses=released)
        if self.tap_open:
            held = sum(thermal.masses.values())
            if self.tap_rate <= 0.0:
                self.tap_rate = max(held / self.design.tap_time, 1e-3)
            share = min(self.tap_rate * dt / held, 1.0) if held > 0.0 else 0.0
            out = {s: m * share for s, m in thermal.masses.items() if m > 0.0}
            product, slag = {}, {}
            for species, mass in out.items():
                molten_metal = species == 'metal' and thermal.melted.get(species, 0.0) >= 1.0
                kept = mass * self.design.metal_recovery if molten_metal else 0.0
                if kept > 0.0:
                    product[species] = kept
                if mass - kept > 0.0:
                    slag[species] = mass - kept
            thermal.remove(out)
            if product:
                material.pass_on('tap_products', 0.0, masses=product)
            if slag:
                material.pass_on('tap_slag', 0.0, masses=slag)
        else:
            self.tap_rate = 0.0
        # The thermal model mirrors the ledger's furnace account exactly.
        for species, mass in material.ledger.accounts['furnace'].items():
            if species in thermal.masses:
                thermal.masses[species] = mass

    def thermocouple(self):
        """Return what the thermocouple reads [K]."""
        fault = self.thermocouple_fault
        if fault == 'nan':
            return math.nan
        if fault == 'stuck':
            return self.stuck_reading
        if fault == 'out_of_range':
            return 5000.0
        return self.thermal.temperature


class FurnacePlugin(SubsystemSim):
    """The furnace as a subsystem of the rig (kind furnace): heater, door and tap."""

    def __init__(self, world, spec):
        super().__init__(world, spec)
        self.furnace = world.furnace_sim
        self.heater = spec.joint('heater').name
        self.door = spec.joint('door').name
        self.tap = spec.joint('tap').name

    def apply(self, command):
        """Heater power [W] (limited to what the heater gives), door and tap (>= 0.5 open)."""
        self.furnace.command(command[self.heater]['effort'],
                             command[self.door]['position'] >= 0.5,
                             command[self.tap]['position'] >= 0.5)

    def hold(self):
        """Hold still: the safe command."""
        self.furnace.stop()  # heater off and tap shut; the door stays as it was

    def period_step(self, dt, live):
        """Advance one process step."""
        if not live:
            self.furnace.stop()
        self.furnace.step(dt)

    def working(self):
        """Return whether the heater is on or the door or tap open (a batch is running)."""
        furnace = self.world.furnace
        return furnace.heater_power > 0.0 or furnace.door_open or furnace.tap_open

    def electrical_power(self):
        """Return the heater's power [W] (resistive: all of it is drawn)."""
        return self.world.furnace.heater_power

    def sensors(self):
        """Return {sensor topic: value} of its sensors."""
        furnace = self.furnace
        # The temperature last: it is the smelter's tick, the others must be in by then.
        return {'furnace/melt_fraction': (furnace.thermal.melt_fraction(),),
                'furnace/heater_power': (furnace.heater_power,),
                'furnace/temperature': (furnace.thermocouple(),)}
