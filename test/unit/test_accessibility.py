"""Accessibility of near-Earth asteroids (planning.accessibility, planning.orbits), no ROS."""

from datetime import datetime
import math

import numpy as np
import pytest

from spacemine_ros.planning.accessibility import (
    departure_burn, lambert, porkchop, rendezvous, shoemaker_helin, SH_EARTH_SPEED,
    SH_LEO_SPEED, SH_OFFSET, SH_SCALE)
from spacemine_ros.planning.orbits import (
    AU, calendar_date, DAY, earth_elements, earth_state, EARTH_RADIUS, Elements, J2000,
    julian_date, MU_EARTH, MU_SUN, state_at)


def test_kepler_propagation_keeps_energy_and_angular_momentum_and_returns_after_a_period():
    orbit = Elements(a=1.3 * AU, e=0.45, i=0.3, raan=1.0, argp=2.0, mean_anomaly=0.5,
                     epoch=J2000)
    r0, v0 = state_at(orbit, J2000)
    energy = np.dot(v0, v0) / 2 - MU_SUN / np.linalg.norm(r0)
    assert energy == pytest.approx(-MU_SUN / (2 * orbit.a), rel=1e-12)
    for days in (17.0, 101.3, 250.0):
        r, v = state_at(orbit, J2000 + days)
        assert np.dot(v, v) / 2 - MU_SUN / np.linalg.norm(r) == pytest.approx(energy, rel=1e-10)
        assert np.cross(r, v) == pytest.approx(np.cross(r0, v0), rel=1e-10)
    r, v = state_at(orbit, J2000 + orbit.period / DAY)
    assert r == pytest.approx(r0, rel=1e-9, abs=1.0)


def test_the_earth_ephemeris_puts_the_earth_where_the_almanac_does():
    # At J2000 the Earth-Moon barycentre is at about (-0.177, 0.967, 0) au (ecliptic),
    # 0.983 au from the Sun near perihelion (early January), moving at 30.3 km/s.
    r, v = earth_state(J2000)
    assert r / AU == pytest.approx([-0.177, 0.967, 0.0], abs=2e-3)
    assert np.linalg.norm(v) == pytest.approx(30.29e3, rel=2e-3)
    perihelion = julian_date(datetime(2025, 1, 4))
    aphelion = julian_date(datetime(2025, 7, 3))
    assert np.linalg.norm(earth_state(perihelion)[0]) / AU == pytest.approx(0.9833, abs=1e-3)
    assert np.linalg.norm(earth_state(aphelion)[0]) / AU == pytest.approx(1.0167, abs=1e-3)
    with pytest.raises(ValueError, match='outside 1800-2050'):
        earth_elements(julian_date(datetime(2070, 1, 1)))


def test_calendar_and_julian_dates_round_trip():
    assert julian_date(datetime(2000, 1, 1, 12)) == J2000
    assert julian_date(datetime(1999, 1, 1)) == 2451179.5  # almanac value
    assert calendar_date(julian_date(datetime(2031, 5, 17, 6))) == datetime(2031, 5, 17, 6)


def test_lambert_reproduces_the_textbook_case():
    # Curtis, Orbital Mechanics for Engineering Students, Example 5.2: geocentric, 1 h.
    v1, v2 = lambert([5000e3, 10000e3, 2100e3], [-14600e3, 2500e3, 7000e3], 3600.0,
                     mu=398600e9)
    assert v1 / 1e3 == pytest.approx([-5.9925, 1.9254, 3.2456], abs=5e-4)
    assert v2 / 1e3 == pytest.approx([-3.3125, -4.1966, -0.38529], abs=5e-4)


def test_lambert_across_half_an_orbit_is_the_hohmann_transfer_from_earth_to_mars():
    # Circular, coplanar 1 au and 1.524 au: the Hohmann ellipse's burns are 2.94 and
    # 2.65 km/s and its flight 259 days (Curtis, Example 8.1; vis-viva).
    r_earth, r_mars = AU, 1.524 * AU
    semi = (r_earth + r_mars) / 2
    flight = math.pi * math.sqrt(semi ** 3 / MU_SUN)
    angle = math.pi - 1e-6  # just short of 180 degrees, so the plane is defined
    v1, v2 = lambert([r_earth, 0.0, 0.0],
                     [r_mars * math.cos(angle), r_mars * math.sin(angle), 0.0], flight)
    assert np.linalg.norm(v1) - math.sqrt(MU_SUN / r_earth) == pytest.approx(2.94e3, abs=10)
    assert math.sqrt(MU_SUN / r_mars) - np.linalg.norm(v2) == pytest.approx(2.65e3, abs=10)
    assert flight / DAY == pytest.approx(259, abs=1)
    # Vis-viva at both ends.
    for r, v in ((r_earth, v1), (r_mars, v2)):
        assert np.dot(v, v) == pytest.approx(MU_SUN * (2 / r - 1 / semi), rel=1e-6)


