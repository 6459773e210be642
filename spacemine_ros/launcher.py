"""spacemine-rig: start a rig's node graph without the ROS 2 launch tool.

Reads the same graph as launch/rig.launch.py (spacemine_ros.bringup). By default every
node runs in this process on one executor; --processes starts one process per node.
"""

import argparse
import importlib
import re
import signal
import subprocess
import sys
import tempfile
import time

from spacemine_ros import bringup
from spacemine_ros.hardware.ports import parse_ports


def add_graph_arguments(parser):
    """Arguments shared by the launcher and the shift runner."""
    parser.add_argument('--backend', default='sim', choices=bringup.BACKENDS,
                        help='what the controllers drive (default: sim)')
    parser.add_argument('--body', default='bennu', help='body preset (default: bennu)')
    parser.add_argument('--namespace', default='', help='namespace of the rig, e.g. rig1')
    parser.add_argument('--params-file', default=None,
                        help='node parameters YAML (default: config/rig.yaml)')
    parser.add_argument('--use-sim-time', default=True, action=argparse.BooleanOptionalAction,
                        help='controllers follow /clock (default: on)')
    parser.add_argument('-p', '--param', action='append', default=[], metavar='NODE.NAME=VALUE',
                        help='override one node parameter, e.g. drill.goal_depth=0.2')


def parameter_overrides(pairs):
    """Parse NODE.NAME=VALUE strings into {node: {name: value}}, values typed as ROS does.

    A list is written [a, b] (e.g. field_bus.ports=[drill_bus=/dev/ttyUSB0]).
    """
    overrides = {}
    for pair in pairs:
        key, sep, value = pair.partition('=')
        node, dot, name = key.partition('.')
        if not sep or not dot or not node or not name:
            raise ValueError(f'expected NODE.NAME=VALUE, got {pair!r}')
        overrides.setdefault(node, {})[name] = bringup.parse_value(value)
    return overrides


def create_nodes(specs, namespace='', params_file=None, overrides=None, context=None):
    """Construct the graph's nodes in this process (rclpy must be initialised).

    Raises ValueError if a node's own parameters (the graph's and the operator's) did not
    take exactly as given: rcl keeps a value from the rig's params file when an override
    has another type, so a wrong type would otherwise be ignored without a word.
    """
    nodes = []
    try:
        with tempfile.TemporaryDirectory(prefix='spacemine_params_') as directory:
            for spec in specs:
                module = importlib.import_module(spec.module)
                node_class = getattr(module, spec.node_class)
                wanted = {**spec.parameters, **(overrides or {}).get(spec.name, {})}
                node = _construct(node_class, spec, wanted, namespace, params_file,
                                  directory, context)
                nodes.append(node)
                problems = bringup.parameter_problems(spec.name, wanted, node)
                if problems:
                    raise ValueError('; '.join(problems))
    except Exception:
        for node in reversed(nodes):  # no half rig: what was built goes again
            node.destroy_node()
        raise
    return nodes


STOP_GRACE = 30.0  # s a node process has to make its actuators safe and exit


def _construct(node_class, spec, wanted, namespace, params_file, directory, context):
    from rclpy.exceptions import InvalidParameterTypeException

    for _ in range(len(wanted) + 1):
        own = bringup.write_parameters(spec, directory, wanted)
        args = bringup.ros_arguments(spec, namespace, params_file, own)
        try:
            return node_class(cli_args=args, context=context)
        except InvalidParameterTypeException as error:
            text = str(error)
            found = re.search(r"parameter '([^']+)' to '(.*)' of type '(\w+)', expecting type "
                              r"'(\w+)'", text)
            if not found:
                raise ValueError(f'{spec.name}: {text}') from None
            name, given, kind, expected = found.groups()
            value = wanted.get(name)
            # An operator's 123 for a parameter in newtons means 123.0: say it once more.
            if expected == 'DOUBLE' and type(value) is int:
                wanted[name] = float(value)
                continue
            raise ValueError(f'{spec.name}.{name}: {given!r} is a {kind.lower()}, the '
                             f'parameter takes a {expected.lower()}') from None
    raise ValueError(f'{spec.name}: parameters did not take')


def run_processes(specs, namespace, params_file, overrides):
    """Start one process per node and wait.

    SIGINT or SIGTERM is passed on to every node, which makes its actuators safe and
    exits; a node that has not exited after STOP_GRACE is killed. A node that exits by
    itself takes the rest down (no half rig). Returns the worst exit code.
    """
    from spacemine_ros.nodes.common import StopSignals

    processes = []
    with StopSignals() as stop, \
            tempfile.TemporaryDirectory(prefix='spacemine_params_') as directory:
        for spec in specs:
            own = bringup.write_parameters(spec, directory, overrides.get(spec.name))
            args = bringup.ros_arguments(spec, namespace, params_file, own)
            processes.append(subprocess.Popen([sys.executable, '-m', spec.module, *args]))
        while not stop.requested.wait(0.2):
            if any(process.poll() is not None for process in processes):
                break
        number = getattr(signal, stop.signal_name or 'SIGINT')
        for process in processes:
            if process.poll() is None:
                process.send_signal(number)
        deadline = time.monotonic() + STOP_GRACE
        for process in processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        return max(abs(process.returncode) for process in processes)


def main(argv=None):
    """Entry point of spacemine-rig."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_graph_arguments(parser)
    parser.add_argument('--processes', action='store_true',
                        help='one process per node instead of one process for all')
    parser.add_argument('--ports', default='', metavar='BUS=PATH[,BUS=PATH]',
                        help='serial port of each bus (hardware backend), e.g. '
                        'drill_bus=/dev/ttyUSB0,arm_bus=/dev/ttyUSB1')
    args = parser.parse_args(argv)
    try:
        overrides = parameter_overrides(args.param)
        ports = [entry.strip() for entry in args.ports.split(',') if entry.strip()]
        parse_ports(ports)  # refused here, before anything starts, if malformed
        specs = bringup.graph(args.backend, args.body, args.use_sim_time, args.namespace,
                              ports=ports)
    except ValueError as error:
        parser.error(str(error))
    params_file = args.params_file or bringup.default_params_file()
    if args.processes:
        return run_processes(specs, args.namespace, params_file, overrides)

    from spacemine_ros.nodes.common import (
        init_ros, make_executor, shutdown_nodes, spin_until_stopped, StopSignals)

    with StopSignals() as stop:
        init_ros()
        nodes = []
        try:
            nodes = create_nodes(specs, args.namespace, params_file, overrides)
            executor = make_executor()
            for node in nodes:
                executor.add_node(node)
            spin_until_stopped(executor, stop)
        except ValueError as error:
            print(f'spacemine-rig: error: {error}', file=sys.stderr)
            return 2
        finally:
            shutdown_nodes(nodes)
    return 0


if __name__ == '__main__':
    sys.exit(main())
