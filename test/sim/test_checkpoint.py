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
from spacemine_ros.core.control.scraper import ScraperState
from spacemine_ros.sim.checkpoint import (
    CheckpointError, load_checkpoint, MAGIC, read_header, save_checkpoint)
from spacemine_ros.sim.world import RigWorld
from test.conftest import ROOT
from test.sim.rig import anchor, rig_on


def state_of(world):
    """Return what must match between two worlds: time, material, hole, pose, anchors."""
    readings = world.readings()
    return {'time': world.time, 'masses': world.material.masses(),
            'delivered': dict(world.material.delivered), 'lost': dict(world.material.lost),
            'hole': world.drill.hole_depth, 'cut': world.terrain.removed_volume(),
            'base': readings.base_position, 'engaged': readings.anchor_engaged,
            'joints': readings.joint_positions}


def twin_rig(rig, world):
    """Return a headless rig on another world with copies of the units as they are now."""
    twin = rig_on(world, drill={'goal_depth': 0.04})
    for name, unit in rig.units.items():
        copied = twin.units[name]
        for attribute in ('controller', 'next_tick', 'sent', 'budget', 'books', 'fault',
                          'ledger_at', 'request', 'area', 'timeline', 'ticked_at'):
            if hasattr(unit, attribute):
                setattr(copied, attribute, copy.deepcopy(getattr(unit, attribute)))
    twin.supervisor_tick = rig.supervisor_tick
    twin.ledger.update(rig.ledger)
    return twin


def scraper(rig):
    """Return the scraper controller of a rig."""
    return rig.unit('scraper').controller


@pytest.fixture
def working(bodies, anchor_types, tmp_path):
    """Give a Bennu rig anchored, its hole drilled and a scraping pass half done."""
    world = RigWorld(bodies['bennu'], anchor_types['microspine'])
    rig = anchor(rig_on(world, drill={'goal_depth': 0.04}))
    assert rig.goal('material_handling', 'drain')[0]
    assert rig.goal('drill', 'drill_to_depth')[0]
    drill = rig.unit('drill').controller
    assert rig.run_until(lambda: drill.state == DrillState.DONE, 300.0)
    assert rig.set('scraper', passes=1, cut_depth=0.02, pass_length=0.3)[0]
    assert rig.goal('scraper', 'scrape')[0]
    assert rig.run_until(lambda: scraper(rig).state == ScraperState.CUTTING, 120.0)
    rig.run_until(lambda: False, 2.0)
    yield rig, str(tmp_path / 'world.checkpoint')
    world.close()


def test_a_restored_world_goes_on_as_the_one_that_wrote_it(working, bodies, anchor_types):
    rig, path = working
    save_checkpoint(rig.world, path, session='s1', extra={'battery': 0.5})
    restored = RigWorld(bodies['bennu'], anchor_types['microspine'])
    try:
        header, extra = load_checkpoint(restored, path)
        assert header['session'] == 's1' and extra == {'battery': 0.5}
        before, now = state_of(rig.world), state_of(restored)
        assert now['masses'] == before['masses'] and now['time'] == before['time']
        assert now['base'] == pytest.approx(before['base'], abs=1e-12)
        assert now['joints'] == pytest.approx(before['joints'], abs=1e-12)
        assert now['engaged'] == before['engaged'] == [True] * 4
        twin = twin_rig(rig, restored)
        for each in (rig, twin):
            assert each.run_until(lambda each=each: scraper(each).state == ScraperState.DONE,
                                  300.0)
            each.run_until(lambda: False, 20.0)
        original, again = state_of(rig.world), state_of(restored)
        assert again['time'] == pytest.approx(original['time'])
        assert again['engaged'] == original['engaged'] == [True] * 4
        assert twin.anchoring.controller.state == AnchoringState.ANCHORED
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
    rig, path = working
    timeline = RecordTimeline()

    def run(each, seconds):
        end = each.world.time + seconds
        while each.world.time < end - 1e-9:
            each.step()
            timeline.note(each.world.time, scraper(each).record())
    run(rig, 0.5)
    save_checkpoint(rig.world, path)
    restored_to = rig.world.time
    run(rig, 0.95)  # the pass goes on; the world that saw it is then lost
    restored = RigWorld(bodies['bennu'], anchor_types['microspine'])
    try:
        load_checkpoint(restored, path)
        twin = twin_rig(rig, restored)
        for each in (rig, twin):
            if each is twin:  # silent inputs fault it; the supervisor resets and starts
                cut = scraper(twin)
                assert cut.input_lost('rig_sim silent') and cut.reset()[0]
                ahead = cut.record()['radius']
                assert 'pass 1 from' in cut.rewind(timeline.rewind(restored_to))
                assert cut.record()['radius'] > ahead  # went back toward the start
                twin.unit('scraper').request = cut.progress['request']
                twin.unit('scraper').area = 0.0
                assert twin.goal('scraper', 'scrape')[0]
            assert each.run_until(lambda each=each: scraper(each).state == ScraperState.DONE,
                                  300.0)
            each.run_until(lambda: False, 10.0)
        original, again = state_of(rig.world), state_of(restored)
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
    rig, path = working
    save_checkpoint(rig.world, path)
    other = RigWorld(bodies['psyche'], anchor_types['screw'])
    try:
        before = state_of(other)
        with pytest.raises(CheckpointError, match='another body'):
            load_checkpoint(other, path)
        assert state_of(other) == before
    finally:
        other.close()


