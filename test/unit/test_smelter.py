"""Smelter controller: profile tracking, anti-windup and every interlock (no ROS)."""

import dataclasses
import math

import pytest

from spacemine_ros.core.config import load_yaml
from spacemine_ros.core.control.smelter import (
    batch_recipe, BatchController, Phase, recipes_from, SmelterMeasurement, SmelterParams)
from spacemine_ros.core.models.thermal import furnace_design_from, FurnaceThermal
from test.unit.test_thermal import SMELTER_FILE

PERIOD = 0.05
CONCENTRATE = {'metal': 0.95, 'silicate': 0.04, 'sulfide': 0.01}
C_TYPE = {'water': 0.11, 'organics': 0.02, 'silicate': 0.87}


@pytest.fixture(scope='module')
def setup():
    data = load_yaml(SMELTER_FILE)
    return furnace_design_from(data), recipes_from(data)


class Plant:
    """The furnace model with a thermocouple that can fail, driven by the controller."""

    def __init__(self, design, composition):
        self.furnace = FurnaceThermal(design)
        self.composition = composition
        self.time = 0.0
        self.reading = None  # fn(true temperature, time) -> reading; None: healthy
        self.tapped = 0.0

    def measure(self):
        furnace = self.furnace
        true = furnace.temperature
        reading = self.reading(true, self.time) if self.reading else true
        return SmelterMeasurement(self.time, reading, furnace.melt_fraction(),
                                  sum(furnace.masses.values()), 10.0)

    def apply(self, controller, command):
        if controller.feed_request:
            hopper, mass = controller.feed_request
            controller.feed_request = None
            self.furnace.charge({s: f * mass for s, f in self.composition.items()})
        if command.tap_open:
            held = dict(self.furnace.masses)
            self.tapped += sum(self.furnace.remove(
                {s: m * min(PERIOD / 2.0, 1.0) + 1e-4 for s, m in held.items()}).values())
        self.furnace.step(PERIOD, command.heater_power, command.door_open)
        self.time += PERIOD


def run(controller, plant, seconds=3000.0, until=(Phase.DONE, Phase.FAULT), hook=None):
    log = []
    for _ in range(int(seconds / PERIOD)):
        measurement = plant.measure()
        command = controller.update(measurement, dict(plant.furnace.masses))
        log.append((plant.time, plant.furnace.temperature, controller.setpoint,
                    command.heater_power, controller.phase, command))
        if hook:
            hook(plant, controller)
        if controller.phase in until:
            break
        plant.apply(controller, command)
    return log


def start(setup, recipe, composition, params=None):
    design, recipes = setup
    controller = BatchController(params or SmelterParams(), design, recipes)
    plant = Plant(design, composition)
    accepted, message = controller.start(recipe, plant.measure())
    assert accepted, message
    return controller, plant


def test_a_batch_goal_takes_its_recipe_with_the_charge_it_asks(setup):
    _, recipes = setup
    name = next(iter(recipes))
    own = recipes[name].charge_mass
    assert batch_recipe(recipes, name, 0.0) is recipes[name]  # 0: the recipe's own charge
    assert batch_recipe(recipes, name, own + 2.5).charge_mass == own + 2.5
    assert recipes[name].charge_mass == own  # the recipes themselves are untouched
    with pytest.raises(ValueError, match='unknown recipe'):
        batch_recipe(recipes, 'gold_panning', 1.0)
    with pytest.raises(ValueError, match='charge_mass must be within'):
        batch_recipe(recipes, name, 500.0)


def test_a_smelting_batch_tracks_the_profile_and_taps_metal(setup):
    controller, plant = start(setup, 'metal_smelting', CONCENTRATE)
    log = run(controller, plant)
    assert controller.phase == Phase.DONE
    recipe = controller.recipe
    arrests = [at for _, at, _ in setup[0].arrests(CONCENTRATE)]
    # On the ramp, below the first arrest (iron's alpha-gamma transition), within 2 K.
    ramp = [(t, temp, sp) for t, temp, sp, _, phase, _ in log
            if phase == Phase.HEATING and sp < min(arrests) - 20.0 and t > 5.0]
    assert ramp and max(abs(temp - sp) for _, temp, sp in ramp) < 2.0
    # At the soak: overshoot under 20 K, and within 5 K once settled (last 30 s).
    soak = [(t, temp) for t, temp, _, _, phase, _ in log if phase == Phase.SOAKING]
    assert max(temp for _, temp in soak) - recipe.soak_temperature < 20.0
    end = soak[-1][0]
    assert all(abs(temp - recipe.soak_temperature) < 5.0 for t, temp in soak if t > end - 30)
    # The tap opened only on a complete melt, and everything came out.
    taps = [(t, phase) for t, _, _, _, phase, command in log if command.tap_open]
    assert taps and plant.tapped == pytest.approx(0.5, abs=controller.params.tap_empty_mass)
    assert all(p != Phase.HEATING for _, p in taps)
    assert controller.energy > 0.0


