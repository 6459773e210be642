"""The kill-and-resume cases' rig, watcher and checks (test_kill_resume*.py).

SIGKILL a node, or the whole rig, at seeded random points of a shift; nothing is lost.

The rig runs as with ros2 launch. The victim is killed with SIGKILL at 10 random points
of the shift (seeded) and started again each time as respawn does: with --resume, so it
takes up what it stored (the supervisor its shift, rig_sim its world checkpoint, a
controller what it remembers; the whole rig all of that). The shift must complete with
the ledger's totals those of an uninterrupted run (same_ledger: the ground cut within a
scraping pass's depth band, every other account within the ledger's resolution of its
share of it, the books balanced exactly), and the record must hold the whole story. A
killed node goes silent: the supervisor latches the e-stop and resumes the plan once it
is back; a step it was working on is retried (a restarted anchoring controller's anchors
proven again first).
The cases are in two files, so that the two test workers share them (each file makes
its own uninterrupted reference runs).
"""

import os
import random
import signal
import time

from rcl_interfaces.srv import SetParameters
import rclpy
from rclpy.parameter import Parameter
from rosgraph_msgs.msg import Clock
from spacemine_interfaces.msg import Ledger, MissionStatus
import yaml

from spacemine_ros.bringup import default_params_file
from spacemine_ros.core.control.scraper import ScrapeRequest, ScraperParams
from spacemine_ros.core.mission.mission_store import MissionStore
from spacemine_ros.core.models.body import load_body
from spacemine_ros.core.models.material_config import load_material_config
from spacemine_ros.nodes.common import ledger_totals, STATE_QOS
from spacemine_ros.params_files import load_params_file
from spacemine_ros.paths import share_path
from test.launched import LaunchedRig
from test.timing import wall

NODES = ['rig_sim', 'anchoring', 'drill', 'scraper', 'material_handling', 'smelter',
         'supervisor']
STEPS = [
    {'type': 'deploy_anchors', 'retries': 10},
    {'type': 'material_line', 'until': 'running', 'retries': 10},
    {'type': 'drill', 'depth': 0.05, 'retries': 10},
    {'type': 'scrape', 'passes': 1, 'pass_length': 0.15, 'retries': 10},
    {'type': 'material_line', 'until': 'drained', 'retries': 10},
]
# The smelter's case adds a small batch (the others would only wait for it).
PLANS = {'line': STEPS, 'smelt': STEPS + [{'type': 'smelt', 'charge': 0.1, 'retries': 10}]}
ACCOUNTS = ('excavated', 'hopper_metal', 'hopper_silicate', 'lost', 'products', 'volatiles',
            'slag', 'balance')
LEDGER_RESOLUTION = 0.05  # kg: material_handling's ledger_tolerance (config/rig.yaml)
KILLS = 10
LIVENESS = 3.0  # s: the supervisor's liveness_timeout here (10 s by default)
PACE = 20.0  # sim s per wall s at most, for a killed shift (rig_sim's max_realtime_factor)
SETTLED = 3.0  # wall s without a change of the ledger after the shift: all of it is in
# Bennu: cohesionless rubble, so a scraping pass started again after a stop cuts what
# the first would have, within its depth band (on cohesive ground the blade's force
# control makes a first try shallower, and a retry then cuts more: another shift, not a
# lost or doubled kilogram).
BODY = 'bennu'


# The supervisor's modes in which the rig stands stopped for a kill: no part of the shift.
STOPPED = ('estopped', 'paused')


