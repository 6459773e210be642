"""spacemine-rig: start a rig's node graph without the ROS 2 launch tool.

Reads the same graph as launch/rig.launch.py (spacemine_ros.bringup). By default every
node runs in this process on one executor; --processes starts one process per node.
"""

import argparse
import difflib
import importlib
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time

from spacemine_ros import bringup, data_lock
from spacemine_ros.domain import claim_domain
from spacemine_ros.hardware.ports import parse_ports
from spacemine_ros.params_files import describe_type_error, load_params_file, \
    problems_for_node, type_error, unused_wildcard_parameters
from spacemine_ros.paths import default_data_dir
from spacemine_ros.security import check_keystore, enclave, security_environment


def add_graph_arguments(parser):
    """Arguments shared by the launcher and the shift runner."""
    parser.add_argument('--backend', default='sim', choices=bringup.BACKENDS,
                        help='what the controllers drive (default: sim)')
    parser.add_argument('--body', default='bennu',
                        help='body preset of config/bodies.yaml, or an asteroid of '
                        'config/targets.yaml, e.g. 2008EV5 (default: bennu)')
    parser.add_argument('--anchor-type', default='',
                        help="anchor design (default: the body site's, config/bodies.yaml)")
    parser.add_argument('--site', default='', metavar='LAT,LON',
                        help="work site in degrees, planetocentric (default: the preset's)")
    parser.add_argument('--namespace', default='', help='namespace of the rig, e.g. rig1')
    parser.add_argument('--rig', default='', help='rig file: a name in config/rigs/ (e.g. '
                        'twin_drill) or a path (default: default)')
    parser.add_argument('--params-file', default=None,
                        help='node parameters YAML (default: config/rig.yaml)')
    parser.add_argument('--use-sim-time', default=True, action=argparse.BooleanOptionalAction,
                        help="controllers follow the simulation's clock (default: on)")
    parser.add_argument('-p', '--param', action='append', default=[], metavar='NODE.NAME=VALUE',
                        help='override one node parameter, e.g. drill.goal_depth=0.2')
    parser.add_argument('--data-dir', default='',
                        help="the rig's data directory: the mission record, the world "
                        "checkpoint, the controllers' records (default: $SPACEMINE_DATA_DIR "
                        'or ~/.local/share/spacemine_ros/<ns>)')
    parser.add_argument('--resume', action='store_true',
                        help='take up what the data directory holds and go on: the stored '
                        "shift, the simulation's world, what each controller remembers")
    parser.add_argument('--record', default=False, action=argparse.BooleanOptionalAction,
                        help='record every topic to an MCAP file in the data directory '
                        '(rosbag2 layout: ros2 bag and Foxglove open it)')


def announce_domain(tool):
    """Claim a ROS domain for this run (unless ROS_DOMAIN_ID is set) and say which."""
    domain, chosen = claim_domain()
    print(f'{tool}: ROS domain {domain}'
          + (' (free on this host; set ROS_DOMAIN_ID to choose one)' if chosen else ''),
          file=sys.stderr)
    return domain


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


def typed_like_the_params_file(overrides, params_file):
    """Return the overrides with an integer made a float where the params file has a float.

    An operator's -p drill.max_thrust=123 means 123.0; ROS refuses an integer for a
    double parameter, and each node process would otherwise die of it.
    """
    entries = load_params_file(params_file) if params_file else {}
    typed = {}
    for node, values in overrides.items():
        known = {**entries.get('/**', {}), **entries.get(f'/**/{node}', {}),
                 **entries.get(node, {})}
        typed[node] = {name: float(value) if type(value) is int and
                       isinstance(known.get(name), float) else value
                       for name, value in values.items()}
    return typed


