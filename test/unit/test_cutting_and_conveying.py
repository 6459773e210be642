"""Earth-moving cutting force, conveyor capacities, ejecta and the magnetic separator."""

import math

from hypothesis import given, settings, strategies as st
import pytest

import numpy as np

from spacemine_ros.core.models.conveying import (
    BeltConveyor, HEMISPHERE, LaunchPattern, LaunchSite, MagneticProperties, MagneticSeparator,
    ScrewConveyor)
from spacemine_ros.core.models.cutting import (
    Blade, cutting_force, mckyes_factors, wedge_blade_force)

PHI = math.radians(38.0)
BLADE = Blade(width=0.4)


@pytest.mark.parametrize('beta_deg', [20.0, 35.0, 50.0])
def test_wedge_solution_reproduces_mckyes_closed_form_factors(beta_deg):
    blade = Blade(width=1.0, adhesion=300.0)
    beta = math.radians(beta_deg)
    n_gamma, n_c, n_ca, n_a = mckyes_factors(blade.rake_angle, beta, PHI,
                                             blade.interface_friction_angle)
    depth, density = 0.1, 1500.0
    cases = [  # (gravity, cohesion, adhesion on, speed) -> expected force per metre
        (dict(gravity=9.81, cohesion=0.0, speed=0.0), density * 9.81 * depth ** 2 * n_gamma),
        (dict(gravity=0.0, cohesion=800.0, speed=0.0), 800.0 * depth * n_c),
        (dict(gravity=0.0, cohesion=0.0, speed=2.0), density * 4.0 * depth * n_a),
    ]
    plain = Blade(width=1.0)
    for kwargs, expected in cases:
        got = wedge_blade_force(beta, depth, kwargs['speed'], kwargs['gravity'], density,
                                kwargs['cohesion'], PHI, plain)
        assert got == pytest.approx(expected, rel=1e-9)
    adhesion_only = wedge_blade_force(beta, depth, 0.0, 0.0, density, 0.0, PHI, blade)
    assert adhesion_only == pytest.approx(300.0 * depth * n_ca, rel=1e-9)


@settings(max_examples=50, deadline=None)
@given(st.floats(0.005, 0.2), st.floats(0.005, 0.2), st.floats(0.0, 5000.0),
       st.floats(0.0, 5000.0))
def test_cutting_force_grows_with_depth_and_cohesion(d1, d2, c1, c2):
    shallow, deep = sorted((d1, d2))
    low, high = sorted((c1, c2))
    force = lambda d, c: cutting_force(d, 0.05, 0.13, 2500.0, c, PHI, BLADE).draught  # noqa
    assert force(deep, low) >= force(shallow, low) - 1e-9
    assert force(shallow, high) >= force(shallow, low) - 1e-9


def test_gravity_term_vanishes_as_gravity_goes_to_zero():
    # Cohesionless soil cut slowly: only the weight of the wedge resists.
    forces = [cutting_force(0.05, 0.0, g, 1500.0, 0.0, PHI, BLADE).draught
              for g in (9.81, 1.62, 0.13, 8e-5, 0.0)]
    assert forces == sorted(forces, reverse=True)
    assert forces[0] / forces[1] == pytest.approx(9.81 / 1.62, rel=1e-9)
    assert forces[-1] == 0.0
    # With cohesion the force stays finite as g -> 0: cohesion dominates in micro-gravity.
    cohesive = cutting_force(0.05, 0.0, 8e-5, 1500.0, 500.0, PHI, BLADE)
    weightless = cutting_force(0.05, 0.0, 0.0, 1500.0, 500.0, PHI, BLADE)
    assert cohesive.draught == pytest.approx(weightless.draught, rel=1e-4)
    assert weightless.draught > 1.0


def test_cutting_force_rejects_bad_inputs():
    with pytest.raises(ValueError, match='cut depth'):
        cutting_force(-0.01, 0.0, 1.0, 1500.0, 0.0, PHI, BLADE)
    with pytest.raises(ValueError, match='finite'):
        cutting_force(math.nan, 0.0, 1.0, 1500.0, 0.0, PHI, BLADE)
    assert cutting_force(0.0, 0.1, 1.0, 1500.0, 100.0, PHI, BLADE).magnitude == 0.0


