"""Material handling models: conveyor capacity, ejecta at transfer points, separation.

Conveyor capacities follow the CEMA method (Conveyor Equipment Manufacturers
Association: "Screw Conveyors for Bulk Materials", ANSI/CEMA 350; "Belt Conveyors for
Bulk Materials", 7th ed., ch. 4): volumetric capacity from the cross-section the material
occupies, times the conveying speed, times the bulk density.
"""

from dataclasses import dataclass
import math

from spacemine_ros.core.validation import in_range, non_negative, positive


@dataclass(frozen=True)
class ScrewConveyor:
    """A screw (auger) conveyor in a closed tube."""

    diameter: float  # m, flight diameter D
    shaft_diameter: float  # m, pipe diameter d
    pitch: float  # m per revolution
    fill_factor: float  # trough loading, share of the annulus filled (CEMA: 0.15-0.45)
    length: float  # m

    def validate(self):
        """Raise ValueError if the geometry makes no sense."""
        positive('diameter', self.diameter, 'm')
        in_range('shaft_diameter', self.shaft_diameter, 0.0, self.diameter, 'm')
        positive('pitch', self.pitch, 'm')
        in_range('fill_factor', self.fill_factor, 0.01, 1.0)
        positive('length', self.length, 'm')
        return self

    @property
    def area(self):
        """Cross-section of the material stream [m^2]: fill * pi/4 (D^2 - d^2)."""
        return self.fill_factor * math.pi / 4.0 * (self.diameter ** 2 - self.shaft_diameter ** 2)

    def conveying_speed(self, shaft_speed):
        """Axial speed of the material [m/s] for a shaft speed [rad/s]."""
        return abs(shaft_speed) / (2.0 * math.pi) * self.pitch

    def capacity(self, shaft_speed, bulk_density):
        """Mass flow the screw can carry [kg/s]: area * pitch * rev/s * density."""
        non_negative('bulk_density', bulk_density, 'kg/m^3')
        return self.area * self.conveying_speed(shaft_speed) * bulk_density

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

    def conveying_speed(self, belt_speed):
        """Speed of the material [m/s] (that of the belt)."""
        return abs(belt_speed)

    def capacity(self, belt_speed, bulk_density):
        """Mass flow the belt can carry [kg/s]: area * speed * density."""
        non_negative('bulk_density', bulk_density, 'kg/m^3')
        return self.area * abs(belt_speed) * bulk_density

    def holdup(self, bulk_density):
        """Mass on the belt when fully loaded [kg]."""
        return self.area * self.length * bulk_density


def escaping_fraction(exit_speed, escape_velocity, speed_ratio=1.0):
    """Share of the mass leaving a tool or transfer point faster than escape velocity.

    Grains leave with a spread of speeds; taking the speeds exponentially distributed
    with mean speed_ratio * exit_speed gives P(v > v_esc) = exp(-v_esc / mean). With
    Bennu's 0.2 m/s escape speed a blade at 0.05 m/s throws about 2 % of its cut clear of
    the body; on Psyche (170 m/s) nothing escapes.
    """
    exit_speed = non_negative('exit_speed', exit_speed, 'm/s')
    positive('escape_velocity', escape_velocity, 'm/s')
    positive('speed_ratio', speed_ratio)
    if exit_speed == 0.0:
        return 0.0
    return math.exp(-escape_velocity / (speed_ratio * exit_speed))


def max_exit_speed(escape_velocity, loss_limit, speed_ratio=1.0):
    """Fastest exit speed that keeps the escaping share at or below loss_limit [m/s]."""
    positive('escape_velocity', escape_velocity, 'm/s')
    in_range('loss_limit', loss_limit, 1e-12, 1.0 - 1e-12)
    return escape_velocity / (speed_ratio * math.log(1.0 / loss_limit))


@dataclass(frozen=True)
class MagneticSeparator:
    """Splits a feed into a magnetic concentrate and non-magnetic tailings.

    recovery: share of the magnetic species reporting to the concentrate.
    purity: mass fraction of magnetic species in the concentrate; non-magnetic grains are
    entrained with the concentrate up to that purity (and no more than the feed has).
    """

    recovery: float = 0.9
    purity: float = 0.95
    magnetic: tuple = ('metal',)

    def validate(self):
        """Raise ValueError if recovery or purity is out of range."""
        in_range('recovery', self.recovery, 0.0, 1.0)
        in_range('purity', self.purity, 0.01, 1.0)
        return self

    def split(self, feed):
        """Return (concentrate, tailings) as {species: kg} from a feed {species: kg}."""
        magnetic_in = sum(m for s, m in feed.items() if s in self.magnetic)
        gangue_in = sum(m for s, m in feed.items() if s not in self.magnetic)
        magnetic_out = self.recovery * magnetic_in
        entrained = min(magnetic_out * (1.0 - self.purity) / self.purity, gangue_in)
        gangue_share = entrained / gangue_in if gangue_in > 0.0 else 0.0
        concentrate, tailings = {}, {}
        for species, mass in feed.items():
            share = self.recovery if species in self.magnetic else gangue_share
            concentrate[species] = mass * share
            tailings[species] = mass - concentrate[species]
        return concentrate, tailings
