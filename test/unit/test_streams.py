"""Preflight's judgement of sensor streams: rate on the rig's clock, plausibility."""

import math

from spacemine_ros.core.mission.streams import joint_state_problem, odometry_problem, StreamMonitor


def test_the_rate_is_measured_on_the_stamps_whatever_the_wall_clock():
    monitor = StreamMonitor('joint_states', 20.0)
    assert 'too few messages' in monitor.judge()
    for period in range(40):
        monitor.add(100.0 + 0.05 * period)  # 20 Hz of rig time, however fast it came
    assert abs(monitor.rate() - 20.0) < 1e-9 and monitor.judge() == ''
    slow = StreamMonitor('odom', 20.0)
    for period in range(40):
        slow.add(0.5 * period)
    assert slow.judge() == 'odom at 2.0 Hz, expected 20 Hz'


def test_an_implausible_message_is_reported_while_it_is_in_the_window():
    monitor = StreamMonitor('odom', 20.0, window=10)
    monitor.add(0.0, 'non-finite pose')
    for period in range(1, 5):
        monitor.add(0.05 * period)
    assert 'odom implausible: non-finite pose' in monitor.judge()
    for period in range(5, 20):
        monitor.add(0.05 * period)
    assert monitor.judge() == ''  # long gone from the window


def test_a_clock_going_back_starts_the_measurement_afresh():
    monitor = StreamMonitor('joint_states', 20.0)
    for period in range(10):
        monitor.add(50.0 + 0.05 * period)
    monitor.add(1.0)  # a restart of the simulation
    assert math.isnan(monitor.rate())


def test_joint_states_must_carry_every_expected_joint_with_finite_readings():
    expected = ['feed', 'spindle']
    assert joint_state_problem(['feed', 'spindle'], [0, 1], [0, 0], [1, 2], expected) == ''
    assert joint_state_problem(['feed'], [0], [0], [1], expected) == 'no spindle'
    assert 'different lengths' in joint_state_problem(['feed', 'spindle'], [0], [0, 0],
                                                      [1, 2], expected)
    assert joint_state_problem(['feed', 'spindle'], [0, math.nan], [0, 0], [1, 2],
                               expected) == 'non-finite readings of spindle'


def test_a_pose_must_be_finite_with_a_unit_quaternion():
    assert odometry_problem((0, 0, 0.6), (0, 0, 0, 1)) == ''
    assert odometry_problem((0, math.inf, 0.6), (0, 0, 0, 1)) == 'non-finite pose'
    assert 'norm 0.0000' in odometry_problem((0, 0, 0.6), (0, 0, 0, 0))