class Watcher:
    """The rig's clock, the supervisor's mode and the ledger, seen from outside.

    worked: the sim time the shift has had, that is the clock less the time the rig stood
    stopped for a kill. While a node is silent the lockstep stops waiting for it and the
    clock runs on at the idle pace, so a restart that takes a few wall seconds can take
    hundreds of sim seconds: kill points on the clock would all fall right after the first
    restart; on this timeline they fall where the uninterrupted shift had them.
    stops_count: the rig works on through those modes (a restored supervisor's, while the
    line drains): they count too.
    """

    def __init__(self, namespace, stops_count=False):
        self.node = rclpy.create_node('kill_watcher', namespace=namespace)
        self.stopped = () if stops_count else STOPPED
        self.time = 0.0
        self.worked = 0.0
        self.mode = ''
        self.lost = ''  # what the supervisor finds silent
        self.ledger = {}
        self.clocks = 0  # clock messages seen since the last mark
        self.marks = []  # 'what clock/worked (clock messages since the mark before)'
        self.node.create_subscription(Clock, 'clock', self._on_clock, 10)
        self.node.create_subscription(MissionStatus, 'supervisor/status', self._on_status,
                                      STATE_QOS)
        self.node.create_subscription(Ledger, 'material/ledger', self._on_ledger, STATE_QOS)

    def _on_status(self, message):
        self.mode, self.lost = message.mode, ', '.join(message.lost)

    def _on_ledger(self, message):
        totals = ledger_totals(message)
        self.ledger = {name: totals[name] for name in ACCOUNTS if name in totals}

    def mark(self, what):
        self.marks.append(f'{what} {self.time:.2f}/{self.worked:.2f} ({self.clocks})')
        self.clocks = 0

    def _on_clock(self, message):
        time = message.clock.sec + message.clock.nanosec * 1e-9
        self.clocks += 1
        if self.mode not in self.stopped and time > self.time:
            self.worked += time - self.time
        self.time = time

    def spin_until(self, done, limit):
        end = time.monotonic() + wall(limit)
        while not done() and time.monotonic() < end:
            rclpy.spin_once(self.node, timeout_sec=0.05)
        return done()

    def flat_out(self):
        """Let the world run flat out (the kills are over); return whether it took it."""
        client = self.node.create_client(SetParameters, 'rig_sim/set_parameters')
        try:
            if not self.spin_until(client.service_is_ready, 30.0):
                return False
            future = client.call_async(SetParameters.Request(parameters=[
                Parameter('max_realtime_factor', value=0.0).to_parameter_msg()]))
            return self.spin_until(future.done, 30.0) and future.result().results[0].successful
        finally:
            self.node.destroy_client(client)

    def settle(self, quiet, limit):
        """Spin until the ledger has not changed for `quiet` wall s; return whether it did."""
        seen, since = dict(self.ledger), time.monotonic()

        def settled():
            nonlocal seen, since
            if self.ledger != seen:
                seen, since = dict(self.ledger), time.monotonic()
            return time.monotonic() - since >= quiet
        return self.spin_until(settled, limit)


def start(nodes, namespace, data_dir, plan_file, again, pace):
    """Start nodes of the rig in one process; again: as respawn would (--resume).

    pace: the world's max_realtime_factor (0: flat out).

    Its whole output goes on to data_dir/<first node>.log (the failures print the ends).
    """
    args = ['--body', BODY, '--namespace', namespace, '--nodes', ','.join(nodes),
            '--data-dir', data_dir]
    if 'supervisor' in nodes:
        args += ['--plan', plan_file, '--autostart', '-p',
                 f'supervisor.liveness_timeout={LIVENESS}']
    if 'rig_sim' in nodes:
        args += ['-p', f'rig_sim.max_realtime_factor={pace}']
    os.makedirs(data_dir, exist_ok=True)
    return LaunchedRig(args + (['--resume'] if again else []),
                       log=os.path.join(data_dir, f'{nodes[0]}.log'))


def stop(processes):
    running = [p for p in processes if p is not None]
    for launched in running:
        if launched.process.poll() is None:
            launched.process.send_signal(signal.SIGINT)
    for launched in running:
        try:
            launched.process.wait(timeout=60)
        except Exception:  # noqa: B902 - never leave a process behind
            launched.kill()


