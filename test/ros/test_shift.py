"""The whole shift (what `make sim` runs), end to end, shortened."""

import json

import pytest

from spacemine_ros import shift


@pytest.mark.slow
def test_shift_anchors_drills_and_reports(tmp_path):
    summary_file = tmp_path / 'summary.json'
    status = shift.main(['--body', 'bennu', '--depth', '0.05', '--no-progress',
                         '--namespace', 'shift_test', '--summary-file', str(summary_file)])
    figures = json.loads(summary_file.read_text())
    assert status == 0, figures['reason']
    assert figures['depth_reached_m'] >= 0.05
    assert 0 < figures['peak_thrust_N'] <= figures['safe_capacity_at_peak_N']
    assert figures['max_rig_displacement_m'] < 0.002
    assert figures['drill_energy_J'] > 0
    assert figures['anchoring_state'] == 'ANCHORED'


def test_shift_rejects_a_bad_depth(capsys):
    with pytest.raises(SystemExit):
        shift.main(['--depth', 'nan'])
    assert 'positive number' in capsys.readouterr().err
