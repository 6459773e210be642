"""The mission supervisor's logic: the rig's mode, the plan's steps, operator commands.

Mission is an explicit state machine (the `transitions` library) over the rig's modes:

    idle -> ready (plan loaded) -> running <-> paused -> completed | aborted
    running -> holding (a step failed with on_failure: hold)
    any mode -> estopped (e-stop latched) -> paused, or the mode it came from if no plan
    was under way (reset, refused while a cause other than the operator's persists)

While running, tick() with the latest Observation advances the current step: it hands
out the step's actions (goals to the controllers' actions, which carry the job's
parameters, and Trigger calls that clear faults; one at a time: the node sends them and
reports each with action_done(), a goal as soon as it is accepted or rejected), then
watches the controllers' states until the step is done, failed or timed out. A failure
is retried `retries` times (after its retry_delay and recover actions), then its on_failure
policy applies. Pause, hold, abort and e-stop send the current step's stop actions.

A watched node or stream that goes silent while a plan is under way latches the e-stop
with itself as the cause; once it is back, a plan with auto_resume goes on by itself.

Operator commands carry the time they were issued and how long they stay valid; a stale,
future or out-of-order command is refused with the reason (an e-stop never is). Every
change goes to on_event(kind, text) so the node can log and persist it. No rclpy.
"""

from dataclasses import dataclass, field
import math

from transitions import Machine, MachineError

from spacemine_ros.core.control import states as S

MODES = ('idle', 'ready', 'running', 'paused', 'holding', 'estopped', 'completed',
         'aborted')
ACTIVE = ('running', 'paused', 'holding')  # a plan under way
COMMANDS = ('load_plan', 'start', 'pause', 'resume', 'abort', 'estop', 'reset')
FUTURE_TOLERANCE = 5.0  # s a command's issue time may be ahead of the rig's clock
# s (rig clock) after a reset before the first action: the release, a latched topic,
# reaches every node before a service call that it would refuse while latched.
RELEASE_SETTLE = 0.25
# s (rig clock) a restarted tool's refusals are tried again, every RESTART_RETRY: a new
# instance refuses until it has heard the rig's latched state (the anchors' state, the
# e-stop), which reaches it once discovery has matched it.
RESTART_GRACE = 10.0
RESTART_RETRY = 0.5
OPERATOR = 'operator'
LIVENESS = 'liveness'
# States a tool passes through while stopping: a step (re)starts once they are over.
SETTLING = {'drill': S.DRILL_SETTLING, 'scrape': S.SCRAPER_SETTLING,
            'smelt': S.FURNACE_SETTLING}
# The states in which a step's tools are at it (or done with it).
UNDER_WAY = {'deploy_anchors': S.ANCHORS_DEPLOYING + (S.ANCHORED,),
             'release_anchors': S.ANCHORS_RELEASING + (S.STOWED,),
             'material_line': S.LINE_RUNNING,
             'drill': S.DRILL_WORKING + (S.DONE,),
             'scrape': S.SCRAPER_WORKING + (S.DONE,),
             'smelt': S.FURNACE_WORKING + (S.DONE,)}


@dataclass(frozen=True)
class Call:
    """Call a controller's Trigger service (a reset)."""

    service: str  # e.g. 'scraper/reset'
    assume: tuple = ()  # (controller, state) to take until the next state message


@dataclass(frozen=True)
class Goal:
    """Send a goal to a controller's action; accepted, its tool is at it (assume its state).

    action: the action's name under the controller (docs/interfaces.md), e.g.
    'drill_to_depth'; fields: the goal's ((name, value), ...).
    """

    controller: str
    action: str
    fields: tuple = ()
    assume: tuple = ()  # (controller, state) to take until the next state message

    @property
    def service(self):
        """Return the action's name in the rig's namespace (e.g. 'drill/drill_to_depth')."""
        return f'{self.controller}/{self.action}'


@dataclass(frozen=True)
class Cancel:
    """Cancel every goal of a controller's action: the safe stop of its tool."""

    controller: str
    action: str

    @property
    def service(self):
        """Return the action's name in the rig's namespace."""
        return f'{self.controller}/{self.action}'


