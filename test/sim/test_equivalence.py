"""The multi-rate world gives the shift the world stepped every 5 ms gives (no ROS).

Each case runs headless twice: with the rigid body stepped every physics step whatever
moves (always_step) and multi-rate (it sleeps while nothing moves). Every ledger account
within a gram and the balance exact, drill and smelter energy within 0.5 %, the furnace
within 1 K at every instant recorded, every plan step starting within a simulated second,
peak thrust and peak anchor load within 1 %.
"""

import pytest

from spacemine_ros.core.mission.plan import load_plan, varied
from spacemine_ros.headless import Shift
from spacemine_ros.paths import share_path


def plan(**changes):
    """Return make sim's plan with changes (depth, passes, smelt)."""
    return varied(load_plan(share_path('config', 'plans', 'bennu_shift.yaml')), **changes)


def run(always_step, kills=(), data_dir=None, **options):
    """Run a shift headless; kills: sim times at which it is stopped and taken up again."""
    shift = Shift(always_step=always_step, data_dir=data_dir, **options)
    for kill in kills:
        shift.run(until=kill)
        shift.close()  # nothing stopped safely: the next start finds what a kill leaves
        shift = Shift(always_step=always_step, data_dir=data_dir, resume=True,
                      **{**options, 'plan': None})
    try:
        figures = shift.run()
        figures['ledger'] = dict(shift.ledger)
        figures['trace'] = {round(t, 6): temperature
                            for t, temperature, _, _ in shift.record.furnace_trace}
        figures['physics'] = shift.world.physics_steps
        figures['resumed_from'] = shift.restored_from
    finally:
        shift.close()
    assert figures['result'] == 'completed', figures['reason']
    return figures


def assert_equivalent(multi, always):
    assert multi['physics'] < always['physics']  # it slept, and saved that much
    for account, mass in always['ledger'].items():
        assert multi['ledger'][account] == pytest.approx(mass, abs=1e-3), account
    assert abs(multi['ledger_balance_kg']) < 1e-9 and abs(always['ledger_balance_kg']) < 1e-9
    for key in ('drill_energy_J', 'smelter_energy_J'):
        assert multi[key] == pytest.approx(always[key], rel=0.005), key
    assert multi['trace'].keys() == always['trace'].keys()
    assert all(abs(multi['trace'][t] - k) <= 1.0 for t, k in always['trace'].items())
    assert [s['step'] for s in multi['steps']] == [s['step'] for s in always['steps']]
    assert all(abs(a['start_s'] - b['start_s']) <= 1.0
               for a, b in zip(multi['steps'], always['steps']))
    for key in ('peak_thrust_N', 'peak_anchor_load_N'):
        assert multi[key] == pytest.approx(always[key], rel=0.01), key


@pytest.mark.slow
@pytest.mark.parametrize('case', ['default', 'twin_drill', 'psyche_metal'])
def test_the_multi_rate_shift_is_the_shift_stepped_throughout(case):
    options = {'default': {},
               'twin_drill': {'rig': 'twin_drill', 'plan': plan(depth=0.1, passes=1,
                                                                smelt=False)},
               'psyche_metal': {'body': 'psyche', 'plan': plan(depth=0.1)}}[case]
    multi, always = run(False, **options), run(True, **options)
    assert_equivalent(multi, always)
    if case == 'psyche_metal':
        assert multi['products_kg'] > 0.1  # a metal smelt, tapped
    if case == 'twin_drill':
        assert set(multi['depth_reached_by_drill_m']) == {'drill_a', 'drill_b'}


@pytest.mark.slow
def test_a_shift_killed_and_taken_up_again_is_the_same_multi_rate_or_stepped(tmp_path):
    # Killed while drilling, while scraping and while the line drains; each time taken
    # up from what a rig keeps (the world's checkpoint, each controller's record, the
    # mission's), as a rig started again with resume.
    kills = (45.0, 70.0, 400.0)
    short = plan(depth=0.1, passes=1)
    multi = run(False, kills, str(tmp_path / 'multi'), plan=short)
    always = run(True, kills, str(tmp_path / 'always'), plan=short)
    assert multi['resumed_from'] is not None
    assert_equivalent(multi, always)
