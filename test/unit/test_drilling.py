"""Drag-bit model and the drilling process (core.models.drilling)."""

import math

from hypothesis import given, strategies as st
import pytest

from spacemine_ros.core.models.drilling import (
    DragBit, DrillingProcess, StrataColumn, Stratum, teale_specific_energy)

ROCK = Stratum('rock', 0.0, 1.0, specific_energy=2.5e6, cutting_ratio=0.6, density=1800.0)
BIT = DragBit(0.025)


def column(*strata):
    return StrataColumn(list(strata) or [ROCK])


@given(thrust=st.floats(1.0, BIT.full_cut_thrust(ROCK)), speed=st.floats(0.5, 50.0))
def test_teale_specific_energy_is_intrinsic_energy_plus_thrust_over_area(thrust, speed):
    # In the cutting regime (the cutters not yet fully engaged).
    rate = BIT.rate_of_penetration(thrust, speed, ROCK)
    torque = BIT.torque(thrust, ROCK)
    energy = teale_specific_energy(thrust, torque, speed, rate, BIT.area)
    assert energy == pytest.approx(ROCK.specific_energy + thrust / BIT.area, rel=1e-9)


def test_rate_grows_with_thrust_and_speed_and_falls_with_rock_strength():
    base = BIT.rate_of_penetration(100.0, 10.0, ROCK)
    assert BIT.rate_of_penetration(200.0, 10.0, ROCK) == pytest.approx(2 * base)
    assert BIT.rate_of_penetration(100.0, 20.0, ROCK) == pytest.approx(2 * base)
    harder = Stratum('hard', 0.0, 1.0, 5e6, 0.6, 1800.0)
    assert BIT.rate_of_penetration(100.0, 10.0, harder) == pytest.approx(base / 2)


def test_thrust_for_rate_inverts_the_rate():
    rate = BIT.rate_of_penetration(150.0, 12.0, ROCK)
    assert BIT.thrust_for_rate(rate, 12.0, ROCK) == pytest.approx(150.0)
    assert BIT.thrust_for_rate(0.001, 0.0, ROCK) == math.inf


def test_strata_must_be_contiguous_from_the_surface():
    with pytest.raises(ValueError, match='surface'):
        StrataColumn([Stratum('a', 0.1, 0.2, 1e6, 0.6, 1000.0)])
    with pytest.raises(ValueError, match='gap'):
        StrataColumn([Stratum('a', 0.0, 0.2, 1e6, 0.6, 1000.0),
                      Stratum('b', 0.3, 0.5, 1e6, 0.6, 1000.0)])
    strata = column(Stratum('a', 0.0, 0.2, 1e6, 0.6, 1000.0),
                    Stratum('b', 0.2, 0.5, 2e6, 0.6, 1000.0))
    assert strata.at(0.1).name == 'a'
    assert strata.at(0.2).name == 'b'
    with pytest.raises(ValueError, match='below the known strata'):
        strata.at(0.6)


def test_free_travel_until_contact_then_thrust_limited_cutting():
    process = DrillingProcess(column(), BIT)
    load = process.step(0.01, tip_depth=-0.05, feed_speed=0.01, thrust_limit=100.0,
                        spindle_speed=10.0, torque_limit=20.0)
    assert not load.in_contact and load.thrust == 0.0
    assert load.feed_advance == pytest.approx(1e-4)
    load = process.step(0.01, tip_depth=0.0, feed_speed=0.01, thrust_limit=100.0,
                        spindle_speed=10.0, torque_limit=20.0)
    assert load.in_contact
    assert load.thrust == pytest.approx(100.0)
    assert load.rate_of_penetration == pytest.approx(BIT.rate_of_penetration(100, 10, ROCK))
    assert process.hole_depth == pytest.approx(load.rate_of_penetration * 0.01)


def test_feed_speed_caps_the_rate_and_lowers_the_thrust():
    process = DrillingProcess(column(), BIT)
    load = process.step(0.01, 0.0, feed_speed=1e-4, thrust_limit=400.0, spindle_speed=20.0,
                        torque_limit=50.0)
    assert load.rate_of_penetration == pytest.approx(1e-4)
    assert load.thrust < 400.0
    assert load.thrust == pytest.approx(BIT.thrust_for_rate(1e-4, 20.0, ROCK))


