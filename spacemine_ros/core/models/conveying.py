"""Material handling models: conveyor capacity, ejecta at transfer points, separation.

Conveyor capacities follow the CEMA method (Conveyor Equipment Manufacturers
Association: "Screw Conveyors for Bulk Materials", ANSI/CEMA 350; "Belt Conveyors for
Bulk Materials", 7th ed., ch. 4): volumetric capacity from the cross-section the material
occupies, times the conveying speed, times the bulk density. That holds where gravity
keeps the load in the trough; in micro-gravity a screw in a closed tube conveys as a
vertical screw conveyor does (ScrewConveyor.slip below).

Ejecta: a grain escapes the body when its inertial speed reaches the escape speed from
the site, sqrt(-2U); it is launched relative to the ground, which itself moves at
omega x r (half of Bennu's escape speed at its equator). LaunchSite averages the escape
over the directions each source throws its grains (LaunchPattern).
"""

from dataclasses import dataclass, field
import functools
import math

import numpy as np

from spacemine_ros.core.validation import in_range, non_negative, positive

DIRECTION_SAMPLES = 400  # directions per launch pattern (Fibonacci lattice)


@dataclass(frozen=True)
class ScrewConveyor:
    """A screw (auger) conveyor in a closed tube.

    With gravity (the CEMA case) the load lies in the bottom of the tube and the flight
    pushes it along without turning it: axial speed = pitch x rev/s. Without (micro-
    gravity), nothing holds the load down: the flight drags it round, it packs against
    the tube wall as an annulus (centrifugal packing), and it moves axially only as fast
    as it slips back along the flight. Steady state of a grain at radius r with helix
    angle alpha (tan alpha = p / (2 pi r)): the wall's friction opposes the grain's
    velocity and must balance the flight's force, which leans at alpha + lambda from the
    axis (lambda = atan of the flight friction), so the grain turns at eta omega with
    eta = tan(alpha) / (tan(alpha) + cot(alpha + lambda)) and moves axially at
    (1 - eta) p omega / (2 pi) (the vertical screw conveyor at speeds where its
    centrifugal force dwarfs gravity: Roberts 1999, Powder Technology 104, "The influence
    of granular vortex motion on the volumetric performance of enclosed screw
    conveyors"). Between the two, the share of the full slip grows with the Froude
    number Fr = omega^2 R / g as Fr^2 / (1 + Fr^2) (assumed: the load lies in the trough
    while Fr << 1 and is carried round the wall once Fr >> 1). The wall friction sets the
    drive's torque per kg of load: mu_w g R against the trough while the load lies in it,
    mu_w (eta omega)^2 r^2 sin(alpha + lambda) carrying it round.
    """

    diameter: float  # m, flight diameter D
    shaft_diameter: float  # m, pipe diameter d
    pitch: float  # m per revolution
    fill_factor: float  # share of the annulus filled (CEMA: 0.15-0.45)
    length: float  # m
    flight_friction: float = 0.5  # grain on the flight (steel on regolith fines)
    wall_friction: float = 0.5  # grain on the tube wall

    def validate(self):
        """Raise ValueError if the geometry makes no sense."""
        positive('diameter', self.diameter, 'm')
        in_range('shaft_diameter', self.shaft_diameter, 0.0, self.diameter, 'm')
        positive('pitch', self.pitch, 'm')
        in_range('fill_factor', self.fill_factor, 0.01, 1.0)
        positive('length', self.length, 'm')
        in_range('flight_friction', self.flight_friction, 0.0, 2.0)
        in_range('wall_friction', self.wall_friction, 1e-3, 2.0)
        return self

    @property
    def area(self):
        """Cross-section of the material stream [m^2]: fill * pi/4 (D^2 - d^2)."""
        return self.fill_factor * math.pi / 4.0 * (self.diameter ** 2 - self.shaft_diameter ** 2)

    @property
    def packed_radius(self):
        """Mean radius of the load packed against the wall as an annulus [m]."""
        outer, shaft = self.diameter / 2.0, self.shaft_diameter / 2.0
        inner = math.sqrt(outer ** 2 - self.fill_factor * (outer ** 2 - shaft ** 2))
        return (outer + inner) / 2.0

    def slip(self, shaft_speed, gravity):
        """Share eta of the screw's turning that the load turns with [0..1).

        gravity [m/s^2]: what holds the load in the trough (0: none at all).
        """
        radius = self.packed_radius
        helix = math.atan(self.pitch / (2.0 * math.pi * radius))
        friction = math.atan(self.flight_friction)
        full = math.tan(helix) / (math.tan(helix) + 1.0 / math.tan(helix + friction))
        if gravity <= 0.0:
            return full
        froude = shaft_speed ** 2 * (self.diameter / 2.0) / gravity
        return full * froude ** 2 / (1.0 + froude ** 2)

    def conveying_speed(self, shaft_speed, gravity=9.81):
        """Axial speed of the material [m/s] for a shaft speed [rad/s] under gravity."""
        speed = abs(shaft_speed)
        return (1.0 - self.slip(speed, gravity)) * speed / (2.0 * math.pi) * self.pitch

    def capacity(self, shaft_speed, bulk_density, gravity=9.81):
        """Mass flow the screw can carry [kg/s]: area x axial speed x density."""
        non_negative('bulk_density', bulk_density, 'kg/m^3')
        return self.area * self.conveying_speed(shaft_speed, gravity) * bulk_density

    def exit_speed(self, shaft_speed, gravity=9.81):
        """Speed grains leave the discharge end with [m/s].

        The flight's tip sweeps them out at omega D / 2 across the axis, on top of
        their axial speed (about three times the axial speed for pitch = D).
        """
        tip = abs(shaft_speed) * self.diameter / 2.0
        return math.hypot(tip, self.conveying_speed(shaft_speed, gravity))

    def carrying_torque(self, shaft_speed, gravity):
        """Torque [N m per kg of load] of the wall friction the flight drives against."""
        if shaft_speed == 0.0:
            return 0.0
        radius = self.packed_radius
        helix = math.atan(self.pitch / (2.0 * math.pi * radius))
        full = self.slip(abs(shaft_speed), 0.0)
        share = self.slip(abs(shaft_speed), gravity) / full  # carried round, not lying
        turning = share * full * abs(shaft_speed)
        whirl = (self.wall_friction * turning ** 2 * radius ** 2
                 * math.sin(helix + math.atan(self.flight_friction)))
        return whirl + (1.0 - share) * self.wall_friction * gravity * self.diameter / 2.0

    def holdup(self, bulk_density):
        """Mass the screw holds when loaded to its fill factor [kg]."""
        return self.area * self.length * bulk_density


