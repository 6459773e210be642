"""The campaign report (spacemine_ros.campaign_report) from rows of known make."""

import json
import math
import re

import numpy as np
import pytest

from spacemine_ros.campaign import Results
from spacemine_ros.campaign_report import main, ranking, write_report
from spacemine_ros.core.campaign import campaign_from

CAMPAIGN = campaign_from({'campaign': {
    'name': 'made', 'seed': 5, 'samples': 40,
    'vary': {'anchoring.safety_factor': {'uniform': [1.0, 3.0]},
             'rig_sim.capacity_spread': {'uniform': [0.0, 0.4]},
             'site': {'choice': ['0,0', '30,0']}},
    'faults': [{'kind': 'estop', 'probability': 0.5, 'at': {'uniform': [1.0, 9.0]},
                'duration': 2.0}]}})


def made_rows(count=40):
    """Rows whose failures follow the capacity spread alone (above 0.25 fails)."""
    rng = np.random.default_rng(3)
    rows = []
    for index in range(count):
        spread = float(rng.uniform(0.0, 0.4))
        failed = spread > 0.25
        faults = [{'kind': 'estop', 'at': 5.0, 'duration': 2.0}] if index % 2 else []
        violations = [{'invariant': 'no anchor pulled out', 'at': 12.5,
                       'detail': 'anchor 2 pulled out at 30.0 N'}] if index == 7 else []
        summary = {'products_kg': 0.01 + 0.001 * index, 'volatiles_kg': 0.002,
                   'energy_per_kg_product_J': 2.0e7, 'result': 'failed' if failed else
                   'completed', 'steps': [{'step': 1, 'type': 'deploy_anchors', 'sim_s': 30.0,
                                           'start_s': 0.0, 'wall_s': 0.1},
                                          {'step': 2, 'type': 'drill', 'sim_s': 40.0 + index,
                                           'start_s': 30.0, 'wall_s': 0.1}]}
        rows.append({
            'sample': index, 'seed': CAMPAIGN.seed,
            'inputs': json.dumps({'anchoring.safety_factor': float(rng.uniform(1.0, 3.0)),
                                  'rig_sim.capacity_spread': spread,
                                  'site': ['0,0', '30,0'][index % 2]}),
            'faults': json.dumps(faults), 'struck': '[]',
            'outcome': 'failed' if failed else 'completed',
            'reason': 'the supervisor ended in aborted: anchors lost' if failed else '',
            'summary': json.dumps(summary), 'violations': json.dumps(violations),
            'violation_count': len(violations), 'peak_anchor_load_N': 50.0 + index,
            'safe_capacity_at_peak_N': 240.0, 'peak_thrust_share_of_budget': 0.8,
            'mass_excavated_kg': 0.1, 'estop_latency_s': 0.05 if faults else math.nan})
    return rows


@pytest.fixture
def results(tmp_path):
    stored = Results(str(tmp_path), CAMPAIGN)
    for row in made_rows():
        stored.write(row)
    return tmp_path


def test_the_input_that_decides_failure_ranks_first_and_the_others_do_not_matter(results):
    from spacemine_ros.campaign_report import load_results
    _, rows = load_results(str(results))
    ranked = ranking(rows)
    assert ranked[0][0] == 'rig_sim.capacity_spread'
    assert ranked[0][1] > 0.7 and ranked[0][2] < 1e-3  # rho with failing, its p-value
    others = {name: rho for name, rho, *_ in ranked[1:]}
    assert abs(others['anchoring.safety_factor']) < 0.4
    assert abs(others['site']) < 0.4
    assert set(dict((r[0], r[5]) for r in ranked)['site']) == {'0,0', '30,0'}  # rates
    assert 'fault estop' in others


def test_the_report_holds_every_plot_the_ranking_and_each_violation_with_its_replay(
        results, capsys):
    assert main([str(results)]) == 0
    path = capsys.readouterr().out.strip()
    assert path == write_report(str(results))
    text = open(path, encoding='utf-8').read()
    for plot in ('outcomes', 'product', 'steps', 'anchor-load', 'drivers'):
        assert re.search(rf'<img id="plot-{plot}" [^>]*src="data:image/png;base64,', text)
    assert '<span id="violating">1</span>' in text
    violation = re.findall(r'<tr class="violation">(.*?)</tr>', text)
    assert len(violation) == 1 and 'no anchor pulled out' in violation[0]
    assert f'spacemine-shift --replay {results} 7 --headless' in violation[0]
    assert f'<code>spacemine-shift --replay {results} 7</code>' in violation[0]
    first = re.search(r'<td class="feature">([^<]*)</td>', text).group(1)
    assert first == 'rig_sim.capacity_spread'


def test_a_directory_without_results_is_refused_in_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main([str(tmp_path)])
    assert stop.value.code == 2
    error = capsys.readouterr().err.strip()
    assert 'holds no campaign results' in error and len(error.splitlines()) == 1
