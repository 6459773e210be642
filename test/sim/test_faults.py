"""Faults struck on a headless shift and the invariants watched over it (spacemine_ros.faults).

The short plan (anchor, drill 5 cm, release) takes about 50 sim s: the anchors are set by
about 31 s and the drill works from then on for about 5 s.
"""

import math

import pytest
import yaml

from spacemine_ros.faults import ESTOP_SAFE_WITHIN, FaultSchedule, Invariants
from spacemine_ros.headless import Shift

PLAN = 'anchor_and_drill'
DRILLING = 33.0  # s: the drill is cutting


def run(faults=(), overrides=None, before=None, **limits):
    """Run the short shift with the faults; return (figures, violations, schedule, watch)."""
    with Shift(body='bennu', plan=PLAN, overrides=overrides) as shift:
        if before is not None:
            before(shift)
        schedule = FaultSchedule(shift, list(faults))
        watch = Invariants(shift, schedule)
        seen = []

        def on_step(shift):
            schedule(shift)
            watch(shift)
            seen.append((shift.world.time, shift.world.estop, shift.world.brownout,
                         shift.unit('drill').state(), shift.mission.state))
        figures = shift.run(on_step=on_step, **limits)
        return figures, watch.finish(figures), schedule, watch, seen


def test_an_estop_while_drilling_is_safe_within_its_bound_and_the_released_plan_completes():
    figures, violations, schedule, watch, seen = run(
        [{'kind': 'estop', 'at': DRILLING, 'duration': 4.0}])
    assert violations == []
    assert figures['result'] == 'completed', figures['reason']
    latency = watch.figures()['estop_latency_s']
    assert 0.0 <= latency <= ESTOP_SAFE_WITHIN
    assert [(s['what'], s['at']) for s in schedule.struck] == [('strike', DRILLING),
                                                               ('end', DRILLING + 4.0)]
    assert 'resumed' in schedule.struck[1]['outcome']
    during = [s for s in seen if DRILLING + ESTOP_SAFE_WITHIN <= s[0] < DRILLING + 4.0]
    assert during and all(estop and mission == 'estopped' for _, estop, _, _, mission in during)
    assert abs(figures['ledger_balance_kg']) < 1e-9


def test_a_broken_estop_is_a_violation():
    def ignore_the_estop(shift):
        shift.world.set_estop = lambda latched: None
        for unit in shift.units.values():
            unit.stop = lambda time: None
            unit.controller.input_lost = lambda reason: False

    _, violations, _, watch, _ = run([{'kind': 'estop', 'at': DRILLING, 'duration': 4.0}],
                                     before=ignore_the_estop, until=DRILLING + 2.0)
    kinds = [v['invariant'] for v in violations]
    assert 'e-stop to safe within 0.5 s' in kinds
    broken = next(v for v in violations if v['invariant'] == 'e-stop to safe within 0.5 s')
    assert broken['at'] == pytest.approx(DRILLING + ESTOP_SAFE_WITHIN)
    assert 'drawing' in broken['detail'] or 'moving' in broken['detail']
    assert math.isinf(watch.estops[0][1])


def test_a_brownout_stops_the_drives_for_its_duration_and_the_shift_goes_on():
    figures, violations, _, _, seen = run([{'kind': 'brownout', 'at': DRILLING,
                                            'duration': 5.0}])
    assert violations == [] and figures['result'] == 'completed', figures['reason']
    during = [s for s in seen if DRILLING <= s[0] < DRILLING + 5.0]
    assert during and all(brownout for _, _, brownout, _, _ in during)
    assert not seen[-1][2]
    assert figures['sim_time_s'] > run()[0]['sim_time_s']  # it lost the time


def test_a_silent_drill_faults_and_the_plan_ends_by_its_policy_with_the_reason():
    figures, violations, _, _, seen = run([{'kind': 'sensor_silent', 'node': 'drill',
                                            'at': DRILLING, 'duration': 3.0}])
    assert violations == []
    # The short plan does not retry its drill step: it aborts, saying why.
    assert figures['result'] == 'failed' and 'drill' in figures['reason']
    assert any(drill == 'FAULT' for _, _, _, drill, _ in seen)


@pytest.mark.parametrize('node, at', [('drill', 10.0), ('anchoring', DRILLING)])
def test_a_node_killed_and_restarted_takes_up_its_work_and_the_shift_completes(node, at):
    figures, violations, schedule, _, _ = run([{'kind': 'node_restart', 'node': node,
                                                'at': at, 'duration': 4.0}])
    assert violations == [] and figures['result'] == 'completed', figures['reason']
    assert [s['outcome'] for s in schedule.struck] == [f'{node} killed', f'{node} restarted']


