"""The rig's electrical power supply: solar array, battery or fixed bus, and brownout.

Solar output follows the inverse square of the heliocentric distance and the cosine of
the sun's angle on the array. The array lies flat on the site (its normal the local
vertical), the sun in the body's equatorial plane (zero obliquity assumed), so the sun's
elevation at latitude phi and hour angle H gives cos(i) = cos(phi) cos(H): day and night
follow the body's rotation. The battery integrates what the array gives minus what the
rig draws, within its charge and discharge limits and its capacity. A fixed bus (a tether,
a radioisotope source) is a constant supply instead.

How the supervisor shares it out is core.mission.power. No rclpy.
"""

from dataclasses import dataclass
import math

from spacemine_ros.core.config import ConfigError, require

SOLAR_CONSTANT = 1361.0  # W/m^2 at 1 AU (Kopp & Lean 2011, Geophys. Res. Lett. 38)
CONSUMERS = ('drill', 'scraper', 'conveyors', 'separator', 'furnace')


@dataclass(frozen=True)
class PowerConfig:
    """The rig's power system (config/power.yaml)."""

    source: str = 'solar'  # 'solar' or 'fixed'
    fixed_power: float = 0.0  # W, a fixed bus
    array_area: float = 20.0  # m^2
    array_efficiency: float = 0.30  # at the array's operating temperature
    hour_angle_at_start: float = 0.0  # rad, 0: local noon when the clock starts
    battery_capacity: float = 3.6e7  # J
    battery_charge_limit: float = 3000.0  # W into the battery
    battery_discharge_limit: float = 3000.0  # W out of it
    battery_min_charge: float = 0.2  # state of charge kept in reserve
    battery_initial_charge: float = 0.9
    # What the battery offers is what it can keep up this long above its reserve, so a
    # nearly flat battery does not pass for a full one.
    battery_horizon: float = 3600.0  # s
    base_load: float = 150.0  # W for avionics, heaters, radio: always drawn first
    priorities: tuple = CONSUMERS  # first in the tuple is served first
    # The most each consumer draws [W]: per drill, per scraper, the conveyor with the
    # furnace feeders, the separator drum, the furnace heater (see config/power.yaml).
    demands: tuple = (('drill', 150.0), ('scraper', 80.0), ('conveyors', 40.0),
                      ('separator', 30.0), ('furnace', 4000.0))

    def demand(self, consumer):
        """Return the most one unit of a consumer draws [W] (0 if not listed)."""
        return dict(self.demands).get(consumer, 0.0)

    def validate(self):
        """Return self; ConfigError naming the first value out of range."""
        if self.source not in ('solar', 'fixed'):
            raise ConfigError(f'power source must be solar or fixed, not {self.source!r}')
        checks = [('fixed_power', self.fixed_power, 0.0, 1e7),
                  ('array_area', self.array_area, 0.0, 1e4),
                  ('array_efficiency', self.array_efficiency, 0.0, 1.0),
                  ('hour_angle_at_start', self.hour_angle_at_start, -math.pi, math.pi),
                  ('battery_capacity', self.battery_capacity, 0.0, 1e12),
                  ('battery_charge_limit', self.battery_charge_limit, 0.0, 1e7),
                  ('battery_discharge_limit', self.battery_discharge_limit, 0.0, 1e7),
                  ('battery_min_charge', self.battery_min_charge, 0.0, 1.0),
                  ('battery_initial_charge', self.battery_initial_charge, 0.0, 1.0),
                  ('battery_horizon', self.battery_horizon, 1.0, 1e6),
                  ('base_load', self.base_load, 0.0, 1e6)]
        for name, value, low, high in checks:
            if not (isinstance(value, (int, float)) and math.isfinite(value)
                    and low <= value <= high):
                raise ConfigError(f'power {name} must be within {low:g}..{high:g}, got '
                                  f'{value!r}')
        for name, value in self.demands:
            if name not in CONSUMERS:
                raise ConfigError(f'power demands: unknown consumer {name!r}; consumers: '
                                  f'{", ".join(CONSUMERS)}')
            if not (isinstance(value, (int, float)) and not isinstance(value, bool)
                    and math.isfinite(value) and 0.0 <= value <= 1e6):
                raise ConfigError(f'power demands.{name} must be a power within 0..1e6 W, '
                                  f'got {value!r}')
        if sorted(self.priorities) != sorted(CONSUMERS):
            raise ConfigError(f'power priorities must list each of {", ".join(CONSUMERS)} '
                              f'once, got {list(self.priorities)}')
        return self