@dataclass(frozen=True)
class BeltConveyor:
    """A flat belt; the load's cross-section is a circular arc at the surcharge angle."""

    belt_width: float  # m
    edge_distance: float  # m kept clear at each edge (CEMA: 0.055 B + 0.023 m)
    surcharge_angle: float  # rad, angle of the load's surface at the edges
    length: float  # m

    def validate(self):
        """Raise ValueError if the geometry makes no sense."""
        positive('belt_width', self.belt_width, 'm')
        in_range('edge_distance', self.edge_distance, 0.0, self.belt_width / 2.0, 'm')
        in_range('surcharge_angle', self.surcharge_angle, math.radians(1.0), math.radians(45.0),
                 'rad')
        positive('length', self.length, 'm')
        return self

    @property
    def area(self):
        """Load cross-section [m^2]: circular segment on the loaded width b.

        A = b^2 (theta - sin(theta) cos(theta)) / (4 sin^2(theta)), theta the surcharge angle.
        """
        loaded = self.belt_width - 2.0 * self.edge_distance
        theta = self.surcharge_angle
        return loaded ** 2 * (theta - math.sin(theta) * math.cos(theta)) / (
            4.0 * math.sin(theta) ** 2)

    def conveying_speed(self, belt_speed, gravity=9.81):
        """Speed of the material [m/s] (that of the belt; gravity holds it on)."""
        return abs(belt_speed)

    def capacity(self, belt_speed, bulk_density, gravity=9.81):
        """Mass flow the belt can carry [kg/s]: area * speed * density."""
        non_negative('bulk_density', bulk_density, 'kg/m^3')
        return self.area * abs(belt_speed) * bulk_density

    def exit_speed(self, belt_speed, gravity=9.81):
        """Speed grains leave the head pulley with [m/s]: the belt's."""
        return abs(belt_speed)

    def carrying_torque(self, belt_speed, gravity):
        """Torque per kg of load beyond the drive's own model [N m/kg]: none."""
        return 0.0

    def holdup(self, bulk_density):
        """Mass on the belt when fully loaded [kg]."""
        return self.area * self.length * bulk_density