def test_a_node_dead_longer_than_the_liveness_timeout_latches_the_estop_until_it_is_back():
    figures, violations, _, _, seen = run(
        [{'kind': 'node_restart', 'node': 'drill', 'at': 10.0, 'duration': 20.0}],
        overrides={'supervisor': {'liveness_timeout': 5.0}})
    assert violations == []
    modes = [mission for time, _, _, _, mission in seen if 16.0 <= time < 30.0]
    assert modes and all(mode == 'estopped' for mode in modes)
    # The supervisor's e-stop, whatever latched it, holds the world (the estop topic).
    assert all(estop for time, estop, _, _, _ in seen if 16.0 <= time < 30.0)
    assert not seen[-1][1]
    assert figures['result'] == 'completed', figures['reason']  # auto_resume once back


def test_a_slipped_anchor_pulled_out_is_excused_but_one_pulled_out_otherwise_is_not():
    slip = [{'kind': 'anchor_slip', 'anchor': 1, 'at': 20.0, 'fraction': 0.2}]
    figures, violations, _, watch, _ = run(slip)
    assert watch.figures()['anchors_pulled_out'] >= 1
    assert violations == []  # its own fault excuses it; the plan ends by its policy

    def slip_unannounced(shift):
        shift.stop_at(20.0)
        original = shift.step

        def step():
            original()
            if 20.0 <= shift.world.time < 20.01:
                shift.slip_anchor(1, 0.2)
        shift.step = step

    _, violations, _, _, _ = run(before=slip_unannounced)
    pulled = [v for v in violations if v['invariant'] == 'no anchor pulled out']
    assert pulled and 'anchor 1 pulled out' in pulled[0]['detail']


def test_a_drill_that_ignores_its_budget_is_a_violation_and_one_that_keeps_it_is_not():
    tight = {'anchoring': {'tool_share': 0.2}}

    def ignore_the_budget(shift):
        controller = shift.unit('drill').controller
        update = controller.update
        controller.update = lambda m, anchored, allowance, budget: update(
            m, anchored, 1e9, 1e9)

    _, violations, _, _, _ = run(overrides=tight, before=ignore_the_budget)
    assert [v['invariant'] for v in violations] == ['thrust within the anchors budget']
    _, violations, _, watch, _ = run(overrides=tight)
    assert violations == [] and watch.figures()['peak_thrust_share_of_budget'] <= 1.0 + 1e-6


def test_a_shift_cut_short_or_out_of_balance_is_a_violation():
    figures, violations, _, _, _ = run(until=20.0)
    assert [v['invariant'] for v in violations] == ['the plan ends by its policy']
    assert 'stopped at 20 s' in violations[0]['detail']
    with Shift(body='bennu', plan=PLAN) as shift:
        watch = Invariants(shift)
        found = watch.finish({'result': 'completed', 'reason': '', 'ledger_balance_kg': 1e-6})
    assert [v['invariant'] for v in found] == ['ledger balance exact']


def test_a_fault_between_control_instants_strikes_at_the_next_and_the_shift_goes_on():
    # Found by a campaign: a world stopped off the control grid let every command lapse
    # before its controller renewed it, and a restarted drill approached for ever.
    figures, violations, schedule, _, _ = run(
        [{'kind': 'node_restart', 'node': 'drill', 'at': 10.012, 'duration': 8.973},
         {'kind': 'estop', 'at': DRILLING + 0.013, 'duration': 1.031}])
    assert violations == [] and figures['result'] == 'completed', figures['reason']
    assert [s['at'] for s in schedule.struck] == [10.05, 19.0, DRILLING + 0.05, 34.05]


def test_an_operator_whose_reset_is_refused_tries_again_until_the_rig_can_go_on():
    # Found by a campaign: the line's node silent (its liveness e-stop) when the operator
    # released an e-stop of theirs: the reset was refused, never tried again, and the
    # rig stayed e-stopped until the wall limit.
    figures, violations, schedule, _, _ = run(
        [{'kind': 'node_restart', 'node': 'anchoring', 'at': 28.7, 'duration': 12.5},
         {'kind': 'estop', 'at': 39.6, 'duration': 1.0}],
        overrides={'supervisor': {'liveness_timeout': 10.0}})
    assert violations == [] and figures['result'] == 'completed', figures['reason']
    ends = [s for s in schedule.struck if s['what'] == 'end']
    estop_end = next(s for s in ends if s['kind'] == 'estop')
    assert estop_end['at'] >= 41.2  # once the anchoring node was back
    assert 'resumed' in estop_end['outcome']