def run_shift(tmp_path, name, victim=None, kill_at=(), plan='line'):
    """Run a plan, the victim killed at each instant of kill_at (Watcher.worked); return facts.

    victim: a node of the rig, 'rig' for all of them at once, None for no kill.
    """
    namespace = f'/{name}{os.getpid()}'
    data_dir = str(tmp_path / name)
    plan_file = str(tmp_path / f'{name}.yaml')
    with open(plan_file, 'w', encoding='utf-8') as stream:
        yaml.safe_dump({'plan': {'name': f'kill_{plan}', 'steps': PLANS[plan]}}, stream)
    alone = [victim] if victim in NODES else NODES if victim == 'rig' else []
    groups = [group for group in (
        [n for n in NODES if n not in alone and n != 'supervisor'], alone,
        [] if 'supervisor' in alone else ['supervisor']) if group]
    # The supervisor's kills do not stop the rig, and the whole rig's clock stands still
    # while it is dead and goes on from where it stood: their whole clock is the shift's
    # (a restored rig's 'paused' can reach the watcher after the clock has run on).
    watcher = Watcher(namespace, stops_count=victim in ('supervisor', 'rig'))
    # A killed shift goes no faster than PACE: flat out, the line drained at 150 sim s per
    # wall s, faster than a restart's discovery, and the shift ended unseen before the
    # watcher could kill again.
    pace = PACE if victim else 0.0
    processes = [start(group, namespace, data_dir, plan_file, False, pace)
                 for group in groups]

    def outputs():  # the last words of every process (the world's, the victim's, ...)
        return '\n'.join(f'--- {", ".join(group)}:\n{launched.text[-2500:]}'
                         for group, launched in zip(groups, processes))
    killed_group = groups.index(alone) if alone else None
    kills, restored = [], 0
    try:
        for point in kill_at:
            assert watcher.spin_until(lambda: watcher.worked >= point or
                                      watcher.mode in ('completed', 'aborted'), 600.0), \
                f'stuck before {point} s: {watcher.mode}\n{outputs()}'
            if watcher.mode in ('completed', 'aborted'):
                break
            target = processes[killed_group]
            os.kill(target.process.pid, signal.SIGKILL)
            target.process.wait(timeout=60)
            kills.append(round(watcher.worked, 2))
            watcher.mark('killed')
            if 'supervisor' in alone:
                watcher.mode = ''  # the next mode comes from the new process
            else:
                # Silent long enough for the supervisor to see it (and latch the e-stop
                # if the plan is under way), then back.
                assert watcher.spin_until(lambda: victim in watcher.lost.split(', '), 120.0), \
                    f'{victim} killed, not seen silent\n{outputs()}'
            if 'material_handling' in alone:
                watcher.ledger = {}  # the shift's figures come from the new process
            processes[killed_group] = start(alone, namespace, data_dir, plan_file, True, pace)
            restored += 1
            if 'supervisor' not in alone:
                assert watcher.spin_until(lambda: victim not in watcher.lost.split(', '),
                                          120.0), \
                    f'{victim} not back\n{outputs()}'
            assert watcher.spin_until(lambda: watcher.mode in ('running', 'completed', 'ready'),
                                      180.0), f'not resumed: {watcher.mode}\n{outputs()}'
            watcher.mark(watcher.mode)
        if pace and len(kills) == len(kill_at):
            # The pace was there to give the watcher time to kill: the rest of the shift
            # runs flat out (paced, it took 15 of a tool's case's 110 wall s).
            watcher.mark('flat out' if watcher.flat_out() else 'still paced')
        assert watcher.spin_until(lambda: watcher.mode in ('completed', 'aborted'), 900.0), \
            outputs()
        watcher.mark(watcher.mode)
        assert watcher.mode == 'completed', outputs()
        assert watcher.spin_until(lambda: all(n in watcher.ledger for n in ACCOUNTS), 30.0)
        # The mode and the ledger come on different topics, in no set order: the last
        # bookings (a furnace's tap, say) can still be on their way when 'completed' is.
        assert watcher.settle(SETTLED, 120.0), f'the ledger kept changing: {watcher.ledger}'
        events = MissionStore(os.path.join(data_dir, 'mission.sqlite')).events()
        return {'ledger': dict(watcher.ledger), 'kills': kills, 'events': events,
                'time': watcher.time, 'marks': watcher.marks, 'output': outputs(),
                'texts': [p.text for p in processes]}
    finally:
        stop(processes)
        watcher.node.destroy_node()


# The last step each controller works in: its kills fall before that step ends in the
# uninterrupted run (killing an idle drill through the whole drain tests little).
LAST_STEP = {'drill': 'drill', 'scraper': 'scrape'}


# A supervisor's restart costs the shift tens of sim seconds (the rig drains on while the
# new process starts and takes the plan up), so its kills fall within the first 60 %: the
# last of them would otherwise come after the drain has ended.
SHARE = {'supervisor': 0.6}


