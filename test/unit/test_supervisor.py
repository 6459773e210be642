"""The supervisor's state machine and step engine (core.mission.supervisor), without ROS."""

import math

import pytest

from spacemine_ros.core.mission.plan import plan_from
from spacemine_ros.core.mission.supervisor import (
    Cancel, COMMANDS, MODES, Mission, RESTART_GRACE, RESTART_RETRY)
from test.unit.mission_fakes import default_plan, FakeRig, loaded, rig_interface, run, step


def plan_of(*steps, **fields):
    return plan_from({'name': 'test', 'steps': list(steps), **fields})


def test_the_default_plan_runs_every_step_in_order_to_completed():
    events = []
    mission, rig = loaded(events=events)
    assert mission.command('start', 1.0, 60.0, 1.0) == (True, 'started plan bennu_shift')
    assert run(mission, rig) == 'completed'
    assert rig.calls == ['anchoring/deploy', 'material_handling/drain', 'drill/drill_to_depth',
                         'scraper/scrape', 'smelter/smelt_batch', 'anchoring/release']
    assert rig.goals['drill'] == [{'depth': 0.3}]
    assert rig.goals['scraper'] == [{'area': 0.0, 'passes': 3, 'pass_length': 0.0}]
    done = [text for kind, text in events if kind == 'step' and text.endswith('done')]
    assert len(done) == len(default_plan().steps)


def test_a_twin_drill_rig_starts_both_drills_and_waits_for_both():
    mission, rig = loaded(plan_of({'type': 'deploy_anchors'}, {'type': 'drill', 'depth': 0.1}),
                          rig_name='twin_drill')
    mission.command('start', 1.0, 60.0, 1.0)
    rig.work_time = 5.0
    while 'drill_b/drill_to_depth' not in rig.calls:
        step(mission, rig)
    rig.busy['drill_b'] = (rig.time + 50.0, 'DONE')  # one head takes longer
    for _ in range(20):
        step(mission, rig)
    assert rig.states['drill_a'] == 'DONE' and mission.state == 'running'
    assert run(mission, rig) == 'completed'


# Every command in every mode: accepted exactly where the state machine has the edge.
ALLOWED = {
    'load_plan': {'idle', 'ready', 'completed', 'aborted'},
    'start': {'ready'},
    'pause': {'running'},
    'resume': {'paused', 'holding'},
    'abort': {'ready', 'running', 'paused', 'holding'},
    'estop': set(MODES),
    'reset': {'estopped'},
}


def mission_in(mode):
    """Return (mission, rig) put in a mode through real transitions."""
    rig_spec = rig_interface()
    mission = Mission(rig_spec)
    rig = FakeRig(rig_spec)
    t = [0.0]

    def command(name, **kw):
        t[0] += 1.0
        accepted, reason = mission.command(name, t[0], 60.0, t[0], **kw)
        assert accepted, reason
    if mode == 'idle':
        return mission, rig, t
    command('load_plan', plan=default_plan())
    if mode in ('running', 'paused', 'holding', 'estopped', 'aborted'):
        command('start')
    if mode == 'paused':
        command('pause')
    if mode == 'holding':  # a step failed with on_failure: hold
        mission.hold()
    if mode == 'estopped':
        command('estop')
    if mode == 'aborted':
        command('abort')
    if mode == 'completed':
        command('start')
        run(mission, rig)
    assert mission.state == mode
    return mission, rig, t


@pytest.mark.parametrize('mode', MODES)
@pytest.mark.parametrize('command', COMMANDS)
def test_every_command_in_every_mode(mode, command):
    mission, rig, t = mission_in(mode)
    extra = {'plan': default_plan()} if command == 'load_plan' else {}
    accepted, reason = mission.command(command, t[0] + 1.0, 60.0, t[0] + 1.0, **extra)
    assert accepted == (mode in ALLOWED[command]), reason
    if not accepted:
        assert mission.state == mode and reason


def test_stale_future_and_out_of_order_commands_are_refused_with_the_reason():
    events = []
    mission, rig = loaded(events=events)
    accepted, reason = mission.command('start', 10.0, 5.0, 100.0)
    assert not accepted and reason.startswith('stale') and mission.state == 'ready'
    accepted, reason = mission.command('start', 200.0, 5.0, 100.0)
    assert not accepted and 'future' in reason
    assert mission.command('start', 99.0, 5.0, 100.0)[0]
    accepted, reason = mission.command('pause', 98.0, 60.0, 100.0)
    assert not accepted and reason.startswith('out of order') and mission.state == 'running'
    accepted, reason = mission.command('pause', math.nan, 60.0, 100.0)
    assert not accepted and 'finite' in reason
    logged = [text for kind, text in events if kind == 'command']
    assert sum('refused' in text for text in logged) == 4