@dataclass
class Observation:
    """What the supervisor knows of the rig at one instant (its clock, in seconds)."""

    time: float
    states: dict = field(default_factory=dict)  # controller -> state ('' unknown)
    safe_capacity: float = 0.0  # N
    in_transit: float = math.inf  # kg on tools, conveyor and separator
    power_available: float = math.nan  # W
    battery: float = math.nan  # state of charge 0..1


class Steps:
    """What each step type does on a given rig: actions, completion, stop and recover."""

    def __init__(self, rig):
        self.anchoring = rig.anchoring_controller
        self.drills = [s.controller for s in rig.by_kind('drill')]
        self.scrapers = [s.controller for s in rig.by_kind('scraper')]
        line = rig.by_kind('material_line')
        furnace = rig.by_kind('furnace')
        self.line = line[0].controller if line else None
        self.smelter = furnace[0].controller if furnace else None

    def tools(self, step):
        """Return the controllers a step drives."""
        if step.type in ('deploy_anchors', 'release_anchors'):
            return [self.anchoring]
        if step.type == 'drill':
            return list(step.drills) or self.drills
        if step.type == 'scrape':
            return list(step.scrapers) or self.scrapers
        if step.type == 'material_line':
            return [self.line]
        if step.type == 'smelt':
            return [self.smelter]
        return []

    def actions(self, step, obs):
        """Return the actions that start a step (in order)."""
        tools = self.tools(step)
        if step.type == 'deploy_anchors':
            if obs.states.get(self.anchoring) in UNDER_WAY['deploy_anchors']:
                return []
            return [Goal(self.anchoring, 'deploy',
                         assume=((self.anchoring, S.ANCHORS_DEPLOYING[0]),))]
        if step.type == 'release_anchors':
            if obs.states.get(self.anchoring) in UNDER_WAY['release_anchors']:
                return []
            return [Goal(self.anchoring, 'release',
                         assume=((self.anchoring, S.ANCHORS_RELEASING[0]),))]
        if step.type == 'drill':
            return [Goal(drill, 'drill_to_depth', (('depth', float(step.depth)),),
                         ((drill, S.DRILL_WORKING[0]),)) for drill in tools]
        if step.type == 'scrape':
            # An area: the scraper works out its passes from its own pass geometry.
            fields = (('area', float(step.area or 0.0)), ('passes', int(step.passes or 0)),
                      ('pass_length', float(step.pass_length or 0.0)))
            return [Goal(scraper, 'scrape', fields, ((scraper, S.SCRAPER_WORKING[0]),))
                    for scraper in tools]
        if step.type == 'material_line':
            if obs.states.get(self.line) in S.LINE_RUNNING:
                return []
            # The step itself watches the mass in transit: the goal is done once it runs.
            return [Goal(self.line, 'drain', (('drained_below', math.inf),),
                         ((self.line, S.LINE_RUNNING[0]),))]
        if step.type == 'smelt':
            fields = (('recipe', step.recipe or ''),
                      ('charge_mass', float(step.charge) if step.charge else 0.0))
            return [Goal(self.smelter, 'smelt_batch', fields,
                         ((self.smelter, S.FURNACE_WORKING[0]),))]
        return []

    def under_way(self, step, obs):
        """Return whether a step's tools are at it (or done with it) now."""
        working = UNDER_WAY
        if step.type not in working:
            return True  # a wait: nothing to start
        return all(obs.states.get(tool) in working[step.type] for tool in self.tools(step))

    def settling(self, step, obs):
        """Return the tools of a step still stopping from before (start them after)."""
        waits = SETTLING.get(step.type, ())
        return [tool for tool in self.tools(step) if obs.states.get(tool) in waits]

    def status(self, step, obs, started):
        """Return ('running' | 'done' | 'failed', reason, progress text) of a step."""
        tools = self.tools(step)
        states = [obs.states.get(tool, '') for tool in tools]
        faulted = [tool for tool, state in zip(tools, states) if state == S.FAULT]
        if faulted:
            return 'failed', f'{", ".join(faulted)} in FAULT (see its log)', ''
        text = ' '.join(f'{tool} {state or "?"}' for tool, state in zip(tools, states))
        if step.type == 'deploy_anchors':
            done = states[0] == S.ANCHORED and obs.safe_capacity > 0.0
            return ('done' if done else 'running'), '', text
        if step.type == 'release_anchors':
            return ('done' if states[0] == S.STOWED else 'running'), '', text
        if step.type in ('drill', 'scrape', 'smelt'):
            stopped = [tool for tool, state in zip(tools, states) if state == S.IDLE]
            if stopped:
                return 'failed', f'{", ".join(stopped)} stopped before finishing', text
            return ('done' if all(s == S.DONE for s in states) else 'running'), '', text
        if step.type == 'material_line':
            if states[0] == S.LINE_STOPPED:
                return 'failed', f'{self.line} stopped', text
            running = states[0] in S.LINE_RUNNING
            if step.until == 'running':
                return ('done' if running else 'running'), '', text
            text += f' in transit {obs.in_transit:.3f} kg'
            return ('done' if running and obs.in_transit < step.drained_below
                    else 'running'), '', text
        if step.type == 'wait':
            waits = []
            if step.seconds is not None and obs.time - started < step.seconds:
                waits.append(f'{step.seconds - (obs.time - started):.0f} s left')
            if step.power is not None and not obs.power_available >= step.power:
                waits.append(f'power {obs.power_available:.0f} of {step.power:.0f} W')
            if step.battery is not None and not obs.battery >= step.battery:
                waits.append(f'battery {obs.battery:.2f} of {step.battery:.2f}')
            return ('running' if waits else 'done'), '', ', '.join(waits) or 'ready'
        return 'failed', f'unknown step type {step.type}', ''

    def stop_actions(self, step):
        """Return the actions that leave a step's tools safe (pause, hold, abort)."""
        if step.type == 'drill':
            return [Cancel(d, 'drill_to_depth') for d in self.tools(step)]
        if step.type == 'scrape':
            return [Cancel(s, 'scrape') for s in self.tools(step)]
        if step.type == 'smelt':
            return [Cancel(self.smelter, 'smelt_batch')]
        return []

    def recover_actions(self, step):
        """Return the actions that clear a failed step's faults before a retry."""
        if step.type == 'scrape':
            return [Call(f'{s}/reset') for s in self.tools(step)]
        if step.type == 'smelt':
            return [Call(f'{self.smelter}/reset')]
        if step.type == 'material_line':
            return [Call(f'{self.line}/reset')]
        return []