def test_a_bad_time_of_flight_is_refused():
    with pytest.raises(ValueError, match='time of flight'):
        lambert([AU, 0, 0], [0, AU, 0], -5.0)
    with pytest.raises(ValueError, match='time of flight'):
        lambert([AU, 0, 0], [0, AU, 0], float('nan'))


def test_shoemaker_helin_of_the_earths_own_orbit_is_the_escape_burn_alone():
    # An asteroid on the Earth's orbit needs no rendezvous impulse; leaving LEO for it
    # takes the escape burn: (sqrt(2) - 1) times the LEO speed, normalised.
    estimate = shoemaker_helin(AU, 0.0, 0.0)
    assert estimate.rendezvous == pytest.approx(0.0, abs=1e-6)
    leave = (math.sqrt(2) - 1) * SH_LEO_SPEED / SH_EARTH_SPEED
    assert estimate.leave == pytest.approx(SH_SCALE * leave, rel=1e-9)
    assert estimate.delta_v == pytest.approx(SH_SCALE * leave + SH_OFFSET, rel=1e-9)


@pytest.mark.parametrize('name, a, e, i, group, benner', [
    # Benner's NEA delta-v list (echo.jpl.nasa.gov/~lance/delta_v), as its figures are
    # quoted for these bodies; the elements here are of other epochs, hence 0.05 km/s.
    ('Ryugu', 1.1896, 0.1902, 5.8837, 'Apollo', 4.646),
    ('Bennu', 1.1264, 0.2037, 6.035, 'Apollo', 5.087),
    ('Itokawa', 1.3241, 0.2801, 1.6214, 'Apollo', 4.632),
])
def test_shoemaker_helin_matches_the_published_list(name, a, e, i, group, benner):
    estimate = shoemaker_helin(a * AU, e, math.radians(i))
    assert estimate.group == group
    assert estimate.delta_v / 1e3 == pytest.approx(benner, abs=0.05), name


def test_shoemaker_helin_groups_and_refusals():
    assert shoemaker_helin(0.95 * AU, 0.1, 0.1).group == 'Aten'
    assert shoemaker_helin(1.5 * AU, 0.2, 0.1).group == 'Amor'
    # More inclination costs more.
    low, high = (shoemaker_helin(1.2 * AU, 0.2, math.radians(i)).delta_v for i in (2, 20))
    assert high > low + 1e3
    for a, e, i in ((-AU, 0.1, 0.1), (AU, 1.2, 0.1), (AU, 0.1, float('nan'))):
        with pytest.raises(ValueError, match='not an elliptic orbit'):
            shoemaker_helin(a, e, i)


def test_departure_burn_from_leo():
    # v_inf 0: the escape burn from a 400 km circular orbit (7.67 km/s), 3.18 km/s.
    radius = EARTH_RADIUS + 400e3
    assert departure_burn(0.0) == pytest.approx(
        (math.sqrt(2) - 1) * math.sqrt(MU_EARTH / radius))
    assert departure_burn(0.0) == pytest.approx(3.18e3, abs=10)
    assert departure_burn(3e3) > departure_burn(0.0)


def test_a_rendezvous_with_a_body_on_the_earths_orbit_and_a_porkchop_grid():
    # A body 30 degrees ahead of the Earth on the Earth's own orbit at the departure:
    # reaching it costs little more than the escape burn, the figures hold together and
    # the grid's best is no worse than any of its cells.
    departure = julian_date(datetime(2030, 1, 1))
    earth = earth_elements(departure)
    ahead = Elements(a=earth.a, e=earth.e, i=earth.i, raan=earth.raan, argp=earth.argp,
                     mean_anomaly=earth.mean_anomaly + math.radians(30.0), epoch=departure)
    transfer = rendezvous(ahead, departure, 300 * DAY)
    assert transfer.c3 == pytest.approx(transfer.departure_v_inf ** 2)
    assert transfer.delta_v == pytest.approx(transfer.departure_dv + transfer.arrival_v_inf)
    assert transfer.departure_dv >= departure_burn(0.0)
    assert transfer.arrival == pytest.approx(departure + 300)
    assert transfer.delta_v < 7e3
    grid = porkchop(ahead, departure + np.arange(0, 120, 30), np.arange(100, 400, 50) * DAY)
    assert grid.delta_v.shape == (4, 6)
    finite = grid.delta_v[np.isfinite(grid.delta_v)]
    assert finite.size > 12
    best_departure, best_flight, best = grid.best()
    assert best == pytest.approx(finite.min())
    assert np.all(grid.c3[np.isfinite(grid.c3)] >= 0.0)
