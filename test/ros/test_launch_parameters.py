"""The launch file's parameters reach each node with the types the node declares.

launch and launch_ros are not installable here, so launch/rig.launch.py runs against
small stand-ins that record the actions it builds. Each node's `parameters` are then
rendered as launch_ros does it (launch_ros/utilities/normalize_parameters.py,
evaluate_parameters.py and actions/node.py: a path is passed on as a params file; a
dict's string values go through yaml.dump and yaml.safe_load, and the dict is written
with yaml.dump to a file keyed `/**`), and the real node classes are built from those
files: rcl's YAML rules decide the types (it reads a bare N, y, on or 0x10 as a boolean
or a number), and a node whose parameter arrives with the wrong type fails to start.
"""

import importlib.util
import os
import sys
import types

import pytest
import rclpy
from rclpy.exceptions import InvalidParameterTypeException
from rclpy.parameter import Parameter
import yaml

from spacemine_ros import bringup
from spacemine_ros.nodes.common import shutdown_nodes
from test.conftest import ROOT


class Recorded:
    """A launch action or description: its arguments, kept."""

    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs


class LaunchConfiguration(Recorded):
    def perform(self, context):
        return context[self.args[0]]


class ParameterValue(Recorded):
    """launch_ros.parameter_descriptions.ParameterValue: value and value_type."""