def check_before_start(specs, params_file, overrides, body=None, site=''):
    """Refuse, before any node exists, what can be checked without the nodes.

    The params file must be well-formed; every -p override must name a node of the
    graph; the body must be a preset whose site the rig's anchors can hold on.
    ValueError (ConfigError) with one line otherwise.
    """
    entries = load_params_file(params_file)
    designs = {node: {**entries.get('/**', {}), **entries.get(f'/**/{node}', {}),
                      **next((s.parameters for s in specs if s.name == node), {}),
                      **overrides.get(node, {})}.get('anchor_type', '')
               for node in ('rig_sim', 'anchoring')}
    if len(set(designs.values())) > 1 and any(s.name == 'rig_sim' for s in specs):
        raise ValueError(f'anchor_type differs between the simulation ({designs["rig_sim"]!r}) '
                         f'and anchoring ({designs["anchoring"]!r}): use --anchor-type')
    if body is not None:
        anchoring = {**entries.get('/**/anchoring', {}), **overrides.get('anchoring', {})}
        bringup.check_site(body, {**anchoring, 'anchor_type': designs['anchoring']}, site)
        for line in bringup.body_assumptions(body, anchoring.get('bodies_file'), site):
            print(line, file=sys.stderr)
    names = [spec.name for spec in specs]
    for node in overrides:
        if node not in names:
            close = difflib.get_close_matches(node, names, n=1)
            raise ValueError(f'-p {node}.{next(iter(overrides[node]))}: the rig has no node '
                             f'{node}' + (f' (did you mean {close[0]}?)' if close else '')
                             + f'; its nodes: {", ".join(names)}')


def check_data_dir_free(specs, data_dir):
    """Refuse (ValueError, one line) a data directory another rig's nodes still hold."""
    taken = data_lock.holders(data_dir, [spec.name for spec in specs])
    if taken:
        raise ValueError(f'data directory {data_dir} is in use by another rig: '
                         + '; '.join(f'{name} held by {who}' for name, who in taken.items())
                         + '; stop that rig first (or give this one another --data-dir)')


def create_nodes(specs, namespace='', params_file=None, overrides=None, context=None):
    """Construct the graph's nodes in this process (rclpy must be initialised).

    Raises ValueError (one line per problem) if a parameter named for a node in the
    params file or on the command line is not one it declares, or did not take as given
    (rcl keeps a value of the rig's params file when an override has another type, which
    would otherwise be ignored without a word), or if a `/**` parameter is declared by no
    node. Nothing is left running then.
    """
    nodes, declared_anywhere, problems = [], set(), []
    rig_file = [(params_file, load_params_file(params_file))] if params_file else []
    try:
        with tempfile.TemporaryDirectory(prefix='spacemine_params_') as directory:
            for spec in specs:
                module = importlib.import_module(spec.module)
                node_class = getattr(module, spec.node_class)
                wanted = {**spec.parameters, **(overrides or {}).get(spec.name, {})}
                node = _construct(node_class, spec, wanted, namespace, params_file,
                                  directory, context)
                nodes.append(node)
                declared = set(node.list_parameters([], 0).names)
                declared_anywhere |= declared
                own = [('-p', {f'/**/{spec.name}': wanted})]
                problems += problems_for_node(rig_file + own,
                                              node.get_fully_qualified_name(), declared,
                                              lambda name, n=node: n.get_parameter(name).value)
        problems += unused_wildcard_parameters(rig_file, declared_anywhere)
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
        own = bringup.write_parameters(spec, directory, wanted, params_file)
        args = bringup.ros_arguments(spec, namespace, params_file, own)
        try:
            return node_class(cli_args=args, context=context)
        except InvalidParameterTypeException as error:
            found = type_error(str(error))
            if found and found[3] == 'DOUBLE' and type(wanted.get(found[0])) is int:
                # An operator's 123 for a parameter in newtons means 123.0: once more.
                wanted[found[0]] = float(wanted[found[0]])
                continue
            raise ValueError(describe_type_error(str(error), spec.name)) from None
    raise ValueError(f'{spec.name}: parameters did not take')