@dataclass(frozen=True)
class LaunchPattern:
    """The directions a source throws its grains, in the rig frame (z up from the ground).

    hemisphere: every direction of the half space around axis, uniform in solid angle;
    cone: within half_angle of axis; ring: across axis (a screw's flight tip sweeping
    grains out at every phase of its turn).
    """

    kind: str = 'hemisphere'
    axis: tuple = (0.0, 0.0, 1.0)
    half_angle: float = math.pi / 2.0  # rad, cone only

    def validate(self):
        """Raise ValueError if the pattern makes no sense."""
        if self.kind not in ('hemisphere', 'cone', 'ring'):
            raise ValueError(f'launch pattern {self.kind!r}: expected hemisphere, cone or ring')
        if len(self.axis) != 3 or not all(math.isfinite(v) for v in self.axis) or \
                math.hypot(*self.axis) == 0.0:
            raise ValueError(f'launch axis {self.axis!r}: expected three numbers, not all 0')
        in_range('half_angle', self.half_angle, 1e-3, math.pi / 2.0, 'rad')
        return self

    def directions(self, count=DIRECTION_SAMPLES):
        """Return (count, 3) unit vectors spread evenly over the pattern."""
        axis = np.asarray(self.axis, dtype=float)
        axis /= np.linalg.norm(axis)
        index = np.arange(count) + 0.5
        turn = index * math.pi * (3.0 - math.sqrt(5.0))  # golden angle
        if self.kind == 'ring':
            cosine, turn = np.zeros(count), 2.0 * math.pi * index / count
        else:
            lowest = 0.0 if self.kind == 'hemisphere' else math.cos(self.half_angle)
            cosine = 1.0 - (1.0 - lowest) * index / count  # uniform in solid angle
        sine = np.sqrt(np.maximum(1.0 - cosine ** 2, 0.0))
        local = np.stack([sine * np.cos(turn), sine * np.sin(turn), cosine], axis=1)
        # Rotate local z onto the axis.
        helper = np.array([1.0, 0.0, 0.0]) if abs(axis[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
        first = np.cross(axis, helper)
        first /= np.linalg.norm(first)
        second = np.cross(axis, first)
        return local @ np.stack([first, second, axis])


HEMISPHERE = LaunchPattern()


@dataclass(frozen=True)
class LaunchSite:
    """Where grains are thrown from: the site's escape speed and the ground's motion.

    escape_speed: inertial speed that escapes from the site, sqrt(-2U) [m/s];
    ground_velocity: the ground's inertial velocity (omega x r) in the rig frame [m/s].
    A grain thrown at speed v in direction d (relative to the ground) escapes when
    |v d + u| >= v_esc, so its least escaping speed is
    v_min = -d.u + sqrt((d.u)^2 + v_esc^2 - |u|^2); one thrown into the ground (d.z <= 0)
    strikes it and stays.
    """

    escape_speed: float
    ground_velocity: tuple = (0.0, 0.0, 0.0)

    def least_speeds(self, directions):
        """Least escaping launch speed [m/s] for each direction (inf into the ground)."""
        u = np.asarray(self.ground_velocity, dtype=float)
        along = directions @ u
        room = along ** 2 + self.escape_speed ** 2 - float(u @ u)
        speeds = np.maximum(-along + np.sqrt(np.maximum(room, 0.0)), 0.0)
        return np.where(directions[:, 2] > 1e-9, speeds, np.inf)

    def escaping_fraction(self, exit_speed, pattern=HEMISPHERE, speed_ratio=1.0):
        """Share of the grains a source throws at mean exit_speed that escape.

        Speeds exponentially distributed with mean speed_ratio x exit_speed, averaged
        over the pattern's directions.
        """
        exit_speed = non_negative('exit_speed', exit_speed, 'm/s')
        positive('speed_ratio', speed_ratio)
        if exit_speed == 0.0:
            return 0.0
        return _escaping(self, exit_speed, pattern, speed_ratio)

    def max_exit_speed(self, loss_limit, pattern=HEMISPHERE, speed_ratio=1.0):
        """Fastest mean exit speed that keeps the escaping share at or below loss_limit."""
        in_range('loss_limit', loss_limit, 1e-12, 1.0 - 1e-12)
        low, high = 0.0, self.escape_speed + float(np.linalg.norm(self.ground_velocity))
        while self.escaping_fraction(high, pattern, speed_ratio) < loss_limit:
            if high > 1e9:
                return math.inf  # the pattern never reaches loss_limit (into the ground)
            high *= 2.0
        for _ in range(60):
            middle = 0.5 * (low + high)
            if self.escaping_fraction(middle, pattern, speed_ratio) <= loss_limit:
                low = middle
            else:
                high = middle
        return low


@functools.lru_cache(maxsize=4096)
def _escaping(site, exit_speed, pattern, speed_ratio):
    # A transfer point throws at a handful of speeds (its drive's, its fixed one), and
    # every flow through it asks again: remembered per site, speed and pattern.
    least = site.least_speeds(_directions(pattern))
    return float(np.mean(np.exp(-least / (speed_ratio * exit_speed))))


_DIRECTIONS = {}


def _directions(pattern):
    """Return the pattern's directions, computed once per pattern."""
    found = _DIRECTIONS.get(pattern)
    if found is None:
        found = _DIRECTIONS[pattern] = pattern.directions()
    return found


MU_0 = 1.25663706212e-6  # N/A^2, vacuum permeability (CODATA 2018)


@dataclass(frozen=True)
class MagneticProperties:
    """How strongly a species is pulled by a field gradient.

    susceptibility: mass susceptibility chi [m^3/kg] of para- (>0) or diamagnetic (<0)
    grains, whose magnetisation grows with the field: force chi B grad(B) / mu_0 per kg.
    saturation_magnetization: sigma_s [A m^2/kg] of ferro- or ferrimagnetic grains, which
    saturate near saturation_field [T]: force sigma_s tanh(B / B_s) grad(B) per kg.
    """

    susceptibility: float = 0.0
    saturation_magnetization: float = 0.0
    saturation_field: float = 0.3

    def force(self, field, gradient):
        """Magnetic force per kg [N/kg] in a field [T] with a gradient [T/m]."""
        force = self.susceptibility * field * gradient / MU_0
        if self.saturation_magnetization > 0.0:
            force += (self.saturation_magnetization * gradient
                      * math.tanh(field / self.saturation_field))
        return force


@dataclass(frozen=True)
class MagneticSeparator:
    """A permanent-magnet drum separator: what it pulls out depends on each species.

    Grains ride the drum's surface (radius R, width w, turning at omega) in a bed of
    thickness h = feed rate / (bulk density x w x omega R). The field falls off with
    distance z from the shell, B(z) = B_0 exp(-z / lambda) (lambda: pole pitch / pi),
    gradient B / lambda. A grain stays on the drum, into the concentrate, while its
    magnetic pull exceeds what throws it off: the centrifugal omega^2 R plus gravity
    (nothing but the centrifugal term in micro-gravity, so a slow drum also keeps weakly
    paramagnetic silicates). A species' recovery is the share of the bed deep enough
    for the pull to hold, z* / h; non-magnetic grains are also trapped among the
    magnetic ones (entrainment x the magnetic share of the bed). Mass is conserved.
    Drive energy per kg: (omega R)^2, as the drum brings the stream to its surface speed
    by friction (half of it the stream's kinetic energy, half heat), plus the idle power
    over the feed rate (a permanent-magnet drum draws nothing for its field).
    Models: magnetic separation force and drum separators, Svoboda 2004 (Magnetic
    Techniques for the Treatment of Materials, ch. 2-4); Oberteuffer 1974 (IEEE Trans.
    Magn. 10).
    """

    species: dict = field(default_factory=dict)  # name -> MagneticProperties
    surface_field: float = 0.3  # T at the shell (ferrite or NdFeB drum: 0.1-0.5 T)
    decay_length: float = 0.01  # m
    drum_radius: float = 0.08  # m
    drum_width: float = 0.2  # m
    bulk_density: float = 1500.0  # kg/m^3 of the bed
    grain_size: float = 1e-4  # m: the bed is never thinner than one grain
    entrainment: float = 0.05
    idle_power: float = 5.0  # W
    # Depths already found, by (species, drum speed, gravity): the line asks every step.
    _holding: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def validate(self):
        """Raise ValueError if a value is out of range."""
        positive('surface_field', self.surface_field, 'T')
        positive('decay_length', self.decay_length, 'm')
        positive('drum_radius', self.drum_radius, 'm')
        positive('drum_width', self.drum_width, 'm')
        positive('bulk_density', self.bulk_density, 'kg/m^3')
        positive('grain_size', self.grain_size, 'm')
        in_range('entrainment', self.entrainment, 0.0, 1.0)
        non_negative('idle_power', self.idle_power, 'W')
        for name, properties in self.species.items():
            if not isinstance(properties, MagneticProperties):
                raise ValueError(f'species {name}: expected magnetic properties')
            non_negative(f'{name} saturation_magnetization',
                         properties.saturation_magnetization, 'A m^2/kg')
            positive(f'{name} saturation_field', properties.saturation_field, 'T')
        return self

    def bed_thickness(self, drum_speed, feed_rate):
        """Thickness of the bed on the drum [m] at a feed rate [kg/s]."""
        surface = max(abs(drum_speed) * self.drum_radius, 1e-9)
        return max(feed_rate / (self.bulk_density * self.drum_width * surface),
                   self.grain_size)

    def holding_depth(self, name, drum_speed, gravity):
        """Depth into the bed [m] to which the drum holds grains of a species (0: none)."""
        key = (name, drum_speed, gravity)
        depth = self._holding.get(key)
        if depth is None:
            if len(self._holding) > 1024:  # a drive's speed can take any value
                self._holding.clear()
            depth = self._holding[key] = self._holding_depth(name, drum_speed, gravity)
        return depth

    def _holding_depth(self, name, drum_speed, gravity):
        properties = self.species.get(name, MagneticProperties())
        thrown = drum_speed ** 2 * self.drum_radius + abs(gravity)
        field_at_shell = self.surface_field
        pull = properties.force(field_at_shell, field_at_shell / self.decay_length)
        if pull <= thrown:
            return 0.0
        if thrown <= 0.0:
            return math.inf
        low, high = 0.0, self.decay_length
        while properties.force(self.surface_field * math.exp(-high / self.decay_length),
                               self.surface_field * math.exp(-high / self.decay_length)
                               / self.decay_length) > thrown:
            high *= 2.0
        for _ in range(50):  # the pull falls with depth
            middle = 0.5 * (low + high)
            b_field = self.surface_field * math.exp(-middle / self.decay_length)
            if properties.force(b_field, b_field / self.decay_length) > thrown:
                low = middle
            else:
                high = middle
        return low

    def recoveries(self, feed, drum_speed, feed_rate, gravity=0.0):
        """Return {species: share of it into the concentrate} for a feed {species: kg}."""
        thickness = self.bed_thickness(drum_speed, feed_rate)
        held = {name: min(self.holding_depth(name, drum_speed, gravity) / thickness, 1.0)
                for name in feed}
        total = math.fsum(feed.values())
        magnetic = math.fsum(feed[n] * held[n] for n in feed) / total if total > 0.0 else 0.0
        trapped = self.entrainment * magnetic
        return {name: held[name] + (1.0 - held[name]) * trapped for name in feed}

    def split(self, feed, drum_speed, feed_rate, gravity=0.0):
        """Return (concentrate, tailings) as {species: kg} from a feed {species: kg}.

        drum_speed [rad/s], feed_rate [kg/s] and gravity [m/s^2] set the recoveries.
        """
        shares = self.recoveries(feed, drum_speed, feed_rate, gravity)
        concentrate, tailings = {}, {}
        for name, mass in feed.items():
            concentrate[name] = mass * shares[name]
            tailings[name] = mass - concentrate[name]
        return concentrate, tailings

    def energy_per_kg(self, drum_speed, feed_rate):
        """Drive energy per kg separated [J/kg]."""
        surface = abs(drum_speed) * self.drum_radius
        return surface ** 2 + (self.idle_power / feed_rate if feed_rate > 0.0 else math.inf)

    def drive_torque(self, drum_speed, feed_rate):
        """Drum drive torque [N m]: the stream's angular momentum plus the idle losses."""
        if drum_speed <= 0.0:
            return 0.0
        return (feed_rate * drum_speed * self.drum_radius ** 2
                + self.idle_power / drum_speed)
