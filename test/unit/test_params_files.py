"""Params files read as rcl reads them, and the checks made before a rig starts."""

import pytest

from spacemine_ros import bringup
from spacemine_ros.core.config import ConfigError
from spacemine_ros.launcher import check_before_start
from spacemine_ros.params_files import (
    key_matches, load_params_file, params_files_in, problems_for_node,
    unused_wildcard_parameters, value_type_problems)


def write(tmp_path, text, name='p.yaml'):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_a_malformed_file_names_the_file_and_the_line(tmp_path):
    path = write(tmp_path, '/**/drill:\n  ros__parameters:\n    goal_depth: [0.2\n')
    with pytest.raises(ConfigError, match=r'p.yaml: line 4, column 1: .*'):
        load_params_file(path)


@pytest.mark.parametrize('text, reason', [
    ('- a\n- b\n', 'node names at the top level'),
    ('drill:\n  goal_depth: 0.2\n', 'drill: expected exactly one key, ros__parameters'),
    ('drill:\n  ros__parameters: [1, 2]\n', 'expected name: value entries'),
])
def test_a_file_of_the_wrong_shape_says_where(tmp_path, text, reason):
    with pytest.raises(ConfigError, match=reason):
        load_params_file(write(tmp_path, text))


def test_a_missing_file_is_one_clear_error(tmp_path):
    with pytest.raises(ConfigError, match='no such file'):
        load_params_file(str(tmp_path / 'nope.yaml'))


def test_nested_names_are_dotted_parameter_names(tmp_path):
    entries = load_params_file(write(
        tmp_path, 'a:\n  ros__parameters:\n    limits:\n      max: 3\n    x: 1\n'))
    assert entries == {'a': {'limits.max': 3, 'x': 1}}


@pytest.mark.parametrize('key, name, matches', [
    ('/**', '/rig1/drill', True), ('/**/drill', '/drill', True),
    ('/**/drill', '/a/b/drill', True), ('drill', '/drill', True),
    ('drill', '/rig1/drill', False), ('/rig1/drill', '/rig1/drill', True),
    ('/*/drill', '/rig1/drill', True), ('/*/drill', '/drill', False),
    ('/**/drill', '/rig1/drill_two', False),
])
def test_node_keys_match_as_rcl_matches_them(key, name, matches):
    assert key_matches(key, name) is matches


def test_an_unknown_parameter_named_for_a_node_is_a_problem_with_a_suggestion(tmp_path):
    files = [('rig.yaml', {'/**/drill': {'goal_depht': 0.2, 'max_thrust': 100.0},
                           '/**': {'anchor_type': 'screw'}})]
    problems = problems_for_node(files, '/rig1/drill', {'goal_depth', 'max_thrust'},
                                 lambda name: 100.0)
    assert problems == ['rig.yaml: /**/drill: goal_depht: the node does not have this '
                        'parameter (did you mean goal_depth?)']


def test_a_value_of_another_type_that_did_not_take_is_a_problem():
    # rcl keeps the earlier double when a later file gives the same parameter as text.
    files = [('rig.yaml', {'/**/drill': {'goal_depth': 0.3}}),
             ('-p', {'/**/drill': {'goal_depth': 'deep'}})]
    problems = problems_for_node(files, '/drill', {'goal_depth'}, lambda name: 0.3)
    assert problems == ["-p drill.goal_depth: 'deep' is a string, the parameter takes a double"]


def test_a_value_of_another_type_is_a_problem_though_a_later_one_overrides_it():
    # The command line sets goal_depth right; the file's text is still a mistake.
    files = [('rig.yaml', {'/**/drill': {'goal_depth': 'deep', 'max_thrust': 100}}),
             ('-p', {'/**/drill': {'goal_depth': 0.05}})]
    problems = problems_for_node(files, '/drill', {'goal_depth', 'max_thrust'},
                                 lambda name: {'goal_depth': 0.05, 'max_thrust': 100.0}[name])
    assert problems == ["rig.yaml: /**/drill: goal_depth: 'deep' is a string, the parameter "
                        'takes a double']
    # Without ROS, by the parameters' defaults (the headless engine).
    assert value_type_problems(files, '/drill', {'goal_depth': 0.3, 'max_thrust': 400.0}) == \
        problems


def test_a_wildcard_parameter_no_node_declares_is_a_problem():
    files = [('rig.yaml', {'/**': {'anchr_type': 'screw', 'use_sim_time': True}})]
    assert unused_wildcard_parameters(files, {'anchor_type', 'use_sim_time'}) == [
        'rig.yaml: /**: anchr_type: no node of the rig has this parameter (did you mean '
        'anchor_type?)']


def test_params_files_are_found_on_a_ros_command_line():
    argv = ['x', '--ros-args', '-r', '__node:=a', '--params-file', '/a.yaml', '-p', 'b:=1',
            '--params-file', '/c.yaml']
    assert params_files_in(argv) == ['/a.yaml', '/c.yaml']


# Before anything starts --------------------------------------------------------------------------
def test_an_override_for_a_node_the_rig_lacks_is_refused_with_a_suggestion():
    with pytest.raises(ValueError, match='no node dril .did you mean drill'):
        check_before_start(bringup.graph('sim', 'bennu'), bringup.default_params_file(),
                           {'dril': {'max_thrust': 3.0}})


def test_an_unknown_body_is_refused_with_the_known_ones():
    with pytest.raises(ConfigError, match="unknown body 'pluto'; known bodies: bennu"):
        check_before_start(bringup.graph('sim', 'pluto'), bringup.default_params_file(), {},
                           'pluto')


def test_anchors_that_cannot_hold_at_the_site_are_refused_naming_those_that_would():
    # Eros' site is a boulder at a pond's rim: a screw needs soil to bite.
    with pytest.raises(ConfigError, match=r'screw anchors hold only 0 N each in rock on '
                                          r'\(433\) Eros.* microspine \(160 N\), harpoon '
                                          r'\(60 N\) would hold'):
        check_before_start(bringup.graph('sim', 'eros', anchor_type='screw'),
                           bringup.default_params_file(), {}, 'eros')


def test_the_simulation_and_the_controller_must_fit_the_same_anchors():
    with pytest.raises(ValueError, match='anchor_type differs'):
        check_before_start(bringup.graph('sim', 'eros'), bringup.default_params_file(),
                           {'anchoring': {'anchor_type': 'harpoon'}}, 'eros')


@pytest.mark.parametrize('body', ['bennu', 'ryugu', 'itokawa', 'eros', 'psyche'])
def test_every_body_preset_starts_with_anchors_that_hold(body):
    check_before_start(bringup.graph('sim', body), bringup.default_params_file(), {}, body)