class Mission:
    """The supervisor's state machine and step engine (see the module's docstring)."""

    def __init__(self, rig, on_event=None):
        self.steps = Steps(rig)
        self.on_event = on_event or (lambda kind, text: None)
        self.plan = None
        self.step_index = 0
        self.attempt = 0
        self.step_started = None  # rig time the current step's watch began
        self.step_entered = None  # rig time the current step (or attempt) was entered
        self.queue = []  # actions still to send for the current step
        self.outstanding = None  # the action sent, waiting for its result
        self.stops = []  # actions that make the current step's tools safe, to send now
        self.lenient = []  # queued clearing actions whose refusal is no failure
        self.watch_only = False  # restored with the step's actions already sent
        self.causes = set()  # what keeps the e-stop latched
        self.estop_from = 'idle'
        self.lost = set()  # nodes or streams found silent
        self.reason = ''  # why the mode is what it is (last failure, abort, hold)
        self.last_issued = -math.inf
        self.time = 0.0
        self.settle_until = -math.inf  # no action before this rig time (RELEASE_SETTLE)
        self.retry_at = -math.inf  # nor before this one (a step's retry_delay)
        self.restarted_until = {}  # controller: until when its refusals are tried again
        self.progress = ''
        self.machine = Machine(model=self, states=list(MODES), initial='idle',
                               auto_transitions=False, send_event=False,
                               after_state_change='_mode_changed')
        add = self.machine.add_transition
        add('load', ['idle', 'ready', 'completed', 'aborted'], 'ready')
        add('begin', 'ready', 'running')
        add('pause', 'running', 'paused')
        add('resume', ['paused', 'holding'], 'running')
        add('hold', 'running', 'holding')
        add('finish', 'running', 'completed')
        add('fail', ['running', 'paused', 'holding'], 'aborted')
        add('abort', ['ready', 'running', 'paused', 'holding'], 'aborted')
        add('latch', [m for m in MODES if m != 'estopped'], 'estopped')
        add('unlatch', 'estopped', 'paused', conditions='_plan_was_active')
        for mode in ('idle', 'ready', 'completed', 'aborted'):
            add('unlatch', 'estopped', mode,
                conditions=lambda mode=mode: self.estop_from == mode)

    # Modes --------------------------------------------------------------------------------
    def _mode_changed(self):
        self.on_event('mode', f'mode {self.state}' + (f': {self.reason}' if self.reason else ''))

    def _plan_was_active(self):
        return self.estop_from in ACTIVE

    @property
    def step(self):
        """Return the step under way (None when no plan or past its end)."""
        if self.plan is None or self.step_index >= len(self.plan.steps):
            return None
        return self.plan.steps[self.step_index]

    def status(self):
        """Return the figures of the mission now (for the status topic and query)."""
        step = self.step
        return {
            'mode': self.state,
            'plan': self.plan.name if self.plan else '',
            'step': str(self.step_index + 1 if step else 0),
            'steps': str(len(self.plan.steps) if self.plan else 0),
            'step_type': step.type if step else '',
            'step_title': step.title if step else '',
            'attempt': str(self.attempt),
            'progress': self.progress,
            'reason': self.reason,
            'estop_causes': ', '.join(sorted(self.causes)),
            'lost': ', '.join(sorted(self.lost)),
        }

    def describe(self):
        """One line for the status query."""
        s = self.status()
        text = f'{s["mode"]}'
        if s['plan']:
            text += f'; plan {s["plan"]} step {s["step"]}/{s["steps"]}'
            if s['step_title']:
                text += f' {s["step_title"]}'
            if s['progress']:
                text += f' ({s["progress"]})'
        if s['reason']:
            text += f'; {s["reason"]}'
        if s['estop_causes']:
            text += f'; e-stop: {s["estop_causes"]}'
        return text

    # Operator commands --------------------------------------------------------------------
    def command(self, name, issued_at, valid_for, now, plan=None):
        """Apply an operator command issued at `issued_at`, valid for `valid_for` s.

        Returns (accepted, reason). Refused: not finite, stale (now past issued_at +
        valid_for), from the future (beyond FUTURE_TOLERANCE), out of order (issued before
        the last command accepted), or not possible in this mode. An e-stop is never
        refused for its age or order: it is applied and the lateness logged.
        """
        self.time = now
        accepted, reason = self._command(name, issued_at, valid_for, now, plan)
        self.on_event('command', f'{name} issued at {issued_at:.3f} valid for '
                      f'{valid_for:g} s: ' + ('accepted' if accepted else 'refused')
                      + (f': {reason}' if reason else ''))
        return accepted, reason

    def _command(self, name, issued_at, valid_for, now, plan):
        if name not in COMMANDS:
            return False, f'unknown command {name!r}; commands: {", ".join(COMMANDS)}'
        if not (math.isfinite(issued_at) and math.isfinite(valid_for) and valid_for > 0):
            return False, 'issued_at and valid_for must be finite, valid_for > 0'
        late = ''
        if now > issued_at + valid_for:
            late = (f'stale: issued at {issued_at:.3f} s, valid for {valid_for:g} s, '
                    f'now {now:.3f} s')
        elif issued_at > now + FUTURE_TOLERANCE:
            late = f'issued at {issued_at:.3f} s, in the future of the rig clock {now:.3f} s'
        elif issued_at < self.last_issued:
            late = (f'out of order: issued at {issued_at:.3f} s, before the last command '
                    f'accepted ({self.last_issued:.3f} s)')
        if name == 'estop':
            self.estop(OPERATOR)
            return True, f'e-stop latched (late: {late})' if late else 'e-stop latched'
        if late:
            return False, late
        accepted, reason = getattr(self, f'_do_{name}')(plan)
        if accepted:
            self.last_issued = issued_at
        return accepted, reason

    def _refusal(self, action):
        return False, f'cannot {action} while {self.state}'

    def _do_load_plan(self, plan):
        if plan is None:
            return False, 'no plan given'
        if not self.may_load():
            return self._refusal('load a plan')
        self.plan, self.step_index, self.attempt, self.reason = plan, 0, 0, ''
        self.queue, self.outstanding, self.step_started = [], None, None
        self.load()
        return True, f'plan {plan.name} loaded: {len(plan.steps)} steps'

    def _do_start(self, plan=None):
        if not self.may_begin():
            return self._refusal('start')
        self.reason = ''
        self.begin()
        self._enter_step()
        return True, f'started plan {self.plan.name}'

    def _do_pause(self, plan=None):
        if not self.may_pause():
            return self._refusal('pause')
        self.reason = 'paused by the operator'
        self._stop_step()
        self.pause()
        return True, 'paused'

    def _do_resume(self, plan=None):
        if not self.may_resume():
            return self._refusal('resume')
        if self.lost:
            return False, f'cannot resume: still silent: {", ".join(sorted(self.lost))}'
        self.reason = ''
        self.resume()
        if self.watch_only:
            # Taken up after a restart while the step's tools were working on it: if
            # only the supervisor restarted they still are, and are watched to the end;
            # if they restarted too, the step starts again (decided on what they say).
            self.watch_only = False
            self.queue, self.outstanding, self.step_started = [_Resumed(self.step)], None, None
            self.step_entered = None
            self.on_event('step', f'step {self.step_index + 1}/{len(self.plan.steps)} '
                          f'{self.step.title} (under way?)')
        elif self.step_started is not None and self.step is not None:
            # Stopped while its tools had their goals: they may have finished it in the
            # meantime (or at the instant of the stop), and a finished job started again
            # is done twice (a second scraping pass). It is looked at first.
            self.queue, self.outstanding, self.step_started = [_Stopped(self.step)], None, None
            self.step_entered = None
        else:
            self._enter_step(recover=True)  # faults left by the stop cleared first
        return True, f'resumed at step {self.step_index + 1}'

    def _do_abort(self, plan=None):
        if not self.may_abort():
            return self._refusal('abort')
        self.reason = 'aborted by the operator'
        self._stop_step()
        self.abort()
        return True, 'aborted'

    def _do_reset(self, plan=None):
        return self.reset_estop()

    # E-stop and liveness ------------------------------------------------------------------
    def estop(self, cause):
        """Latch the e-stop for a cause (operator, liveness, a node's report...)."""
        new = cause not in self.causes
        self.causes.add(cause)
        if self.state != 'estopped':
            self.estop_from = self.state
            self.queue, self.outstanding = [], None  # the nodes stop on the e-stop itself
            self.reason = f'e-stop: {cause}'
            self.latch()
        elif new:
            self.on_event('estop', f'also latched by {cause}')

    def clear_cause(self, cause):
        """Forget a cause of the e-stop that is gone (the reset is still asked for)."""
        self.causes.discard(cause)

    def reset_estop(self):
        """Release the e-stop; refused while a cause other than the operator's persists."""
        if self.state != 'estopped':
            return False, 'the e-stop is not latched'
        persisting = sorted(self.causes - {OPERATOR})
        if persisting:
            return False, f'cause persists: {", ".join(persisting)}'
        self.causes.clear()
        self.reason = 'e-stop reset: resume when ready' if self._plan_was_active() else ''
        self.settle_until = self.time + RELEASE_SETTLE
        self.unlatch()
        return True, 'e-stop reset' + ('; the plan is paused until resumed'
                                       if self.state == 'paused' else '')

    def liveness(self, lost, now):
        """Update the set of silent nodes/streams (see the module's docstring).

        While a plan is under way, each one that goes silent latches the e-stop with
        itself as a cause (every actuator safe; the reset is refused while it stays
        silent). When the last one is back and nothing else holds the e-stop, a plan
        with auto_resume resets it and resumes by itself; otherwise it waits for the
        operator's reset and resume.
        """
        self.time = now
        lost = set(lost)
        if lost == self.lost:
            return
        gone, back = lost - self.lost, self.lost - lost
        self.lost = lost
        for name in sorted(gone):
            self.on_event('fault', f'{name} silent')
            if self.state in ACTIVE or (self.state == 'estopped' and self._plan_was_active()):
                self.estop(f'{LIVENESS}: {name} silent')
        for name in sorted(back):
            self.on_event('fault', f'{name} back')
            self.clear_cause(f'{LIVENESS}: {name} silent')
        if lost or self.state != 'estopped' or self.causes:
            return
        if back and self._plan_was_active() and self.plan.auto_resume \
                and self.estop_from == 'running':
            self.reset_estop()
            self.on_event('resume', f'everything back: resuming step {self.step_index + 1}')
            self._do_resume()
        elif back:
            self.reason = 'everything back: reset the e-stop and resume when ready'

    def restarted(self, name, now):
        """Note that a node was started again (a new instance of it was heard).

        One back sooner than liveness_timeout was never heard silent, and comes back
        stopped, as every node starts: a tool of the step under way is then not at the
        step any more, which is not the tool quitting its job. The step is looked at
        again as after a resume: tools still at it are watched to the end, and a step
        whose tools are not starts again, recovering what earlier steps left standing.
        A node that was heard silent is handled by its return (liveness) instead.
        """
        self.time = now
        self.on_event('fault', f'{name} restarted')
        self.restarted_until[name] = now + RESTART_GRACE
        if self.state != 'running' or self.step is None or name in self.lost or \
                name not in self.steps.tools(self.step):
            return
        self.on_event('step', f'step {self.step_index + 1} {self.step.title}: {name} '
                      'restarted: looking at the step again')
        self.queue, self.outstanding, self.step_started = [_Resumed(self.step)], None, None
        self.step_entered = None

    # Step engine ------------------------------------------------------------------------------
    def _enter_step(self, recover=False):
        """Queue the current step's actions (built when sent, from the rig as it is then).

        recover (a retry, a resume after a hold or an e-stop): first bring back what
        earlier steps left standing, which the stop (or a restarted controller) may have
        undone: the anchors deployed (and waited for), the material line running; then
        clear the step's faults. Refusals of those clearing actions are not failures.
        """
        step = self.step
        if step is None:
            self.reason = ''
            self.progress = ''
            self.finish()
            return
        self.step_started = None
        self.step_entered = None
        self.lenient = []
        background = []
        if recover:
            earlier = self.plan.steps[:self.step_index]
            anchors = [s for s in earlier if s.type in ('deploy_anchors', 'release_anchors')]
            if anchors and anchors[-1].type == 'deploy_anchors' and step.type not in (
                    'deploy_anchors', 'release_anchors'):
                # The rig must be anchored again before its tools work (an anchoring
                # controller restarted meanwhile holds its anchors unproven).
                background += [_Expand(anchors[-1], False), _Await(anchors[-1])]
            lines = [s for s in earlier if s.type == 'material_line']
            if lines and step.type != 'material_line':
                self.lenient += self.steps.recover_actions(lines[-1])
                background.append(_Expand(lines[-1], False))
            self.lenient += self.steps.recover_actions(step)
        self.queue = list(self.lenient) + background + [_Expand(step, True)]
        self.outstanding = None
        self.on_event('step', f'step {self.step_index + 1}/{len(self.plan.steps)} '
                      f'{step.title}' + (f' attempt {self.attempt + 1}' if self.attempt else ''))

    def _stop_step(self):
        step = self.step
        self.queue = []
        self.outstanding = None
        if step is not None:
            self.stops.extend(self.steps.stop_actions(step))

    def take_stop_actions(self):
        """Return (and forget) the stop actions to send now, whatever their results."""
        stops, self.stops = self.stops, []
        return stops

    def next_action(self, obs):
        """Return the next action to send (None: none now). Call tick() first."""
        if self.state != 'running' or self.outstanding is not None or not self.queue:
            return None
        if obs.time < self.settle_until:
            self.progress = 'waiting for the e-stop release to reach every node'
            return None
        if obs.time < self.retry_at:
            self.progress = f'retrying in {self.retry_at - obs.time:.0f} s'
            return None
        if self.queue and isinstance(self.queue[0], _Stopped):
            step = self.queue[0].step
            if self._waiting_for_states(step, obs):
                return None
            if self.steps.status(step, obs, obs.time)[0] == 'done':
                self.on_event('step', f'step {self.step_index + 1} {step.title}: finished '
                              'while the rig stood stopped')
                self.queue, self.step_started = [], obs.time  # tick() moves on
                return None
            self._enter_step(recover=True)  # faults left by the stop cleared first
        if self.queue and isinstance(self.queue[0], _Resumed):
            step = self.queue[0].step
            if self._waiting_for_states(step, obs):
                return None
            if self.steps.under_way(step, obs):
                self.queue, self.step_started = [], obs.time  # watch it to its end
                return None
            self.on_event('step', f'step {self.step_index + 1} {step.title}: its tools '
                          'are not at it any more: starting it again')
            self._enter_step(recover=True)
            return None
        while self.queue and isinstance(self.queue[0], (_Expand, _Await)):
            marker = self.queue[0]
            if isinstance(marker, _Await):
                state, reason, progress = self.steps.status(marker.step, obs, obs.time)
                if state == 'failed':
                    self._failed(f'{marker.step.title} again: {reason}', obs.time)
                    return None
                if state != 'done':
                    self.progress = f'waiting for {marker.step.title} ({progress})'
                    return None
                self.queue = self.queue[1:]
                continue
            if self._waiting_for_states(marker.step, obs):
                return None  # e.g. a controller just restarted: act on what it says it is
            if marker.current:
                settling = self.steps.settling(marker.step, obs)
                if settling:
                    self.progress = f'waiting for {", ".join(settling)} to stop'
                    return None
            self.queue = self.steps.actions(marker.step, obs) + self.queue[1:]
        if not self.queue:
            self.step_started = obs.time
            return None
        self.outstanding = self.queue.pop(0)
        return self.outstanding

    def _waiting_for_states(self, step, obs):
        """Tell whether a step's tools have not all reported a state yet (progress says so)."""
        unknown = [t for t in self.steps.tools(step) if not obs.states.get(t)]
        if unknown:
            self.progress = f'waiting for the state of {", ".join(unknown)}'
        return bool(unknown)

    def action_done(self, action, success, message, now):
        """Report the result of an action sent by next_action()."""
        if action is not self.outstanding:
            return  # the step was stopped meanwhile
        self.outstanding = None
        if self.state != 'running':
            return
        if not success and not self._recovering(action):
            controller = getattr(action, 'controller', None)
            if now < self.restarted_until.get(controller, -math.inf):
                self.queue.insert(0, action)
                self.retry_at = now + RESTART_RETRY
                self.progress = f'{controller} restarted and refused: trying again'
                return
            self._failed(f'{_name(action)} refused: {message}', now)
            return
        if not self.queue:
            self.step_started = now
            self.on_event('step', f'step {self.step_index + 1} {self.step.title}: under way')

    def _recovering(self, action):
        return action in self.lenient

    def tick(self, obs):
        """Advance the current step with what the rig looks like now."""
        self.time = obs.time
        if self.state != 'running' or self.step is None:
            return
        step = self.step
        if self.step_entered is None:
            self.step_entered = obs.time
        if self.queue or self.outstanding is not None:
            # Still waiting to act (for a tool's state, a tool to settle): the step's
            # timeout bounds that wait too, so a tool that never reports fails the step.
            if self.outstanding is None and obs.time - self.step_entered > step.timeout:
                self._failed(f'timed out after {step.timeout:g} s before it could start '
                             f'({self.progress or "waiting"})', obs.time)
            return
        if self.step_started is None:
            self.step_started = obs.time
        state, reason, progress = self.steps.status(step, obs, self.step_started)
        self.progress = progress
        if state == 'running' and obs.time - self.step_started > step.timeout:
            state, reason = 'failed', f'timed out after {step.timeout:g} s ({progress})'
        if state == 'done':
            # Moved on before the event is recorded: the snapshot stored with it must
            # not bring a restarted supervisor back to a finished step.
            number = self.step_index + 1
            self.step_index += 1
            self.attempt = 0
            self.step_started = None  # the next step is not under way yet
            self.on_event('step', f'step {number} {step.title} done')
            self._enter_step()
        elif state == 'failed':
            self._failed(reason, obs.time)

    def _failed(self, reason, now):
        step = self.step
        text = f'step {self.step_index + 1} {step.title} failed: {reason}'
        self.on_event('fault', text)
        if self.attempt < step.retries:
            self.attempt += 1
            self._stop_step()
            self._enter_step(recover=True)
            self.retry_at = now + step.retry_delay
            return
        self.attempt = 0
        if step.on_failure == 'skip':
            number = self.step_index + 1
            self.step_index += 1
            self.step_started = None
            self.on_event('step', f'skipping step {number} {step.title}')
            self._enter_step()
        elif step.on_failure == 'hold':
            self.reason = f'{text}: holding for the operator (resume retries the step)'
            self._stop_step()
            self.hold()
        else:
            self.reason = f'{text}: shift aborted'
            self._stop_step()
            self.fail()

    # Persistence ----------------------------------------------------------------------------
    def snapshot(self):
        """Return what must survive a crash to resume (see restore())."""
        acted = (self.state == 'running' and not self.queue and self.outstanding is None
                 and self.step_started is not None)
        return {'mode': self.state, 'step_index': self.step_index, 'attempt': self.attempt,
                'acted': acted,
                'reason': self.reason, 'last_issued': self.last_issued,
                'estop_from': self.estop_from, 'causes': sorted(self.causes)}

    def restore(self, plan, snapshot):
        """Take up a stored mission: the same plan and step, paused (or estopped).

        A plan that was under way comes back paused at the step it stood on: the
        operator (or the resume option) resumes it. If the step's actions had all been
        sent, its tools are still at work (only the supervisor restarted): it is watched
        to its end, not started again. Otherwise the step starts again from the rig's
        state as it is, so what is already achieved (anchored, line running) is not
        repeated.
        """
        self.plan = plan
        self.step_index = min(int(snapshot['step_index']), len(plan.steps))
        self.attempt = int(snapshot.get('attempt', 0))
        self.last_issued = float(snapshot.get('last_issued', -math.inf))
        mode = snapshot['mode']
        self.watch_only = mode == 'running' and bool(snapshot.get('acted'))
        if mode == 'estopped':
            self.causes = set(snapshot.get('causes', [OPERATOR]))
            self.estop_from = snapshot.get('estop_from', 'paused')
            target = 'estopped'
        elif mode in ACTIVE:
            target = 'paused'
        else:  # idle, ready, completed, aborted: as it was
            target = mode
        self.reason = f'restored after a restart (was {mode})'
        self.machine.set_state(target)
        self._mode_changed()


@dataclass(frozen=True)
class _Expand:
    """In the queue: send a step's actions, built from the rig as it is when reached."""

    step: object
    current: bool  # the step under way (waits for its tools to settle first)


@dataclass(frozen=True)
class _Resumed:
    """In the queue: a step taken up after a restart; watch it or start it again."""

    step: object


@dataclass(frozen=True)
class _Stopped:
    """In the queue: a step resumed after a stop; finished meanwhile, or started again."""

    step: object


@dataclass(frozen=True)
class _Await:
    """In the queue: go on once an earlier step's goal holds again (anchored, say)."""

    step: object


def _name(action):
    return action.service


__all__ = ['Call', 'Cancel', 'COMMANDS', 'Goal', 'MachineError', 'Mission', 'MODES',
           'Observation', 'Steps']
