"""A campaign sample replayed on the node graph (spacemine-shift --replay RUN SAMPLE).

The campaign runs headless (spacemine-campaign, one worker); its samples then run again
on the graph, recorded, each in its own process as operators run it. What must hold:
the graph gets the sample's inputs (its regolith through a bodies file of its own) and
its faults at the same instants, its invariants hold there too, and its figures are the
headless row's within the bounds the graph and the headless engine agree
(campaign.GRAPH_BOUNDS: the speed issue's equivalence bounds).
"""

import json
import os
import subprocess
import sys

import pytest
import yaml

from spacemine_ros.campaign import graph_differences, Results
from spacemine_ros.core.models.body import load_body
from test.timing import wall

pytestmark = [pytest.mark.slow]

# A short shift whose anchors, drill, power and operator are all struck: an anchor slips
# while the drill is about to start, the operator e-stops it mid-hole and releases it,
# the supply fails for a moment. Its regolith and the anchors' spread are drawn.
STRUCK = {'name': 'graph_replay', 'seed': 11, 'samples': 1,
          'base': {'body': 'bennu', 'plan': 'anchor_and_drill'},
          'vary': {'rig_sim.capacity_spread': {'uniform': [0.0, 0.1]},
                   'regolith.cohesion': {'uniform': [20.0, 60.0]},
                   'regolith.friction_angle': {'uniform': [0.5, 0.7]}},
          'faults': [{'kind': 'anchor_slip', 'probability': 1.0, 'anchor': 0,
                      'fraction': 0.8, 'at': 30.0},
                     {'kind': 'estop', 'probability': 1.0, 'at': {'uniform': [35.0, 38.0]},
                      'duration': 2.0},
                     {'kind': 'brownout', 'probability': 1.0, 'at': 42.0, 'duration': 1.5}]}
# An e-stop while the anchors go in, released; then the drill's node killed mid-hole and
# started again: it takes up its record.
RESTARTED = {'name': 'graph_restart', 'seed': 5, 'samples': 1,
             'base': {'body': 'bennu', 'plan': 'anchor_and_drill'},
             'faults': [{'kind': 'estop', 'probability': 1.0, 'at': 23.0, 'duration': 4.0},
                        {'kind': 'node_restart', 'probability': 1.0, 'node': 'drill',
                         'at': 38.0, 'duration': 12.0}]}


def run_campaign(tmp_path, campaign):
    """Run a campaign headless; return its results directory."""
    path, results = tmp_path / f'{campaign["name"]}.yaml', tmp_path / 'run'
    path.write_text(yaml.safe_dump({'campaign': campaign}))
    subprocess.run([sys.executable, '-m', 'spacemine_ros.campaign', str(path), '--out',
                    str(results), '--workers', '1', '--no-report', '--no-progress'],
                   check=True, timeout=wall(600))
    return results


def replay(results, sample, namespace):
    """Replay a sample on the graph; return (exit status, summary, its row, its output)."""
    summary_file = results / f'replay-{sample}.json'
    done = subprocess.run(
        [sys.executable, '-m', 'spacemine_ros.shift', '--replay', str(results), str(sample),
         '--namespace', namespace, '--no-progress', '--summary-file', str(summary_file)],
        capture_output=True, text=True, timeout=wall(900), check=False)
    figures = json.loads(summary_file.read_text()) if summary_file.exists() else {}
    row = Results(str(results), Results.campaign_of(str(results))).table().to_pylist()[sample]
    return done.returncode, figures, row, done.stdout + done.stderr


