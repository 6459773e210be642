"""The power model and its allocation by priority (core.models.power, core.mission.power)."""

import dataclasses
import math

from hypothesis import given, strategies as st
import pytest

from spacemine_ros.core.config import ConfigError
from spacemine_ros.core.mission.plan import plan_from
from spacemine_ros.core.mission.power import active_consumers, allocate, PowerShares
from spacemine_ros.core.models.power import (
    Brownout, CONSUMERS, power_config_from, PowerConfig, PowerSystem, solar_irradiance)
from test.unit.mission_fakes import loaded, rig_interface, step

BENNU_DAY = 15465.6  # s
demand = st.floats(min_value=0.0, max_value=1e5, allow_nan=False)


@given(available=st.floats(min_value=-10.0, max_value=1e5, allow_nan=False),
       demands=st.fixed_dictionaries({name: demand for name in CONSUMERS}),
       order=st.permutations(CONSUMERS), base=st.floats(min_value=0.0, max_value=500.0))
def test_allocations_never_exceed_the_supply_nor_a_demand(available, demands, order, base):
    grants = allocate(available, demands, tuple(order), base)
    assert sum(grants.values()) <= max(0.0, available - base) + 1e-6
    assert all(0.0 <= grants[name] <= demands[name] + 1e-9 for name in CONSUMERS)
    # By priority: a consumer short of its demand leaves nothing to those after it.
    for index, name in enumerate(order):
        if grants[name] < demands[name] - 1e-9:
            assert all(grants[later] == 0.0 for later in order[index + 1:])


def test_a_drop_in_supply_throttles_the_lowest_priority_first():
    demands = {'drill': 150.0, 'scraper': 80.0, 'conveyors': 40.0, 'separator': 30.0,
               'furnace': 4000.0}
    full = allocate(5000.0, demands, CONSUMERS, 150.0)
    assert full == demands
    short = allocate(1000.0, demands, CONSUMERS, 150.0)
    assert short['drill'] == 150.0 and short['separator'] == 30.0
    assert short['furnace'] == pytest.approx(1000.0 - 150.0 - 300.0)
    night = allocate(200.0, demands, CONSUMERS, 150.0)
    assert night == {'drill': 50.0, 'scraper': 0.0, 'conveyors': 0.0, 'separator': 0.0,
                     'furnace': 0.0}
    assert allocate(math.nan, demands) == dict.fromkeys(CONSUMERS, 0.0)


def test_sunlight_falls_with_the_square_of_the_distance():
    assert solar_irradiance(1.0) == pytest.approx(1361.0)
    assert solar_irradiance(2.0) == pytest.approx(1361.0 / 4)


def bennu_power(**changes):
    config = PowerConfig(**{'hour_angle_at_start': 0.0, **changes}).validate()
    return PowerSystem(config, 1.126, 0.0, BENNU_DAY)


def test_day_and_night_follow_the_rotation():
    power = bennu_power()
    noon = power.generation(0.0)
    assert noon == pytest.approx(1361.0 / 1.126 ** 2 * 20.0 * 0.3)
    assert power.generation(BENNU_DAY / 2) == 0.0  # midnight
    assert power.generation(BENNU_DAY / 8) == pytest.approx(noon * math.cos(math.pi / 4))
    assert power.generation(BENNU_DAY) == pytest.approx(noon)
    polar = PowerSystem(PowerConfig(), 1.126, math.radians(80.0), BENNU_DAY)
    assert polar.generation(0.0) < 0.2 * noon  # grazing sun


def test_the_battery_keeps_its_limits_and_conserves_energy():
    power = bennu_power(hour_angle_at_start=math.pi)  # midnight: the battery alone
    start = power.charge
    got = power.step(10.0, 5000.0)
    assert got == pytest.approx(3000.0)  # discharge limit
    assert start - power.charge == pytest.approx(3000.0 * 10.0)
    power.charge = 0.2 * power.config.battery_capacity  # at the reserve
    assert power.battery_can_give() == 0.0 and power.available() == 0.0
    day = bennu_power(battery_initial_charge=0.5)
    before = day.charge
    day.step(10.0, 100.0)
    assert day.charge - before == pytest.approx(3000.0 * 10.0)  # charge limit
    full = bennu_power(battery_initial_charge=1.0)
    full.step(10.0, 0.0)
    assert full.charge == full.config.battery_capacity


def test_bad_power_config_is_refused_with_the_key():
    with pytest.raises(ConfigError, match='array_efficiency must be within 0..1'):
        power_config_from({'array_efficiency': 1.5})
    with pytest.raises(ConfigError, match='unknown keys array_size'):
        power_config_from({'array_size': 2})
    with pytest.raises(ConfigError, match='priorities must list each'):
        power_config_from({'priorities': ['drill']})
    with pytest.raises(ConfigError, match='battery_capacity'):
        power_config_from({'battery_capacity': '3.6e7'})  # YAML 1.1 reads this as text


