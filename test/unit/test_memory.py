"""A node's record across restarts (core.memory): one start's, checked, written whole."""

import json
import math
import os

from spacemine_ros.core.memory import checked_float, NodeMemory, RecordTimeline


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


def test_a_timeline_gives_the_record_of_any_instant_within_its_horizon():
    timeline = RecordTimeline(horizon=10.0)
    assert timeline.note(1.0, {'radius': 1.2}) and not timeline.note(1.5, {'radius': 1.2})
    timeline.note(2.0, {'radius': 1.1})
    timeline.note(3.0, {})
    assert timeline.at(0.5) is None  # before anything was noted: not known
    assert timeline.at(1.9) == {'radius': 1.2} and timeline.at(2.0) == {'radius': 1.1}
    assert timeline.at(99.0) == {}
    timeline.note(20.0, {'radius': 0.9})  # the horizon keeps the last entry before it
    assert timeline.at(10.0) == {} and [t for t, _ in timeline.entries] == [3.0, 20.0]


def test_a_rewound_timeline_forgets_what_the_world_left_and_survives_json():
    timeline = RecordTimeline()
    for time, radius in ((1.0, 1.2), (2.0, 1.1), (3.0, 1.0)):
        timeline.note(time, {'radius': radius})
    assert timeline.rewind(2.5) == {'radius': 1.1}
    timeline.restored_at = 2.5
    timeline.note(4.0, {'radius': 1.05})
    again = RecordTimeline()
    assert again.take_up(json.loads(json.dumps(timeline.to_json())))
    assert again.restored_at == 2.5 and again.at(3.5) == {'radius': 1.1}
    assert again.at(4.0) == {'radius': 1.05}
    for odd in (None, {'entries': [[1.0, {}]]}, {'entries': [['x', {}]], 'restored_at': None},
                {'entries': [[2.0, {}], [1.0, {}]], 'restored_at': None},
                {'entries': [[math.nan, {}]], 'restored_at': None}):
        fresh = RecordTimeline()
        assert not fresh.take_up(odd) and fresh.entries == [] and fresh.restored_at is None