def test_an_estop_is_never_refused_for_its_age():
    mission, rig = loaded()
    mission.command('start', 1.0, 60.0, 1.0)
    accepted, reason = mission.command('estop', 0.0, 0.1, 500.0)
    assert accepted and 'late' in reason and mission.state == 'estopped'


@pytest.mark.parametrize('mode', [m for m in MODES if m != 'estopped'])
def test_estop_from_every_mode_sends_nothing_until_reset_then_pauses_an_active_plan(mode):
    mission, rig, t = mission_in(mode)
    mission.estop('operator')
    rig.estop()
    assert mission.state == 'estopped'
    calls = list(rig.calls)
    for _ in range(50):
        step(mission, rig)
    assert rig.calls == calls and not rig.moving  # nothing moves until reset
    accepted, reason = mission.command('reset', t[0] + 1.0, 60.0, t[0] + 1.0)
    assert accepted, reason
    expected = 'paused' if mode in ('running', 'paused', 'holding') else mode
    assert mission.state == expected
    for _ in range(20):
        step(mission, rig)
    assert rig.calls == calls  # a paused plan waits for the operator's resume


def test_reset_is_refused_while_the_cause_persists():
    mission, rig = loaded()
    mission.command('start', 1.0, 60.0, 1.0)
    mission.estop('liveness: rig_sim silent')
    accepted, reason = mission.command('reset', 2.0, 60.0, 2.0)
    assert not accepted and 'cause persists: liveness: rig_sim silent' in reason
    mission.clear_cause('liveness: rig_sim silent')
    assert mission.command('reset', 3.0, 60.0, 3.0)[0] and mission.state == 'paused'


def test_resume_after_an_estop_restarts_the_interrupted_step_and_completes():
    mission, rig = loaded()
    mission.command('start', 1.0, 60.0, 1.0)
    while 'drill/drill_to_depth' not in rig.calls:
        step(mission, rig)
    mission.estop('operator')
    rig.estop()
    assert rig.states['drill'] == 'FAULT' and rig.states['material_handling'] == 'FAULT'
    mission.command('reset', rig.time, 60.0, rig.time)
    mission.command('resume', rig.time, 60.0, rig.time)
    step(mission, rig)
    step(mission, rig)
    step(mission, rig)
    # The line an earlier step started, faulted by the e-stop, is cleared and runs again.
    assert rig.states['material_handling'] == 'RUNNING'
    assert run(mission, rig) == 'completed'
    assert rig.calls.count('drill/drill_to_depth') == 2
    assert rig.calls.count('material_handling/drain') == 2


def test_a_step_its_tool_finished_as_the_rig_stopped_is_not_done_again():
    # The scraper finished its pass at the instant a silent node latched the e-stop, so
    # the supervisor never saw the step done: the resume finds it done and moves on (a
    # second pass cut the trench again; a campaign's kill cases found it).
    events = []
    plan = plan_of({'type': 'deploy_anchors'}, {'type': 'scrape', 'passes': 1},
                   {'type': 'release_anchors'})
    mission, rig = loaded(plan, events=events)
    mission.command('start', 1.0, 60.0, 1.0)
    while 'scraper/scrape' not in rig.calls:
        step(mission, rig)
    del rig.busy['scraper']
    rig.states['scraper'] = 'DONE'
    mission.estop('operator')
    rig.estop()
    mission.command('reset', rig.time, 60.0, rig.time)
    mission.command('resume', rig.time, 60.0, rig.time)
    assert run(mission, rig) == 'completed'
    assert rig.calls.count('scraper/scrape') == 1
    assert ('step', 'step 2 scrape: finished while the rig stood stopped') in events


@pytest.mark.parametrize('policy, expected', [('abort', 'aborted'), ('skip', 'completed'),
                                              ('hold', 'holding')])
def test_failure_policies(policy, expected):
    plan = plan_of({'type': 'deploy_anchors'},
                   {'type': 'scrape', 'passes': 1, 'on_failure': policy},
                   {'type': 'release_anchors'})
    mission, rig = loaded(plan)
    rig.fault['scraper'] = 1
    mission.command('start', 1.0, 60.0, 1.0)
    assert run(mission, rig) == expected
    if policy == 'skip':
        assert rig.calls[-1] == 'anchoring/release'
    if policy == 'hold':
        assert 'scraper/scrape:cancel' in rig.calls  # made safe
        # The operator resumes: the step is tried again (after its faults are reset).
        assert mission.command('resume', rig.time, 60.0, rig.time)[0]
        assert run(mission, rig) == 'completed'
        assert 'scraper/reset' in rig.calls