def test_a_checkpoint_is_data_never_code(working, bodies, anchor_types, tmp_path):
    rig, path = working
    save_checkpoint(rig.world, path)
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


def _hostile(header, payload, path):
    """Write a checkpoint with a valid header and the given pickled payload."""
    import zlib
    head = pickle.dumps(header, protocol=4)
    path.write_bytes(MAGIC + len(head).to_bytes(4, 'big') + head + zlib.compress(payload))
    return str(path)


@pytest.mark.parametrize('build', ['mission_store', 'world_checkpoints', 'shift'])
def test_a_checkpoint_builds_no_class_of_the_project_that_is_not_its_data(
        working, bodies, anchor_types, tmp_path, build):
    # Each of these opens a file, a database or a world when built: a crafted checkpoint
    # could make one where it likes, with any arguments, though each is the project's own.
    from spacemine_ros.core.mission.mission_store import MissionStore
    from spacemine_ros.headless import Shift
    from spacemine_ros.sim.checkpoint import WorldCheckpoints
    rig, path = working
    save_checkpoint(rig.world, path)
    target = tmp_path / 'made_by_a_checkpoint'
    made = {'mission_store': (MissionStore, (str(target),)),
            'world_checkpoints': (WorldCheckpoints, (str(target),)),
            'shift': (Shift, ('bennu',))}[build]

    class Hostile:
        def __reduce__(self):
            return made
    evil = _hostile(read_header(path), pickle.dumps({'world': Hostile()}), tmp_path / 'evil')
    world = RigWorld(bodies['bennu'], anchor_types['microspine'])
    try:
        with pytest.raises(CheckpointError, match=f'may not build {made[0].__module__}.'):
            load_checkpoint(world, evil)
        assert not target.exists()
    finally:
        world.close()


@pytest.mark.parametrize('rig_file, body', [('', 'bennu'), ('twin_drill', 'eros')])
def test_a_world_that_has_worked_is_built_back_from_its_state_classes_alone(
        tmp_path, rig_file, body):
    # A shift that anchored, drilled, scraped, drained and heated a batch: every kind of
    # state a world keeps, read back with the checkpoint's own unpickler.
    from spacemine_ros.headless import Shift
    with Shift(body=body, rig=rig_file, plan='bennu_shift') as shift:
        assert shift.run_until(lambda: shift.world.furnace.thermal.temperature > 400.0,
                               2000.0)  # the batch is heating
        path = str(tmp_path / 'world.checkpoint')
        save_checkpoint(shift.world, path)
        before = state_of(shift.world)
        shift.world.advance(5.0)
        load_checkpoint(shift.world, path)
        assert state_of(shift.world) == before


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
