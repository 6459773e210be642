"""Campaign files and their samples' draws (core.campaign)."""

import math
import os

import pytest
import yaml

from spacemine_ros.core.campaign import (
    campaign_from, draw, draw_all, draw_faults, load_campaign, shift_inputs)
from spacemine_ros.core.config import ConfigError
from test.conftest import CONFIG


def campaign(**changes):
    data = {'name': 'probe', 'seed': 11, 'samples': 50, 'base': {'body': 'bennu'},
            'vary': {'rig_sim.capacity_spread': {'uniform': [0.0, 0.2]},
                     'regolith.cohesion': {'lognormal': {'median': 100.0, 'sigma': 0.5}},
                     'anchoring.safety_factor': {'normal': {'mean': 2.0, 'sd': 0.1}},
                     'rig_sim.seed': {'choice': [1, 2, 3]},
                     'site.latitude': {'grid': [0.0, 20.0, 40.0]}}}
    data.update(changes)
    return campaign_from({'campaign': data})


@pytest.mark.parametrize('path', sorted(
    os.path.join(CONFIG, 'campaigns', name) for name in os.listdir(
        os.path.join(CONFIG, 'campaigns'))))
def test_the_shipped_campaigns_load_and_every_sample_draws(path):
    loaded = load_campaign(path)
    assert len(draw_all(loaded)) == loaded.samples


