"""The whole shift (what `make sim` runs), end to end, shortened."""

import json
import subprocess
import sys

import pytest

from spacemine_ros import shift


@pytest.mark.slow
def test_shift_anchors_drills_scrapes_smelts_and_reports(tmp_path):
    summary_file = tmp_path / 'summary.json'
    # In its own process, as operators run it (one rclpy life per process).
    status = subprocess.run(
        [sys.executable, '-m', 'spacemine_ros.shift', '--body', 'bennu', '--depth', '0.05',
         '--passes', '1', '-p', 'scraper.pass_length=0.3', '--no-progress',
         '--namespace', 'shift_test', '--summary-file', str(summary_file)],
        check=False).returncode
    figures = json.loads(summary_file.read_text())
    assert status == 0, figures['reason']
    assert figures['depth_reached_m'] >= 0.05
    assert 0 < figures['peak_thrust_N'] <= figures['safe_capacity_at_peak_N']
    assert figures['max_rig_displacement_m'] < 0.002
    assert figures['drill_energy_J'] > 0
    assert figures['anchoring_state'] == 'ANCHORED'
    # Everything excavated is accounted for: hoppers, in transit, lost, or smelted.
    hoppers = sum(figures['mass_in_hoppers_kg'].values())
    assert figures['mass_excavated_kg'] > 1.0
    smelted = figures['products_kg'] + figures['slag_kg'] + figures['volatiles_kg']
    assert hoppers + figures['mass_in_transit_kg'] + figures['mass_lost_kg'] + smelted == \
        pytest.approx(figures['mass_excavated_kg'], abs=1e-3)
    assert figures['mass_in_transit_kg'] < 0.01
    assert abs(figures['ledger_balance_kg']) < 1e-9
    # One volatile-extraction batch (Bennu is C-type): water and organics in the condenser.
    assert figures['volatiles_kg'] > 0.0 and figures['slag_kg'] > 0.0
    assert figures['volatiles_kg'] + figures['slag_kg'] == pytest.approx(0.5, abs=0.01)
    assert figures['energy_per_kg_product_J'] > 0
    assert figures['furnace_soak_overshoot_K'] < 20.0
    assert figures['furnace_peak_K'] < 1950.0


def test_shift_rejects_a_bad_depth(capsys):
    with pytest.raises(SystemExit):
        shift.main(['--depth', 'nan'])
    assert 'positive number' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        shift.main(['--passes', '-1'])
    assert '--passes' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        shift.main(['--backend', 'hil'])
    assert 'sim backend only' in capsys.readouterr().err