SCREW = ScrewConveyor(diameter=0.1, shaft_diameter=0.03, pitch=0.1, fill_factor=0.3,
                      length=1.0).validate()


def test_screw_conveyor_capacity_matches_the_cema_formula_where_gravity_holds_the_load():
    # 60 rpm on Earth (Froude number 0.2): the load stays in the trough, CEMA within 1.5 %.
    speed, density = 2.0 * math.pi, 600.0
    expected = 0.3 * math.pi / 4.0 * (0.1 ** 2 - 0.03 ** 2) * 0.1 * 1.0 * density
    assert SCREW.capacity(speed, density, 9.81) == pytest.approx(expected, rel=0.015)
    slow = speed / 3.0  # Froude number 0.02: the CEMA formula to 0.1 %
    assert SCREW.capacity(slow, density, 9.81) == pytest.approx(expected / 3, rel=1e-3)


def test_in_micro_gravity_a_screw_conveys_by_slip_along_its_flight():
    # The load turns with the screw at eta omega, eta = tan a / (tan a + cot(a + lambda)),
    # and advances at (1 - eta) p omega / 2 pi, whatever the speed or the (tiny) gravity.
    radius = SCREW.packed_radius
    helix = math.atan(SCREW.pitch / (2 * math.pi * radius))
    lam = math.atan(SCREW.flight_friction)
    eta = math.tan(helix) / (math.tan(helix) + 1 / math.tan(helix + lam))
    nominal = SCREW.pitch / (2 * math.pi)
    for gravity in (0.0, 4e-5, 1e-4):
        for speed in (0.5, 2.0, 10.0):
            assert SCREW.conveying_speed(speed, gravity) == pytest.approx(
                (1 - eta) * nominal * speed, rel=1e-3)
    # More flight friction drags the load round more and conveys less; a frictionless
    # flight still turns it (the flight's face leans), so no screw conveys its nominal.
    sticky = ScrewConveyor(0.1, 0.03, 0.1, 0.3, 1.0, flight_friction=1.0).validate()
    slippery = ScrewConveyor(0.1, 0.03, 0.1, 0.3, 1.0, flight_friction=0.0).validate()
    assert sticky.conveying_speed(2.0, 0.0) < SCREW.conveying_speed(2.0, 0.0) < \
        slippery.conveying_speed(2.0, 0.0) < nominal * 2.0
    # Centrifugal packing: a fuller tube packs inward, where the flight is steeper and
    # the load slips back more readily.
    full = ScrewConveyor(0.1, 0.03, 0.1, 0.9, 1.0).validate()
    assert full.packed_radius < SCREW.packed_radius
    # Earth and micro-gravity agree at low speed under 1 g and part as the load is flung
    # against the wall (high Froude number) or gravity fades.
    earth = SCREW.conveying_speed(2.0, 9.81)
    assert earth == pytest.approx(nominal * 2.0, rel=1e-3)
    assert SCREW.conveying_speed(2.0, 1e-4) == pytest.approx((1 - eta) * nominal * 2.0)
    speeds = [SCREW.conveying_speed(2.0, g) for g in (9.81, 1.0, 0.1, 0.01)]
    assert speeds == sorted(speeds, reverse=True)


def test_grains_leave_a_screw_at_its_flight_tip_speed():
    speed = 1.0
    tip = speed * SCREW.diameter / 2
    assert SCREW.exit_speed(speed, 4e-5) == pytest.approx(math.hypot(
        tip, SCREW.conveying_speed(speed, 4e-5)))
    assert SCREW.exit_speed(speed, 4e-5) > 3 * SCREW.conveying_speed(speed, 4e-5)
    assert SCREW.carrying_torque(speed, 4e-5) > 0.0 == SCREW.carrying_torque(0.0, 4e-5)