def _stop_signals_ignored():
    # In the child before exec: SIGINT and SIGTERM stay ignored (Python keeps an ignored
    # SIGINT ignored) until the node's StopSignals takes them, so a stop that comes while
    # it is still importing never interrupts it halfway with a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def start_process(spec, namespace, params_file, overrides, directory, keystore=''):
    """Start one node of the graph as a process of its own; return its Popen.

    keystore: an SROS2 keystore: the node runs in its enclave, /<namespace>/<node>.
    """
    own = bringup.write_parameters(spec, directory, overrides, params_file)
    args = bringup.ros_arguments(spec, namespace, params_file, own)
    if keystore:
        args += ['--ros-args', '--enclave', enclave(namespace, spec.name)]
    # It stops safely if this process dies without stopping it (nodes.common).
    process = subprocess.Popen([sys.executable, '-m', spec.module, *args],
                               preexec_fn=_stop_signals_ignored,
                               env=dict(os.environ, **security_environment(keystore),
                                        **{bringup.STOP_WITH_PARENT: str(os.getpid())}))
    print(f'spacemine-rig: {spec.name} pid {process.pid}', file=sys.stderr, flush=True)
    return process


def stop_processes(processes, number=signal.SIGINT, grace=STOP_GRACE, names=()):
    """Ask node processes to stop (signal `number`), kill what is left after grace s.

    The signal is sent again each second: a node still starting ignores it until its
    own handler (which makes its actuators safe) is installed. Returns the worst exit code.
    """
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(p.poll() is None for p in processes):
        for process in processes:
            if process.poll() is None:
                process.send_signal(number)
        end = min(deadline, time.monotonic() + 1.0)
        while time.monotonic() < end and any(p.poll() is None for p in processes):
            time.sleep(0.05)
    for index, process in enumerate(processes):
        if process.poll() is None:
            name = names[index] if index < len(names) else f'pid {process.pid}'
            print(f'spacemine-rig: {name} did not stop within {grace:g} s: killed',
                  file=sys.stderr, flush=True)
            process.kill()
        process.wait()
    return max((abs(process.returncode) for process in processes), default=0)


def run_processes(specs, namespace, params_file, overrides, keystore=''):
    """Start one process per node and wait.

    SIGINT or SIGTERM is passed on to every node, which makes its actuators safe and
    exits; a node that has not exited after STOP_GRACE is killed. A node that exits by
    itself takes the rest down (no half rig). Returns the worst exit code.
    """
    from spacemine_ros.nodes.common import StopSignals

    with StopSignals() as stop, \
            tempfile.TemporaryDirectory(prefix='spacemine_params_') as directory:
        processes = [start_process(spec, namespace, params_file, overrides.get(spec.name),
                                   directory, keystore) for spec in specs]
        while not stop.requested.wait(0.2):
            if any(process.poll() is not None for process in processes):
                break
        return stop_processes(processes, getattr(signal, stop.signal_name or 'SIGINT'),
                              names=[spec.name for spec in specs])


class ApartProcesses:
    """The graph's own_process nodes (the recorder), started beside a one-process rig.

    Started first, so they are there when the rig's first messages go out, and stopped
    last, after the rig's safe stop (which they record). A recorder that must take a
    long backlog first gets RECORDER_GRACE to finish its file.
    """

    RECORDER_GRACE = 600.0

    def __init__(self, specs, namespace, params_file, overrides):
        self.specs = [spec for spec in specs if spec.own_process]
        self.rest = [spec for spec in specs if not spec.own_process]
        # Only when there is one to start: a launcher killed outright leaves it behind.
        self._directory = tempfile.TemporaryDirectory(prefix='spacemine_params_') \
            if self.specs else None
        self.processes = []
        try:
            for spec in self.specs:
                self.processes.append(start_process(
                    spec, namespace, params_file, overrides.get(spec.name),
                    self._directory.name))
        except BaseException:
            self.stop()
            raise

    def failed(self):
        """Return the name of one that has exited by itself (None while all run)."""
        return next((spec.name for spec, process in zip(self.specs, self.processes)
                     if process.poll() is not None), None)

    def stop(self, number=signal.SIGINT):
        """Stop them (each finishes its work first); return the worst exit code."""
        try:
            return stop_processes(self.processes, number, self.RECORDER_GRACE,
                                  [spec.name for spec in self.specs])
        finally:
            self.processes = []
            if self._directory is not None:
                self._directory.cleanup()