def test_a_sample_replayed_on_the_graph_is_its_headless_shift_faults_and_all(tmp_path):
    results = run_campaign(tmp_path, STRUCK)
    status, figures, row, output = replay(results, 0, 'graph_replay')
    assert status == 0, output[-3000:]
    assert row['outcome'] == figures['result'] == 'completed', output[-3000:]
    # The same faults at the same instants, with the same outcomes.
    headless = json.loads(row['struck'])
    assert [(s['at'], s['kind'], s['what']) for s in figures['struck']] == \
        [(s['at'], s['kind'], s['what']) for s in headless]
    assert [s['kind'] for s in headless] == ['anchor_slip', 'estop', 'estop', 'brownout']
    assert 'resumed' in figures['struck'][2]['outcome'], figures['struck']
    # The invariants hold on the graph too: the e-stop made it safe within the bound.
    assert figures['violations'] == [] and row['violation_count'] == 0
    assert 0.0 <= figures['estop_latency_s'] <= 0.5
    assert figures['anchors_pulled_out'] == 0
    # Within the equivalence bounds of the headless row, as the command says.
    assert graph_differences(figures, row) == [] == figures['differences'], output[-3000:]
    assert 'within the graph bounds of its headless row' in output
    # Its regolith came through a bodies file of its own; it was recorded and reported.
    inputs = json.loads(row['inputs'])
    body = load_body(str(results / 'replay-0' / 'bodies.yaml'), 'bennu')
    assert body.regolith.cohesion == pytest.approx(inputs['regolith.cohesion'])
    assert os.path.getsize(figures['recording']) > 0 and os.path.getsize(figures['report']) > 0


def test_a_node_killed_and_started_again_on_the_graph_takes_up_its_work(tmp_path):
    results = run_campaign(tmp_path, RESTARTED)
    status, figures, row, output = replay(results, 0, 'graph_restart')
    assert [(s['what'], s['outcome']) for s in figures['struck'][2:]] == [
        ('strike', 'drill killed'), ('end', 'drill restarted')], output[-3000:]
    # The supervisor hears the drill silent on its own (steady) clock here, not in sim
    # seconds as headless: the shift's timing may differ, its end may not.
    assert status == 0 and figures['result'] == 'completed', output[-3000:]
    assert figures['violations'] == []
    assert figures['depth_reached_m'] >= 0.05 - 1e-3
    assert figures['anchoring_state'] == 'STOWED'
    assert 'drill killed' in output and 'restarted' in output
    # Every call to the new drill went through a client of its own: none was left to
    # a client of the old one, which never answers.
    assert 'drill/' not in ''.join(line for line in output.splitlines()
                                   if line.endswith('given up')), output[-3000:]


# The drill's node killed mid-hole and back long before the supervisor could hear it
# silent (its liveness_timeout a minute here): only the restart itself tells.
QUICK_RESTART = {'name': 'graph_quick_restart', 'seed': 5, 'samples': 1,
                 'base': {'body': 'bennu', 'plan': 'anchor_and_drill'},
                 'vary': {'supervisor.liveness_timeout': {'choice': [60.0]}},
                 'faults': [{'kind': 'node_restart', 'probability': 1.0, 'node': 'drill',
                             'at': 38.0, 'duration': 2.0}]}


def test_a_drill_back_before_it_is_heard_silent_is_heard_restarted_and_drills_again(
        tmp_path):
    results = run_campaign(tmp_path, QUICK_RESTART)
    status, figures, row, output = replay(results, 0, 'graph_quick_restart')
    assert status == 0 and figures['result'] == row['outcome'] == 'completed', output[-3000:]
    # The supervisor knew the new drill by the new writer of its state, never silent.
    assert 'drill restarted (a new instance publishes its state)' in output
    assert 'drill silent' not in output
    assert figures['depth_reached_m'] >= 0.05 - 1e-3 and figures['violations'] == []


# The drill's field-bus devices stop answering mid-hole.
DEVICES_SILENT = {'name': 'graph_devices', 'seed': 5, 'samples': 1,
                  'base': {'body': 'bennu', 'plan': 'anchor_and_drill'},
                  'faults': [{'kind': 'device_silent', 'probability': 1.0, 'node': 'drill',
                              'at': 40.0, 'duration': 3.0}]}


def test_a_drill_whose_devices_go_quiet_on_the_graph_ends_the_plan_as_headless(tmp_path):
    # The short plan does not retry its drill: it aborts on both engines, saying why.
    results = run_campaign(tmp_path, DEVICES_SILENT)
    status, figures, row, output = replay(results, 0, 'graph_devices')
    assert status == 1 and row['outcome'] == figures['result'] == 'failed', output[-3000:]
    assert 'drill' in figures['reason'] and 'drill' in row['reason']
    assert [(s['at'], s['kind'], s['outcome']) for s in figures['struck']] == \
        [(40.0, 'device_silent', "drill's devices silent for 3 s")]
    assert figures['violations'] == [] and row['violation_count'] == 0