def test_torque_above_the_motor_limit_stalls_the_spindle():
    process = DrillingProcess(column(), BIT)
    load = process.step(0.01, 0.0, 0.1, thrust_limit=1000.0, spindle_speed=10.0,
                        torque_limit=5.0)
    assert load.stalled and load.spindle_speed == 0.0 and load.rate_of_penetration == 0.0
    assert load.torque == 5.0


def test_a_wedged_clast_clears_after_backing_off_only_if_it_can():
    for clears in (True, False):
        clast = Stratum('clast', 0.0, 1.0, 2.5e6, 0.6, 1800.0, wedge_torque=50.0,
                        wedge_clears=clears)
        process = DrillingProcess(column(clast), BIT)
        load = process.step(0.01, 0.0, 0.01, 100.0, 10.0, torque_limit=20.0)
        assert load.wedged and load.stalled
        process.step(0.01, -0.01, -0.01, 0.0, 0.0, 20.0)  # bit 10 mm above the bottom
        load = process.step(0.01, 0.0, 0.01, 100.0, 10.0, 20.0)
        assert load.stalled is (not clears)


@given(steps=st.lists(st.tuples(st.floats(0.0, 500.0), st.floats(0.0, 30.0)), max_size=30))
def test_mass_excavated_is_density_times_hole_volume(steps):
    process = DrillingProcess(column(), BIT)
    for thrust, speed in steps:
        process.step(0.05, process.hole_depth, 0.02, thrust, speed, 20.0)
    assert process.excavated_mass == pytest.approx(
        ROCK.density * BIT.area * process.hole_depth, rel=1e-9, abs=1e-12)


DUST = Stratum('dust', 0.0, 1.0, specific_energy=5.0e4, cutting_ratio=0.6, density=600.0)


@given(thrust=st.floats(0.0, 5000.0), energy=st.floats(1e4, 3e8))
def test_no_thrust_cuts_deeper_per_turn_than_the_cutters_stand_out(thrust, energy):
    stratum = Stratum('s', 0.0, 1.0, energy, 0.6, 1000.0)
    assert BIT.depth_of_cut(thrust, stratum) <= BIT.blades * BIT.cutter_exposure * (1 + 1e-12)


def test_thrust_past_full_engagement_buys_contact_torque_and_no_penetration():
    # 100 N in 50 kPa dust would cut 0.13 m a turn with a 25 mm bit: the cutters take 6 mm.
    limit = BIT.full_cut_thrust(DUST)
    assert limit == pytest.approx(0.6 * 5.0e4 * 0.025 * 0.006)
    assert BIT.depth_of_cut(100.0, DUST) == pytest.approx(0.006)
    assert BIT.rate_of_penetration(100.0, 10.0, DUST) == \
        pytest.approx(BIT.rate_of_penetration(limit, 10.0, DUST))
    # Below W* the Detournay-Defourny law holds; above it, mu gamma a / 2 per newton.
    assert BIT.torque(limit / 2, DUST) == pytest.approx(0.025 * limit / 2 / (2 * 0.6))
    extra = BIT.torque(limit + 10.0, DUST) - BIT.torque(limit, DUST)
    assert extra == pytest.approx(BIT.contact_friction * BIT.contact_gamma * 0.025 * 10.0 / 2)
    assert BIT.thrust_for_rate(BIT.rate_of_penetration(limit, 10.0, DUST) * 1.01, 10.0,
                               DUST) == math.inf
    with pytest.raises(ValueError, match='cutter_exposure'):
        DragBit(0.025, cutter_exposure=0.0)


def test_a_bit_pressed_past_full_engagement_drills_at_the_bounded_rate():
    process = DrillingProcess(column(DUST), BIT)
    load = process.step(0.05, tip_depth=0.0, feed_speed=0.05, thrust_limit=100.0,
                        spindle_speed=10.0, torque_limit=20.0)
    assert load.rate_of_penetration == pytest.approx(0.006 * 10.0 / (2 * math.pi))
    assert load.thrust == pytest.approx(100.0)  # the feed pushes at its limit ...
    assert load.torque == pytest.approx(BIT.torque(100.0, DUST))  # ... on the bit body too
