"""The launch file and the launcher start the same graph, whose executables exist."""

import ast
import importlib
import os
import re

import pytest

from spacemine_ros import bringup

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def console_scripts():
    with open(os.path.join(ROOT, 'setup.py')) as stream:
        source = stream.read()
    return dict(re.findall(r"'([\w-]+)': '([\w.]+:\w+)'", source))


@pytest.mark.parametrize('backend', bringup.BACKENDS)
def test_every_node_of_the_graph_is_a_console_script_with_a_main(backend):
    scripts = console_scripts()
    for spec in bringup.graph(backend, 'bennu', recording=True):
        assert scripts.get(spec.executable) == f'{spec.module}:main', spec.name
        module = importlib.import_module(spec.module)
        assert callable(module.main) and hasattr(module, spec.node_class)


def test_launch_file_builds_its_nodes_from_bringup():
    path = os.path.join(ROOT, 'launch', 'rig.launch.py')
    tree = ast.parse(open(path).read())
    imports = {alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
               for alias in node.names if node.module == 'spacemine_ros'}
    assert 'bringup' in imports
    calls = {f'{n.func.value.id}.{n.func.attr}' for n in ast.walk(tree)
             if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
             and isinstance(n.func.value, ast.Name)}
    assert 'bringup.graph' in calls
    arguments = {elt.elts[0].value for node in ast.walk(tree) if isinstance(node, ast.Assign)
                 and getattr(node.targets[0], 'id', '') == 'ARGUMENTS' for elt in node.value.elts}
    assert {'backend', 'body', 'namespace', 'params_file', 'use_sim_time', 'rig'} <= arguments


def test_ros_arguments_carry_name_namespace_and_both_params_files_rig_first():
    spec = bringup.graph('sim', 'psyche')[2]
    args = bringup.ros_arguments(spec, 'rig2/', '/tmp/p.yaml', '/tmp/drill.yaml')
    assert args[:3] == ['--ros-args', '-r', '__node:=drill']
    assert '__ns:=/rig2' in args
    files = [args[i + 1] for i, arg in enumerate(args) if arg == '--params-file']
    assert files == ['/tmp/p.yaml', '/tmp/drill.yaml']


def test_node_parameter_files_hold_the_graph_and_the_overrides_strings_quoted(tmp_path):
    spec = bringup.graph('hil', 'bennu')[1]
    assert spec.name == 'field_bus' and spec.lifecycle
    overrides = {'publish_rate': bringup.parse_value('50.0'),
                 'ports': bringup.parse_value('[drill_bus=/dev/ttyUSB0, arm_bus=/dev/ttyS1]')}
    text = open(bringup.write_parameters(spec, str(tmp_path), overrides)).read()
    assert "parity: 'none'" in text and 'autostart: true' in text
    assert 'publish_rate: 50.0' in text and "- 'drill_bus=/dev/ttyUSB0'" in text
    assert text.startswith('/**/field_bus:')


@pytest.mark.parametrize('text, value', [('0.2', 0.2), ('3', 3), ('true', True), ('N', 'N'),
                                         ('abc', 'abc'), ('[a, b]', ['a', 'b']),
                                         ('{a: 1}', '{a: 1}'), ('[1, x]', '[1, x]')])
def test_override_values_are_typed_as_ros_types_them(text, value):
    assert bringup.parse_value(text) == value


def test_each_hil_run_gets_its_own_port_links():
    one, two = (bringup.graph('hil', 'bennu', namespace='rig1') for _ in range(2))
    dirs = {specs[0].parameters['hil_port_dir'] for specs in (one, two)}
    assert len(dirs) == 2 and all('rig1' in d for d in dirs)


@pytest.mark.parametrize('backend', ['hil', 'hardware'])
def test_field_bus_backends_run_on_the_wall_clock(backend):
    specs = {spec.name: spec for spec in bringup.graph(backend, 'bennu', use_sim_time=True)}
    assert 'field_bus' in specs and specs['field_bus'].parameters['autostart'] is True
    assert ('rig_sim' in specs) == (backend == 'hil')
    for name in ('anchoring', 'drill', 'scraper', 'material_handling', 'smelter'):
        assert specs[name].parameters['use_sim_time'] is False
    assert specs['anchoring'].parameters['odom_sync'] is False
    if backend == 'hil':
        assert specs['rig_sim'].parameters['hil'] is True
        assert specs['rig_sim'].parameters['hil_port_dir'] == \
            specs['field_bus'].parameters['port_dir']


def test_unknown_backend_is_refused():
    with pytest.raises(ValueError, match='unknown backend'):
        bringup.graph('warp-drive')
