"""The propellant chain's models: each law, the mass balance through them, bad setpoints."""

import math

from hypothesis import given, settings, strategies as st
import pytest

from spacemine_ros.core.models.propellant import (
    ColdTrap, CRITICAL, DockingWindow, ELECTRONS, FARADAY, GAS_CONSTANT, gas_density,
    gas_pressure, GasTank, HandOver, ice_vapour_pressure, MOLAR_MASS, PemStack,
    PropellantError, REACTION_ENTHALPY, SUBLIMATION_HEAT, THERMONEUTRAL_VOLTAGE, water_split)

HOT = 353.15  # K: 80 C, where PEM stacks run


# Electrolysis ---------------------------------------------------------------------------------
def test_the_cell_voltages_of_the_reaction_are_the_textbook_ones():
    # 1.229 V reversible at 25 C, 1.481 V thermoneutral (higher heating value), and the
    # reversible voltage falls by dS / 2F = 0.85 mV per kelvin.
    assert PemStack.reversible_voltage(298.15) == pytest.approx(1.229, abs=1e-3)
    assert THERMONEUTRAL_VOLTAGE == pytest.approx(1.481, abs=1e-3)
    slope = PemStack.reversible_voltage(HOT) - PemStack.reversible_voltage(298.15)
    assert slope / 55.0 == pytest.approx(-0.846e-3, rel=0.01)
    # Nernst: hydrogen made at 30 bar costs RT/2F ln 30 more.
    raised = PemStack.reversible_voltage(HOT, hydrogen_pressure=30e5)
    assert raised - PemStack.reversible_voltage(HOT) == pytest.approx(
        GAS_CONSTANT * HOT / (2 * FARADAY) * math.log(30.0), rel=1e-12)


def test_the_polarisation_curve_rises_from_the_reversible_voltage_into_the_published_window():
    stack = PemStack()
    assert stack.cell_voltage(0.0, HOT) == pytest.approx(PemStack.reversible_voltage(HOT))
    densities = [k * 1e3 for k in range(21)]  # 0-2 A/cm^2
    voltages = [stack.cell_voltage(i, HOT) for i in densities]
    assert all(b > a for a, b in zip(voltages, voltages[1:]))
    # Carmo et al. 2013: 1.7-2.0 V at 1-2 A/cm^2 and 80 C.
    for density in (1e4, 2e4):
        assert 1.7 <= stack.cell_voltage(density, HOT) <= 2.0
    # A warmer membrane conducts better and the kinetics speed up: less voltage.
    assert stack.cell_voltage(1e4, HOT) < stack.cell_voltage(1e4, 313.15)


def test_faraday_s_law_gives_the_water_split_by_a_current():
    stack = PemStack(cells=10, faradaic_efficiency=1.0)
    # 100 A through 10 cells for an hour: 10 x 360 kC / 2F mol of water.
    water, hydrogen, oxygen, energy, heat = stack.step(100.0, HOT, 3600.0, 10.0)
    moles = 10 * 100.0 * 3600.0 / (2 * FARADAY)
    assert water == pytest.approx(moles * 18.015e-3, rel=1e-12)
    assert hydrogen == pytest.approx(moles * 2.016e-3, rel=1e-12)
    assert oxygen == pytest.approx(moles * 15.999e-3, rel=1e-12)
    assert energy == pytest.approx(10 * 100.0 * stack.cell_voltage(1e4, HOT) * 3600.0)
    # What the reaction does not store heats the stack.
    assert heat == pytest.approx(energy - moles * REACTION_ENTHALPY)
    assert heat > 0.0  # above the thermoneutral voltage


def test_the_energy_per_kg_of_water_is_faraday_s_at_the_cell_s_voltage_and_efficiency():
    stack = PemStack(faradaic_efficiency=0.95)
    for density in (2e3, 1e4, 2e4):
        per_kg = stack.energy_per_water(density, HOT)
        voltage = stack.cell_voltage(density, HOT)
        assert per_kg == pytest.approx(voltage * ELECTRONS * FARADAY /
                                       (0.95 * MOLAR_MASS['water']))
        current = density * stack.cell_area
        water, _, _, energy, _ = stack.step(current, HOT, 100.0, 1.0)
        assert energy / water == pytest.approx(per_kg, rel=1e-12)
        # On the higher heating value (15.87 MJ/kg at 1.481 V) the efficiency is its share.
        assert stack.efficiency(density, HOT) == pytest.approx(
            REACTION_ENTHALPY / MOLAR_MASS['water'] / per_kg, rel=1e-12)
    ideal = PemStack(faradaic_efficiency=1.0)
    assert THERMONEUTRAL_VOLTAGE * ELECTRONS * FARADAY / MOLAR_MASS['water'] == \
        pytest.approx(15.87e6, rel=1e-3)
    assert ideal.energy_per_water(1e4, HOT) > 15.87e6


