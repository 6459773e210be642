"""A smelter batch in the PyBullet world: hopper material in, products and slag out."""

import pytest

from spacemine_ros.core.control.smelter import Phase
from spacemine_ros.sim.world import RigWorld
from test.sim.loop import Loop, smelter_measurement

# (body, anchor design, recipe, source hopper, what is in the hopper)
CASES = {
    'psyche': ('microspine', 'metal_smelting', 'hopper_metal',
               {'metal': 0.95, 'silicate': 0.04, 'sulfide': 0.01}),
    'ryugu': ('microspine', 'volatile_extraction', 'hopper_silicate', None),
}


@pytest.mark.slow
@pytest.mark.parametrize('key', sorted(CASES))
def test_a_batch_turns_hopper_material_into_products_and_the_ledger_balances(
        bodies, anchor_types, key):
    anchor, recipe, hopper, mix = CASES[key]
    body = bodies[key]
    mix = mix or body.composition  # tailings of a C-type: its bulk composition
    with RigWorld(body, anchor_types[anchor]) as world:
        loop = Loop(world)
        ledger = world.material.ledger
        ledger.excavate(hopper, {s: 2.0 * f for s, f in mix.items() if s in ledger.species})
        accepted, message = loop.smelter.start(
            recipe, smelter_measurement(loop.smelter, world.readings(), hopper))
        assert accepted, message
        assert loop.run_until(lambda: loop.smelter.phase in (Phase.DONE, Phase.FAULT), 2000.0)
        assert loop.smelter.phase == Phase.DONE, loop.smelter.reason
        ledger.check()
        charge = loop.smelter.recipe.charge_mass
        assert ledger.mass(hopper) == pytest.approx(2.0 - charge, abs=0.01)
        out = ledger.mass('products') + ledger.mass('slag') + ledger.mass('volatiles')
        assert out == pytest.approx(charge, abs=0.01)
        assert ledger.mass('furnace') < 2e-3
        assert ledger.excavated_total == pytest.approx(2.0)
        thermal = world.furnace.thermal
        assert abs(thermal.energy_balance_error()) < 1e-6 * thermal.heater_energy
        if recipe == 'metal_smelting':
            metal_in = charge * mix['metal']
            recovery = world.furnace.design.metal_recovery
            assert ledger.accounts['products']['metal'] == pytest.approx(
                metal_in * recovery, rel=0.02)
            assert ledger.mass('slag') > 0.0 and ledger.mass('volatiles') == 0.0
        else:
            assert ledger.accounts['volatiles']['water'] == pytest.approx(
                charge * mix['water'], rel=0.02)
            assert ledger.mass('products') == 0.0
