"""The material path in the simulation: what physically happens to every kilogram.

A core Ledger (by species) is the simulation's truth; every physical flow is one of its
transfers, each checked as it is made, and the balance is checked after every process
step, so a model error shows within the step it happens in. Each
transfer point keeps two totalizers, as belt scales do: kilograms delivered and
kilograms lost (thrown through an opening in the shroud fast enough to escape from the
site: core.models.conveying.LaunchSite, with the ground's own motion and each point's launch
directions).
"""

from dataclasses import replace
import math

from spacemine_ros.core.config import ConfigError
from spacemine_ros.core.ledger import GROUND, Ledger


DUMP_TIME = 0.5  # s for a tipped bucket to pour out most of its load ...
DUMP_TRICKLE = 2.0  # kg/s ... and the last of it
# kg: less than this (a few millimetre grains) is not a flow but the last grains, which
# leave with it; a drained line is then empty, not holding ever smaller remainders.
RESIDUE = 1e-6
PARCEL_SPACING = 0.02  # m: the screw's load is tracked in slices this long


class MaterialSystem:
    """Tools' discharge, conveyor, separator, hoppers and feeders of the simulated rig."""

    def __init__(self, config, body):
        self.config = config
        self.body = body
        self.composition = dict(body.composition)
        self.species = tuple(self.composition)
        self.bulk_density = body.regolith.density
        self.launch_site = body.launch_site()
        self.gravity = body.effective_gravity()
        missing = sorted(set(self.species) - set(config.separator.species))
        if missing:
            raise ConfigError(f'material: separator.species has no magnetic properties for '
                              f'{", ".join(missing)} (in {body.name}\'s composition)')
        # The bed on the drum is the body's regolith.
        self.separator = replace(config.separator, bulk_density=self.bulk_density)
        # Its balance is checked once per process step (check_balance), after every flow
        # of the step: a model error still shows within the step it happens in.
        self.ledger = Ledger(config.accounts, self.species, config.capacities,
                             check_each=False)
        self.delivered = dict.fromkeys(config.transfer_points, 0.0)  # kg, totalizers
        self.lost = dict.fromkeys(config.transfer_points, 0.0)
        self.time = 0.0
        self.clogged = False
        self.reverse_time = 0.0  # s the conveyor has run backwards during a clog
        self.clear_reverse_time = 1.0  # s of reversing that clears a clog
        self.speeds = {'conveyor_screw': 0.0, 'separator_drum': 0.0}
        self.speeds.update({f'feeder_{h[len("hopper_"):]}': 0.0 for h in config.hoppers})
        self.torques = dict.fromkeys(self.speeds, 0.0)
        # The conveyor's load: in the intake chute, and along the screw as [distance from
        # the intake (m), kg]. A screw is a plug-flow conveyor: it takes from the chute at
        # most its capacity, and what enters leaves one transit (length over axial speed)
        # later, however little it carries.
        self.intake = 0.0
        self.conveyor_parcels = []

    # Helpers -------------------------------------------------------------------------------
    def _escaping(self, point, exit_speed):
        fraction = self.launch_site.escaping_fraction(exit_speed, point.launch,
                                                      self.config.speed_ratio)
        return fraction * point.open_fraction

    def _note(self, point):
        return point.name

    def excavate(self, point_name, mass, exit_speed):
        """Take mass [kg] of the body's regolith from the ground through a point.

        Returns the mass taken (limited by the destination's room); the rest stays in
        the ground. The escaping share goes to 'lost'.
        """
        point = self.config.transfer_points[point_name]
        assert point.source == GROUND, point_name
        if not (mass > 0.0 and math.isfinite(mass)):
            return 0.0
        lost_share = self._escaping(point, exit_speed)
        room = self.ledger.room(point.destination)
        kept = min(mass * (1.0 - lost_share), room)
        if lost_share < 1.0:
            mass = kept / (1.0 - lost_share)
        masses = {s: mass * f for s, f in self.composition.items() if f > 0.0}
        self.ledger.excavate(point.destination, masses, self.time, point.name)
        lost = mass - kept
        if lost > 0.0:
            lost = self.ledger.move(point.destination, 'lost', lost, self.time,
                                    f'{point.name} ejecta', partial=True)
        self.delivered[point_name] += mass - lost
        self.lost[point_name] += lost
        return mass

    def pass_on(self, point_name, mass, exit_speed=None, masses=None):
        """Move mass [kg] (or the given species masses) through a transfer point.

        Limited by what the source holds and the destination can take; the escaping
        share goes to 'lost'. Returns the mass that left the source.
        """
        point = self.config.transfer_points[point_name]
        speed = exit_speed if math.isnan(point.exit_speed) else point.exit_speed
        lost_share = self._escaping(point, speed or 0.0)
        ledger = self.ledger
        if masses is None:
            mass = min(mass, ledger.mass(point.source))
            if mass <= 0.0:
                return 0.0
            fraction = mass / ledger.mass(point.source)
            masses = {s: m * fraction for s, m in ledger.accounts[point.source].items()}
        total = math.fsum(masses.values())
        if total <= 0.0:
            return 0.0
        scale = min(1.0, ledger.room(point.destination) / (total * (1.0 - lost_share)))
        if scale <= 0.0:
            return 0.0
        held = ledger.accounts[point.source]
        delivered = {s: min(m * scale, held[s]) * (1.0 - lost_share) for s, m in masses.items()}
        thrown = {s: min(m * scale, held[s]) * lost_share for s, m in masses.items()}
        delivered = {s: m for s, m in delivered.items() if m > 0.0}
        thrown = {s: m for s, m in thrown.items() if m > 0.0}
        if thrown:
            ledger.transfer(point.source, 'lost', thrown, self.time, f'{point.name} ejecta')
        if delivered:
            ledger.transfer(point.source, point.destination, delivered, self.time, point.name)
        moved_delivered, moved_lost = math.fsum(delivered.values()), math.fsum(thrown.values())
        self.delivered[point_name] += moved_delivered
        self.lost[point_name] += moved_lost
        return moved_delivered + moved_lost

    # Stepping ------------------------------------------------------------------------------
    def command(self, speeds):
        """Set drive speeds [rad/s] by joint name; clamped to each drive's limit."""
        limits = {'conveyor_screw': self.config.conveyor_drive.max_speed,
                  'separator_drum': self.config.separator_drive.max_speed}
        for name, speed in speeds.items():
            if name not in self.speeds:
                raise ValueError(f'unknown material drive {name!r}')
            if not math.isfinite(speed):
                raise ValueError(f'{name} speed must be finite, got {speed}')
            limit = limits.get(name, self.config.feeder_drive.max_speed)
            low = -limit if name == 'conveyor_screw' else 0.0
            self.speeds[name] = min(max(float(speed), low), limit)

    def stop(self):
        """Stop every drive."""
        self.speeds = dict.fromkeys(self.speeds, 0.0)

    def step(self, dt, bucket_dumping=False):
        """Advance the material flows by dt [s]."""
        config, ledger = self.config, self.ledger
        self.time += dt
        # Drill cuttings leave the collar shroud for the intake as they come up.
        self.pass_on('drill_discharge', ledger.mass('drill'))
        if bucket_dumping:  # a tipped bucket pours out in about DUMP_TIME
            held = ledger.mass('scraper')
            self.pass_on('scraper_dump', min(held, (held / DUMP_TIME + DUMP_TRICKLE) * dt))
        self._step_conveyor(dt)
        self._step_separator(dt)
        for hopper in config.hoppers:
            feeder = f'feeder_{hopper[len("hopper_"):]}'
            speed = self.speeds[feeder]
            flow = config.feeder.capacity(speed, self.bulk_density, self.gravity) * dt
            self.pass_on(f'feed_{hopper[len("hopper_"):]}', flow)
            self.torques[feeder] = 0.2 if speed > 0.0 else 0.0

    def _step_conveyor(self, dt):
        config = self.config
        speed = self.speeds['conveyor_screw']
        drive = config.conveyor_drive
        load = self.ledger.mass('conveyor')
        holdup = config.conveyor.holdup(self.bulk_density)
        parcels = self.conveyor_parcels
        tracked = self.intake + math.fsum(mass for _, mass in parcels)
        if load > tracked:  # what the tools put into the intake since the last step
            self.intake += load - tracked
        elif load < tracked - 1e-9:  # never more on the screw than the ledger says
            self.intake, parcels[:] = load, []
        if self.clogged:
            if speed < 0.0:
                self.reverse_time += dt
                self.torques['conveyor_screw'] = -drive.no_load_torque
                if self.reverse_time >= self.clear_reverse_time:
                    self.clogged, self.reverse_time = False, 0.0
            else:
                # Packed material holds the screw: the motor drives against it at stall.
                self.torques['conveyor_screw'] = drive.stall_torque if speed > 0.0 else 0.0
            return
        if speed <= 0.0:
            self.torques['conveyor_screw'] = -drive.no_load_torque if speed < 0.0 else 0.0
            axial = config.conveyor.conveying_speed(speed, self.gravity) * dt
            for parcel in parcels:  # reversing carries the load back toward the intake
                parcel[0] = max(parcel[0] - axial, 0.0)
            return
        axial = config.conveyor.conveying_speed(speed, self.gravity) * dt
        amount = 0.0
        for parcel in parcels:
            parcel[0] += axial
            if parcel[0] >= config.conveyor.length:
                amount += parcel[1]
        parcels[:] = [p for p in parcels if p[0] < config.conveyor.length]
        entering = min(self.intake, config.conveyor.capacity(speed, self.bulk_density,
                                                             self.gravity) * dt)
        if entering > 0.0:
            self.intake -= entering
            if parcels and parcels[-1][0] < PARCEL_SPACING:
                parcels[-1][1] += entering
            else:
                parcels.append([0.0, entering])
        if load - amount < RESIDUE:  # the last grains leave together: the screw runs empty
            amount, parcels[:], self.intake = load, [], 0.0
        if amount > 0.0:
            left = self.pass_on('conveyor_discharge', amount,
                                exit_speed=config.conveyor.exit_speed(speed, self.gravity))
            if left < amount - 1e-12:  # the separator is full: the rest waits at the end
                parcels.append([config.conveyor.length, amount - left])
        carried = min(load, holdup)
        self.torques['conveyor_screw'] = min(
            drive.no_load_torque + config.conveyor.carrying_torque(speed, self.gravity)
            * carried, drive.stall_torque)

    def _step_separator(self, dt):
        config = self.config
        speed = self.speeds['separator_drum']
        held = self.ledger.mass('separator')
        self.torques['separator_drum'] = self.separator.drive_torque(speed, 0.0)
        if speed <= 0.0 or held <= 0.0:
            return
        # A grain rides half a turn of the drum: residence time pi / speed.
        share = min(speed * dt / math.pi, 1.0)
        if held * (1.0 - share) < RESIDUE:  # the last grains leave together
            share = 1.0
        feed = {s: m * share for s, m in self.ledger.accounts['separator'].items()}
        rate = math.fsum(feed.values()) / dt
        self.torques['separator_drum'] = self.separator.drive_torque(speed, rate)
        concentrate, tailings = self.separator.split(feed, speed, rate, self.gravity)
        exit_speed = speed * config.drum_radius
        # Both streams leave together: if either hopper is full, the drum holds both back.
        scale = 1.0
        for hopper, stream in (('hopper_metal', concentrate), ('hopper_silicate', tailings)):
            total = math.fsum(stream.values())
            if total > 0.0:
                scale = min(scale, self.ledger.room(hopper) / total)
        if scale <= 0.0:
            return
        for point, stream in (('separator_metal', concentrate),
                              ('separator_silicate', tailings)):
            self.pass_on(point, 0.0, exit_speed,
                         masses={s: m * scale for s, m in stream.items() if m > 0.0})

    def inject_clog(self):
        """Pack the conveyor (a test and what-if fault): it stops delivering until reversed."""
        self.clogged, self.reverse_time = True, 0.0

    # Readings ------------------------------------------------------------------------------
    def masses(self):
        """Mass in each account [kg] (what the rig's mass sensors read)."""
        return {name: self.ledger.mass(name) for name in self.ledger.accounts}