def kill_points(seed, reference, victim=None):
    """Return KILLS seeded random sim times of a shift (of the part the victim works in).

    Uniform within the first 90 % (SHARE) of the uninterrupted shift's plan (up to its last step's
    end: the clock runs on at the idle pace after it), or up to 10 s after the end of the
    victim's last step in it (LAST_STEP).
    """
    finished = [when for when, _, kind, text in reference['events']
                if kind == 'step' and text.endswith(' done')]
    end = SHARE.get(victim, 0.9) * finished[-1]
    if victim in LAST_STEP:
        done = [when for when, _, kind, text in reference['events'] if kind == 'step' and
                text.endswith(f' {LAST_STEP[victim]} done')]
        end = done[-1] + 10.0
    draw = random.Random(seed)
    return sorted(draw.uniform(1.0, end) for _ in range(KILLS))


def depth_band():
    """Return the mass [kg] a scraping pass's depth tolerance weighs over its footprint.

    A pass cuts from where its blade reached depth within min(position_tolerance, 0.1 x
    cut_depth): one stopped while lowering is lowered again into its own start, reaches
    depth sooner and cuts up to that much deeper all along (seen: 1-2 mm over the pass,
    35-54 g, on an uninterrupted shift's 1.57 kg). Another cut, not a kilogram lost or
    counted twice: what it cut more goes where the rest went.
    """
    scraper = load_params_file(default_params_file())['/**/scraper']
    tolerance = min(scraper.get('position_tolerance', ScraperParams.position_tolerance),
                    0.1 * scraper.get('cut_depth', ScrapeRequest.cut_depth))
    width = load_material_config(share_path('config', 'material.yaml')).blade.width
    density = load_body(share_path('config', 'bodies.yaml'), BODY).regolith.density
    passes = [step for step in STEPS if step['type'] == 'scrape']
    return sum(width * step['pass_length'] * step['passes'] for step in passes) * \
        tolerance * density


def same_ledger(ledger, reference):
    """Nothing lost or counted twice: the ledger of a killed shift against an uninterrupted one.

    The ground cut may differ by a pass's depth band (depth_band()); each account then
    differs from the uninterrupted one by its share of that difference, within the ledger's
    resolution, and the books balance exactly.
    """
    more = ledger['excavated'] - reference['excavated']
    assert abs(more) <= LEDGER_RESOLUTION + depth_band(), ('excavated', ledger, reference)
    for name in ACCOUNTS[1:-1]:
        share = reference[name] / reference['excavated']
        assert abs(ledger[name] - reference[name] - share * more) <= LEDGER_RESOLUTION, (
            name, ledger, reference)
    assert abs(ledger['balance']) < 1e-9
    print('\nledger vs uninterrupted: ' + ', '.join(
        f'{name} {ledger[name]:.4f}/{reference[name]:.4f} kg' for name in ACCOUNTS[:-1]))


def steps_done(events, plan):
    done = [text for _, _, kind, text in events if kind == 'step' and text.endswith(' done')]
    names = [f'step {i + 1} {step["type"]} done' for i, step in enumerate(PLANS[plan])]
    return [name for name in names if name in done]


def timeline(events):
    return ', '.join(f'{when:.1f} {text}' for when, _, kind, text in events
                     if kind == 'step' and text.endswith(' done'))


def killed_shift(references, tmp_path, victim, seed, plan='line'):
    """Run the plan with the victim killed at its 10 points; check the ledger; return it."""
    reference = references(plan)
    run = run_shift(tmp_path, victim, victim, kill_points(seed, reference, victim), plan)
    assert len(run['kills']) == KILLS, (  # the shift ended before its last kill points
        f'killed at {run["kills"]}; ledger {run["ledger"]} vs {reference["ledger"]}\n'
        f'steps: {timeline(run["events"])}\nuninterrupted: {timeline(reference["events"])}\n'
        f'watched (clock/worked, clock messages): {", ".join(run["marks"])}\n{run["output"]}')
    print(f"\n{victim} killed at {run['kills']} s of the shift (its own timeline)")
    same_ledger(run['ledger'], reference['ledger'])
    return run, reference


def node_killed_shift(references, tmp_path, victim, seed, plan):
    """Kill one node at its 10 points: each kill seen, the same steps done; return the run."""
    run, reference = killed_shift(references, tmp_path, victim, seed, plan)
    events = run['events']
    silent = [text for _, _, kind, text in events if kind == 'fault' and
              text == f'{victim} silent']
    # Each kill seen, the rig stopped, then resumed (a starved host may add a false one).
    assert len(silent) >= KILLS
    assert steps_done(events, plan) == steps_done(reference['events'], plan)
    return run
