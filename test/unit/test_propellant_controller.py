"""The propellant plant's controller: its current from the power share, held, interlocks."""

import dataclasses
import math

import pytest

from spacemine_ros.core.control.propellant import (
    Interlock, PlantController, PlantMeasurement, PlantParams, PlantState, SAFE)
from spacemine_ros.core.models.propellant import PemStack

HOT = 343.15


def reading(**changes):
    values = dict(time=0.0, water=1.0, stack_temperature=HOT, hydrogen_pressure=1e6,
                  oxygen_pressure=1e6, hydrogen_in_oxygen=0.001, power_share=1000.0)
    values.update(changes)
    return PlantMeasurement(**values)


def running(**params):
    plant = PlantController(PlantParams(**params))
    assert plant.start() == (True, '')
    return plant


def test_an_idle_plant_keeps_everything_off():
    plant = PlantController(PlantParams())
    assert plant.update(reading()) == SAFE
    assert plant.state is PlantState.IDLE


def test_the_stack_draws_its_power_share_and_the_trap_is_held_at_its_setpoint():
    plant = running(trap_temperature=220.0)
    command = plant.update(reading(power_share=1000.0))
    assert plant.state is PlantState.RUNNING
    stack = PemStack()
    assert stack.power(command.stack_current, HOT) == pytest.approx(1000.0, rel=1e-9)
    assert command.cooler_on and command.trap_temperature == 220.0
    assert command.hydrogen_valve_open and command.oxygen_valve_open and not command.vent_open
    # The operator's current limit caps what a big share would draw.
    assert plant.set_params(current_limit=50.0) == (True, '')
    assert plant.update(reading(power_share=1e5)).stack_current == 50.0


@pytest.mark.parametrize('changes, reason', [
    (dict(water=0.0), 'no water to split'),
    (dict(hydrogen_pressure=3.0e7), 'the hydrogen tank is at its pressure limit'),
    (dict(oxygen_pressure=1.5e7), 'the oxygen tank is at its pressure limit'),
    (dict(power_share=0.0), 'no power share'),
])
def test_a_plant_with_nothing_to_split_or_nowhere_to_put_it_is_held_and_goes_on_after(
        changes, reason):
    plant = running()
    command = plant.update(reading(**changes))
    assert plant.state is PlantState.HELD and plant.reason == reason
    assert command.stack_current == 0.0 and command.cooler_on  # the trap keeps capturing
    assert not command.hydrogen_valve_open
    assert plant.update(reading()).stack_current > 0.0
    assert plant.state is PlantState.RUNNING


@pytest.mark.parametrize('changes, interlock, reason, vent, coolant', [
    (dict(hydrogen_pressure=3.2e7), Interlock.OVER_PRESSURE,
     'hydrogen over-pressure: 3.2e+07 Pa above 3.15e+07 Pa', True, HOT),
    (dict(oxygen_pressure=1.6e7), Interlock.OVER_PRESSURE, 'oxygen over-pressure', True, HOT),
    (dict(hydrogen_in_oxygen=0.025), Interlock.HYDROGEN_IN_OXYGEN,
     'hydrogen in the oxygen line: 2.50% above 2.00%', True, HOT),
    (dict(stack_temperature=360.0), Interlock.OVER_TEMPERATURE,
     'stack over-temperature: 360.0 K above 358.1 K', False, 283.15),
    (dict(stack_temperature=math.nan), Interlock.SENSOR,
     'stack_temperature reading nan is outside its sensor range', False, HOT),
    (dict(hydrogen_in_oxygen=-0.1), Interlock.SENSOR, 'hydrogen_in_oxygen reading -0.1', False,
     HOT),
])
def test_each_interlock_trips_to_a_safe_state_says_why_and_holds_until_reset(
        changes, interlock, reason, vent, coolant):
    plant = running(stack_temperature=HOT)
    assert plant.update(reading()).stack_current > 0.0
    command = plant.update(reading(**changes))
    assert plant.state is PlantState.FAULT and plant.interlock is interlock
    assert reason in plant.reason
    assert command.stack_current == 0.0
    assert not command.hydrogen_valve_open and not command.oxygen_valve_open
    assert command.vent_open is vent and command.coolant_temperature == coolant
    # Latched: the cause gone, it stays safe until reset; a reset while it lasts is refused.
    assert plant.update(reading()).stack_current == 0.0
    assert plant.start() == (False, f'in fault ({plant.reason}): reset first')
    ok, why = plant.reset(reading(**changes))
    assert not ok and why.startswith('still ')
    assert plant.reset(reading()) == (True, '')
    assert plant.state is PlantState.IDLE and plant.interlock is None
    assert plant.start() == (True, '') and plant.update(reading()).stack_current > 0.0


@pytest.mark.parametrize('changes, message', [
    (dict(current_limit=-1.0), 'current_limit must be within [0, 200] A, got -1 A'),
    (dict(current_limit=math.nan), 'current_limit must be finite, got nan'),
    (dict(trap_temperature=300.0), 'trap_temperature must be within [110, 273.16] K'),
    (dict(hydrogen_pressure_limit=4e7), 'hydrogen_pressure_limit must be within [0, 3.33333e+07]'),
    (dict(hydrogen_in_oxygen_limit=0.05), 'hydrogen_in_oxygen_limit must be within [0, 0.04]'),
    (dict(stack_temperature=360.0), 'stack_temperature must be within [283.15, 358.15] K'),
    (dict(current_limit='full'), "current_limit must be a number, got 'full'"),
    (dict(colour='red'), "unexpected keyword argument 'colour'"),
])
def test_a_bad_setpoint_is_refused_in_one_line_and_changes_nothing(changes, message):
    plant = running()
    before = plant.params
    ok, reason = plant.set_params(**changes)
    assert not ok and message in reason and '\n' not in reason
    assert plant.params == before
    with pytest.raises((ValueError, TypeError)):
        PlantController(dataclasses.replace(PlantParams(), **changes)) if 'colour' not in \
            changes else PlantParams(**changes)


def test_a_stop_leaves_everything_off_and_the_ice_where_it_is():
    plant = running()
    plant.update(reading())
    plant.stop()
    assert plant.state is PlantState.IDLE and plant.command == SAFE
    assert plant.update(reading()) == SAFE