def test_a_rig_the_operator_left_e_stopped_halts_the_run_as_a_violation(monkeypatch):
    import spacemine_ros.faults as faults
    monkeypatch.setattr(faults, 'RESET_PATIENCE', 5.0)
    figures, violations, schedule, _, _ = run(
        [{'kind': 'node_restart', 'node': 'anchoring', 'at': 10.0, 'duration': 60.0},
         {'kind': 'estop', 'at': 20.0, 'duration': 1.0}],
        overrides={'supervisor': {'liveness_timeout': 5.0}}, wall_limit=120.0)
    assert 'gave up' in next(s['outcome'] for s in schedule.struck if s['kind'] == 'estop'
                             and s['what'] == 'end')
    assert figures['result'] == 'failed' and 'operator left' in figures['reason']
    assert figures['sim_time_s'] < 100.0  # halted once the node was back, not at a limit
    assert [v['invariant'] for v in violations] == ['the plan ends by its policy']


def test_a_drill_whose_devices_stop_answering_stops_on_its_own_and_faults():
    # The drill's field-bus devices go quiet: its readings stop (it faults, as a silent
    # sensor makes it) and its stop command is lost on the way, so its drives keep the
    # last command until it lapses and then stop on their own.
    silent_for = 3.0
    valid = []  # (time, until when the drill's last command holds)

    def watch_the_drives(shift):
        drill = shift.world.plugins['drill']
        original = shift.world.command

        def command(subsystem, *args, **kwargs):
            original(subsystem, *args, **kwargs)
            if subsystem == 'drill':
                valid.append((shift.world.time, drill.valid_until))
        shift.world.command = command

    figures, violations, schedule, _, seen = run(
        [{'kind': 'device_silent', 'node': 'drill', 'at': DRILLING, 'duration': silent_for}],
        before=watch_the_drives)
    assert violations == []
    assert schedule.struck[0]['outcome'] == "drill's devices silent for 3 s"
    assert any(drill == 'FAULT' for _, _, _, drill, _ in seen)
    assert figures['result'] == 'failed' and 'drill' in figures['reason']
    # What the drill sent while its bus was quiet reached no drive: the last command
    # taken was from before the strike and lapsed within its window.
    during = [until for time, until in valid if DRILLING <= time < DRILLING + silent_for]
    before_strike = max(until for time, until in valid if time < DRILLING)
    assert during and all(until == before_strike for until in during)
    assert before_strike < DRILLING + 1.0
    # The same fault as a silent sensor only: the stop command gets through at once.
    valid.clear()
    run([{'kind': 'sensor_silent', 'node': 'drill', 'at': DRILLING, 'duration': silent_for}],
        before=watch_the_drives)
    assert any(until != before_strike and DRILLING <= time < DRILLING + silent_for
               for time, until in valid)


SCRAPE_PLAN = {'plan': {'name': 'scrape_once', 'steps': [
    {'type': 'deploy_anchors'}, {'type': 'material_line', 'until': 'running'},
    {'type': 'scrape', 'passes': 1, 'pass_length': 0.15, 'retries': 3},
    {'type': 'material_line', 'until': 'drained'}]}}


def test_a_pass_stopped_by_a_silent_node_is_finished_once_not_cut_twice(tmp_path):
    # The anchoring node dies as the scraper dumps its pass: the e-stop it latches stops
    # the arm too (it went on to stow and finish the job while the supervisor stood
    # stopped, which then started the step over: a second pass, 30 g more cut).
    plan = tmp_path / 'scrape_once.yaml'
    plan.write_text(yaml.safe_dump(SCRAPE_PLAN))

    def shift(faults=()):
        with Shift(body='bennu', plan=str(plan),
                   overrides={'supervisor': {'liveness_timeout': 3.0}}) as shift:
            schedule = FaultSchedule(shift, list(faults))
            seen = []

            def on_step(shift):
                schedule(shift)
                seen.append((shift.world.time, shift.world.estop,
                             shift.unit('scraper').state()))
            return shift.run(on_step=on_step), seen
    whole, seen = shift()
    dumping = next(time for time, _, state in seen if state == 'DUMPING')
    killed, seen = shift([{'kind': 'node_restart', 'node': 'anchoring', 'at': dumping + 1.0,
                           'duration': 5.0}])
    assert killed['result'] == 'completed', killed['reason']
    assert any(estop and state == 'FAULT' for _, estop, state in seen)  # stopped mid-dump
    assert killed['mass_excavated_kg'] == pytest.approx(whole['mass_excavated_kg'], abs=1e-3)
