"""Furnace thermal model: energy balance, latent heat, radiation, volatile release."""

import dataclasses
import math
import os

import pytest

from spacemine_ros.core.config import ConfigError, load_yaml
from spacemine_ros.core.models.thermal import (
    furnace_design_from, FurnaceThermal, HeatCapacity, T_REFERENCE)
from test.conftest import CONFIG

SMELTER_FILE = os.path.join(CONFIG, 'smelter.yaml')


@pytest.fixture(scope='module')
def design():
    return furnace_design_from(load_yaml(SMELTER_FILE))


def test_enthalpy_is_the_integral_of_the_heat_capacity():
    table = HeatCapacity((300.0, 600.0, 1000.0), (500.0, 700.0, 900.0))
    assert table.enthalpy(T_REFERENCE) == pytest.approx(0.0, abs=1e-9)
    # Trapezoids, then flat beyond the table.
    expected = (600 - 300) * (500 + 700) / 2 + (1000 - 600) * (700 + 900) / 2 + 200 * 900
    assert table.enthalpy(1200.0) - table.enthalpy(300.0) == pytest.approx(expected)
    step = 1e-3
    assert (table.enthalpy(800.0 + step) - table.enthalpy(800.0)) / step == pytest.approx(
        table.cp(800.0), rel=1e-4)


def test_radiative_loss_matches_stefan_boltzmann(design):
    for temperature in (300.0, 1000.0, 1850.0):
        expected = design.shielded_emissivity * 5.670374419e-8 * design.hot_zone_area * (
            temperature ** 4 - design.environment_temperature ** 4)
        assert design.radiated_power(temperature) == pytest.approx(expected, rel=1e-12)
    assert design.radiated_power(1000.0, door_open=True) / design.radiated_power(1000.0) == \
        pytest.approx(design.door_open_emissivity / design.shielded_emissivity)


def test_solar_heater_power_falls_with_the_square_of_distance(design):
    solar = dataclasses.replace(design, heater='solar')
    assert solar.max_heater_power(1.0) == pytest.approx(
        1361.0 * solar.concentrator_area * solar.concentrator_efficiency)
    assert solar.max_heater_power(2.924) == pytest.approx(solar.max_heater_power(1.0) / 2.924 ** 2)
    assert design.max_heater_power(2.924) == design.electric_max_power  # electric: no change


@pytest.mark.parametrize('charge', [
    {'metal': 0.45, 'silicate': 0.04, 'sulfide': 0.01},
    {'water': 0.055, 'organics': 0.01, 'silicate': 0.435},
])
def test_energy_balance_closes_over_a_heat_and_cool_cycle(design, charge):
    furnace = FurnaceThermal(design)
    furnace.charge(charge)
    for step in range(int(1500 / 0.25)):
        hot = step * 0.25 < 800.0
        furnace.step(0.25, 3000.0 if hot and furnace.temperature < 1850.0 else 0.0,
                     door_open=not hot)
    furnace.remove(dict(furnace.masses))
    total_in = furnace.heater_energy + furnace.charged_in
    assert furnace.heater_energy > 1e6
    assert abs(furnace.energy_balance_error()) <= 1e-6 * total_in
    assert furnace.radiated > 0.0 and furnace.conducted > 0.0


def test_melting_consumes_the_latent_heat_at_constant_temperature(design):
    furnace = FurnaceThermal(design)
    furnace.charge({'metal': 0.5})
    melting_point = design.species['metal'].melting_point
    # Heat to just below the melting point, then watch the arrest.
    while furnace.temperature < melting_point - 1.0:
        furnace.step(0.05, 3000.0)
    energy_at_start = furnace.internal_energy()
    arrest = []
    while furnace.melted.get('metal', 0.0) < 1.0:
        furnace.step(0.05, 3000.0)
        if 0.0 < furnace.melted['metal'] < 1.0:
            arrest.append(furnace.temperature)
    assert arrest and all(t == pytest.approx(melting_point) for t in arrest)
    sensible = furnace._sensible(furnace.temperature) - furnace._sensible(melting_point - 1.0)
    latent = furnace.internal_energy() - energy_at_start - sensible
    assert latent == pytest.approx(0.5 * design.species['metal'].latent_heat, rel=0.01)
    assert furnace.melt_fraction() == 1.0


def test_volatiles_leave_across_their_window_with_their_enthalpy(design):
    furnace = FurnaceThermal(design)
    furnace.charge({'water': 0.1, 'silicate': 0.4})
    start, end = design.species['water'].release
    released = {}
    while furnace.temperature < start - 1.0:
        for name, mass in furnace.step(0.05, 2000.0).items():
            released[name] = released.get(name, 0.0) + mass
    assert not released
    while furnace.temperature < end + 10.0:
        for name, mass in furnace.step(0.05, 2000.0).items():
            released[name] = released.get(name, 0.0) + mass
    assert released['water'] == pytest.approx(0.1)
    assert furnace.masses['water'] == pytest.approx(0.0, abs=1e-12)
    assert abs(furnace.energy_balance_error()) < 1e-6 * furnace.heater_energy


