"""Earth-moving cutting force, conveyor capacities, ejecta and the magnetic separator."""

import math

from hypothesis import given, settings, strategies as st
import pytest

from spacemine_ros.core.conveying import (
    BeltConveyor, escaping_fraction, MagneticSeparator, max_exit_speed, ScrewConveyor)
from spacemine_ros.core.cutting import (
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


def test_screw_conveyor_capacity_matches_the_cema_formula():
    screw = ScrewConveyor(diameter=0.1, shaft_diameter=0.03, pitch=0.1, fill_factor=0.3,
                          length=1.0).validate()
    speed, density = 2.0 * math.pi * 1.5, 600.0  # 1.5 rev/s
    expected = 0.3 * math.pi / 4.0 * (0.1 ** 2 - 0.03 ** 2) * 0.1 * 1.5 * density
    assert screw.capacity(speed, density) == pytest.approx(expected, rel=1e-12)
    assert screw.capacity(2 * speed, density) == pytest.approx(2 * expected)


def test_belt_conveyor_capacity_is_the_surcharge_segment_times_speed():
    belt = BeltConveyor(belt_width=0.5, edge_distance=0.05, surcharge_angle=math.radians(20),
                        length=2.0).validate()
    b, theta = 0.4, math.radians(20)
    radius = b / (2 * math.sin(theta))
    segment = radius ** 2 * (theta - math.sin(theta) * math.cos(theta))  # circular segment
    assert belt.area == pytest.approx(segment, rel=1e-12)
    assert belt.capacity(0.1, 1500.0) == pytest.approx(segment * 0.1 * 1500.0)


def test_escaping_fraction_and_speed_limit_are_consistent():
    assert escaping_fraction(0.05, 0.2) == pytest.approx(math.exp(-4.0))
    assert escaping_fraction(0.1, 169.8) < 1e-300 or escaping_fraction(0.1, 169.8) == 0.0
    assert escaping_fraction(0.0, 0.2) == 0.0
    limit = max_exit_speed(0.2, 0.001)
    assert escaping_fraction(limit, 0.2) == pytest.approx(0.001)
    with pytest.raises(ValueError):
        escaping_fraction(-1.0, 0.2)


@pytest.mark.parametrize('composition', [
    {'metal': 0.60, 'sulfide': 0.05, 'silicate': 0.35},  # Psyche
    {'water': 0.10, 'organics': 0.02, 'metal': 0.005, 'silicate': 0.875},  # Bennu
])
def test_separator_split_follows_composition(composition):
    separator = MagneticSeparator(recovery=0.9, purity=0.95).validate()
    feed = {s: 10.0 * f for s, f in composition.items()}
    concentrate, tailings = separator.split(feed)
    for species in feed:  # nothing made or lost
        assert concentrate[species] + tailings[species] == pytest.approx(feed[species])
        assert concentrate[species] >= 0.0 and tailings[species] >= 0.0
    assert concentrate['metal'] == pytest.approx(0.9 * feed['metal'])
    purity = concentrate['metal'] / sum(concentrate.values())
    assert purity == pytest.approx(0.95)