@pytest.fixture
def launch_file(monkeypatch):
    """Load launch/rig.launch.py against recording stand-ins of launch and launch_ros."""
    names = {'launch': ['LaunchDescription'],
             'launch.actions': ['DeclareLaunchArgument', 'GroupAction', 'OpaqueFunction',
                                'RegisterEventHandler', 'Shutdown'],
             'launch.event_handlers': ['OnShutdown'],
             'launch.substitutions': [],
             'launch_ros': [],
             'launch_ros.actions': ['LifecycleNode', 'Node', 'PushROSNamespace'],
             'launch_ros.parameter_descriptions': []}
    for module_name, classes in names.items():
        module = types.ModuleType(module_name)
        for name in classes:
            setattr(module, name, type(name, (Recorded,), {}))
        monkeypatch.setitem(sys.modules, module_name, module)
    sys.modules['launch.substitutions'].LaunchConfiguration = LaunchConfiguration
    sys.modules['launch_ros.parameter_descriptions'].ParameterValue = ParameterValue
    spec = importlib.util.spec_from_file_location(
        'rig_launch', os.path.join(ROOT, 'launch', 'rig.launch.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def launched_nodes(launch_file, **arguments):
    """Return the Node/LifecycleNode actions the launch file makes for these arguments.

    And what the launch runs on its shutdown (it removes the nodes' parameter files).
    """
    description = launch_file.generate_launch_description()
    entities = description.args[0]
    context = {e.kwargs['name'] if 'name' in e.kwargs else e.args[0]:
               e.kwargs.get('default_value') for e in entities if 'default_value' in e.kwargs}
    context.update(arguments)
    opaque = next(e for e in entities if 'function' in e.kwargs)
    actions = opaque.kwargs['function'](context)
    group = next(a for a in actions if type(a).__name__ == 'GroupAction')
    on_shutdown = [a.args[0].kwargs['on_shutdown'] for a in actions
                   if type(a).__name__ == 'RegisterEventHandler' and
                   type(a.args[0]).__name__ == 'OnShutdown']
    return ([a for a in group.args[0] if type(a).__name__ in ('Node', 'LifecycleNode')],
            lambda: [handler(None, None) for handler in on_shutdown])


def rendered_as_launch_ros_does(parameters, directory):
    """Return the params files launch_ros hands a node for its `parameters` list."""
    files = []
    for index, entry in enumerate(parameters):
        if not isinstance(entry, dict):
            files.append(str(entry))  # a path: passed on as --params-file
            continue
        values = {}
        for name, value in entry.items():
            if isinstance(value, ParameterValue):
                value = value.args[0]  # value_type=str keeps a str a str
            elif isinstance(value, str):
                value = yaml.safe_load(yaml.dump(value))
            values[name] = value
        path = os.path.join(directory, f'launch_params_{index}')
        with open(path, 'w') as stream:
            yaml.dump({'/**': {'ros__parameters': values}}, stream, default_flow_style=False)
        files.append(path)
    return files


def ros_args(name, files, namespace=''):
    args = ['--ros-args', '-r', f'__node:={name}']
    if namespace:
        args += ['-r', f'__ns:={namespace}']
    for path in files:
        args += ['--params-file', path]
    return args


@pytest.fixture
def ros():
    rclpy.init()
    yield
    rclpy.try_shutdown()


@pytest.mark.parametrize('backend', bringup.BACKENDS)
def test_every_launched_node_starts_with_its_parameters_typed_as_declared(
        launch_file, ros, tmp_path, backend):
    actions, shut_down = launched_nodes(launch_file, backend=backend, namespace='rig7')
    specs = {spec.name: spec for spec in bringup.graph(backend, 'bennu', namespace='rig7')}
    nodes = []
    try:
        for action in actions:
            kwargs = action.kwargs
            files = rendered_as_launch_ros_does(kwargs['parameters'], str(tmp_path))
            args = ros_args(kwargs['name'], files, '/rig7')
            if kwargs['package'] != 'spacemine_ros':
                node = rclpy.create_node(kwargs['name'], cli_args=args,
                                         automatically_declare_parameters_from_overrides=True)
                nodes.append(node)
                assert node.get_parameter('robot_description').type_ == Parameter.Type.STRING
                assert node.get_parameter('use_sim_time').type_ == Parameter.Type.BOOL
                continue
            spec = specs[kwargs['name']]
            node_class = getattr(importlib.import_module(spec.module), spec.node_class)
            node = node_class(cli_args=args)  # raises if a type is wrong
            nodes.append(node)
            with open(kwargs['parameters'][-1]) as stream:  # the node's own file
                own = yaml.safe_load(stream)[f'/**/{spec.name}']['ros__parameters']
            # The launch adds its session to every node that keeps a record (a respawned
            # node recognises its own by it).
            assert set(own) == set(spec.parameters) | (
                set() if spec.name == 'field_bus' else {'session'})
            for name, value in own.items():
                assert node.get_parameter(name).value == value, (spec.name, name)
            # config/rig.yaml reaches a node in a namespace too (keys /**/<node>).
            if spec.name == 'anchoring':
                assert node.get_parameter('preload').value == 5.0
    finally:
        shutdown_nodes(nodes)
        directory = os.path.dirname(actions[0].kwargs['parameters'][-1])
        shut_down()
    assert not os.path.exists(directory)  # the launch leaves no parameter files behind
    assert {a.kwargs['name'] for a in actions} >= set(specs)


def test_the_old_way_a_parity_of_n_in_a_launch_dict_reaches_ros_as_a_boolean(ros, tmp_path):
    # The check above can fail: the dict launch_ros writes for {'parity': 'N'} is read by
    # rcl as a boolean, and the node refuses it, as field_bus did under ros2 launch.
    files = rendered_as_launch_ros_does([{'parity': 'N'}], str(tmp_path))
    with pytest.raises(InvalidParameterTypeException):
        from spacemine_ros.nodes.field_bus import FieldBusNode
        FieldBusNode(cli_args=ros_args('field_bus', files))


def test_the_ports_override_reaches_field_bus_as_a_list(ros):
    from spacemine_ros.launcher import create_nodes, parameter_overrides
    spec = next(s for s in bringup.graph('hardware', 'bennu') if s.name == 'field_bus')
    spec = bringup.NodeSpec(**{**vars(spec), 'parameters': {'autostart': False}})
    overrides = parameter_overrides(['field_bus.ports=[drill_bus=/dev/ttyUSB0, arm_bus=/x]'])
    nodes = create_nodes([spec], '', bringup.default_params_file(), overrides)
    try:
        assert nodes[0].port_overrides == ['drill_bus=/dev/ttyUSB0', 'arm_bus=/x']
    finally:
        shutdown_nodes(nodes)


def test_text_that_rcl_would_misread_stays_text_in_the_node_parameter_files(ros, tmp_path):
    texts = {'a': 'N', 'b': 'on', 'c': '0x10', 'd': '1e3', 'e': '', 'f': 'none'}
    spec = bringup.NodeSpec('probe', 'probe', 'm', 'C', texts)
    path = bringup.write_parameters(spec, str(tmp_path), {'g': ['x=1', 'y']})
    node = rclpy.create_node('probe', cli_args=ros_args('probe', [path]),
                             automatically_declare_parameters_from_overrides=True)
    try:
        for name in 'abcdef':
            assert node.get_parameter(name).type_ == Parameter.Type.STRING, name
        assert node.get_parameter('a').value == 'N' and node.get_parameter('e').value == ''
        assert node.get_parameter('g').value == ['x=1', 'y']
    finally:
        node.destroy_node()


def test_each_launched_node_talks_over_the_transport_the_operator_chose_else_udp(
        launch_file, monkeypatch):
    monkeypatch.delenv('FASTDDS_BUILTIN_TRANSPORTS', raising=False)
    nodes, _ = launched_nodes(launch_file)
    assert nodes and all(n.kwargs['additional_env']['FASTDDS_BUILTIN_TRANSPORTS'] == 'UDPv4'
                         for n in nodes)
    monkeypatch.setenv('FASTDDS_BUILTIN_TRANSPORTS', 'LARGE_DATA')
    nodes, _ = launched_nodes(launch_file)
    assert all(n.kwargs['additional_env']['FASTDDS_BUILTIN_TRANSPORTS'] == 'LARGE_DATA'
               for n in nodes)
