"""Two-body heliocentric orbits: elements to state, and Earth's approximate ephemeris.

Pure Python and numpy, no ROS. SI units: metres, seconds, radians; dates are Julian
dates (TDB, which the ranking need not tell from UTC). Positions and velocities are
heliocentric, in the ecliptic and equinox of J2000 (the frame of the JPL Small-Body
Database's osculating elements).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
import math

import numpy as np

AU = 1.495978707e11  # m (IAU 2012 Resolution B2)
MU_SUN = 1.32712440018e20  # m^3/s^2 (JPL DE430 GM of the Sun)
MU_EARTH = 3.986004418e14  # m^3/s^2 (WGS 84 / IERS 2010)
EARTH_RADIUS = 6.3781363e6  # m (equatorial, IERS 2010)
DAY = 86400.0  # s
J2000 = 2451545.0  # JD of 2000-01-01 12:00 TDB
J2000_DATETIME = datetime(2000, 1, 1, 12)
JULIAN_CENTURY = 36525.0  # days


@dataclass(frozen=True)
class Elements:
    """Osculating heliocentric elements (ecliptic J2000) at an epoch.

    a [m], e, i, raan (longitude of the ascending node), argp (argument of perihelion),
    mean_anomaly [rad] at epoch [JD TDB]. Elliptic orbits only (0 <= e < 1).
    """

    a: float
    e: float
    i: float
    raan: float
    argp: float
    mean_anomaly: float
    epoch: float

    def __post_init__(self):
        for name in ('a', 'e', 'i', 'raan', 'argp', 'mean_anomaly', 'epoch'):
            if not math.isfinite(getattr(self, name)):
                raise ValueError(f'{name} must be a finite number')
        if self.a <= 0.0:
            raise ValueError(f'a must be > 0 m (got {self.a:g})')
        if not 0.0 <= self.e < 1.0:
            raise ValueError(f'e must be in [0, 1) for an elliptic orbit (got {self.e:g})')
        if not 0.0 <= self.i <= math.pi:
            raise ValueError(f'i must be in [0, pi] rad (got {self.i:g})')

    @property
    def perihelion(self):
        """Return the perihelion distance q [m]."""
        return self.a * (1.0 - self.e)

    @property
    def aphelion(self):
        """Return the aphelion distance Q [m]."""
        return self.a * (1.0 + self.e)

    @property
    def period(self):
        """Orbital period [s]."""
        return 2.0 * math.pi * math.sqrt(self.a ** 3 / MU_SUN)


def eccentric_anomaly(mean_anomaly, e, tolerance=1e-13):
    """Solve Kepler's equation M = E - e sin E for E [rad] (Newton's method)."""
    m = math.remainder(mean_anomaly, 2.0 * math.pi)
    big_e = m if e < 0.8 else math.copysign(math.pi, m) if m else 0.0
    for _ in range(50):
        step = (big_e - e * math.sin(big_e) - m) / (1.0 - e * math.cos(big_e))
        big_e -= step
        if abs(step) < tolerance:
            return big_e
    raise ArithmeticError(f"Kepler's equation did not converge (M={mean_anomaly}, e={e})")


def state_at(elements, jd, mu=MU_SUN):
    """Return (r [m], v [m/s]) as numpy arrays at Julian date jd (two-body motion)."""
    a, e = elements.a, elements.e
    n = math.sqrt(mu / a ** 3)
    big_e = eccentric_anomaly(elements.mean_anomaly + n * (jd - elements.epoch) * DAY, e)
    cos_e, sin_e = math.cos(big_e), math.sin(big_e)
    root = math.sqrt(1.0 - e * e)
    # In the orbit's plane, x toward perihelion.
    x, y = a * (cos_e - e), a * root * sin_e
    rate = n / (1.0 - e * cos_e)
    vx, vy = -a * sin_e * rate, a * root * cos_e * rate
    rotation = _perifocal_to_ecliptic(elements.raan, elements.i, elements.argp)
    return rotation @ np.array([x, y, 0.0]), rotation @ np.array([vx, vy, 0.0])


def _perifocal_to_ecliptic(raan, inclination, argp):
    co, so = math.cos(raan), math.sin(raan)
    ci, si = math.cos(inclination), math.sin(inclination)
    cw, sw = math.cos(argp), math.sin(argp)
    return np.array([
        [co * cw - so * sw * ci, -co * sw - so * cw * ci, so * si],
        [so * cw + co * sw * ci, -so * sw + co * cw * ci, -co * si],
        [sw * si, cw * si, ci]])


# Keplerian elements of the Earth-Moon barycentre and their rates per Julian century,
# E. M. Standish, "Keplerian Elements for Approximate Positions of the Major Planets"
# (JPL Solar System Dynamics), Table 1, valid 1800-2050 AD: a [au], e, I [deg],
# mean longitude L [deg], longitude of perihelion [deg], longitude of the node [deg].
EARTH_TABLE = {'a': (1.00000261, 0.00000562), 'e': (0.01671123, -0.00004392),
               'i': (-0.00001531, -0.01294668), 'mean_longitude': (100.46457166, 35999.37244981),
               'perihelion_longitude': (102.93768193, 0.32327364), 'node': (0.0, 0.0)}
EARTH_VALID = (2378496.5, 2470172.5)  # JD of 1800-01-01 and 2050-12-31 (the table's span)


def earth_elements(jd):
    """Return the Earth-Moon barycentre's Elements at jd (Standish's Table 1).

    ValueError outside the table's 1800-2050 span: its error grows fast beyond it.
    """
    if not EARTH_VALID[0] <= jd <= EARTH_VALID[1]:
        raise ValueError(f'JD {jd:.1f} is outside 1800-2050, the span of the Earth '
                         'ephemeris (Standish, Table 1)')
    t = (jd - J2000) / JULIAN_CENTURY
    value = {name: base + rate * t for name, (base, rate) in EARTH_TABLE.items()}
    inclination = math.radians(value['i'])
    node = math.radians(value['node'])
    perihelion = math.radians(value['perihelion_longitude'])
    # A negative inclination is the same plane with the node half a turn on.
    if inclination < 0.0:
        inclination, node = -inclination, node + math.pi
    return Elements(a=value['a'] * AU, e=value['e'], i=inclination, raan=node,
                    argp=perihelion - node,
                    mean_anomaly=math.radians(value['mean_longitude']) - perihelion,
                    epoch=jd)


def earth_state(jd):
    """Return the Earth-Moon barycentre's (r [m], v [m/s]) at jd."""
    return state_at(earth_elements(jd), jd)


def julian_date(moment):
    """Return the Julian date of a datetime (naive: UTC, taken as TDB; days do not mind)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return J2000 + (moment - J2000_DATETIME).total_seconds() / DAY


def calendar_date(jd):
    """Return the datetime (naive, UTC) of a Julian date."""
    return J2000_DATETIME + timedelta(days=jd - J2000)