def test_a_sample_s_inputs_follow_from_the_seed_and_its_index_alone():
    probe = campaign()
    forward = [draw(probe, index) for index in range(probe.samples)]
    backward = [draw(probe, index) for index in reversed(range(probe.samples))][::-1]
    assert forward == backward  # any order, any worker
    assert draw(campaign(), 17) == forward[17]
    assert draw(campaign(seed=12), 17) != forward[17]
    # The draws are spread as asked.
    spreads = [values['rig_sim.capacity_spread'] for values in forward]
    assert all(0.0 <= s <= 0.2 for s in spreads) and len(set(spreads)) == len(spreads)
    assert all(values['regolith.cohesion'] > 0.0 for values in forward)
    assert {values['rig_sim.seed'] for values in forward} == {1, 2, 3}
    assert [values['site.latitude'] for values in forward[:4]] == [0.0, 20.0, 40.0, 0.0]
    median = sorted(values['regolith.cohesion'] for values in forward)[len(forward) // 2]
    assert 60.0 < median < 160.0


def test_an_input_added_at_the_end_leaves_the_others_draws_as_they_were():
    probe = campaign()
    more = campaign(vary={**{k: v.model_dump() for k, v in probe.vary.items()},
                          'drill.max_thrust': {'uniform': [100.0, 200.0]}})
    for index in range(5):
        before, after = draw(probe, index), draw(more, index)
        assert {k: after[k] for k in before} == before


def test_a_sample_s_draw_becomes_the_shift_s_inputs():
    probe = campaign(base={'body': 'bennu', 'site': '10,20', 'plan': 'anchor_and_drill'})
    values = draw(probe, 4)
    inputs = shift_inputs(probe, values)
    assert inputs.body == 'bennu' and inputs.plan == 'anchor_and_drill'
    assert inputs.regolith == {'cohesion': values['regolith.cohesion']}
    assert inputs.overrides['rig_sim'] == {'capacity_spread': values['rig_sim.capacity_spread'],
                                           'seed': values['rig_sim.seed']}
    assert inputs.overrides['anchoring'] == {'safety_factor': values['anchoring.safety_factor']}
    latitude, longitude = (float(part) for part in inputs.site.split(','))
    assert latitude == values['site.latitude'] and longitude == 20.0  # the base's
    assert isinstance(inputs.overrides['rig_sim']['seed'], int)
    # A plan file is passed on as an absolute path, a name as it is.
    assert os.path.isabs(shift_inputs(campaign(base={'plan': 'plans/x.yaml'}), {}).plan)


def test_the_fingerprint_says_which_campaign_wrote_the_results():
    assert campaign().fingerprint() == campaign(samples=80).fingerprint()  # more of the same
    assert campaign().fingerprint() != campaign(seed=12).fingerprint()
    assert campaign().fingerprint() != campaign(base={'body': 'eros'}).fingerprint()


@pytest.mark.parametrize('change, words', [
    ({'seed': None}, 'campaign.seed'),
    ({'seed': -1}, 'campaign.seed'),
    ({'samples': 0}, 'campaign.samples'),
    ({'name': 'bad name/'}, 'campaign.name'),
    ({'colour': 'red'}, 'campaign.colour'),
    ({'vary': {'rig_sim.capacity_spread': {'uniform': [0.3, 0.1]}}}, 'low < high'),
    ({'vary': {'rig_sim.capacity_spread': {'uniform': [0.0, math.inf]}}}, 'low < high'),
    ({'vary': {'anchoring.safety_factor': {'normal': {'mean': 2.0, 'sd': -0.1}}}},
     'campaign.vary: anchoring.safety_factor.normal.sd'),
    ({'vary': {'regolith.cohesion': {'lognormal': {'median': 0.0, 'sigma': 0.5}}}},
     'campaign.vary: regolith.cohesion.lognormal.median'),
    ({'vary': {'regolith.colour': {'choice': [1.0]}}}, 'regolith has'),
    ({'vary': {'cohesion': {'choice': [1.0]}}}, 'an input is site'),
    ({'vary': {'site': {'uniform': [0.0, 1.0]}}}, 'choice or grid'),
    ({'vary': {'site': {'choice': ['95,0']}}}, 'latitude'),
    ({'vary': {'site.height': {'choice': [1.0]}}}, 'a site has'),
    ({'vary': {'regolith.density': {'choice': [-5.0]}}}, 'above 0'),
    ({'vary': {'drill.max_thrust': {'poisson': 3}}}, 'drill.max_thrust: a distribution is'),
    ({'base': {'site': 'north'}}, 'LAT,LON'),
    ({'faults': [{'kind': 'estop', 'at': 3.0}]}, 'the estop fault needs duration'),
    ({'faults': [{'kind': 'brownout', 'at': 3.0, 'duration': 1.0, 'node': 'drill'}]},
     'the brownout fault takes no node'),
    ({'faults': [{'kind': 'device_silent', 'at': 3.0, 'duration': 1.0}]},
     'the device_silent fault needs node (it takes at, node, duration)'),
    ({'faults': [{'kind': 'meteor', 'at': 3.0}]}, 'campaign.faults'),
    ({'faults': [{'kind': 'estop', 'at': 3.0, 'duration': 1.0, 'probability': 1.5}]},
     'campaign.faults'),
    ({'faults': [{'kind': 'estop', 'at': {'uniform': [5.0, 1.0]}, 'duration': 1.0}]},
     'low < high'),
])
def test_a_bad_campaign_is_refused_in_one_line_naming_the_entry(change, words):
    data = {'name': 'probe', 'seed': 1, 'samples': 3}
    data.update(change)
    data = {k: v for k, v in data.items() if v is not None}
    with pytest.raises(ConfigError) as error:
        campaign_from({'campaign': data}, 'bad.yaml')
    message = str(error.value)
    assert message.startswith('bad.yaml: ') and words in message and '\n' not in message


def test_a_spread_that_draws_what_no_shift_can_take_is_refused_before_any_runs():
    # A normal cohesion around 10 Pa with a 50 Pa spread draws negative ones.
    probe = campaign(vary={'regolith.cohesion': {'normal': {'mean': 10.0, 'sd': 50.0}}})
    with pytest.raises(ConfigError, match='regolith.cohesion: sample [0-9]+ drew -'):
        draw_all(probe)
    wide = campaign(vary={'site.latitude': {'normal': {'mean': 80.0, 'sd': 30.0}}})
    with pytest.raises(ConfigError, match='within -90..90 deg'):
        draw_all(wide)


def test_a_file_that_is_not_a_campaign_is_refused(tmp_path):
    path = tmp_path / 'bad.yaml'
    path.write_text('plan: {name: x}\n')
    with pytest.raises(ConfigError, match='campaign: section'):
        load_campaign(str(path))
    path.write_text('campaign: {name: [\n')
    with pytest.raises(ConfigError, match='bad.yaml'):
        load_campaign(str(path))
    with pytest.raises(ConfigError, match='No such file'):
        load_campaign(str(tmp_path / 'missing.yaml'))
    path.write_text(yaml.safe_dump({'campaign': {'name': 'x', 'seed': 1, 'samples': 2}}))
    assert load_campaign(str(path)).vary == {}


def faulty(*faults, samples=200):
    return campaign(samples=samples, faults=list(faults))


ESTOP = {'kind': 'estop', 'probability': 0.5, 'at': {'uniform': [10.0, 100.0]},
         'duration': {'lognormal': {'median': 5.0, 'sigma': 0.5}}}
RESTART = {'kind': 'node_restart', 'node': {'choice': ['drill', 'scraper']},
           'at': {'uniform': [1.0, 50.0]}, 'duration': 3.0}
SLIP = {'kind': 'anchor_slip', 'anchor': {'choice': [0, 1, 2, 3]}, 'at': 20.0,
        'fraction': {'uniform': [0.2, 0.9]}}


def test_a_sample_s_faults_follow_from_the_seed_and_its_index_alone():
    probe = faulty(ESTOP, RESTART, SLIP)
    drawn = [draw_faults(probe, index) for index in range(probe.samples)]
    assert drawn[::-1] == [draw_faults(probe, i) for i in reversed(range(probe.samples))]
    assert draw_faults(faulty(ESTOP, RESTART, SLIP), 7) == drawn[7]
    # Half the samples are e-stopped; each sample's faults come by instant.
    estopped = sum(any(f['kind'] == 'estop' for f in faults) for faults in drawn)
    assert 70 < estopped < 130
    for faults in drawn:
        assert [f['at'] for f in faults] == sorted(f['at'] for f in faults)
        kinds = {f['kind']: f for f in faults}
        assert kinds['node_restart']['node'] in ('drill', 'scraper')
        assert kinds['node_restart']['duration'] == 3.0
        assert kinds['anchor_slip']['anchor'] in range(4)
        assert isinstance(kinds['anchor_slip']['anchor'], int)
        assert 0.2 <= kinds['anchor_slip']['fraction'] <= 0.9
        if 'estop' in kinds:
            assert 10.0 <= kinds['estop']['at'] <= 100.0 and kinds['estop']['duration'] > 0.0
    # A fault added at the end leaves the inputs and the other faults as they were.
    more = faulty(ESTOP, RESTART, SLIP, {'kind': 'brownout', 'at': 5.0, 'duration': 2.0})
    for index in range(5):
        assert [f for f in draw_faults(more, index) if f['kind'] != 'brownout'] == drawn[index]
        assert draw(more, index) == draw(probe, index)
    assert probe.fingerprint() != more.fingerprint()


def test_a_fault_spread_that_draws_what_no_shift_can_take_is_refused_before_any_runs():
    negative = faulty({'kind': 'estop', 'at': {'normal': {'mean': 5.0, 'sd': 50.0}},
                       'duration': 1.0})
    with pytest.raises(ConfigError, match='estop.at: sample [0-9]+ drew -'):
        draw_all(negative)
    with pytest.raises(ConfigError, match='a fraction is within 0..1'):
        draw_all(faulty({**SLIP, 'fraction': {'uniform': [0.5, 1.5]}}))
    with pytest.raises(ConfigError, match='an anchor is an index'):
        draw_all(faulty({**SLIP, 'anchor': {'uniform': [0.0, 3.0]}}))
