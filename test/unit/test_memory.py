"""A node's record across restarts (core.memory): one start's, checked, written whole."""

import math
import os

from spacemine_ros.core.memory import checked_float, NodeMemory


def test_a_respawn_takes_up_its_own_start_s_record_and_a_fresh_start_does_not(tmp_path):
    assert NodeMemory(str(tmp_path), 'drill', 'first').remember(surface_position=0.12) == ''
    assert NodeMemory(str(tmp_path), 'drill', 'first').recall() == {'surface_position': 0.12}
    assert NodeMemory(str(tmp_path), 'drill', 'second').recall() == {}  # the rig may move
    assert NodeMemory(str(tmp_path), 'drill', 'second', take_up=True).recall() == {
        'surface_position': 0.12}  # resume
    assert NodeMemory(str(tmp_path), 'scraper', 'first').recall() == {}


def test_a_broken_record_is_ignored_with_the_reason(tmp_path):
    memory = NodeMemory(str(tmp_path), 'drill', 's')
    os.makedirs(os.path.dirname(memory.path))
    with open(memory.path, 'w') as stream:
        stream.write('{"session": "s", "values": {"surf')  # cut off mid-write
    assert memory.recall() == {} and 'unreadable' in memory.problem
    with open(memory.path, 'w') as stream:
        stream.write('[1, 2]')
    assert memory.recall() == {} and 'not a node record' in memory.problem


def test_writes_are_whole_and_only_on_a_change(tmp_path):
    memory = NodeMemory(str(tmp_path), 'anchoring', 's')
    memory.remember(state='ANCHORED')
    stamp = os.stat(memory.path).st_mtime_ns
    memory.remember(state='ANCHORED')
    assert os.stat(memory.path).st_mtime_ns == stamp
    assert os.listdir(os.path.dirname(memory.path)) == ['anchoring.json']  # no leftovers


def test_a_record_that_cannot_be_written_says_why_and_the_node_goes_on(tmp_path):
    blocked = tmp_path / 'file'
    blocked.write_text('')  # a file where the data directory should be
    problem = NodeMemory(str(blocked), 'drill', 's').remember(surface_position=0.1)
    assert 'not written' in problem


def test_values_from_disk_are_checked():
    values = {'a': 0.5, 'b': math.nan, 'c': 'x', 'd': True, 'e': 7}
    assert checked_float(values, 'a', 0.0, 1.0) == 0.5
    assert checked_float(values, 'b', 0.0, 1.0) is None
    assert checked_float(values, 'c', 0.0, 1.0) is None
    assert checked_float(values, 'd', 0.0, 1.0) is None
    assert checked_float(values, 'e', 0.0, 1.0) is None  # out of range
    assert checked_float(values, 'missing', 0.0, 1.0) is None


def test_a_start_without_a_session_takes_up_nothing_unless_told(tmp_path):
    NodeMemory(str(tmp_path), 'drill', '').remember(surface_position=0.1)
    assert NodeMemory(str(tmp_path), 'drill', '').recall() == {}
    assert NodeMemory(str(tmp_path), 'drill', '', take_up=True).recall() != {}