def main(argv=None):
    """Entry point of spacemine-rig."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_graph_arguments(parser)
    parser.add_argument('--processes', action='store_true',
                        help='one process per node instead of one process for all')
    parser.add_argument('--ports', default='', metavar='BUS=PATH[,BUS=PATH]',
                        help='serial port of each bus (hardware backend), e.g. '
                        'drill_bus=/dev/ttyUSB0,arm_bus=/dev/ttyUSB1')
    parser.add_argument('--nodes', default='', metavar='NODE[,NODE]',
                        help='start only these nodes of the graph (the rest runs elsewhere, '
                        'e.g. the backend on another computer)')
    parser.add_argument('--hil-dir', default='',
                        help='directory of the HIL port links (when the simulation and the '
                        'field bus are started apart)')
    parser.add_argument('--plan', default='', help='plan the supervisor loads: a file or a '
                        'name in config/plans/ (e.g. bennu_shift)')
    parser.add_argument('--autostart', action='store_true',
                        help='start the plan as soon as every node is alive')
    parser.add_argument('--keystore', default='',
                        help='an SROS2 keystore: each node in its enclave /<namespace>/<node> '
                        'with DDS security enforced (needs --processes; docs/operations.md)')
    args = parser.parse_args(argv)
    if args.keystore and not args.processes:
        parser.error('--keystore needs --processes: an enclave is per process, one per node')
    try:
        overrides = parameter_overrides(args.param)
        ports = [entry.strip() for entry in args.ports.split(',') if entry.strip()]
        parse_ports(ports)  # refused here, before anything starts, if malformed
        specs = bringup.graph(args.backend, args.body, args.use_sim_time, args.namespace,
                              ports=ports, anchor_type=args.anchor_type, site=args.site,
                              hil_dir=args.hil_dir, rig=args.rig, plan=args.plan,
                              autostart=args.autostart, resume=args.resume,
                              data_dir=args.data_dir, session=secrets.token_hex(6),
                              recording=args.record)
        if args.nodes:
            wanted = [name.strip() for name in args.nodes.split(',') if name.strip()]
            unknown = set(wanted) - {spec.name for spec in specs}
            if unknown:
                raise ValueError(f'--nodes: the {args.backend} graph has no '
                                 f'{", ".join(sorted(unknown))}; its nodes: '
                                 f'{", ".join(spec.name for spec in specs)}')
            specs = [spec for spec in specs if spec.name in wanted]
        if args.keystore:
            check_keystore(args.keystore, args.namespace, [spec.name for spec in specs])
    except ValueError as error:
        parser.error(str(error))
    params_file = args.params_file or bringup.default_params_file()
    try:
        check_before_start(specs, params_file, overrides, args.body)
        check_data_dir_free(specs, args.data_dir or default_data_dir(args.namespace))
    except ValueError as error:  # ConfigError is one
        parser.exit(2, f'spacemine-rig: error: {error}\n')
    announce_domain('spacemine-rig')
    overrides = typed_like_the_params_file(overrides, params_file)
    if args.processes:
        return run_processes(specs, args.namespace, params_file, overrides, args.keystore)

    from spacemine_ros.nodes.common import (
        init_ros, make_executor, shutdown_nodes, spin_until_stopped, StopSignals)

    with StopSignals() as stop:
        apart = ApartProcesses(specs, args.namespace, params_file, overrides)
        init_ros()
        nodes = []
        try:
            nodes = create_nodes(apart.rest, args.namespace, params_file, overrides)
            executor = make_executor()
            for node in nodes:
                executor.add_node(node)
            spin_until_stopped(executor, stop)
        except ValueError as error:
            print(f'spacemine-rig: error: {error}', file=sys.stderr)
            return 2
        finally:
            shutdown_nodes(nodes)
            status = apart.stop()
    return 1 if status else 0


if __name__ == '__main__':
    sys.exit(main())
