"""A rig's aggregated view of /diagnostics (core.mission.diagnostics)."""

from spacemine_ros.core.mission.diagnostics import ERROR, OK, RigDiagnostics, STALE, WARN

NODES = ('rig_sim', 'anchoring', 'drill', 'supervisor', 'field_bus')


def test_each_rig_takes_its_own_nodes_and_no_other_rig_s():
    rig1, rig2 = RigDiagnostics('/rig1', NODES), RigDiagnostics('/rig2', NODES)
    root = RigDiagnostics('', NODES)
    for name in ('/rig1/drill', '/rig2/drill', '/drill', '/rig1/field_bus/drill_bus'):
        for rig in (rig1, rig2, root):
            rig.take(name, OK, 'fine', {}, 0.0)
    assert [s.name for s in rig1.view(1.0)[1:]] == ['/rig1/drill', '/rig1/field_bus/drill_bus']
    assert [s.name for s in rig2.view(1.0)[1:]] == ['/rig2/drill']
    # The root namespace's rig: its own nodes, not the names of another rig's namespace.
    assert [s.name for s in root.view(1.0)[1:]] == ['/rig/drill']
    assert not rig1.take('/rig1/stranger', OK, '', {}, 0.0)


def test_the_rig_s_level_is_its_worst_node_s_with_what_is_wrong():
    rig = RigDiagnostics('/rig1', ('anchoring', 'drill'))
    rig.take('/rig1/anchoring', OK, 'ANCHORED', {}, 0.0)
    rig.take('/rig1/drill', OK, 'DRILLING', {}, 0.0)
    top = rig.view(1.0)[0]
    assert (top.name, top.level, top.message) == ('/rig1', OK, 'all 2 OK')
    rig.take('/rig1/anchoring', WARN, 'tools above their budget', {}, 1.0)
    rig.take('/rig1/drill', ERROR, 'no joint_states for 10.2 s', {'depth_m': '0.1'}, 1.0)
    top, anchoring, drill = rig.view(2.0)
    assert top.level == ERROR and top.values['ERROR'] == '1' and top.values['WARN'] == '1'
    assert 'drill ERROR: no joint_states for 10.2 s' in top.message
    assert 'anchoring WARN: tools above their budget' in top.message
    assert drill.values == {'depth_m': '0.1'}


def test_a_node_gone_quiet_or_never_heard_is_stale():
    rig = RigDiagnostics('/rig1', ('anchoring', 'drill'), stale_after=5.0)
    rig.take('/rig1/anchoring', OK, 'ANCHORED', {}, 0.0)
    top, anchoring = rig.view(1.0)
    assert top.level == STALE and 'drill STALE: never reported' in top.message
    rig.take('/rig1/drill', OK, 'IDLE', {}, 1.0)
    assert rig.view(5.5)[0].level == STALE  # anchoring silent since 0.0
    assert rig.view(5.5)[1].level == STALE and 'no status for 6 s' in rig.view(5.5)[1].message
    rig.take('/rig1/anchoring', OK, 'ANCHORED', {}, 5.5)
    assert rig.view(5.6)[0].level == OK
    assert rig.take('/rig1/drill', 7, 'odd level', {}, 5.6)  # an unknown level: a fault
    assert rig.view(5.7)[0].level == ERROR