def test_a_night_on_bennu_holds_the_furnace_batch_and_the_shift_still_completes():
    # The shift reaches its furnace batch at dusk with a drained battery: the wait for
    # power holds the batch through the night, the sunrise lets it run.
    plan = plan_from({'name': 'night', 'steps': [
        {'type': 'deploy_anchors'},
        {'type': 'wait', 'power': 2000.0, 'label': 'power for the furnace'},
        {'type': 'smelt'}]})
    mission, rig = loaded(plan)
    power = bennu_power(hour_angle_at_start=math.radians(80.0), battery_initial_charge=0.2)
    mission.command('start', 0.0, 60.0, 0.0)
    dt = 60.0
    waited_in_dark = 0.0
    for _ in range(2000):
        rig.power = power.available()
        before = mission.state, mission.step_index
        step(mission, rig, dt)
        drawn = power.config.base_load + (3000.0 if rig.states['smelter'] == 'HEATING' else 0.0)
        power.step(dt, drawn)
        if before == ('running', 1) and power.generation() == 0.0:
            waited_in_dark += dt
        if mission.state == 'completed':
            break
    assert mission.state == 'completed'
    assert waited_in_dark > 0.3 * BENNU_DAY  # it waited through the night
    assert 'smelter/smelt_batch' in rig.calls


def test_demands_come_from_the_config_and_refuse_unknown_consumers():
    config = power_config_from({'demands': {'scraper': 60.0}})
    assert config.demand('scraper') == 60.0 and config.demand('furnace') == 4000.0
    with pytest.raises(ConfigError, match="unknown consumer 'pump'"):
        power_config_from({'demands': {'pump': 10.0}})
    with pytest.raises(ConfigError, match='demands.drill'):
        power_config_from({'demands': {'drill': -5.0}})


def test_shares_go_to_each_obeying_parameter_split_over_units_and_only_on_a_change():
    shares = PowerShares(PowerConfig(), rig_interface('twin_drill'))
    first = shares.shares(5000.0)
    assert first['drill_a'] == {'power_budget': 150.0} == first['drill_b']
    assert first['material_handling'] == {'conveyor_power_budget': 40.0,
                                          'separator_power_budget': 30.0}
    assert first['smelter'] == {'power_budget': 4000.0}  # 4580 W after the others: all of it
    for controller, values in first.items():
        shares.sent(controller, values)
    assert shares.shares(5000.0) == {}  # nothing changed: nothing sent
    table = shares.table()  # what the published message holds: every share, in order
    assert table[:2] == [('drill_a', 'power_budget', 150.0), ('drill_b', 'power_budget', 150.0)]
    assert len(table) == 6 and ('smelter', 'power_budget', 4000.0) in table
    night = shares.shares(250.0)  # 100 W after the base load: the drills' first
    assert night['drill_a'] == {'power_budget': 50.0}
    assert night['scraper'] == {'power_budget': 0.0}  # nothing left for it
    assert sum(shares.grants.values()) <= 100.0 + 1e-9


def test_a_cut_draw_browns_the_bus_out_until_the_supply_can_give_it_again():
    bus = Brownout()
    assert not bus.update(500.0, 500.0, 600.0)
    assert bus.update(500.0, 300.0, 300.0)  # the supply gave 300 of 500 W
    assert bus.update(0.0, 0.0, 300.0)  # held: nothing drawn, still not enough offered
    assert not bus.update(0.0, 0.0, 520.0)  # the draw that was cut can be given again


def test_only_consumers_at_work_ask_for_power():
    rig = rig_interface()
    states = {'drill': 'IDLE', 'scraper': 'IDLE', 'material_handling': 'RUNNING',
              'smelter': 'HEATING'}
    assert active_consumers(rig, states) == {'conveyors', 'separator', 'furnace'}
    assert active_consumers(rig, states, 'drill') >= {'drill'}
    shares = PowerShares(PowerConfig(), rig)
    shares.shares(1000.0, {'furnace'})
    assert shares.grants['furnace'] == 850.0 and shares.grants['drill'] == 0.0


def test_a_bennu_night_pauses_a_real_furnace_batch_and_it_completes_at_sunrise():
    # The furnace model and the smelter controller, powered through the supervisor's
    # shares by Bennu's array and a battery at its reserve: the batch starts in the late
    # afternoon, the sun sets while it heats, and it finishes after sunrise.
    from spacemine_ros.core.config import load_yaml
    from spacemine_ros.core.control.smelter import (
        BatchController, Phase, recipes_from, SmelterParams)
    from spacemine_ros.core.models.thermal import furnace_design_from
    from test.unit.test_smelter import C_TYPE, PERIOD, Plant, SMELTER_FILE
    data = load_yaml(SMELTER_FILE)
    design = furnace_design_from(data)
    controller = BatchController(SmelterParams(), design, recipes_from(data), 1.126)
    plant = Plant(design, C_TYPE)
    power = bennu_power(hour_angle_at_start=math.radians(87.0), battery_initial_charge=0.2)
    shares = PowerShares(power.config, rig_interface())
    assert controller.start('volatile_extraction', plant.measure())[0]
    waited_in_dark, cut = 0.0, 0.0
    for _ in range(int(BENNU_DAY / PERIOD)):
        changed = shares.shares(power.available(), {'furnace'})
        for name, values in changed.items():
            shares.sent(name, values)
        if 'smelter' in changed:
            controller.params = controller.loop.params = dataclasses.replace(
                controller.params, power_budget=changed['smelter']['power_budget'])
        command = controller.update(plant.measure(), dict(plant.furnace.masses))
        wanted = power.config.base_load + command.heater_power
        cut = max(cut, wanted - power.step(PERIOD, wanted))
        if controller.power_wait and power.generation() == 0.0:
            waited_in_dark += PERIOD
        if controller.phase in (Phase.DONE, Phase.FAULT):
            break
        plant.apply(controller, command)
    assert controller.phase == Phase.DONE, controller.reason
    assert waited_in_dark > 0.4 * BENNU_DAY  # it waited out the night ...
    assert cut < 1e-6  # ... never drawing what the supply could not give
    assert plant.furnace.released['water'] == pytest.approx(0.11 * 0.5)
