"""World checkpoints: a restored world goes on as the one that wrote it (no ROS)."""

import copy
import os
import pickle
import subprocess
import sys

import pytest

from spacemine_ros.core.control.anchoring import AnchoringState
from spacemine_ros.core.control.drill import DrillState
from spacemine_ros.core.memory import RecordTimeline
from spacemine_ros.core.control.scraper import ScrapeRequest, ScraperState
from spacemine_ros.sim.checkpoint import (
    CheckpointError, load_checkpoint, MAGIC, read_header, save_checkpoint)
from spacemine_ros.sim.world import RigWorld
from test.conftest import ROOT
from test.sim.loop import Loop

CONTROLLERS = ('anchoring', 'budget', 'drills', 'scraper', 'line', 'smelter')


def state_of(world):
    """Return what must match between two worlds: time, material, hole, pose, anchors."""
    readings = world.readings()
    return {'time': world.time, 'masses': world.material.masses(),
            'delivered': dict(world.material.delivered), 'lost': dict(world.material.lost),
            'hole': world.drill.hole_depth, 'cut': world.terrain.removed_volume(),
            'base': readings.base_position, 'engaged': readings.anchor_engaged,
            'joints': readings.joint_positions}


def twin_loop(loop, world):
    """Return a Loop on another world with copies of the controllers as they are now."""
    twin = Loop(world)
    for name in CONTROLLERS:
        setattr(twin, name, copy.deepcopy(getattr(loop, name)))
    twin.drill = next(iter(twin.drills.values()))
    return twin


@pytest.fixture
def working(bodies, anchor_types, tmp_path):
    """Give a Bennu rig anchored, its hole drilled and a scraping pass half done."""
    world = RigWorld(bodies['bennu'], anchor_types['microspine'])
    loop = Loop(world, goal_depth=0.04).anchor()
    assert loop.line.start()[0]
    assert loop.drill.start(True, loop.anchoring.tool_budget)[0]
    assert loop.run_until(lambda: loop.drill.state == DrillState.DONE, 300.0)
    request = ScrapeRequest(passes=1, cut_depth=0.02, pass_length=0.3)
    assert loop.scraper.start(request, True, loop.anchoring.tool_budget)[0]
    assert loop.run_until(lambda: loop.scraper.state == ScraperState.CUTTING, 120.0)
    loop.run_until(lambda: False, 2.0)
    yield loop, str(tmp_path / 'world.checkpoint')
    world.close()


def test_a_restored_world_goes_on_as_the_one_that_wrote_it(working, bodies, anchor_types):
    loop, path = working
    save_checkpoint(loop.world, path, session='s1', extra={'battery': 0.5})
    restored = RigWorld(bodies['bennu'], anchor_types['microspine'])
    try:
        header, extra = load_checkpoint(restored, path)
        assert header['session'] == 's1' and extra == {'battery': 0.5}
        before, now = state_of(loop.world), state_of(restored)
        assert now['masses'] == before['masses'] and now['time'] == before['time']
        assert now['base'] == pytest.approx(before['base'], abs=1e-12)
        assert now['joints'] == pytest.approx(before['joints'], abs=1e-12)
        assert now['engaged'] == before['engaged'] == [True] * 4
        twin = twin_loop(loop, restored)
        for each in (loop, twin):
            assert each.run_until(lambda each=each: each.scraper.state == ScraperState.DONE,
                                  300.0)
            each.run_until(lambda: False, 20.0)
        original, again = state_of(loop.world), state_of(restored)
        assert again['time'] == pytest.approx(original['time'])
        assert again['engaged'] == original['engaged'] == [True] * 4
        assert twin.anchoring.state == AnchoringState.ANCHORED
        # The same material everywhere, to well within the ledger's resolution (the
        # solver's warm start is not in a checkpoint: the paths differ by round-off).
        for account, mass in original['masses'].items():
            assert again['masses'][account] == pytest.approx(mass, abs=1e-4), account
        assert again['cut'] == pytest.approx(original['cut'], rel=1e-3)
        assert again['hole'] == pytest.approx(original['hole'], abs=1e-6)
        assert again['base'] == pytest.approx(original['base'], abs=1e-4)
        restored.material.ledger.check()
    finally:
        restored.close()


