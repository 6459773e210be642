"""Drill controller (core.control.drill) against the drilling process model."""

from spacemine_ros.core.control.drill import (
    DrillController, DrillMeasurement, DrillParams, DrillState)
from spacemine_ros.core.models.drilling import DragBit, DrillingProcess, StrataColumn, Stratum
import pytest

TOOL_SHARE = 0.8  # of the safe capacity, for all tools (AnchoringParams.tool_share)
ROCK = Stratum('rock', 0.0, 1.0, 2.5e6, 0.6, 1800.0)
MOTOR_TORQUE = 20.0
DT = 0.05


class Bench:
    """The controller driving the process model directly, with a rig that never moves."""

    def __init__(self, strata=None, capacity=200.0, **params):
        self.process = DrillingProcess(StrataColumn(strata or [ROCK]), DragBit(0.025))
        self.params = DrillParams(**{'goal_depth': 0.1, **params})
        self.controller = DrillController(self.params)
        self.capacity = capacity
        self.budget = TOOL_SHARE * capacity
        self.allowance = None  # None: the drill is the only tool, the budget is all its
        self.anchored = True
        self.feed = 0.0
        self.surface_offset = 0.02  # the bit parks 20 mm above the ground
        self.time = 0.0
        self.load = None
        self.thrusts = []

    def run(self, seconds, until=None):
        for _ in range(int(seconds / DT)):
            load = self.load
            measurement = DrillMeasurement(
                self.time, self.feed, load.spindle_speed if load else 0.0,
                load.thrust if load else 0.0, load.torque if load else 0.0)
            allowance = self.budget if self.allowance is None else self.allowance
            command = self.controller.update(measurement, self.anchored, allowance,
                                             self.budget)
            self.load = self.process.step(DT, self.feed - self.surface_offset, command.feed_speed,
                                          command.thrust_limit, command.spindle_speed,
                                          MOTOR_TORQUE, feed_travel_left=1.0 - self.feed)
            self.feed = max(self.feed + self.load.feed_advance, 0.0)
            self.thrusts.append(self.load.thrust)
            self.time += DT
            if until is not None and self.controller.state in until:
                return


def test_refuses_to_start_unless_anchored():
    controller = DrillController(DrillParams())
    accepted, reason = controller.start(anchored=False, budget=240.0)
    assert not accepted and 'not anchored' in reason
    accepted, reason = controller.start(anchored=True, budget=0.0)
    assert not accepted and 'capacity' in reason
    assert controller.state == DrillState.IDLE


def test_rejects_a_goal_beyond_the_stroke_and_bad_params():
    controller = DrillController(DrillParams())
    accepted, reason = controller.start(True, 300.0, goal_depth=5.0)
    assert not accepted and 'stroke' in reason
    with pytest.raises(ValueError, match='goal_depth'):
        DrillParams(goal_depth=-0.1).validate()
    with pytest.raises(ValueError, match='finite'):
        DrillParams(max_thrust=float('nan')).validate()


def test_drills_to_the_goal_within_every_limit_then_retracts():
    bench = Bench(capacity=200.0)
    assert bench.controller.start(True, bench.budget)[0]
    bench.run(200.0, until=(DrillState.DONE, DrillState.FAULT))
    assert bench.controller.state == DrillState.DONE
    assert bench.controller.max_depth >= 0.1
    assert bench.process.hole_depth == pytest.approx(0.1, abs=0.002)
    assert max(bench.thrusts) <= TOOL_SHARE * bench.capacity + 1e-9
    assert bench.feed == pytest.approx(0.0, abs=1e-3)


def test_torque_limit_bounds_the_thrust_when_the_anchors_could_take_more():
    bench = Bench(capacity=5000.0, max_thrust=2000.0, max_feed_speed=0.05, goal_depth=0.9,
                  thrust_ramp=200.0, max_depth_of_cut=0.05)
    bench.process.bit = DragBit(0.025, cutter_exposure=0.025)  # deep cutters: torque binds
    bench.controller.start(True, bench.budget)
    bench.run(30.0)
    # T = a W / (2 z): the controller keeps torque under torque_margin * max_torque.
    torque_cap_thrust = 0.8 * 20.0 * 2 * 0.6 / 0.025
    assert max(bench.thrusts) <= torque_cap_thrust * 1.05
    assert max(bench.thrusts) > 0.5 * torque_cap_thrust


