"""How hard a near-Earth asteroid is to reach: Shoemaker-Helin and Lambert rendezvous.

Two estimates of the velocity change from low Earth orbit (LEO) to rendezvous:

- shoemaker_helin(): the closed-form figure of Shoemaker and Helin (1978), the one E. M.
  Shoemaker derived for Earth-crossing asteroids and L. Benner tabulates for every NEA.
  It needs only a, e and i, and ignores where the bodies are on their orbits.
- rendezvous() and porkchop(): two-body transfers from the Earth to the asteroid for
  given departure dates and times of flight, each a Lambert problem (lamberthub's
  solver of Izzo 2015): departure C3, the hyperbolic excess at arrival, and the Δv from
  a circular parking orbit plus the arrival burn that matches the asteroid's velocity.

Pure Python and numpy, no ROS; SI units (m, s, rad; C3 in m^2/s^2).
"""

from dataclasses import dataclass
import math
import os
import sys

import numpy as np

from spacemine_ros.planning.orbits import (
    AU, DAY, earth_state, EARTH_RADIUS, MU_EARTH, MU_SUN, state_at)

# lamberthub compiles its solvers with numba at the first call: about 10 s a process,
# far more than a whole porkchop takes interpreted (0.2 ms a solve). Unless the caller
# chose otherwise before numba was imported.
if 'numba' not in sys.modules:
    os.environ.setdefault('NUMBA_DISABLE_JIT', '1')
from lamberthub import izzo2015  # noqa: E402 (after the numba setting)

PARKING_ALTITUDE = 400e3  # m: NHATS's circular departure orbit
# Shoemaker and Helin normalise speeds by the Earth's mean orbital speed and take LEO at
# 300 km (7.727 km/s); their figure of merit F maps to Δv = 30 km/s * F + 0.5 km/s.
SH_EARTH_SPEED = 29.784e3  # m/s
SH_LEO_SPEED = 7.727e3  # m/s
SH_SCALE = 30.0e3  # m/s per unit of F
SH_OFFSET = 0.5e3  # m/s


@dataclass(frozen=True)
class ShoemakerHelin:
    """The Shoemaker-Helin estimate: group, total Δv and its two impulses [m/s]."""

    group: str  # 'Aten' (a < 1 au), 'Apollo' (q <= 1 au), 'Amor' (q > 1 au)
    delta_v: float
    leave: float  # the LEO departure impulse's share (normalised F term times 30 km/s)
    rendezvous: float


def shoemaker_helin(a, e, i):
    """Return the Shoemaker-Helin rendezvous estimate for a [m], e, i [rad].

    The transfer is a Hohmann-like ellipse from 1 au to the asteroid's aphelion (to 1 au
    for an Aten), its plane change shared between the two impulses (half the inclination
    at each). Units inside are the Earth's orbit radius and speed.
    """
    if not (math.isfinite(a) and a > 0.0 and 0.0 <= e < 1.0 and 0.0 <= i <= math.pi):
        raise ValueError(f'not an elliptic orbit: a={a!r} m, e={e!r}, i={i!r} rad')
    a_au = a / AU
    q, big_q = a_au * (1.0 - e), a_au * (1.0 + e)
    half = math.cos(i / 2.0)
    p = a_au * (1.0 - e * e)  # semi-latus rectum
    if a_au < 1.0:
        group = 'Aten'
        ut2 = 2.0 - 2.0 * half * math.sqrt(2.0 * big_q - big_q ** 2)
        uc2 = 3.0 / big_q - 1.0 - (2.0 / big_q) * math.sqrt(2.0 - big_q)
        ur2 = 3.0 / big_q - 1.0 / a_au - (2.0 / big_q) * half * math.sqrt(p / big_q)
    elif q <= 1.0:
        group = 'Apollo'
        ut2 = 3.0 - 2.0 / (big_q + 1.0) - 2.0 * half * math.sqrt(2.0 * big_q / (big_q + 1.0))
        uc2 = 3.0 / big_q - 2.0 / (big_q + 1.0) - (2.0 / big_q) * math.sqrt(
            2.0 / (big_q + 1.0))
        ur2 = 3.0 / big_q - 1.0 / a_au - (2.0 / big_q) * half * math.sqrt(p / big_q)
    else:
        group = 'Amor'
        ut2 = 3.0 - 2.0 / (big_q + 1.0) - 2.0 * half * math.sqrt(2.0 * big_q / (big_q + 1.0))
        uc2 = 3.0 / big_q - 2.0 / (big_q + 1.0) - (2.0 / big_q) * half * math.sqrt(
            2.0 / (big_q + 1.0))
        ur2 = 3.0 / big_q - 1.0 / a_au - (2.0 / big_q) * math.sqrt(p / big_q)
    u0 = SH_LEO_SPEED / SH_EARTH_SPEED
    escape = math.sqrt(2.0) * u0
    leave = math.sqrt(max(ut2, 0.0) + escape ** 2) - u0
    rendezvous = math.sqrt(max(uc2 - 2.0 * math.sqrt(max(ur2 * uc2, 0.0)) * half + ur2, 0.0))
    return ShoemakerHelin(group, SH_SCALE * (leave + rendezvous) + SH_OFFSET,
                          SH_SCALE * leave, SH_SCALE * rendezvous)


