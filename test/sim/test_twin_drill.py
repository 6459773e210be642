"""A rig with two drill heads (config/rigs/twin_drill.yaml): configuration, not code."""

from spacemine_ros.core.control.anchoring import AnchoringState
from spacemine_ros.core.control.drill import DrillState
from spacemine_ros.core.rig_interface import load_rig_interface
from spacemine_ros.paths import share_path
from spacemine_ros.sim.world import RigWorld
from test.sim.rig import anchor, anchoring, rig_on, tool_loads

TWIN = share_path('config', 'rigs', 'twin_drill.yaml')


def test_two_heads_drill_at_once_and_their_combined_thrust_stays_in_the_budget(
        bodies, anchor_types):
    rig = load_rig_interface(TWIN)
    with RigWorld(bodies['bennu'], anchor_types['microspine'], rig=rig) as world:
        assert sorted(plugin.spec.name for plugin in world.drills) == ['drill_a', 'drill_b']
        rig = anchor(rig_on(world, drill_a={'goal_depth': 0.1}, drill_b={'goal_depth': 0.1}))
        start = world.displacement()
        budget = anchoring(rig).tool_budget
        drills = {name: rig.unit(name).controller for name in ('drill_a', 'drill_b')}
        # Each head alone could push harder than the tools' share of the anchors allows.
        assert sum(d.params.max_thrust for d in drills.values()) > budget
        for name in drills:
            assert rig.goal(name, 'drill_to_depth')[0]
        samples = []
        assert rig.run_until(lambda: all(d.state in (DrillState.DONE, DrillState.FAULT)
                                         for d in drills.values()), 600.0,
                             on_step=tool_loads(samples))
        assert {name: d.state for name, d in drills.items()} == {
            'drill_a': DrillState.DONE, 'drill_b': DrillState.DONE}
        for plugin in world.drills:
            assert plugin.hole_depth >= 0.1
        # Both pushed at once, and together never beyond the budget: the tools' share of
        # the safe capacity (the drive's response allows a few newtons of lag).
        both = [(t, c) for t, _, c, _ in samples if t > 0]
        assert both and all(t <= 0.8 * c + 5.0 for t, c in both)
        assert all(t <= c for t, c in both)
        assert max(t for t, _ in both) > 0.6 * anchoring(rig).tool_budget  # they shared it
        assert anchoring(rig).state == AnchoringState.ANCHORED
        assert world.max_displacement - start < 0.002
