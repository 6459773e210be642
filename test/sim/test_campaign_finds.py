"""The shipped example campaign finds what it found (config/campaigns/).

bennu_line_restarts: the material line's node killed while the line drains, back 1 to
30 s later. It found that a node back within the supervisor's liveness_timeout aborted
the shift (never heard silent, it came back stopped, and the drain step took that for
the line quitting its job), while one away for longer was recovered. The supervisor now
hears a restart as such (Mission.restarted); with that taken away the campaign finds the
failure again, with it every sample recovers.
"""

import json
import os

from spacemine_ros.campaign import run_campaign, run_sample
from spacemine_ros.campaign_report import load_results, ranking
from spacemine_ros.core.campaign import load_campaign
from spacemine_ros.core.mission.supervisor import Mission
from test.conftest import CONFIG

LIVENESS_TIMEOUT = 10.0  # s: the supervisor's (config/rig.yaml)
# The first samples of the shipped campaign: two restarts within the timeout, three after.
SAMPLES = 5


def shipped():
    campaign = load_campaign(os.path.join(CONFIG, 'campaigns', 'bennu_line_restarts.yaml'))
    return campaign.model_copy(update={'samples': SAMPLES})


def test_without_hearing_restarts_a_line_node_back_within_the_timeout_aborts_the_shift(
        monkeypatch):
    # The supervisor as it was when the campaign ran: a restart not heard as such.
    monkeypatch.setattr(Mission, 'restarted', lambda self, name, now: None)
    campaign = shipped()
    rows = []
    for index in range(SAMPLES):  # in this process, where the supervisor is changed
        row = run_sample(campaign, index)
        for key in ('inputs', 'faults', 'struck', 'violations', 'summary'):
            row[key] = json.loads(row[key])
        rows.append(row)
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
    assert rows[0]['inputs'] == {}


def test_a_supervisor_that_hears_restarts_recovers_every_one_of_them(tmp_path):
    assert run_campaign(shipped(), str(tmp_path), workers=2) == (SAMPLES, 0)
    _, rows = load_results(str(tmp_path))
    assert sorted(row['sample'] for row in rows) == list(range(SAMPLES))
    for row in rows:
        assert row['violation_count'] == 0, row['violations']
        assert row['outcome'] == 'completed', (row['faults'], row['reason'])
        assert [s['outcome'] for s in row['struck']] == [
            'material_handling killed', 'material_handling restarted']
    # The quick ones among them too (those the supervisor never heard silent).
    assert sum(row['faults'][0]['duration'] < LIVENESS_TIMEOUT - 1.0 for row in rows) >= 2