def test_a_job_goes_back_with_a_world_restored_behind_it_and_cuts_what_was_undone(
        working, bodies, anchor_types):
    # rig_sim killed mid-pass: its world comes back from a checkpoint up to a period
    # old while the scraper saw the pass go further. The scraper's record of that
    # instant (what its node keeps for the last minute) takes the job back with the world.
    loop, path = working
    timeline = RecordTimeline()

    def run(each, seconds):
        for _ in range(int(seconds / 0.05)):
            each.step()
            timeline.note(each.world.time, each.scraper.record())
    run(loop, 0.5)
    save_checkpoint(loop.world, path)
    restored_to = loop.world.time
    run(loop, 0.95)  # the pass goes on; the world that saw it is then lost
    restored = RigWorld(bodies['bennu'], anchor_types['microspine'])
    try:
        load_checkpoint(restored, path)
        twin = twin_loop(loop, restored)
        for each in (loop, twin):
            if each is twin:  # silent inputs fault it; the supervisor resets and starts
                assert twin.scraper.input_lost('rig_sim silent') and twin.scraper.reset()[0]
                ahead = twin.scraper.record()['radius']
                assert 'pass 1 from' in twin.scraper.rewind(timeline.rewind(restored_to))
                assert twin.scraper.record()['radius'] > ahead  # went back toward the start
                request = twin.scraper.progress['request']
                assert twin.scraper.start(request, True, twin.anchoring.tool_budget)[0]
            assert each.run_until(lambda each=each: each.scraper.state == ScraperState.DONE,
                                  300.0)
            each.run_until(lambda: False, 10.0)
        original, again = state_of(loop.world), state_of(restored)
        # The volume cut is the uninterrupted pass's (the blade re-enters at the 2 cm
        # record, so its plunge can differ by a sliver), and all of it is in the line.
        assert again['cut'] == pytest.approx(original['cut'], rel=0.02)
        assert sum(again['masses'].values()) == pytest.approx(
            sum(original['masses'].values()), rel=0.02)  # every account: all excavated
        restored.material.ledger.check()
    finally:
        restored.close()


def test_a_checkpoint_of_another_world_is_refused_and_changes_nothing(
        working, bodies, anchor_types):
    loop, path = working
    save_checkpoint(loop.world, path)
    other = RigWorld(bodies['psyche'], anchor_types['screw'])
    try:
        before = state_of(other)
        with pytest.raises(CheckpointError, match='another body'):
            load_checkpoint(other, path)
        assert state_of(other) == before
    finally:
        other.close()


def test_a_checkpoint_is_data_never_code(working, bodies, anchor_types, tmp_path):
    loop, path = working
    save_checkpoint(loop.world, path)
    header = read_header(path)
    marker = tmp_path / 'ran'

    class Exploit:
        def __reduce__(self):
            return (os.system, (f'touch {marker}',))
    evil = tmp_path / 'evil.checkpoint'
    head = pickle.dumps(header, protocol=4)
    import zlib
    evil.write_bytes(MAGIC + len(head).to_bytes(4, 'big') + head
                     + zlib.compress(pickle.dumps(Exploit())))
    world = RigWorld(bodies['bennu'], anchor_types['microspine'])
    try:
        with pytest.raises(CheckpointError, match='may not build'):
            load_checkpoint(world, str(evil))
        assert not marker.exists()
        truncated = tmp_path / 'truncated.checkpoint'
        truncated.write_bytes(open(path, 'rb').read()[:200])
        with pytest.raises(CheckpointError):
            load_checkpoint(world, str(truncated))
        with pytest.raises(CheckpointError, match='not a world checkpoint'):
            (tmp_path / 'text').write_text('hello')
            load_checkpoint(world, str(tmp_path / 'text'))
    finally:
        world.close()


def test_a_checkpoint_from_another_process_is_taken_up(bodies, anchor_types, tmp_path):
    # What a restarted rig_sim does: another interpreter (another hash seed) wrote it.
    path = tmp_path / 'world.checkpoint'
    script = ('import sys; from spacemine_ros.core.models.body import load_body; '
              'from spacemine_ros.core.models.anchors import load_anchor_types; '
              'from spacemine_ros.sim.world import RigWorld; '
              'from spacemine_ros.sim.checkpoint import save_checkpoint; '
              "body = load_body('config/bodies.yaml', 'eros'); "
              "world = RigWorld(body, load_anchor_types('config/anchors.yaml')['screw']); "
              'world.advance(1.0); save_checkpoint(world, sys.argv[1])')
    subprocess.run([sys.executable, '-c', script, str(path)], cwd=ROOT, check=True,
                   env=dict(os.environ, PYTHONHASHSEED='12345'))
    world = RigWorld(bodies['eros'], anchor_types['screw'])
    try:
        header, _ = load_checkpoint(world, str(path))
        assert world.time == pytest.approx(1.0) and header['time'] == pytest.approx(1.0)
    finally:
        world.close()