def test_a_power_share_is_met_by_the_current_that_draws_it_and_no_more_than_the_rating():
    stack = PemStack()
    for power in (10.0, 500.0, 2000.0):
        current = stack.current_for_power(power, HOT)
        assert stack.power(current, HOT) == pytest.approx(power, rel=1e-9)
    assert stack.current_for_power(0.0, HOT) == 0.0
    assert stack.current_for_power(1e6, HOT) == stack.max_current()


def test_a_stack_short_of_water_splits_what_there_is():
    stack = PemStack()
    water, hydrogen, oxygen, _, _ = stack.step(stack.max_current(), HOT, 3600.0, 1e-3)
    assert water == 1e-3 and hydrogen + oxygen == water


@pytest.mark.parametrize('call, message', [
    (lambda s: s.step(-1.0, HOT, 1.0, 1.0), 'stack current must be within [0'),
    (lambda s: s.step(math.nan, HOT, 1.0, 1.0), 'stack current must be finite, got nan'),
    (lambda s: s.step(1e6, HOT, 1.0, 1.0), 'stack current must be within [0, 200], got 1e+06'),
    (lambda s: s.cell_voltage(1e4, 400.0),
     'stack temperature must be within [283.15, 363.15], got 400'),
    (lambda s: s.current_for_power(math.inf, HOT), 'stack power must be finite, got inf'),
    (lambda s: s.step(1.0, HOT, 0.0, 1.0), 'dt must be > 0, got 0'),
    (lambda s: s.power('lots', HOT), "stack current must be a number, got 'lots'"),
])
def test_a_bad_stack_setpoint_is_refused_in_one_line(call, message):
    with pytest.raises(PropellantError) as refused:
        call(PemStack())
    assert message in str(refused.value) and '\n' not in str(refused.value)


@settings(max_examples=300, deadline=None)
@given(st.floats(min_value=0.0, max_value=1e6, allow_nan=False, allow_infinity=False))
def test_water_splits_into_hydrogen_and_oxygen_to_the_last_bit(water):
    hydrogen, oxygen = water_split(water)
    assert hydrogen + oxygen == water
    assert hydrogen >= 0.0 and oxygen >= 0.0
    if water >= 1e-12:  # a picogram: the ratio of the two roundings is the molar one
        assert oxygen / hydrogen == pytest.approx(15.999 / 2.016, rel=1e-9)


# Cold trap ------------------------------------------------------------------------------------
def test_ice_s_vapour_pressure_is_murphy_and_koop_s():
    assert ice_vapour_pressure(273.16) == pytest.approx(611.657, rel=1e-3)  # triple point
    temperatures = [120.0 + 10.0 * k for k in range(15)]
    pressures = [ice_vapour_pressure(t) for t in temperatures]
    assert all(b > a for a, b in zip(pressures, pressures[1:]))
    # Clausius-Clapeyron: d ln p / d(1/T) = -L M / R to within a few % near 250 K.
    slope = (math.log(ice_vapour_pressure(255.0)) - math.log(ice_vapour_pressure(245.0))) / \
        (1.0 / 255.0 - 1.0 / 245.0)
    assert -slope == pytest.approx(SUBLIMATION_HEAT * MOLAR_MASS['water'] / GAS_CONSTANT,
                                   rel=0.02)


def test_the_trap_captures_within_its_thermodynamic_and_transfer_limits():
    trap = ColdTrap()
    water, others, dt = 1e-3, {'organics': 2e-4}, 10.0
    for temperature in (150.0, 200.0, 230.0, 250.0, 260.0, 270.0):
        capture = trap.step(water, others, 600.0, temperature, dt)
        limit = trap.limit(water, others, temperature)
        effectiveness = trap.effectiveness(water, others, temperature, dt)
        assert 0.0 <= capture.efficiency <= limit <= 1.0
        assert capture.efficiency == pytest.approx(limit * effectiveness, rel=1e-12)
        assert capture.captured + capture.vented.get('water', 0.0) == pytest.approx(water)
        assert capture.vented['organics'] == others['organics']
    # The colder the plates, the drier the gas leaves.
    efficiencies = [trap.step(water, others, 600.0, t, dt).efficiency
                    for t in (260.0, 250.0, 230.0, 200.0)]
    assert all(b > a for a, b in zip(efficiencies, efficiencies[1:]))
    # Plates warmer than the gas's frost point take nothing (a line at 200 Pa: about 255 K).
    thin = ColdTrap(line_pressure=200.0)
    partial = 200.0 * (water / 18.015) / (water / 18.015 + 2e-4 / 44.009)
    assert ice_vapour_pressure(268.0) > partial > ice_vapour_pressure(250.0)
    assert thin.step(water, others, 600.0, 268.0, dt).captured == 0.0
    assert thin.step(water, others, 600.0, 250.0, dt).captured > 0.0
    # Plates big enough meet all the gas: the thermodynamic limit alone.
    big = ColdTrap(plate_area=500.0)
    assert big.step(water, others, 600.0, 230.0, dt).efficiency == pytest.approx(
        big.limit(water, others, 230.0), rel=1e-6)


