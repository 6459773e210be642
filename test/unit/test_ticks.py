"""TickAssembler and Pacer (core.control.ticks)."""

import pytest

from spacemine_ros.core.control.ticks import Pacer, TickAssembler


def test_a_tick_completes_once_whatever_the_arrival_order():
    ticks = TickAssembler(['joints', 'odom'])
    assert ticks.add('odom', 1.0, 'o1') is None
    assert ticks.add('joints', 1.0, 'j1') == (1.0, {'odom': 'o1', 'joints': 'j1'})
    assert ticks.add('joints', 1.0, 'again') is None
    assert ticks.add('joints', 2.0, 'j2') is None
    assert ticks.add('odom', 2.0, 'o2') == (2.0, {'joints': 'j2', 'odom': 'o2'})


def test_stale_and_unknown_inputs():
    ticks = TickAssembler(['a', 'b'], keep=2)
    ticks.add('a', 3.0, 1)
    ticks.add('b', 3.0, 1)
    assert ticks.add('a', 2.0, 1) is None
    with pytest.raises(ValueError, match='unknown input'):
        ticks.add('c', 4.0, 1)
    for stamp in (4.0, 5.0, 6.0, 7.0):
        ticks.add('a', stamp, 1)
    assert len(ticks.pending) <= 3


def test_a_pacer_sends_once_per_period_when_forced_and_after_the_clock_goes_back():
    pacer = Pacer(0.5)
    assert pacer.due(10.0) and pacer.take(10.0)  # the first is always due
    assert not pacer.take(10.2) and not pacer.take(10.49)
    assert pacer.take(10.3, force=True)  # a change of state: sent now, counted from it
    assert not pacer.take(10.7) and pacer.take(10.8)
    assert pacer.take(3.0)  # a world restored from its checkpoint: due again at once
    assert not pacer.take(3.1)
    every = Pacer(0.0)  # no period: every period sends
    assert every.take(1.0) and every.take(1.05)