def test_belt_conveyor_capacity_is_the_surcharge_segment_times_speed():
    belt = BeltConveyor(belt_width=0.5, edge_distance=0.05, surcharge_angle=math.radians(20),
                        length=2.0).validate()
    b, theta = 0.4, math.radians(20)
    radius = b / (2 * math.sin(theta))
    segment = radius ** 2 * (theta - math.sin(theta) * math.cos(theta))  # circular segment
    assert belt.area == pytest.approx(segment, rel=1e-12)
    assert belt.capacity(0.1, 1500.0) == pytest.approx(segment * 0.1 * 1500.0)


def test_without_spin_a_grain_escapes_at_the_escape_speed_in_any_upward_direction():
    still = LaunchSite(0.2)
    assert still.escaping_fraction(0.05) == pytest.approx(math.exp(-4.0))
    assert still.escaping_fraction(0.0) == 0.0
    limit = still.max_exit_speed(0.001)
    assert still.escaping_fraction(limit) == pytest.approx(0.001, rel=1e-6)
    assert LaunchSite(169.8).escaping_fraction(0.1) == 0.0
    with pytest.raises(ValueError):
        still.escaping_fraction(-1.0)


@given(u=st.floats(0.0, 0.19), x=st.floats(-1, 1), y=st.floats(-1, 1), z=st.floats(0.01, 1))
def test_the_least_escaping_speed_gives_exactly_the_escape_speed_inertially(u, x, y, z):
    site = LaunchSite(0.2, (u, 0.0, 0.0))
    direction = np.array([x, y, z]) / math.hypot(x, y, z)
    least = site.least_speeds(direction[None, :])[0]
    inertial = least * direction + np.array([u, 0.0, 0.0])
    assert np.linalg.norm(inertial) == pytest.approx(0.2, rel=1e-9)


def test_the_ground_s_spin_helps_prograde_throws_and_hinders_retrograde_ones():
    # Bennu's equator moves at about half the escape speed.
    site = LaunchSite(0.2, (0.1, 0.0, 0.0))
    east = LaunchPattern('cone', (1.0, 0.0, 0.2), math.radians(5)).validate()
    west = LaunchPattern('cone', (-1.0, 0.0, 0.2), math.radians(5)).validate()
    up = LaunchPattern('cone', (0.0, 0.0, 1.0), math.radians(5)).validate()
    fractions = [site.escaping_fraction(0.05, p) for p in (east, up, west)]
    assert fractions == sorted(fractions, reverse=True)
    assert fractions[0] > 5 * LaunchSite(0.2).escaping_fraction(0.05, east)
    # Straight up: |v z + u| = v_esc at v = sqrt(v_esc^2 - u^2).
    assert site.least_speeds(np.array([[0.0, 0.0, 1.0]]))[0] == pytest.approx(
        math.sqrt(0.2 ** 2 - 0.1 ** 2))
    # Averaged over a hemisphere the spin raises the loss, and nothing thrown into the
    # ground escapes.
    assert site.escaping_fraction(0.05, HEMISPHERE) > LaunchSite(0.2).escaping_fraction(0.05)
    down = LaunchPattern('cone', (0.0, 0.0, -1.0), math.radians(30)).validate()
    assert site.escaping_fraction(1.0, down) == 0.0
    assert site.max_exit_speed(0.001, down) == math.inf
    # A ring about the screw's axis throws half its grains into the ground.
    ring = LaunchPattern('ring', (1.0, 0.0, 0.0)).validate()
    assert np.mean(ring.directions()[:, 2] > 0) == pytest.approx(0.5, abs=0.01)


SEPARATOR = MagneticSeparator(species={
    'metal': MagneticProperties(saturation_magnetization=200.0, saturation_field=0.6),
    'magnetite': MagneticProperties(saturation_magnetization=92.0),
    'sulfide': MagneticProperties(susceptibility=2e-7),
    'silicate': MagneticProperties(susceptibility=2e-7)}, surface_field=0.05,
    bulk_density=600.0).validate()
C_TYPE = {'magnetite': 0.06, 'sulfide': 0.03, 'metal': 0.001, 'silicate': 0.909}
M_TYPE = {'metal': 0.60, 'sulfide': 0.05, 'silicate': 0.35}


