"""A smelter batch in the PyBullet world: hopper material in, products and slag out."""

import pytest

from spacemine_ros.core.control.smelter import Phase
from spacemine_ros.sim.world import RigWorld
from test.sim.rig import rig_on

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
        rig = rig_on(world, smelter={'recipe': recipe})
        smelter = rig.unit('smelter').controller
        ledger = world.material.ledger
        ledger.excavate(hopper, {s: 2.0 * f for s, f in mix.items() if s in ledger.species})
        rig.line.books.ledger.excavate(hopper, {'regolith': 2.0})  # there before its books
        rig.step()  # the smelter's first readings
        accepted, message = rig.goal('smelter', 'smelt_batch')
        assert accepted, message
        assert rig.run_until(lambda: smelter.phase in (Phase.DONE, Phase.FAULT), 2000.0)
        assert smelter.phase == Phase.DONE, smelter.reason
        ledger.check()
        charge = smelter.recipe.charge_mass
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
