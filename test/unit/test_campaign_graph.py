"""A campaign sample replayed on the node graph: what the graph gets, how it is compared.

What a sample gives the graph's nodes (its regolith in a bodies file of its own), and the
check of the graph's figures against the sample's headless row (spacemine_ros.campaign).
"""

import json
import math

import pytest

from spacemine_ros.campaign import graph_differences, graph_overrides, GRAPH_BOUNDS, STEP_BOUND
from spacemine_ros.core.campaign import campaign_from, draw, shift_inputs
from spacemine_ros.core.models.body import load_body
from spacemine_ros.core.rig_interface import load_rig_interface
from spacemine_ros.headless import with_regolith
from spacemine_ros.paths import share_path


def sample_inputs(vary, rig=''):
    campaign = campaign_from({'campaign': {
        'name': 'probe', 'seed': 3, 'samples': 4,
        'base': {'body': 'bennu', 'rig': rig, 'plan': 'anchor_and_drill'}, 'vary': vary}})
    return shift_inputs(campaign, draw(campaign, 2))


def rig_of(name):
    return load_rig_interface(share_path('config', 'rigs', f'{name or "default"}.yaml'))


def test_a_sample_s_regolith_reaches_every_node_that_models_the_body_in_a_file_of_its_own(
        tmp_path):
    inputs = sample_inputs({'regolith.cohesion': {'uniform': [20.0, 60.0]},
                            'regolith.friction_angle': {'uniform': [0.5, 0.7]},
                            'rig_sim.capacity_spread': {'uniform': [0.0, 0.1]}},
                           rig='twin_drill')
    overrides = graph_overrides(inputs, rig_of('twin_drill'), str(tmp_path))
    path = str(tmp_path / 'bodies.yaml')
    # rig_sim and each controller that loads the body; the sample's own parameter stays.
    rig = rig_of('twin_drill')
    modellers = {'rig_sim', rig.anchoring_controller,
                 *(s.controller for s in rig.by_kind('material_line')),
                 *(s.controller for s in rig.by_kind('furnace'))}
    assert {node for node, values in overrides.items() if 'bodies_file' in values} == modellers
    assert all(overrides[node]['bodies_file'] == path for node in modellers)
    assert overrides['rig_sim']['capacity_spread'] == inputs.overrides['rig_sim'][
        'capacity_spread']
    # The file gives the body the headless engine builds for the sample, and only that
    # changed: the friction angle goes in as the file's degrees.
    replayed = load_body(path, 'bennu', inputs.site)
    headless = with_regolith(load_body(share_path('config', 'bodies.yaml'), 'bennu',
                                       inputs.site), inputs.regolith)
    assert replayed.regolith.cohesion == headless.regolith.cohesion == \
        inputs.regolith['cohesion']
    assert replayed.regolith.friction_angle == pytest.approx(
        headless.regolith.friction_angle, abs=1e-12)
    assert headless.regolith.friction_angle == inputs.regolith['friction_angle']
    assert replayed.regolith.density == headless.regolith.density == 600.0
    assert replayed.strata.strata == headless.strata.strata
    assert replayed.composition == headless.composition


def test_a_sample_without_a_regolith_draw_gives_the_graph_the_shipped_bodies(tmp_path):
    inputs = sample_inputs({'rig_sim.capacity_spread': {'uniform': [0.0, 0.1]}})
    overrides = graph_overrides(inputs, rig_of(''), str(tmp_path))
    assert overrides == {'rig_sim': {'capacity_spread': pytest.approx(
        inputs.overrides['rig_sim']['capacity_spread'])}}
    assert not (tmp_path / 'bodies.yaml').exists()


def test_a_regolith_no_shift_can_take_is_refused_before_the_graph_starts(tmp_path):
    inputs = sample_inputs({'regolith.friction_angle': {'uniform': [1.6, 1.7]}})
    with pytest.raises(ValueError, match='friction_angle'):
        graph_overrides(inputs, rig_of(''), str(tmp_path))


STEPS = [{'step': 1, 'type': 'deploy_anchors', 'start_s': 0.0},
         {'step': 2, 'type': 'drill', 'start_s': 31.5},
         {'step': 3, 'type': 'release_anchors', 'start_s': 52.5}]


def stored_row(**changes):
    row = {'outcome': 'completed', 'violations': '[]', 'sim_time_s': 57.0,
           'mass_excavated_kg': 0.165, 'drill_energy_J': 230.0, 'peak_thrust_N': 190.0,
           'smelter_energy_J': math.nan, 'summary': json.dumps({'steps': STEPS})}
    row.update(changes)
    return row


def graph_figures(**changes):
    figures = {'result': 'completed', 'violations': [], 'sim_time_s': 55.0,
               'mass_excavated_kg': 0.1651, 'drill_energy_J': 232.0, 'peak_thrust_N': 192.0,
               'smelter_energy_J': 0.0, 'steps': [dict(s) for s in STEPS]}
    figures.update(changes)
    return figures


def test_a_graph_replay_within_the_bounds_is_the_same_shift():
    assert graph_differences(graph_figures(), stored_row()) == []


@pytest.mark.parametrize('figures, words', [
    ({'result': 'failed'}, "outcome: 'completed' in the campaign, 'failed' on the graph"),
    ({'violations': [{'invariant': 'no anchor pulled out', 'at': 3.0, 'detail': ''}]},
     "violations: [] in the campaign, ['no anchor pulled out'] on the graph"),
    ({'sim_time_s': 57.0 + STEP_BOUND + 0.5}, 'sim_time_s: 57 in the campaign'),
    ({'drill_energy_J': 230.0 * (1 + GRAPH_BOUNDS['drill_energy_J'][0]) + 1.0},
     'drill_energy_J: 230 in the campaign'),
    ({'steps': [*STEPS[:2], {**STEPS[2], 'start_s': 52.5 + STEP_BOUND + 0.1}]},
     'step 3 release_anchors: starts at 52.5 s in the campaign'),
    ({'steps': STEPS[:2]}, 'steps: '),
])
def test_a_graph_replay_outside_the_bounds_says_what_differs(figures, words):
    differences = graph_differences(graph_figures(**figures), stored_row())
    assert len(differences) == 1 and differences[0].startswith(words), differences
