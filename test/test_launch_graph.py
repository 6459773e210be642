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
    for spec in bringup.graph(backend, 'bennu'):
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
    assert {'backend', 'body', 'namespace', 'params_file', 'use_sim_time'} <= arguments


def test_ros_arguments_carry_name_namespace_params_and_overrides():
    spec = bringup.graph('sim', 'psyche')[2]
    args = bringup.ros_arguments(spec, 'rig2/', '/tmp/p.yaml', {'goal_depth': 0.2})
    assert args[:3] == ['--ros-args', '-r', '__node:=drill']
    assert '__ns:=/rig2' in args and '/tmp/p.yaml' in args
    assert "body:='psyche'" in args and 'use_sim_time:=true' in args
    assert 'goal_depth:=0.2' in args


def test_text_parameters_stay_text_on_the_command_line():
    # ROS's YAML reads a bare N as a boolean: a parity of N must reach the node as text.
    spec = bringup.graph('hil', 'bennu')[1]
    assert spec.name == 'field_bus' and spec.lifecycle
    args = bringup.ros_arguments(spec, '', None, {'publish_rate': '50.0'})
    assert "parity:='none'" in args and 'autostart:=true' in args and 'publish_rate:=50.0' in args


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