def test_the_trap_s_heat_is_the_ice_s_latent_heat_and_the_gas_s_cooling_and_its_cooler_s_power():
    trap = ColdTrap(plate_area=500.0)  # the gas meets the plates whole
    capture = trap.step(1e-3, {'organics': 2e-4}, 600.0, 230.0, 10.0)
    assert capture.heat == pytest.approx(
        capture.captured * SUBLIMATION_HEAT + (600.0 - 230.0) * (1e-3 * 2.0e3 + 2e-4 * 1.0e3),
        rel=1e-6)
    cop = trap.carnot_fraction * 230.0 / (trap.radiator_temperature - 230.0)
    assert capture.energy == pytest.approx(capture.heat / cop)
    # A full trap captures nothing more.
    assert trap.step(1e-3, {}, 600.0, 230.0, 10.0, held=trap.capacity).captured == 0.0


@pytest.mark.parametrize('args, message', [
    ((-1e-3, {}, 600.0, 230.0, 1.0), 'water must be within [0, 1e+06], got -0.001'),
    ((1e-3, {'organics': math.nan}, 600.0, 230.0, 1.0), 'organics must be finite'),
    ((1e-3, {'argon': 1e-3}, 600.0, 230.0, 1.0), "unknown off-gas species 'argon'"),
    ((1e-3, {}, 600.0, 300.0, 1.0), 'trap temperature must be within [110, 273.16], got 300'),
])
def test_a_bad_trap_input_is_refused_in_one_line(args, message):
    with pytest.raises(PropellantError) as refused:
        ColdTrap().step(*args)
    assert message in str(refused.value)


# Storage --------------------------------------------------------------------------------------
def test_hydrogen_s_density_is_nist_s_at_tank_pressures():
    # NIST (Lemmon's equation of state) at 15 C: 24.0 kg/m^3 at 35 MPa, 40.2 at 70 MPa.
    assert gas_density('hydrogen', 35e6, 288.15) == pytest.approx(24.0, rel=0.02)
    assert gas_density('hydrogen', 70e6, 288.15) == pytest.approx(40.2, rel=0.02)


def test_peng_robinson_oxygen_has_its_critical_point_and_the_ideal_gas_limit():
    tc, pc, _ = CRITICAL['oxygen']
    molar = MOLAR_MASS['oxygen']
    critical_density = pc * molar / (0.30740 * GAS_CONSTANT * tc)  # Z_c of the equation
    assert gas_pressure('oxygen', critical_density, tc) == pytest.approx(pc, rel=1e-3)
    for species in ('oxygen', 'hydrogen'):
        ideal = 1e3 * MOLAR_MASS[species] / (GAS_CONSTANT * 293.15)
        assert gas_density(species, 1e3, 293.15) == pytest.approx(ideal, rel=1e-4)
        for pressure in (1e5, 5e6, 2e7):
            density = gas_density(species, pressure, 293.15)
            assert gas_pressure(species, density, 293.15) == pytest.approx(pressure, rel=1e-9)


def test_a_tank_vents_above_its_relief_pressure_and_leaks_its_share():
    tank = GasTank('hydrogen', volume=0.1, rated_pressure=35e6, relief_pressure=30e6,
                   leak_rate=1e-6)
    capacity = tank.capacity()
    assert tank.fill(capacity / 2.0) == 0.0
    vented = tank.fill(capacity)
    assert vented == pytest.approx(capacity / 2.0)
    assert tank.pressure() == pytest.approx(30e6, rel=1e-9)
    before = tank.mass
    lost = tank.leak(3600.0)
    assert lost == pytest.approx(before * (1.0 - math.exp(-1e-6 * 3600.0)), rel=1e-12)
    assert tank.mass + lost == pytest.approx(before, rel=1e-15)
    assert tank.draw(1e3) == pytest.approx(before - lost)
    assert tank.mass == 0.0 and tank.pressure() == 0.0


