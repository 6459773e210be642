"""spacemine-rig: start a rig's node graph without the ROS 2 launch tool.

Reads the same graph as launch/rig.launch.py (spacemine_ros.bringup). By default every
node runs in this process on one executor; --processes starts one process per node.
"""

import argparse
import importlib
import signal
import subprocess
import sys

from spacemine_ros import bringup


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
    """Parse NODE.NAME=VALUE strings into {node: {name: value}}."""
    overrides = {}
    for pair in pairs:
        key, sep, value = pair.partition('=')
        node, dot, name = key.partition('.')
        if not sep or not dot or not node or not name:
            raise ValueError(f'expected NODE.NAME=VALUE, got {pair!r}')
        overrides.setdefault(node, {})[name] = value
    return overrides


def create_nodes(specs, namespace='', params_file=None, overrides=None, context=None):
    """Construct the graph's nodes in this process (rclpy must be initialised)."""
    nodes = []
    for spec in specs:
        module = importlib.import_module(spec.module)
        node_class = getattr(module, spec.node_class)
        args = bringup.ros_arguments(spec, namespace, params_file,
                                     (overrides or {}).get(spec.name))
        nodes.append(node_class(cli_args=args, context=context))
    return nodes


def run_processes(specs, namespace, params_file, overrides):
    """Start one process per node and wait; Ctrl-C stops them all."""
    processes = []
    for spec in specs:
        args = bringup.ros_arguments(spec, namespace, params_file, overrides.get(spec.name))
        processes.append(subprocess.Popen([sys.executable, '-m', spec.module, *args]))
    try:
        return max(process.wait() for process in processes)
    except KeyboardInterrupt:
        for process in processes:
            process.send_signal(signal.SIGINT)
        return max(process.wait() for process in processes)


def main(argv=None):
    """Entry point of spacemine-rig."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_graph_arguments(parser)
    parser.add_argument('--processes', action='store_true',
                        help='one process per node instead of one process for all')
    args = parser.parse_args(argv)
    try:
        overrides = parameter_overrides(args.param)
        specs = bringup.graph(args.backend, args.body, args.use_sim_time, args.namespace)
    except ValueError as error:
        parser.error(str(error))
    params_file = args.params_file or bringup.default_params_file()
    if args.processes:
        return run_processes(specs, args.namespace, params_file, overrides)

    import rclpy
    from rclpy.executors import ExternalShutdownException

    from spacemine_ros.nodes.common import make_executor, shutdown_nodes

    rclpy.init()
    nodes = []
    try:
        nodes = create_nodes(specs, args.namespace, params_file, overrides)
        executor = make_executor()
        for node in nodes:
            executor.add_node(node)
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        shutdown_nodes(nodes)
    return 0


if __name__ == '__main__':
    sys.exit(main())