def test_retries_run_the_recover_actions_then_the_step_again():
    plan = plan_of({'type': 'deploy_anchors'},
                   {'type': 'scrape', 'passes': 1, 'retries': 2})
    mission, rig = loaded(plan)
    rig.fault['scraper'] = 2
    mission.command('start', 1.0, 60.0, 1.0)
    assert run(mission, rig) == 'completed'
    assert rig.calls.count('scraper/scrape') == 3
    assert rig.calls.count('scraper/reset') == 2


def test_a_retry_waits_its_retry_delay_so_what_refused_it_can_change():
    plan = plan_of({'type': 'deploy_anchors', 'retries': 2, 'retry_delay': 30.0})
    mission, rig = loaded(plan)
    rig.refuse['anchoring/deploy'] = 2  # e.g. a furnace still too hot to charge
    mission.command('start', 1.0, 60.0, 1.0)
    times = []
    while mission.state == 'running':
        calls = len(rig.calls)
        step(mission, rig)
        if len(rig.calls) > calls and rig.calls[-1] == 'anchoring/deploy':
            times.append(rig.time)
    assert mission.state == 'completed'
    assert len(times) == 3
    assert all(later - earlier >= 30.0 for earlier, later in zip(times, times[1:]))
    assert all(later - earlier <= 32.0 for earlier, later in zip(times, times[1:]))


def test_a_refused_call_fails_the_step_with_the_reason():
    mission, rig = loaded(plan_of({'type': 'deploy_anchors', 'on_failure': 'abort'}))
    rig.refuse['anchoring/deploy'] = 1
    mission.command('start', 1.0, 60.0, 1.0)
    assert run(mission, rig) == 'aborted'
    assert 'anchoring/deploy refused: refused by the fake' in mission.reason


def test_a_step_that_takes_longer_than_its_timeout_fails():
    mission, rig = loaded(plan_of({'type': 'deploy_anchors', 'timeout': 10.0}))
    rig.work_time = 1000.0
    mission.command('start', 1.0, 60.0, 1.0)
    assert run(mission, rig) == 'aborted'
    assert 'timed out after 10 s' in mission.reason


def test_a_silent_node_latches_the_estop_and_its_return_resumes_the_plan():
    mission, rig = loaded()
    mission.command('start', 1.0, 60.0, 1.0)
    while 'drill/drill_to_depth' not in rig.calls:
        step(mission, rig)
    mission.liveness({'drill'}, rig.time)
    rig.estop()
    assert mission.state == 'estopped' and mission.reason == 'e-stop: liveness: drill silent'
    accepted, reason = mission.command('reset', rig.time, 60.0, rig.time)
    assert not accepted and 'cause persists: liveness: drill silent' in reason
    mission.liveness({'drill', 'stream odom'}, rig.time)
    mission.liveness({'stream odom'}, rig.time)
    assert mission.state == 'estopped'  # one is still silent
    mission.liveness(set(), rig.time)
    assert mission.state == 'running'  # auto_resume: reset and resumed by itself
    assert run(mission, rig) == 'completed'
    assert rig.calls.count('drill/drill_to_depth') == 2


@pytest.mark.parametrize('heard', [True, False], ids=['restart_heard', 'restart_unheard'])
def test_a_tool_restarted_sooner_than_liveness_notices_starts_its_step_again(heard):
    # The drill's node dies and is back before it is heard silent: the new drill is
    # IDLE, as every node starts. Heard as a restart, the step starts again; taken for
    # the drill quitting its job, the step fails (the blind spot a campaign found).
    events = []
    mission, rig = loaded(events=events)
    mission.command('start', 1.0, 60.0, 1.0)
    while 'drill/drill_to_depth' not in rig.calls:
        step(mission, rig)
    step(mission, rig)
    rig.busy.pop('drill')
    rig.states['drill'] = 'IDLE'
    if heard:
        mission.restarted('drill', rig.time)
        # The new drill refuses until it has heard the anchors' state: tried again.
        rig.refuse['drill/drill_to_depth'] = 3
    assert run(mission, rig) == ('completed' if heard else 'aborted')
    if heard:
        assert rig.calls.count('drill/drill_to_depth') == 2 + 3
        assert ('fault', 'drill restarted') in events
    else:
        assert 'drill stopped before finishing' in mission.reason


