"""Kill and resume: the tools and the line (drill, scraper, material_handling, smelter).

The rig, the kills and the checks: test/ros/kill_cases.py; the uninterrupted runs:
the `references` fixture (test/ros/conftest.py).
"""

import pytest

from test.ros.kill_cases import node_killed_shift


@pytest.mark.slow
@pytest.mark.parametrize('victim, seed, plan', [
    ('drill', 15, 'line'), ('scraper', 22, 'line'), ('material_handling', 23, 'line'),
    ('smelter', 24, 'smelt')])
def test_killing_a_node_anywhere_stops_the_rig_and_resumes_with_nothing_lost(
        references, ros, tmp_path, victim, seed, plan):
    node_killed_shift(references, tmp_path, victim, seed, plan)
