"""Scraping and the material path in the PyBullet world (no ROS)."""

import dataclasses
import math

import pytest

from spacemine_ros.core.control.material_handling import LineState
from spacemine_ros.core.control.scraper import ScraperState
from spacemine_ros.sim.world import RigWorld
from test.sim import commands
from test.sim.rig import anchor, anchoring, inject, rig_on, tool_loads

PERIOD = 0.05  # s: the rig's control period

# Both sites anchor on rock (microspines); the scraper cuts the regolith beside it.
SITES = {'bennu': ('microspine', {}), 'psyche': ('microspine', {})}


def anchored_rig(bodies, anchor_types, key, material=None):
    design, overrides = SITES[key]
    world = RigWorld(bodies[key], anchor_types[design], material=material)
    return anchor(rig_on(world, anchoring=overrides))


def drained(world):
    masses = world.material.masses()
    return masses['scraper'] + masses['conveyor'] + masses['separator'] < 1e-3


@pytest.mark.parametrize('key', ['bennu', 'psyche'])
def test_a_scraping_pass_collects_mass_within_the_budget_and_the_ledger_balances(
        bodies, anchor_types, key):
    rig = anchored_rig(bodies, anchor_types, key)
    world = rig.world
    scraper = rig.unit('scraper').controller
    try:
        assert rig.goal('material_handling', 'drain')[0]
        depth = 0.03 if key == 'bennu' else 0.02  # within one bucket load
        assert rig.set('scraper', passes=1, cut_depth=depth, pass_length=0.4)[0]
        assert rig.goal('scraper', 'scrape')[0]
        samples = []
        assert rig.run_until(lambda: scraper.state == ScraperState.DONE, 200.0,
                             on_step=tool_loads(samples))
        assert rig.run_until(lambda: drained(world), 900.0)

        ledger = world.material.ledger
        ledger.check()
        removed = world.terrain.removed_volume() * world.body.regolith.density
        excavated = ledger.excavated_total
        assert excavated == pytest.approx(removed, rel=1e-9)
        # A 0.4 m x 0.4 m cut at depth, give or take the blade's entry and exit.
        assert excavated == pytest.approx(0.4 * 0.4 * depth * world.body.regolith.density,
                                          rel=0.25)
        hoppers = ledger.mass('hopper_metal') + ledger.mass('hopper_silicate')
        in_transit = sum(ledger.mass(a) for a in ('drill', 'scraper', 'conveyor', 'separator'))
        assert in_transit < 1e-3  # all of it reached the hoppers ...
        assert hoppers + ledger.mass('lost') + in_transit == pytest.approx(excavated, rel=1e-9)
        # The separator put the strongly magnetic species (Bennu: magnetite, Psyche: metal)
        # in the concentrate and left the silicates out.
        target = 'magnetite' if key == 'bennu' else 'metal'
        concentrate = ledger.accounts['hopper_metal']
        assert concentrate[target] / ledger.mass('hopper_metal') > 0.9
        assert concentrate['silicate'] < 0.05 * ledger.accounts['hopper_silicate']['silicate']
        # Every tool load stayed inside the shared anchor budget.
        assert all(load <= budget + 1e-6 for _, load, _, budget in samples)
        assert anchoring(rig).state.value == 'ANCHORED'
        if key == 'bennu':
            # Escape speed 0.2 m/s, and the equator itself moves at half of it: a little
            # of what the open blade throws leaves the body, nothing of what the shrouded
            # line throws (the line's speeds are capped for that).
            assert 0.0 < ledger.mass('lost') < 0.1 * excavated
            assert world.material.lost['scraper_cut'] > 0.9 * ledger.mass('lost')
            assert scraper.peak_force < 1.0  # no cohesion, hardly any weight
        else:
            assert ledger.mass('lost') < 1e-12  # 160 m/s escape speed
            # 25 Pa of cohesion and 0.1 m/s^2 of weight resist the blade: tens of times
            # Bennu's force, yet far below the lunar-soil figure the preset once used.
            assert 0.1 < scraper.peak_force < 5.0
    finally:
        world.close()


def small_hopper_config(world_config, capacity):
    capacities = dict(world_config.capacities, hopper_silicate=capacity)
    return dataclasses.replace(world_config, capacities=capacities)


def test_a_full_hopper_stops_the_flow_into_it_without_loss(bodies, anchor_types):
    from spacemine_ros.core.models.material_config import load_material_config
    from test.unit.test_material_handling import CONFIG_FILE
    config = small_hopper_config(load_material_config(CONFIG_FILE), 1.0)
    with RigWorld(bodies['psyche'], anchor_types['microspine'], material=config) as world:
        rig = rig_on(world)
        line = rig.unit('material_handling').controller
        ledger = world.material.ledger
        inject(rig, 'conveyor', 4.0)
        assert rig.goal('material_handling', 'drain')[0]
        states = set()
        while world.time < 120.0:
            rig.step()
            states.add(line.state)
            assert ledger.mass('hopper_silicate') <= 1.0 + 1e-9
        assert LineState.HELD in states
        assert ledger.mass('hopper_silicate') >= line.params.slow_level * 1.0
        assert ledger.mass('lost') < 1e-12
        ledger.check()
        assert ledger.excavated_total == pytest.approx(4.0)
        # What could not go on waits upstream.
        assert ledger.mass('conveyor') + ledger.mass('separator') > 1.0


def test_the_world_never_overflows_a_hopper_even_without_backpressure(bodies, anchor_types):
    from spacemine_ros.core.models.material_config import load_material_config
    from test.unit.test_material_handling import CONFIG_FILE
    config = small_hopper_config(load_material_config(CONFIG_FILE), 1.0)
    with RigWorld(bodies['psyche'], anchor_types['microspine'], material=config) as world:
        ledger = world.material.ledger
        ledger.excavate('conveyor', {s: 4.0 * f for s, f in world.material.composition.items()})
        for _ in range(int(60.0 / PERIOD)):
            commands.material(world, {'conveyor_screw': 10.0, 'separator_drum': 5.0})
            world.advance(PERIOD)
        assert ledger.mass('hopper_silicate') == pytest.approx(1.0)
        ledger.check()
        assert ledger.excavated_total == pytest.approx(4.0)


def test_a_forced_clog_is_detected_and_cleared(bodies, anchor_types):
    with RigWorld(bodies['psyche'], anchor_types['microspine']) as world:
        rig = rig_on(world, material_handling={'clog_time': 1.0, 'reverse_time': 2.0})
        line = rig.unit('material_handling').controller
        ledger = world.material.ledger
        inject(rig, 'conveyor', 3.0)
        assert rig.goal('material_handling', 'drain')[0]
        # Plug flow: the load comes out one transit after the screw starts.
        assert rig.run_until(lambda: world.material.delivered['conveyor_discharge'] > 0.0,
                             120.0)
        world.material.inject_clog()
        assert rig.run_until(lambda: line.state == LineState.CLEARING, 10.0)
        stuck = world.material.delivered['conveyor_discharge']
        assert rig.run_until(lambda: not world.material.clogged, 10.0)
        assert rig.run_until(lambda: line.state == LineState.RUNNING, 10.0)
        rig.run_until(lambda: False, 5.0)
        assert world.material.delivered['conveyor_discharge'] > stuck  # flowing again
        assert line.clogs == 1
        ledger.check()
        assert ledger.excavated_total == pytest.approx(3.0)
        assert math.isclose(sum(world.material.masses().values()), 3.0, rel_tol=1e-9)