def test_a_restarted_tool_that_keeps_refusing_fails_its_step_after_the_grace():
    mission, rig = loaded()
    mission.command('start', 1.0, 60.0, 1.0)
    while 'drill/drill_to_depth' not in rig.calls:
        step(mission, rig)
    step(mission, rig)
    rig.busy.pop('drill')
    rig.states['drill'] = 'IDLE'
    mission.restarted('drill', rig.time)
    rig.refuse['drill/drill_to_depth'] = 1000
    assert run(mission, rig) == 'aborted'
    assert 'drill/drill_to_depth refused: refused by the fake' in mission.reason
    assert 2 < rig.calls.count('drill/drill_to_depth') < 2 + RESTART_GRACE / RESTART_RETRY + 2


def test_a_restart_of_a_node_the_step_does_not_use_changes_nothing():
    mission, rig = loaded()
    mission.command('start', 1.0, 60.0, 1.0)
    while 'drill/drill_to_depth' not in rig.calls:
        step(mission, rig)
    step(mission, rig)
    queue = list(mission.queue)
    mission.restarted('smelter', rig.time)
    assert mission.queue == queue and mission.state == 'running'
    assert run(mission, rig) == 'completed'
    assert rig.calls.count('drill/drill_to_depth') == 1


def test_without_auto_resume_the_operator_resets_and_resumes_after_a_silent_node():
    plan = plan_of({'type': 'deploy_anchors'}, {'type': 'drill', 'depth': 0.1},
                   auto_resume=False)
    mission, rig = loaded(plan)
    mission.command('start', 1.0, 60.0, 1.0)
    mission.liveness({'rig_sim'}, 2.0)
    mission.liveness(set(), 3.0)
    assert mission.state == 'estopped' and 'reset the e-stop and resume' in mission.reason
    assert mission.command('reset', 4.0, 60.0, 4.0)[0] and mission.state == 'paused'
    assert mission.command('resume', 5.0, 60.0, 5.0)[0]
    assert run(mission, rig) == 'completed'


def test_an_operator_estop_stays_latched_when_a_silent_node_comes_back():
    mission, rig = loaded()
    mission.command('start', 1.0, 60.0, 1.0)
    mission.liveness({'drill'}, 2.0)
    mission.command('estop', 3.0, 60.0, 3.0)
    mission.liveness(set(), 4.0)
    assert mission.state == 'estopped'


def test_a_node_silent_while_no_plan_runs_is_logged_not_latched():
    events = []
    mission, rig = loaded(events=events)
    mission.liveness({'smelter'}, 1.0)
    assert mission.state == 'ready' and ('fault', 'smelter silent') in events


def test_a_wait_step_waits_for_power_and_time():
    plan = plan_of({'type': 'wait', 'seconds': 30.0, 'power': 1000.0})
    mission, rig = loaded(plan)
    rig.power = 200.0
    mission.command('start', 1.0, 60.0, 1.0)
    for _ in range(100):
        step(mission, rig)
    assert mission.state == 'running' and 'power 200 of 1000 W' in mission.progress
    rig.power = 1500.0
    assert run(mission, rig) == 'completed'


def test_a_restored_mission_comes_back_paused_at_its_step():
    mission, rig = loaded()
    mission.command('start', 1.0, 60.0, 1.0)
    while mission.step_index < 3:
        step(mission, rig)
    snapshot = mission.snapshot()
    again = Mission(rig_interface())
    again.restore(default_plan(), snapshot)
    assert again.state == 'paused' and again.step_index == 3
    assert again.last_issued == 1.0
    assert not again.command('resume', 0.5, 60.0, 2.0)[0]  # order survives the restart
    assert again.command('resume', 2.0, 60.0, 2.0)[0]
    rig2 = rig  # the rig kept its state: anchored, line running, hole drilled
    assert run(again, rig2) == 'completed'
    assert rig2.calls.count('anchoring/deploy') == 1


def test_a_supervisor_killed_as_a_step_is_recorded_done_resumes_at_the_next_step():
    # What the store holds is the snapshot written with each event (one transaction).
    snapshots = []
    mission, rig = loaded()
    mission.on_event = lambda kind, text: snapshots.append((text, mission.snapshot()))
    mission.command('start', 1.0, 60.0, 1.0)
    while not any(text == 'step 3 drill done' for text, _ in snapshots):
        step(mission, rig)
    stored = next(snap for text, snap in snapshots if text == 'step 3 drill done')
    assert stored['step_index'] == 3 and not stored['acted']
    events = []
    again = Mission(rig_interface(), lambda kind, text: events.append((kind, text)))
    again.restore(default_plan(), stored)
    assert again.command('resume', rig.time, 60.0, rig.time)[0]
    assert run(again, rig) == 'completed'
    done = [text for kind, text in events if kind == 'step' and text.endswith(' done')]
    assert done[0] == 'step 4 scrape done' and 'step 3 drill done' not in done
    assert rig.calls.count('drill/drill_to_depth') == 1