@pytest.mark.parametrize('build, message', [
    (lambda: GasTank('oxygen', 0.1, 20e6, 25e6),
     'relief_pressure must be within [0, 2e+07], got 2.5e+07'),
    (lambda: GasTank('helium', 0.1, 20e6, 15e6), "hydrogen or oxygen, not 'helium'"),
    (lambda: GasTank('oxygen', 0.1, 20e6, 15e6).check_setpoint(21e6),
     'oxygen tank pressure setpoint must be within [0, 1.5e+07], got 2.1e+07'),
    (lambda: GasTank('oxygen', 0.1, 20e6, 15e6).fill(-1.0), 'oxygen in must be within [0'),
    (lambda: GasTank('oxygen', 0.1, 20e6, 15e6, temperature=120.0), 'temperature must be'),
])
def test_a_bad_tank_or_setpoint_is_refused_in_one_line(build, message):
    with pytest.raises(PropellantError) as refused:
        build()
    assert message in str(refused.value)


# The hand-over --------------------------------------------------------------------------------
def test_products_go_only_while_the_vehicle_is_docked_at_their_rates():
    window = DockingWindow(arrives=100.0, stays=50.0)
    handover = HandOver(window, {'hydrogen': 0.01, 'oxygen': 0.05})
    stored = {'hydrogen': 0.3, 'oxygen': 10.0}
    assert handover.step(0.0, 90.0, stored) == {}
    moved = handover.step(90.0, 20.0, stored)  # docked for the last 10 s of it
    assert moved == pytest.approx({'hydrogen': 0.1, 'oxygen': 0.5})
    for name, mass in moved.items():
        stored[name] -= mass
    moved = handover.step(110.0, 100.0, stored)  # the window closes at 150 s
    assert moved == pytest.approx({'hydrogen': 0.2, 'oxygen': 2.0})
    for name, mass in moved.items():
        stored[name] -= mass
    assert handover.manifest == pytest.approx({'hydrogen': 0.3, 'oxygen': 2.5})
    assert handover.missed(150.0, stored)  # oxygen left behind, stored
    assert stored['oxygen'] == pytest.approx(7.5)


def test_a_hand_over_of_what_was_wanted_is_done_and_not_missed():
    handover = HandOver(DockingWindow(0.0, 100.0), {'water': 1.0}, wanted={'water': 2.0})
    stored = {'water': 5.0}
    stored['water'] -= handover.step(0.0, 10.0, stored)['water']
    assert handover.manifest == {'water': 2.0} and stored == {'water': 3.0}
    assert handover.done(stored) and not handover.missed(200.0, stored)


# The chain: every kilogram of water in is somewhere ------------------------------------------
@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.floats(0.0, 1e-3), st.floats(0.0, 1e-3),
                          st.floats(150.0, 270.0), st.floats(0.0, 60.0)),
                min_size=1, max_size=30),
       st.floats(0.0, 1e-3))
def test_mass_balances_through_capture_electrolysis_storage_and_hand_over(steps, leak):
    trap, stack = ColdTrap(capacity=0.02), PemStack()
    hydrogen = GasTank('hydrogen', 1e-3, 35e6, 30e6, leak_rate=leak)
    oxygen = GasTank('oxygen', 5e-4, 20e6, 15e6, leak_rate=leak)
    handover = HandOver(DockingWindow(60.0, 300.0), {'hydrogen': 1e-4, 'oxygen': 1e-3})
    water_in = ice = split = vented = relieved = leaked = 0.0
    time, dt = 0.0, 10.0
    for water, organics, temperature, current in steps:
        water_in += water
        capture = trap.step(water, {'organics': organics}, 600.0, temperature, dt, held=ice)
        ice += capture.captured
        vented += capture.vented.get('water', 0.0)
        used, h2, o2, _, _ = stack.step(min(current, stack.max_current()), HOT, dt, ice)
        ice -= used
        split += used
        relieved += hydrogen.fill(h2) + oxygen.fill(o2)
        leaked += hydrogen.leak(dt) + oxygen.leak(dt)
        moved = handover.step(time, dt, {'hydrogen': hydrogen.mass, 'oxygen': oxygen.mass})
        hydrogen.draw(moved.get('hydrogen', 0.0))
        oxygen.draw(moved.get('oxygen', 0.0))
        time += dt
        shipped = math.fsum(handover.manifest.values())
        accounts = math.fsum([ice, vented, hydrogen.mass, oxygen.mass, relieved, leaked,
                              shipped])
        assert accounts == pytest.approx(water_in, rel=1e-12, abs=1e-15)
        assert ice >= 0.0 and ice <= trap.capacity * (1 + 1e-12)
        assert hydrogen.pressure() <= hydrogen.relief_pressure * (1 + 1e-9)
        assert oxygen.pressure() <= oxygen.relief_pressure * (1 + 1e-9)
    assert split <= water_in
