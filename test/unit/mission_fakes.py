"""A stand-in for the rig's controllers, to drive core.mission.supervisor.Mission without ROS.

Each goal moves a controller into its working state; advance() finishes the work after
`work_time` seconds (the anchors hold, the hole is drilled, ...). Failures and refusals
are injected per action. rig.calls lists what was sent: a goal or a Trigger call by its
name ('drill/drill_to_depth', 'scraper/reset'), a cancel as 'drill/drill_to_depth:cancel'.
"""

import math
import os

from spacemine_ros.core.mission.plan import load_plan
from spacemine_ros.core.rig_interface import load_rig_interface
from spacemine_ros.core.mission.supervisor import Cancel, Goal, Mission, Observation
from test.conftest import CONFIG

# action -> (state while working, state when done)
WORK = {
    'deploy': ('DEPLOYING', 'ANCHORED'), 'release': ('RELEASING', 'STOWED'),
    'drill_to_depth': (None, 'DONE'), 'scrape': (None, 'DONE'),
    'smelt_batch': ('HEATING', 'DONE'),
}
WORKING = {'drill': 'DRILLING', 'drill_a': 'DRILLING', 'drill_b': 'DRILLING',
           'scraper': 'CUTTING', 'material_handling': 'RUNNING'}


def rig_interface(name='default'):
    return load_rig_interface(os.path.join(CONFIG, 'rigs', f'{name}.yaml'))


def default_plan():
    return load_plan(os.path.join(CONFIG, 'plans', 'bennu_shift.yaml'))


class FakeRig:
    """Controllers' states as the supervisor sees them, moved by its actions."""

    def __init__(self, rig, work_time=5.0):
        self.states = {s.controller: '' for s in rig.subsystems.values()}
        for controller in self.states:
            self.states[controller] = 'IDLE'
        self.states[rig.anchoring_controller] = 'STOWED'
        for s in rig.by_kind('material_line'):
            self.states[s.controller] = 'STOPPED'
        self.time = 0.0
        self.capacity = 0.0
        self.in_transit = 2.0
        self.power = 5000.0
        self.battery = 0.9
        self.work_time = work_time
        self.busy = {}  # controller -> (done at, done state)
        self.calls = []
        self.goals = {}  # controller -> [{field: value} of each goal]
        self.refuse = {}  # service -> remaining refusals
        self.fault = {}  # controller -> remaining faults while working
        self.moving = set()  # controllers whose actuators move now

    def observation(self):
        return Observation(time=self.time, states=dict(self.states),
                           safe_capacity=self.capacity, in_transit=self.in_transit,
                           power_available=self.power, battery=self.battery)

    def act(self, action):
        controller, _, service = action.service.partition('/')
        name = action.service
        if isinstance(action, Cancel):
            name, service = f'{name}:cancel', 'abort'
        elif isinstance(action, Goal):
            self.goals.setdefault(controller, []).append(dict(action.fields))
        self.calls.append(name)
        if self.refuse.get(name, 0) > 0:
            self.refuse[name] -= 1
            return False, 'refused by the fake'
        if service == 'abort':
            self.busy.pop(controller, None)
            self.moving.discard(controller)
            if self.states[controller] not in ('DONE', 'FAULT'):
                self.states[controller] = 'IDLE'
            return True, 'stopped'
        if service == 'reset':
            if self.states[controller] == 'FAULT':
                self.states[controller] = ('STOPPED' if controller == 'material_handling'
                                           else 'IDLE')
                return True, 'reset'
            return False, 'not in fault'
        if controller == 'material_handling' and service == 'drain':
            self.states[controller] = 'RUNNING'
            self.moving.add(controller)
            return True, 'running'
        working, done = WORK[service]
        working = working or WORKING[controller]
        self.states[controller] = working
        self.moving.add(controller)
        self.busy[controller] = (self.time + self.work_time, done)
        return True, 'started'

    def estop(self):
        """Do what every node does on the e-stop: work under way faults, nothing moves."""
        for controller in list(self.busy):
            self.states[controller] = 'FAULT'
        if self.states.get('material_handling') == 'RUNNING':
            self.states['material_handling'] = 'FAULT'
        self.busy.clear()
        self.moving.clear()

    def advance(self, dt=1.0):
        self.time += dt
        for controller, (when, done) in list(self.busy.items()):
            if self.fault.get(controller, 0) > 0 and self.time >= when - self.work_time / 2:
                self.fault[controller] -= 1
                self.states[controller] = 'FAULT'
                self.moving.discard(controller)
                del self.busy[controller]
            elif self.time >= when:
                self.states[controller] = done
                self.moving.discard(controller)
                del self.busy[controller]
                if done == 'ANCHORED':
                    self.capacity = 246.0
                if done == 'STOWED':
                    self.capacity = 0.0
        if self.states.get('material_handling') == 'RUNNING':
            self.in_transit = max(0.0, self.in_transit - 0.1 * dt)


def step(mission, rig, dt=1.0):
    """One supervisor tick against the fake rig, then the rig moves on."""
    obs = rig.observation()
    mission.tick(obs)
    for action in mission.take_stop_actions():
        rig.act(action)
    action = mission.next_action(obs)
    if action is not None:
        success, message = rig.act(action)
        mission.action_done(action, success, message, rig.time)
    rig.advance(dt)


def run(mission, rig, until=('completed', 'aborted', 'holding'), limit=10000):
    for _ in range(limit):
        if mission.state in until:
            return mission.state
        step(mission, rig)
    return mission.state


def loaded(plan=None, rig_name='default', events=None):
    rig = rig_interface(rig_name)
    log = events if events is not None else []
    mission = Mission(rig, lambda kind, text: log.append((kind, text)))
    accepted, reason = mission.command('load_plan', 0.0, 60.0, 0.0, plan=plan or default_plan())
    assert accepted, reason
    return mission, FakeRig(rig)


__all__ = ['default_plan', 'FakeRig', 'loaded', 'math', 'rig_interface', 'run', 'step']
