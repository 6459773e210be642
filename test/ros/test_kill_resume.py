"""Kill and resume: the supervisor, the world (rig_sim), anchoring and the whole rig.

The rig, the kills and the checks: test/ros/kill_cases.py; the uninterrupted runs:
the `references` fixture (test/ros/conftest.py).
"""

import pytest

from test.ros.kill_cases import killed_shift, KILLS, node_killed_shift, steps_done, STEPS


@pytest.mark.slow
def test_killing_the_supervisor_anywhere_resumes_the_shift_with_nothing_lost(
        references, ros, tmp_path):
    run, _ = killed_shift(references, tmp_path, 'supervisor', 14)
    events = run['events']
    restored = [text for _, _, kind, text in events
                if kind == 'mode' and 'restored after a restart' in text]
    assert len(restored) == KILLS  # every restart took the plan up again
    done = [text for _, _, kind, text in events if kind == 'step' and text.endswith(' done')]
    assert len(done) == len(STEPS)  # each step finished once


@pytest.mark.slow
@pytest.mark.parametrize('victim, seed, plan', [
    ('anchoring', 21, 'line'), ('rig_sim', 25, 'line')])
def test_killing_a_node_anywhere_stops_the_rig_and_resumes_with_nothing_lost(
        references, ros, tmp_path, victim, seed, plan):
    node_killed_shift(references, tmp_path, victim, seed, plan)


@pytest.mark.slow
def test_killing_the_whole_rig_anywhere_resumes_the_shift_where_it_stood(
        references, ros, tmp_path):
    run, reference = killed_shift(references, tmp_path, 'rig', 26)  # every node at once
    restored = [text for text in run['texts'][0].splitlines()
                if 'world restored from its checkpoint' in text]
    assert len(restored) == 1  # the last start of the rig (each start prints its own)
    assert steps_done(run['events'], 'line') == steps_done(reference['events'], 'line')