def test_bad_smelter_config_names_the_faulty_entry():
    data = load_yaml(SMELTER_FILE)
    data['species']['metal']['cp'] = [[600, 500], [300, 400]]
    with pytest.raises(ConfigError, match='species.metal.cp'):
        furnace_design_from(data)
    data = load_yaml(SMELTER_FILE)
    data['furnace']['heater'] = 'nuclear'
    with pytest.raises(ConfigError, match='electric or solar'):
        furnace_design_from(data)
    data = load_yaml(SMELTER_FILE)
    data['furnace']['shielded_emissivity'] = 1.5
    with pytest.raises(ConfigError, match='shielded_emissivity'):
        furnace_design_from(data)
    assert math.isfinite(furnace_design_from(load_yaml(SMELTER_FILE)).max_temperature)


FE_MOLAR_MASS = 0.055845  # kg/mol


def test_iron_s_heat_content_follows_janaf_through_its_magnetic_and_phase_transitions(
        design):
    # NIST-JANAF (Chase 1998): H(T) - H(298.15 K) of iron, alpha to 1184 K through the
    # Curie peak, 26.60 kJ/mol at 1042 K and 33.6 kJ/mol at 1184 K; then the alpha-gamma
    # (0.90 kJ/mol) and gamma-delta (0.84 kJ/mol) transition heats.
    table = design.species['metal'].heat_capacity
    for temperature, janaf in ((800.0, 15.29), (1042.0, 26.60), (1100.0, 30.34),
                               (1184.0, 33.6)):
        assert table.enthalpy(temperature) * FE_MOLAR_MASS / 1e3 == pytest.approx(janaf,
                                                                                  rel=0.03)
    heats = dict(design.species['metal'].transitions)
    assert heats[1184.0] * FE_MOLAR_MASS == pytest.approx(900.0, rel=0.01)
    assert heats[1665.0] * FE_MOLAR_MASS == pytest.approx(840.0, rel=0.01)
    # The Curie lambda peak: cp at 1042 K is almost twice its value 100 K either side.
    assert table.cp(1042.0) > 1.5 * max(table.cp(942.0), table.cp(1142.0))


def heat_and_watch(furnace, until, power=3000.0):
    """Heat until until(furnace); return the temperatures seen while an arrest held."""
    held = []
    previous = furnace.temperature
    while not until(furnace):
        furnace.step(0.05, power)
        if furnace.temperature == previous:
            held.append(furnace.temperature)
        previous = furnace.temperature
    return held


def test_a_solid_transition_holds_the_temperature_while_its_heat_goes_in(design):
    furnace = FurnaceThermal(design)
    furnace.charge({'metal': 0.5})
    held = heat_and_watch(furnace, lambda f: f.temperature > 1200.0)
    assert held and set(held) == {1184.0}
    assert abs(furnace.energy_balance_error()) <= 1e-6 * furnace.heater_energy


def test_metal_and_troilite_melt_first_at_their_eutectic(design):
    eutectic = design.eutectics[0]
    furnace = FurnaceThermal(design)
    metal, sulfide = 0.4, 0.1
    furnace.charge({'metal': metal, 'sulfide': sulfide})
    held = heat_and_watch(furnace, lambda f: f.temperature > eutectic.temperature + 1.0)
    # The first melt appears at 1261 K, far below troilite's 1467 K and iron's 1773 K.
    assert eutectic.temperature in held
    assert eutectic.temperature < design.species['sulfide'].melting_point
    # All the troilite went into the eutectic melt with its share of metal; the rest of
    # the metal is still solid.
    melted = furnace.melted
    assert melted['sulfide'] == pytest.approx(1.0)
    bound_metal = sulfide / eutectic.composition['sulfide'] * eutectic.composition['metal']
    assert melted['metal'] == pytest.approx(bound_metal / metal)
    assert furnace.melt_fraction() == pytest.approx((sulfide + bound_metal) / (metal + sulfide))
    # On to the metal's own melting point: the charge melts completely; cooled again, it
    # freezes back through the same arrests, and every joule is accounted for.
    heat_and_watch(furnace, lambda f: f.melt_fraction() >= 1.0)
    assert furnace.temperature == pytest.approx(design.species['metal'].melting_point, abs=1.0)
    cooled = []
    while furnace.temperature > 1000.0:
        furnace.step(0.05, 0.0, door_open=True)
        cooled.append(furnace.temperature)
    assert furnace.melt_fraction() == 0.0
    assert cooled.count(eutectic.temperature) > 1  # the eutectic freezes at 1261 K
    assert abs(furnace.energy_balance_error()) <= 1e-6 * furnace.heater_energy


def test_a_bad_eutectic_is_refused_with_the_key():
    data = load_yaml(SMELTER_FILE)
    data['eutectics']['fe_fes']['composition'] = {'sulfide': 0.85, 'metal': 0.25}
    with pytest.raises(ConfigError, match='eutectics.fe_fes.composition: shares'):
        furnace_design_from(data)
    data = load_yaml(SMELTER_FILE)
    data['eutectics']['fe_fes']['temperature'] = 1500.0
    with pytest.raises(ConfigError, match='below the melting point of sulfide'):
        furnace_design_from(data)