def test_power_budget_limits_spindle_speed():
    bench = Bench(capacity=400.0, power_budget=30.0)
    bench.controller.start(True, bench.budget)
    bench.run(40.0)
    load = bench.load
    assert load.torque * load.spindle_speed <= 30.0 * 1.05


def test_jam_is_backed_off_and_retried_then_cleared():
    strata = [Stratum('rock', 0.0, 0.05, 2.5e6, 0.6, 1800.0),
              Stratum('clast', 0.05, 0.07, 2.5e6, 0.6, 1800.0, wedge_torque=40.0),
              Stratum('rock2', 0.07, 1.0, 2.5e6, 0.6, 1800.0)]
    bench = Bench(strata)
    bench.controller.start(True, bench.budget)
    bench.run(300.0, until=(DrillState.DONE, DrillState.FAULT))
    assert bench.controller.state == DrillState.DONE
    assert bench.controller.retries >= 1


def test_a_jam_that_does_not_clear_faults_and_retracts():
    strata = [Stratum('rock', 0.0, 0.05, 2.5e6, 0.6, 1800.0),
              Stratum('stuck', 0.05, 1.0, 2.5e6, 0.6, 1800.0, wedge_torque=40.0,
                      wedge_clears=False)]
    bench = Bench(strata, max_retries=2)
    bench.controller.start(True, bench.budget)
    bench.run(300.0, until=(DrillState.FAULT,))
    assert bench.controller.state == DrillState.FAULT
    assert 'jammed' in bench.controller.reason
    bench.run(60.0)
    assert bench.feed == pytest.approx(0.0, abs=1e-3)
    assert bench.controller.command.thrust_limit == 0.0


def test_losing_the_anchors_stops_thrust_at_once_and_retracts():
    bench = Bench()
    bench.controller.start(True, bench.budget)
    bench.run(10.0)
    assert bench.controller.state == DrillState.DRILLING
    bench.anchored = False
    bench.capacity = bench.budget = 0.0
    bench.run(DT)
    assert bench.controller.state == DrillState.FAULT
    assert bench.controller.command.thrust_limit == 0.0
    assert bench.controller.command.feed_speed < 0.0


def test_thrust_stays_within_the_allowance_granted_and_the_request_follows_the_state():
    bench = Bench(capacity=400.0, goal_depth=0.8)  # budget 320 N
    assert bench.controller.request == 0.0
    bench.controller.start(True, bench.budget)
    assert bench.controller.request == bench.params.max_thrust
    bench.allowance = 120.0  # another tool holds the rest
    bench.run(30.0)
    assert bench.controller.state == DrillState.DRILLING
    assert max(bench.thrusts) <= 120.0 + 1e-9
    assert bench.controller.command.thrust_limit == pytest.approx(120.0)
    bench.allowance = 40.0  # the other tool needs more: the thrust limit follows at once
    bench.run(DT)
    assert bench.controller.command.thrust_limit <= 40.0
    bench.controller.abort()
    bench.run(30.0, until=(DrillState.IDLE, DrillState.DONE))
    assert bench.controller.request == 0.0


def test_thrust_stops_rising_once_the_cutters_are_fully_in():
    # 2 blades x 3 mm: in 2.5 MPa rock full engagement is W* = z e a n h = 225 N, well
    # below what the anchors, the feed drive and the motor torque would allow.
    bench = Bench(capacity=5000.0, max_thrust=2000.0, max_feed_speed=0.05, goal_depth=0.9)
    bench.controller.start(True, bench.budget)
    bench.run(60.0)
    full = bench.process.bit.full_cut_thrust(ROCK)
    assert full == pytest.approx(225.0)
    assert full * 0.9 < max(bench.thrusts) < full * 1.15