def power_config_from(data, where='power'):
    """Return the PowerConfig of a mapping (the `power:` section); ConfigError if bad."""
    if not isinstance(data, dict):
        raise ConfigError(f'{where}: expected a mapping')
    known = set(PowerConfig.__dataclass_fields__)
    unknown = set(data) - known
    if unknown:
        raise ConfigError(f'{where}: unknown keys {", ".join(sorted(unknown))}')
    values = dict(data)
    if 'priorities' in values:
        values['priorities'] = tuple(require(data, 'priorities', where))
    if 'demands' in values:
        demands = values['demands']
        if not isinstance(demands, dict):
            raise ConfigError(f'{where}: demands must map consumers to watts')
        values['demands'] = tuple({**dict(PowerConfig.demands), **demands}.items())
    return PowerConfig(**values).validate()


def solar_irradiance(distance_au):
    """Sunlight at a heliocentric distance [W/m^2] (inverse square law)."""
    return SOLAR_CONSTANT / distance_au ** 2


def sun_cosine(latitude, hour_angle):
    """Cosine of the sun's angle from the local vertical (0 at night)."""
    return max(0.0, math.cos(latitude) * math.cos(hour_angle))


class PowerSystem:
    """The supply: array (or fixed bus) and battery, stepped on the rig's clock."""

    outage_until = -math.inf  # a supply fault: the bus gives nothing until then [s]

    def __init__(self, config, distance_au, latitude, rotation_period):
        self.config = config
        self.distance_au = distance_au
        self.latitude = latitude
        self.rotation_period = rotation_period
        self.charge = config.battery_initial_charge * config.battery_capacity  # J
        self.time = 0.0
        self.drawn = 0.0  # W the rig drew over the last step

    def hour_angle(self, time=None):
        """Local hour angle of the sun at the site (0 at noon) [rad]."""
        time = self.time if time is None else time
        angle = self.config.hour_angle_at_start + 2.0 * math.pi * time / self.rotation_period
        return math.remainder(angle, 2.0 * math.pi)

    def generation(self, time=None):
        """Return what the array (or the fixed bus) gives now [W]."""
        config = self.config
        if config.source == 'fixed':
            return config.fixed_power
        return (solar_irradiance(self.distance_au) * config.array_area
                * config.array_efficiency * sun_cosine(self.latitude, self.hour_angle(time)))

    @property
    def state_of_charge(self):
        """Battery charge as a share of its capacity (0..1)."""
        capacity = self.config.battery_capacity
        return self.charge / capacity if capacity > 0 else 0.0

    def battery_can_give(self):
        """Return what the battery can keep up for battery_horizon above its reserve [W]."""
        config = self.config
        spare = self.charge - config.battery_min_charge * config.battery_capacity
        if spare <= 0.0:
            return 0.0
        return min(config.battery_discharge_limit, spare / config.battery_horizon)

    def available(self):
        """Power the rig may draw now, base load included [W]."""
        if self.time < self.outage_until:
            return 0.0
        return self.generation() + self.battery_can_give()

    def step(self, dt, drawn):
        """Advance dt seconds with the rig drawing `drawn` W; return what it really got.

        What the array gives beyond the draw charges the battery (up to its charge limit
        and capacity); a draw beyond the array comes out of the battery (up to its
        discharge limit and down to empty). A draw the supply cannot meet is cut.
        """
        config = self.config
        if self.time < self.outage_until:  # nothing reaches the bus; the battery keeps
            self.time += dt
            self.drawn = 0.0
            return 0.0
        generation = self.generation()
        drawn = max(0.0, drawn)
        surplus = generation - drawn
        if surplus >= 0.0:
            into = min(surplus, config.battery_charge_limit)
            self.charge = min(config.battery_capacity, self.charge + into * dt)
            got = drawn
        else:
            # The reserve is the base load's (avionics, radio, survival heaters): the
            # consumers draw the battery down to it, the base load below it to empty.
            deficit = -surplus
            base = min(deficit, max(config.base_load - generation, 0.0))
            spare = self.charge - config.battery_min_charge * config.battery_capacity
            rest = min(deficit - base, max(spare, 0.0) / dt if dt > 0 else 0.0)
            base = min(base, max(self.charge - rest * dt, 0.0) / dt if dt > 0 else 0.0)
            out = min(rest + base, config.battery_discharge_limit)
            self.charge -= out * dt
            got = generation + out
        self.time += dt
        self.drawn = got
        return got


class Brownout:
    """The bus browning out: set when the supply cut a draw, clear once it can give it.

    What the supply cannot give is not given: the drives stop (the simulation holds them)
    until the supply offers the draw that was cut again, so a rig drawing beyond a
    flat battery at night stops instead of flickering on and off every period.
    """

    def __init__(self):
        self.active = False
        self.wanted = 0.0  # W the cut draw asked for

    def update(self, wanted, got, available):
        """Return whether the bus is browned out after a step that gave `got` of `wanted`."""
        if got < wanted * (1.0 - 1e-6) - 1e-6:
            self.active, self.wanted = True, wanted
        elif self.active and available >= self.wanted:
            self.active = False
        return self.active