def test_volatile_extraction_releases_the_water(setup):
    controller, plant = start(setup, 'volatile_extraction', C_TYPE)
    run(controller, plant)
    assert controller.phase == Phase.DONE
    assert plant.furnace.released['water'] == pytest.approx(0.11 * 0.5)


def test_saturation_does_not_wind_up_the_integrator(setup):
    # A budget far too small for the ramp: the output sits at the limit for minutes.
    params = SmelterParams(power_budget=600.0)
    controller, plant = start(setup, 'volatile_extraction', C_TYPE, params)
    log = run(controller, plant, seconds=400.0, until=(Phase.SOAKING, Phase.FAULT))
    saturated = [p for _, _, _, p, phase, _ in log if phase == Phase.HEATING]
    assert saturated.count(600.0) > 1000
    integral_bound = max(abs(controller.loop.integral), 0.0)
    assert integral_bound < 50.0  # K s: conditional integration stopped it
    # Give it the power back: it reaches the soak without a windup overshoot.
    controller.params = controller.loop.params = dataclasses.replace(params, power_budget=4000.0)
    log = run(controller, plant, seconds=1500.0, until=(Phase.TAPPING, Phase.FAULT))
    assert controller.phase == Phase.TAPPING
    peak = max(temp for _, temp, _, _, phase, _ in log if phase == Phase.SOAKING)
    assert peak - controller.recipe.soak_temperature < 20.0


def heater_off_in_fault(controller, log):
    assert controller.phase == Phase.FAULT
    last = log[-1][5]
    assert last.heater_power == 0.0 and not last.tap_open


@pytest.mark.parametrize('reading, reason', [
    (lambda true, t: math.nan if t > 100.0 else true, 'reads nan'),
    (lambda true, t: 3500.0 if t > 100.0 else true, 'outside its physical range'),
    (lambda true, t: min(true, 500.0), 'stuck at 500.0 K'),
])
def test_thermocouple_faults_turn_the_heater_off(setup, reading, reason):
    controller, plant = start(setup, 'metal_smelting', CONCENTRATE)
    plant.reading = reading
    log = run(controller, plant, seconds=600.0)
    heater_off_in_fault(controller, log)
    assert reason in controller.reason


def test_over_temperature_turns_the_heater_off(setup):
    params = SmelterParams(max_temperature=1200.0)
    controller, plant = start(setup, 'metal_smelting', CONCENTRATE, params)
    log = run(controller, plant, seconds=1200.0)
    heater_off_in_fault(controller, log)
    assert 'over-temperature' in controller.reason
    assert plant.furnace.temperature < 1300.0


def test_no_charge_while_the_furnace_is_hot(setup):
    design, recipes = setup
    controller = BatchController(SmelterParams(), design, recipes)
    hot = SmelterMeasurement(0.0, 900.0, 0.0, 0.0, 10.0)
    accepted, message = controller.start('volatile_extraction', hot)
    assert not accepted and 'safe charging temperature' in message
    assert controller.feed_request is None
    # Heating up while the charge is still coming in stops the batch too.
    controller, plant = start(setup, 'volatile_extraction', C_TYPE)
    controller.update(SmelterMeasurement(0.0, 300.0, 0.0, 0.0, 10.0))
    controller.update(SmelterMeasurement(0.05, 800.0, 0.0, 0.0, 10.0))
    assert controller.phase == Phase.FAULT and 'while charging' in controller.reason


def test_no_tap_before_the_melt_is_complete(setup):
    controller, plant = start(setup, 'metal_smelting', CONCENTRATE)

    def refreeze(plant, controller):  # the melt probe drops during tapping
        if controller.phase == Phase.TAPPING:
            plant.furnace.refreeze(0.5)

    log = run(controller, plant, hook=refreeze)
    heater_off_in_fault(controller, log)
    assert 'melt incomplete' in controller.reason
    taps_before_melt = [c for _, _, _, _, phase, c in log
                        if c.tap_open and phase in (Phase.HEATING, Phase.SOAKING)]
    assert not taps_before_melt


def test_bad_requests_are_refused(setup):
    design, recipes = setup
    controller = BatchController(SmelterParams(), design, recipes)
    cold = SmelterMeasurement(0.0, 300.0, 0.0, 0.0, 10.0)
    assert 'unknown recipe' in controller.start('gold_plating', cold)[1]
    assert 'holds 0.100 kg' in controller.start(
        'metal_smelting', SmelterMeasurement(0.0, 300.0, 0.0, 0.0, 0.1))[1]
    assert 'still holds' in controller.start(
        'metal_smelting', SmelterMeasurement(0.0, 300.0, 0.0, 0.3, 10.0))[1]
    assert 'reads nan' in controller.start(
        'metal_smelting', SmelterMeasurement(0.0, math.nan, 0.0, 0.0, 10.0))[1]
    with pytest.raises(ValueError, match='safe_charge_temperature'):
        SmelterParams(safe_charge_temperature=2000.0).validate()