@dataclass(frozen=True)
class Transfer:
    """A two-body rendezvous from the Earth: departure jd, time of flight [s], figures.

    c3 [m^2/s^2]: departure energy (v_inf^2); arrival_v_inf [m/s]: the speed relative to
    the asteroid at arrival, which the arrival burn cancels; departure_dv [m/s]: the burn
    from the circular parking orbit onto the departure hyperbola; delta_v [m/s]: both.
    """

    departure: float
    time_of_flight: float
    c3: float
    departure_v_inf: float
    arrival_v_inf: float
    departure_dv: float
    delta_v: float

    @property
    def arrival(self):
        """Arrival Julian date."""
        return self.departure + self.time_of_flight / DAY


def departure_burn(v_inf, altitude=PARKING_ALTITUDE):
    """Return the Δv [m/s] from a circular orbit at altitude [m] onto a v_inf hyperbola."""
    radius = EARTH_RADIUS + altitude
    return math.sqrt(v_inf ** 2 + 2.0 * MU_EARTH / radius) - math.sqrt(MU_EARTH / radius)


def lambert(r1, r2, time_of_flight, mu=MU_SUN, prograde=True):
    """Solve Lambert's problem (zero revolutions); return (v1, v2) [m/s].

    ValueError when no transfer solves it (lamberthub's solver did not converge).
    """
    if not time_of_flight > 0.0:
        raise ValueError(f'time of flight must be > 0 s (got {time_of_flight!r})')
    try:
        v1, v2 = izzo2015(mu, np.asarray(r1, float), np.asarray(r2, float),
                          float(time_of_flight), M=0, prograde=prograde)
    except (ValueError, ZeroDivisionError, RuntimeError) as error:
        raise ValueError(f'no Lambert solution: {error}') from None
    if not (np.all(np.isfinite(v1)) and np.all(np.isfinite(v2))):
        raise ValueError('no Lambert solution: not finite')
    return np.asarray(v1), np.asarray(v2)


def rendezvous(target, departure, time_of_flight, altitude=PARKING_ALTITUDE):
    """Return the Transfer from the Earth at departure [JD] to target (Elements).

    The shorter-way (prograde) zero-revolution arc; ValueError if none.
    """
    r1, v_earth = earth_state(departure)
    arrival = departure + time_of_flight / DAY
    r2, v_target = state_at(target, arrival)
    v1, v2 = lambert(r1, r2, time_of_flight)
    v_inf_out = float(np.linalg.norm(v1 - v_earth))
    v_inf_in = float(np.linalg.norm(v2 - v_target))
    burn = departure_burn(v_inf_out, altitude)
    return Transfer(departure, time_of_flight, v_inf_out ** 2, v_inf_out, v_inf_in, burn,
                    burn + v_inf_in)


@dataclass(frozen=True)
class Porkchop:
    """A grid of transfers: departures [JD] x times of flight [s]; NaN where none."""

    departures: np.ndarray
    times_of_flight: np.ndarray
    c3: np.ndarray  # [departure, time of flight] m^2/s^2
    arrival_v_inf: np.ndarray  # m/s
    delta_v: np.ndarray  # m/s

    def best(self):
        """Return the (departure, time_of_flight, delta_v) of the lowest Δv (None if none)."""
        if not np.any(np.isfinite(self.delta_v)):
            return None
        d, t = np.unravel_index(np.nanargmin(self.delta_v), self.delta_v.shape)
        return float(self.departures[d]), float(self.times_of_flight[t]), \
            float(self.delta_v[d, t])


def porkchop(target, departures, times_of_flight, altitude=PARKING_ALTITUDE):
    """Solve a rendezvous for every departure [JD] and time of flight [s]."""
    departures = np.asarray(departures, float)
    times_of_flight = np.asarray(times_of_flight, float)
    shape = (len(departures), len(times_of_flight))
    c3, v_inf, delta_v = (np.full(shape, np.nan) for _ in range(3))
    for d, departure in enumerate(departures):
        for t, flight in enumerate(times_of_flight):
            try:
                transfer = rendezvous(target, departure, flight, altitude)
            except ValueError:
                continue
            c3[d, t], v_inf[d, t] = transfer.c3, transfer.arrival_v_inf
            delta_v[d, t] = transfer.delta_v
    return Porkchop(departures, times_of_flight, c3, v_inf, delta_v)