@given(speed=st.floats(0.05, 10.0), rate=st.floats(1e-5, 1.0), gravity=st.floats(0.0, 10.0),
       fractions=st.lists(st.floats(0.0, 1.0), min_size=4, max_size=4))
def test_the_separator_conserves_every_species(speed, rate, gravity, fractions):
    feed = dict(zip(('metal', 'magnetite', 'sulfide', 'silicate'), fractions))
    concentrate, tailings = SEPARATOR.split(feed, speed, rate, gravity)
    for name, mass in feed.items():
        assert concentrate[name] + tailings[name] == pytest.approx(mass, abs=1e-15)
        assert 0.0 <= concentrate[name] <= mass + 1e-15


def test_the_separator_sorts_by_susceptibility():
    # A thin bed on a drum turning at 3 rad/s: ferro- and ferrimagnetic grains stay on
    # (force sigma_s grad B), paramagnetic ones (chi B grad B / mu_0) are thrown off.
    shares = SEPARATOR.recoveries(C_TYPE, 3.0, 0.001, 4e-5)
    assert shares['metal'] > 0.99 and shares['magnetite'] > 0.99
    assert shares['silicate'] < 0.01 and shares['sulfide'] < 0.01
    concentrate, _ = SEPARATOR.split(C_TYPE, 3.0, 0.001, 4e-5)
    assert concentrate['magnetite'] / sum(concentrate.values()) > 0.9  # a magnetite grade
    # The pull on a paramagnet grows with B^2, on a saturated ferromagnet with B.
    strong = MagneticSeparator(species=SEPARATOR.species, surface_field=0.5,
                               bulk_density=600.0).validate()
    assert strong.recoveries(C_TYPE, 3.0, 0.001, 4e-5)['silicate'] > 0.99


def test_in_micro_gravity_only_the_drum_s_spin_rejects_weak_magnets():
    # omega^2 R is all that throws grains off a drum in micro-gravity: the slower the drum,
    # the more paramagnetic silicate it keeps; under 1 g gravity does the work.
    strong = MagneticSeparator(species=SEPARATOR.species, surface_field=0.2,
                               bulk_density=600.0).validate()
    kept = [strong.recoveries(C_TYPE, speed, 0.001, 4e-5)['silicate']
            for speed in (0.5, 1.0, 2.0, 4.0, 8.0)]
    assert kept == sorted(kept, reverse=True) and kept[0] > 0.9 > 0.1 > kept[-1]
    assert strong.recoveries(C_TYPE, 0.5, 0.001, 9.81)['silicate'] < 0.1


def test_a_thicker_bed_loses_the_weakly_held_grains():
    # At high feed rates the bed is deep and the field that holds a grain falls with its
    # distance from the shell: a weakly magnetic species is recovered less.
    moderate = MagneticSeparator(species=SEPARATOR.species, surface_field=0.2,
                                 bulk_density=600.0).validate()
    recovered = [moderate.recoveries(M_TYPE, 2.0, rate, 0.13)['sulfide']
                 for rate in (0.001, 0.05, 0.5, 5.0)]
    assert recovered == sorted(recovered, reverse=True) and recovered[-1] < recovered[0]
    assert moderate.bed_thickness(2.0, 0.5) == pytest.approx(
        0.5 / (600.0 * 0.2 * 2.0 * 0.08))


def test_the_drum_s_energy_brings_the_stream_to_its_speed_plus_idle_losses():
    # Accelerating a stream to v by friction takes v^2 per kg (half kinetic, half heat).
    assert SEPARATOR.energy_per_kg(2.0, 0.01) == pytest.approx((2.0 * 0.08) ** 2 + 5.0 / 0.01)
    assert SEPARATOR.energy_per_kg(4.0, 0.01) > SEPARATOR.energy_per_kg(2.0, 0.01)
    assert SEPARATOR.drive_torque(2.0, 0.01) * 2.0 == pytest.approx(
        SEPARATOR.energy_per_kg(2.0, 0.01) * 0.01)