def test_a_night_without_heater_power_holds_the_batch_and_it_completes_after(setup):
    params = SmelterParams()
    controller, plant = start(setup, 'volatile_extraction', C_TYPE, params)
    run(controller, plant, seconds=3000.0, until=(Phase.SOAKING, Phase.FAULT))
    assert controller.phase == Phase.SOAKING
    hot = plant.furnace.temperature
    night = dataclasses.replace(params, power_budget=1.0)
    controller.params = controller.loop.params = night
    log = run(controller, plant, seconds=1800.0, until=(Phase.FAULT, Phase.TAPPING, Phase.DONE))
    assert controller.power_wait and controller.phase == Phase.HEATING  # the soak waits
    assert plant.furnace.temperature < hot - 50.0  # it cooled in the dark ...
    assert all(sp <= temp + 1e-6 for _, temp, sp, _, _, _ in log[1:])  # ... the ramp with it
    controller.params = controller.loop.params = params  # sunrise
    run(controller, plant, seconds=6000.0)
    assert controller.phase == Phase.DONE, controller.reason
    assert not controller.power_wait
    assert plant.furnace.released['water'] == pytest.approx(0.11 * 0.5)


def test_a_restarted_smelter_goes_on_with_its_batch_and_never_repeats_a_finished_one(setup):
    design, recipes = setup
    controller, plant = start(setup, 'volatile_extraction', C_TYPE)
    run(controller, plant, seconds=6000.0, until=(Phase.COOLING, Phase.FAULT))
    assert controller.phase == Phase.COOLING and plant.furnace.temperature > 700.0
    record = controller.record()
    # Restarted while cooling a tapped batch: the start goes on cooling, charges nothing.
    again = BatchController(SmelterParams(), design, recipes)
    again.recall(record)
    accepted, message = again.start('volatile_extraction', plant.measure())
    assert accepted and 'tapped before a restart' in message
    assert again.phase == Phase.COOLING and again.feed_request is None
    run(again, plant)
    assert again.phase == Phase.DONE
    # Restarted after it was done: DONE at once, and nothing starts by itself.
    done = BatchController(SmelterParams(), design, recipes)
    done.recall(again.record())
    assert done.phase == Phase.DONE
    # A record that does not fit is ignored.
    odd = BatchController(SmelterParams(), design, recipes)
    odd.recall({'phase': 'BOILING', 'recipe': 'volatile_extraction'})
    assert odd.phase == Phase.IDLE and odd.recalled is None


def test_a_restart_while_charging_charges_only_what_is_missing(setup):
    design, recipes = setup
    controller = BatchController(SmelterParams(), design, recipes)
    plant = Plant(design, C_TYPE)
    controller.recall({'phase': 'CHARGING', 'recipe': 'volatile_extraction'})
    plant.furnace.charge({s: f * 0.2 for s, f in C_TYPE.items()})  # 0.2 of 0.5 kg in
    accepted, message = controller.start('volatile_extraction', plant.measure())
    assert accepted and controller.feed_request == ('hopper_silicate', pytest.approx(0.3))


# Killed while soaking, or after a hold aborted the batch (COOLING with the charge still
# in it, the furnace far above the safe charging temperature): the successor takes the
# charge up again, never refusing the start until the furnace has cooled.
@pytest.mark.parametrize('held', [False, True])
def test_a_restart_while_heating_goes_on_with_a_charge_lightened_by_its_volatiles(setup, held):
    design, recipes = setup
    controller, plant = start(setup, 'volatile_extraction', C_TYPE)
    run(controller, plant, seconds=6000.0, until=(Phase.SOAKING, Phase.FAULT))
    if held:
        assert controller.abort('held')[0] and controller.phase == Phase.COOLING
        assert plant.furnace.temperature > SmelterParams().safe_charge_temperature
    record = controller.record()
    assert sum(plant.furnace.masses.values()) < 0.5 * 0.98  # some water has left it
    again = BatchController(SmelterParams(), design, recipes)
    again.recall(record)
    accepted, message = again.start('volatile_extraction', plant.measure())
    assert accepted and 'heating the' in message and again.feed_request is None
    run(again, plant)
    assert again.phase == Phase.DONE
    assert plant.furnace.released['water'] == pytest.approx(0.11 * 0.5)


def test_an_idle_smelter_heats_the_charge_it_finds_in_a_hot_furnace(setup):
    # A restarted smelter with nothing to recall (killed before it wrote its record, or
    # its record taken up by a start that was then aborted) finds a hot furnace holding
    # a charge that its volatiles left lighter than charged: it heats that charge; it
    # neither refuses until the furnace has cooled nor charges a second time.
    design, recipes = setup
    controller, plant = start(setup, 'volatile_extraction', C_TYPE)
    run(controller, plant, seconds=6000.0, until=(Phase.SOAKING, Phase.FAULT))
    assert plant.furnace.temperature > SmelterParams().safe_charge_temperature
    assert sum(plant.furnace.masses.values()) < 0.5 * 0.98
    again = BatchController(SmelterParams(), design, recipes)
    accepted, message = again.start('volatile_extraction', plant.measure())
    assert accepted and 'no new charge' in message and again.feed_request is None
    run(again, plant)
    assert again.phase == Phase.DONE
    assert plant.furnace.released['water'] == pytest.approx(0.11 * 0.5)
