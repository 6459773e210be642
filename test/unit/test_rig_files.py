"""Rig files choose the graph: extends, the devices file they name, one node per subsystem."""

import pytest
import yaml

from spacemine_ros import bringup
from spacemine_ros.core.config import ConfigError
from spacemine_ros.core.rig_interface import load_rig_interface
from spacemine_ros.hardware.rig_description import load_rig_description
from spacemine_ros.paths import share_path

DEVICES = share_path('config', 'devices.yaml')


def test_the_twin_drill_rig_is_the_default_rig_with_two_heads():
    twin = load_rig_interface(bringup.rig_file_path('twin_drill'))
    default = load_rig_interface(bringup.rig_file_path(''))
    assert [s.name for s in twin.by_kind('drill')] == ['drill_a', 'drill_b']
    assert 'drill' not in twin.subsystems
    assert twin.budget_tools == ['scraper', 'drill_a', 'drill_b']
    assert twin.drill_masts() == [('drill_a', 0.0, 0.35), ('drill_b', 0.0, -0.35)]
    # What it does not name is the default rig's.
    assert twin.subsystems['scraper'] == default.subsystems['scraper']
    assert twin.hardware.endswith('twin_drill_hardware.yaml')
    assert default.hardware.endswith('rig_hardware.yaml')


def test_a_devices_file_extends_another_entry_by_entry():
    twin = load_rig_interface(bringup.rig_file_path('twin_drill'))
    devices = load_rig_description(twin.hardware, DEVICES, twin).devices
    assert devices['spindle'].joint == 'drill_a_spindle'
    assert devices['spindle'].unit_id == 1  # kept from the base entry
    assert (devices['spindle_b'].joint, devices['feed_b'].joint) == (
        'drill_b_spindle', 'drill_b_feed')
    assert 'feed_b' in devices['spindle_b'].interlocks


def test_a_devices_file_for_another_rig_is_refused(tmp_path):
    twin = load_rig_interface(bringup.rig_file_path('twin_drill'))
    with pytest.raises(ConfigError, match='describes rig'):
        load_rig_description(share_path('config', 'rig_hardware.yaml'), DEVICES, twin)


def test_null_removes_a_device_and_a_loop_of_extends_is_refused(tmp_path):
    base = share_path('config', 'rig_hardware.yaml')
    child = tmp_path / 'child.yaml'
    child.write_text(yaml.safe_dump({'extends': base, 'devices': {'slag_gauge': None}}))
    assert 'slag_gauge' not in load_rig_description(str(child), DEVICES).devices
    loop = tmp_path / 'loop.yaml'
    loop.write_text(yaml.safe_dump({'extends': 'loop.yaml'}))
    with pytest.raises(ConfigError, match='extends itself'):
        load_rig_description(str(loop), DEVICES)


def test_the_graph_has_one_controller_per_subsystem_of_the_rig_file():
    names = [spec.name for spec in bringup.graph('sim', 'bennu', rig='twin_drill')]
    assert names == ['rig_sim', 'anchoring', 'scraper', 'material_handling', 'smelter',
                     'drill_a', 'drill_b', 'supervisor']
    default = bringup.graph('sim', 'bennu')
    assert [spec.name for spec in default] == ['rig_sim', 'anchoring', 'drill', 'scraper',
                                               'material_handling', 'smelter', 'supervisor']
    # The supervisor watches the backend and every controller of the rig file.
    assert default[-1].parameters['watched_nodes'] == [spec.name for spec in default[:-1]]


def test_a_second_head_starts_from_the_drill_settings_and_its_own_win(tmp_path):
    params = tmp_path / 'rig.yaml'
    params.write_text(yaml.safe_dump({
        '/**/drill': {'ros__parameters': {'max_thrust': 300.0, 'goal_depth': 0.2}},
        '/**/drill_b': {'ros__parameters': {'max_thrust': 250.0}}}))
    spec = next(s for s in bringup.graph('sim', 'bennu', rig='twin_drill')
                if s.name == 'drill_b')
    path = bringup.write_parameters(spec, str(tmp_path), {'goal_depth': 0.1}, str(params))
    values = yaml.safe_load(open(path))['/**/drill_b']['ros__parameters']
    assert values['max_thrust'] == 250.0  # its own section over the kind's
    assert values['goal_depth'] == 0.1  # the operator's over both
    assert values['rig'].endswith('twin_drill.yaml')


def test_an_unknown_rig_name_is_refused_in_one_line():
    with pytest.raises(ConfigError):
        bringup.graph('sim', 'bennu', rig='no_such_rig')


def test_the_urdf_has_a_mast_for_each_drill_head_at_its_mount():
    from urdf_parser_py.urdf import URDF
    from spacemine_ros.sim.description import rig_urdf_xml
    twin = load_rig_interface(bringup.rig_file_path('twin_drill'))
    robot = URDF.from_xml_string(rig_urdf_xml(drills=twin.drill_masts()))
    joints = {joint.name: joint for joint in robot.joints}
    assert {'drill_a_feed', 'drill_a_spindle', 'drill_b_feed', 'drill_b_spindle'} <= set(joints)
    assert 'drill_feed' not in joints
    assert joints['drill_b_mast_mount'].origin.xyz[:2] == [0.0, -0.35]