def test_steps_already_achieved_are_not_repeated():
    mission, rig = loaded(plan_of({'type': 'deploy_anchors'},
                                  {'type': 'material_line', 'until': 'running'}))
    rig.states['anchoring'] = 'ANCHORED'
    rig.capacity = 246.0
    rig.states['material_handling'] = 'RUNNING'
    mission.command('start', 1.0, 60.0, 1.0)
    assert run(mission, rig) == 'completed'
    assert rig.calls == []


def test_stop_actions_of_a_step_are_its_tools_aborts():
    mission, rig = loaded()
    assert mission.steps.stop_actions(plan_of({'type': 'smelt'}).steps[0]) == [
        Cancel('smelter', 'smelt_batch')]


def snapshot_while_drilling():
    """Return (rig, what the store holds) when the supervisor is killed mid-drilling."""
    mission, rig = loaded()
    mission.command('start', 1.0, 60.0, 1.0)
    while rig.states['drill'] != 'DRILLING':
        step(mission, rig)
    step(mission, rig)
    return rig, mission.snapshot()


def test_a_supervisor_restarted_while_a_tool_works_watches_it_finish_without_restarting_it():
    rig, snapshot = snapshot_while_drilling()
    assert snapshot['acted']
    again = Mission(rig_interface())
    again.restore(default_plan(), snapshot)
    assert again.command('resume', rig.time, 60.0, rig.time)[0]
    assert run(again, rig) == 'completed'
    assert rig.calls.count('drill/drill_to_depth') == 1  # the drill was never started twice


def test_a_step_waits_for_the_state_of_a_restarted_controller_before_acting():
    mission, rig = loaded(plan_of({'type': 'material_line', 'until': 'running'}))
    rig.states['material_handling'] = ''  # restarted: nothing heard from it yet
    mission.command('start', 1.0, 60.0, 1.0)
    for _ in range(5):
        step(mission, rig)
    assert rig.calls == [] and 'waiting for the state of material_handling' in \
        mission.progress
    rig.states['material_handling'] = 'STOPPED'
    assert run(mission, rig) == 'completed' and rig.calls == ['material_handling/drain']


def test_a_controller_that_never_reports_its_state_fails_the_step_at_its_timeout():
    mission, rig = loaded(plan_of({'type': 'scrape', 'passes': 1, 'timeout': 20.0,
                                   'on_failure': 'hold'}))
    rig.states['scraper'] = ''  # hung, then back without a new state message
    mission.command('start', 1.0, 60.0, 1.0)
    assert run(mission, rig, limit=200) == 'holding'
    assert rig.calls.count('scraper/scrape') == 0
    assert 'timed out after 20 s before it could start (waiting for the state of scraper)' \
        in mission.reason


def test_after_anchoring_restarts_the_anchors_are_proven_again_before_the_tools_go_on():
    mission, rig = loaded(plan_of({'type': 'deploy_anchors'}, {'type': 'drill', 'depth': 0.1}))
    mission.command('start', 1.0, 60.0, 1.0)
    while 'drill/drill_to_depth' not in rig.calls:
        step(mission, rig)
    mission.liveness({'anchoring'}, rig.time)  # killed
    rig.estop()
    rig.states['anchoring'], rig.capacity = 'FAULT', 0.0  # back: found deployed, unproven
    mission.liveness(set(), rig.time)
    assert mission.state == 'running'
    for _ in range(3):
        step(mission, rig)
    assert rig.calls[-1] == 'anchoring/deploy'
    assert 'waiting for deploy_anchors' in mission.progress
    assert run(mission, rig) == 'completed'
    resumed = rig.calls[rig.calls.index('drill/drill_to_depth') + 1:]
    assert resumed.index('anchoring/deploy') < resumed.index('drill/drill_to_depth')


def test_after_a_whole_rig_restart_a_step_whose_tools_restarted_too_starts_again():
    rig, snapshot = snapshot_while_drilling()
    rig.busy.pop('drill')
    rig.states['drill'] = 'IDLE'  # the drill's process restarted with everything else
    again = Mission(rig_interface())
    again.restore(default_plan(), snapshot)
    assert again.command('resume', rig.time, 60.0, rig.time)[0]
    assert run(again, rig) == 'completed'  # no failure: retries are 0 in this plan
    assert rig.calls.count('drill/drill_to_depth') == 2
