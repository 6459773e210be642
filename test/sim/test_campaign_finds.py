"""The shipped example campaign finds what it says it finds (config/campaigns/).

bennu_line_restarts: the material line's node killed while the line drains, back 1 to
30 s later. A node back within the supervisor's liveness_timeout aborts the shift; one
away for longer is recovered and the shift completes.
"""

import json
import os

from spacemine_ros.campaign import run_campaign
from spacemine_ros.campaign_report import load_results, ranking
from spacemine_ros.core.campaign import load_campaign
from test.conftest import CONFIG

LIVENESS_TIMEOUT = 10.0  # s: the supervisor's (config/rig.yaml)
# The first samples of the shipped campaign: two restarts within the timeout, three after.
SAMPLES = 5


def test_a_line_node_back_within_the_liveness_timeout_aborts_the_shift(tmp_path):
    shipped = load_campaign(os.path.join(CONFIG, 'campaigns', 'bennu_line_restarts.yaml'))
    campaign = shipped.model_copy(update={'samples': SAMPLES})
    assert run_campaign(campaign, str(tmp_path), workers=2) == (SAMPLES, 0)
    _, rows = load_results(str(tmp_path))
    quick = slow = 0
    for row in rows:
        (fault,) = row['faults']
        assert row['violation_count'] == 0, row['violations']
        if fault['duration'] < LIVENESS_TIMEOUT - 1.0:
            quick += 1
            assert row['outcome'] == 'failed', row
            assert 'material_handling stopped' in row['reason']
        elif fault['duration'] > LIVENESS_TIMEOUT + 1.0:
            slow += 1
            assert row['outcome'] == 'completed', row['reason']
            events = [s['outcome'] for s in row['struck']]
            assert events == ['material_handling killed', 'material_handling restarted']
    assert quick >= 2 and slow >= 2
    # The report ranks the restart's duration first among what drives failure.
    leader = ranking(rows)[0]
    assert leader[0] in ('fault node_restart material_handling duration',
                         'fault node_restart material_handling at'), leader
    durations = next(r for r in ranking(rows)
                     if r[0] == 'fault node_restart material_handling duration')
    assert durations[1] < -0.5  # the shorter the absence, the likelier the failure
    assert json.loads(json.dumps(rows[0]['inputs'])) == {}
