"""The rig's node graph as data, shared by launch/rig.launch.py and spacemine-rig.

graph() answers: for this backend, body and namespace, which nodes run, with which
executable, parameters and remappings. Launch files turn the answer into launch_ros
Node actions; the project's own launcher starts the same nodes in one process or in
one process each.
"""

from dataclasses import dataclass, field
import os
import secrets
import tempfile

import yaml

from spacemine_ros.paths import share_path

# Each rig's simulated time on its own topic: every node of the rig reads /clock from
# the rig's namespace (rig_sim publishes `clock` there), so two rigs never mix times.
CLOCK_REMAP = ('/clock', 'clock')

# sim: rig_sim alone (lockstep, simulated time). hil: rig_sim serving emulated devices on
# virtual serial lines + the field-bus driver (real time). hardware: the field-bus driver
# on the rig's serial ports (real time).
# Set to the launcher's process id in the environment of every node it starts as a
# process: the node stops safely if its launcher dies without stopping it
# (nodes.common.stop_with_parent).
STOP_WITH_PARENT = 'SPACEMINE_STOP_WITH_PARENT'
BACKENDS = ('sim', 'hil', 'hardware')


@dataclass(frozen=True)
class NodeSpec:
    """One node of the graph."""

    name: str
    executable: str  # console script installed under lib/spacemine_ros
    module: str  # python module with main(), for the launcher's process-per-node mode
    node_class: str  # class in module, for the launcher's single-process mode
    parameters: dict = field(default_factory=dict)  # overrides on top of the params file
    remappings: tuple = (CLOCK_REMAP,)
    package: str = 'spacemine_ros'
    lifecycle: bool = False  # a managed node (launch: LifecycleNode)
    # The params-file node whose values this node starts from: a rig's second drill,
    # drill_b, takes config/rig.yaml's /**/drill settings, then its own /**/drill_b ones.
    defaults: str = ''
    # Started in a process of its own even where the rest of the graph shares one (the
    # launcher's default, spacemine-shift): the recorder, whose work would otherwise
    # share the control loop's time.
    own_process: bool = False


# The controller node of each kind of subsystem: (executable, module, class, the
# params-file section its nodes start from).
CONTROLLERS = {
    'anchors': ('anchoring', 'spacemine_ros.nodes.anchoring', 'AnchoringNode', 'anchoring'),
    'drill': ('drill', 'spacemine_ros.nodes.drill', 'DrillNode', 'drill'),
    'scraper': ('scraper', 'spacemine_ros.nodes.scraper', 'ScraperNode', 'scraper'),
    'material_line': ('material_handling', 'spacemine_ros.nodes.material_handling',
                      'MaterialHandlingNode', 'material_handling'),
    'furnace': ('smelter', 'spacemine_ros.nodes.smelter', 'SmelterNode', 'smelter'),
}


def default_rig_file():
    """Return the installed (or checked-out) config/rigs/default.yaml."""
    return share_path('config', 'rigs', 'default.yaml')


def rig_file_path(rig):
    """Return the rig file of a --rig / rig:= value: a path, or a name in config/rigs/."""
    if not rig:
        return default_rig_file()
    if os.sep in rig or rig.endswith(('.yaml', '.yml')):
        return rig
    return share_path('config', 'rigs', f'{rig}.yaml')


def default_params_file():
    """Return the installed (or checked-out) config/rig.yaml."""
    return share_path('config', 'rig.yaml')


def hil_port_dir(namespace='', run=None):
    """Directory of the HIL port links of one run of a rig.

    Unique per run (process id and a random token unless run is given), so two HIL rigs
    or test suites on one host never share a link; the simulation makes it and removes it.
    """
    name = normalize_namespace(namespace).strip('/').replace('/', '_') or 'root'
    run = run or f'{os.getpid()}-{secrets.token_hex(4)}'
    return os.path.join(tempfile.gettempdir(), 'spacemine_hil', f'{name}-{run}')


def graph(backend='sim', body='bennu', use_sim_time=True, namespace='', run=None, ports=(),
          anchor_type='', hil_dir='', rig='', plan='', autostart=False, resume=False, site='',
          data_dir='', session='', recording=False):
    """Return the NodeSpecs of a rig for a backend and body.

    rig: the rig file (a path, or a name in config/rigs/; empty: default.yaml). It
    decides the controllers: one node per subsystem, named by its `controller`.

    use_sim_time applies to the sim backend only: hil and hardware run on the wall
    clock, as a real rig does. run names this start of the rig (hil_port_dir); ports
    ('bus=/dev/path' entries) override the rig description's serial ports (hardware);
    anchor_type ('' for the body site's) goes to the simulation and the controller alike;
    site ('LAT,LON' in degrees, '' for the preset's) to every node that models the body;
    hil_dir names the HIL port directory (parts of one rig started apart share it).
    plan and autostart go to the supervisor (every graph has one): the plan to load and
    whether to start it at once. data_dir, session and resume go to the supervisor, the
    simulation and every controller: where the rig keeps what must survive a restart
    (the mission record, the world's checkpoint, what each controller remembers), which
    start of the rig this is (a respawned node recognises its own record by it), and
    whether to take up what is stored whatever start wrote it. recording adds the
    recorder: every topic of the rig into an MCAP file in the data directory.
    """
    from spacemine_ros.core.rig_interface import load_rig_interface

    if backend not in BACKENDS:
        raise ValueError(f'unknown backend {backend!r}; available: {", ".join(BACKENDS)}')
    rig_path = rig_file_path(rig)
    subsystems = load_rig_interface(rig_path).subsystems.values()  # ConfigError if bad
    chosen = {'rig': os.path.abspath(rig_path)} if rig else {}
    where = {'site': site} if site else {}  # 'LAT,LON': the work site, not the preset's
    common = {'body': body, **where, **({'anchor_type': anchor_type} if anchor_type else {}),
              **chosen}
    sim_time = bool(use_sim_time) and backend == 'sim'
    record = {key: value for key, value in (
        ('data_dir', data_dir), ('session', session), ('resume', bool(resume))) if value}
    # The simulation gives the rig as one RigState per instant; the field bus a topic per sensor.
    controllers = {'use_sim_time': sim_time, 'rig_state': backend == 'sim', **chosen, **record}
    on_body = {'body': body, **where, **controllers}  # controllers whose models use it
    # Off the simulation, odometry comes at its own pace, not stamp-aligned with joints.
    anchoring = {**common, **controllers, 'odom_sync': backend == 'sim'}
    frames = {'frame_prefix': frame_prefix(namespace)} if namespace else {}
    nodes = []
    if recording:  # first: it stops last, after every node's safe stop is in the file
        nodes.append(NodeSpec('recorder', 'recorder', 'spacemine_ros.nodes.recorder',
                              'RecorderNode', {'use_sim_time': sim_time, **record, **frames},
                              own_process=True))
    port_dir = (hil_dir or hil_port_dir(namespace, run)) if backend == 'hil' else ''
    if backend in ('sim', 'hil'):
        sim = {**common, 'use_sim_time': False, **record, **frames}  # the sim is the clock
        if backend == 'sim':
            sim['lockstep_supervisor'] = True  # the graph's supervisor is in its lockstep
        if backend == 'hil':
            sim.update(hil=True, lockstep=False, hil_port_dir=port_dir)
        nodes.append(NodeSpec('rig_sim', 'rig_sim', 'spacemine_ros.nodes.rig_sim',
                              'RigSimNode', sim))
    if backend in ('hil', 'hardware'):
        bus = {'use_sim_time': False, 'autostart': True, **chosen, **frames}
        if ports:
            bus['ports'] = list(ports)
        if backend == 'hil':
            # Virtual serial lines cannot carry parity: 8N1 on both ends. Their latency is
            # the host's scheduling, not the wire's: allow it more time per reply.
            bus.update(port_dir=port_dir, parity='none', request_timeout=0.25)
        nodes.append(NodeSpec('field_bus', 'field_bus', 'spacemine_ros.nodes.field_bus',
                              'FieldBusNode', bus, lifecycle=True))
    parameters = {'anchors': anchoring, 'drill': controllers, 'scraper': controllers,
                  'material_line': on_body, 'furnace': on_body}
    for subsystem in subsystems:
        executable, module, node_class, section = CONTROLLERS[subsystem.kind]
        nodes.append(NodeSpec(subsystem.controller, executable, module, node_class,
                              dict(parameters[subsystem.kind]), defaults=section))
    backend_node = 'field_bus' if backend in ('hil', 'hardware') else 'rig_sim'
    supervisor = {**controllers, 'body': body,
                  'watched_nodes': [backend_node] + [s.controller for s in subsystems],
                  'watched_streams': ['joint_states', 'odom'] if backend == 'sim'
                  else ['joint_states']}
    if backend == 'sim':
        # The lockstep world publishes when a participant is due: once a simulated second
        # (rig_sim's idle_step) at the least, every control period while a drive moves.
        supervisor['stream_rate'] = 1.0
    supervisor.update({key: value for key, value in (
        ('plan', plan), ('autostart', bool(autostart))) if value})
    if backend in ('sim', 'hil'):
        # A rig for tests and what-if runs signs its own commands (docs/operations.md).
        supervisor['own_operator_key'] = True
    nodes.append(NodeSpec('supervisor', 'supervisor', 'spacemine_ros.nodes.supervisor',
                          'SupervisorNode', supervisor))
    return nodes


def check_site(body, anchoring=None, site=''):
    """Refuse an unknown body, or anchors that cannot hold at its site (ConfigError).

    anchoring: the anchoring node's parameters as set (anchor_type, bodies_file,
    anchors_file, proof_fraction, preload); what is not set takes the node's default.
    """
    from spacemine_ros.core.models.anchors import choose_anchor, load_anchor_types
    from spacemine_ros.core.models.body import load_body

    anchoring = anchoring or {}
    found = load_body(anchoring.get('bodies_file') or share_path('config', 'bodies.yaml'), body,
                      site)
    types = load_anchor_types(anchoring.get('anchors_file')
                              or share_path('config', 'anchors.yaml'))
    return choose_anchor(types, found, anchoring.get('anchor_type', ''),
                         float(anchoring.get('proof_fraction', 0.8)),
                         float(anchoring.get('preload', 5.0)))


def body_assumptions(body, bodies_file=None, site=''):
    """Lines saying what a body built from the NEA catalogue assumes ([] for a preset)."""
    from spacemine_ros.core.models.body import load_body

    found = load_body(bodies_file or share_path('config', 'bodies.yaml'), body, site)
    assumed = found.sources.get('assumed') or []
    if not assumed:
        return []
    return [f'{body}: {found.name}, built from the asteroid catalogue (config/targets.yaml)'] \
        + [f'  assumed: {line}' for line in assumed]


def ros_arguments(spec, namespace='', params_file=None, node_parameters=None):
    """Command-line ROS arguments that give a node its name, namespace and parameters.

    params_file is the rig's (config/rig.yaml); node_parameters, a file written by
    write_parameters(), comes after it, so what the graph and the operator set wins.
    """
    args = ['--ros-args', '-r', f'__node:={spec.name}']
    if namespace:
        args += ['-r', f'__ns:={normalize_namespace(namespace)}']
    for path in (params_file, node_parameters):
        if path:
            args += ['--params-file', path]
    for source, target in spec.remappings:
        args += ['-r', f'{source}:={target}']
    return args


class _ParametersDumper(yaml.SafeDumper):
    """YAML with every text value quoted.

    ROS reads a bare N, yes, on, 0x10 or 1e3 as a boolean or a number; only a quoted
    scalar is always a string (rcl's parser).
    """


def _mapping_with_plain_keys(dumper, data):
    node = dumper.represent_dict(data)
    for key, _ in node.value:
        key.style = None  # names stay plain; only values need the quotes
    return node


_ParametersDumper.add_representer(
    str, lambda dumper, text: dumper.represent_scalar('tag:yaml.org,2002:str', text,
                                                      style="'"))
_ParametersDumper.add_representer(dict, _mapping_with_plain_keys)


def parameters_yaml(node, values):
    """Return a ROS params file giving values to the node named node, in any namespace.

    The key is `/**/<node>`, the one config/rig.yaml uses: rcl merges entries of the same
    key in file order, later files winning, while a broader key (`/**`) would lose
    against the rig file's `/**/<node>` whatever the order.
    """
    values = {name: list(value) if isinstance(value, tuple) else value
              for name, value in values.items()
              if not (isinstance(value, (list, tuple)) and not value)}  # no type to infer
    return yaml.dump({f'/**/{node}': {'ros__parameters': values}}, Dumper=_ParametersDumper,
                     default_flow_style=False, sort_keys=True)


def inherited_parameters(spec, params_file):
    """Return what a node takes from its kind's section of the params file.

    A node named after its kind (drill) reads its section itself; drill_b starts from
    /**/drill and then its own /**/drill_b entries, which rcl would otherwise apply
    before the per-node file overwrote them.
    """
    if not params_file or not spec.defaults or spec.defaults == spec.name:
        return {}
    from spacemine_ros.params_files import load_params_file
    entries = load_params_file(params_file)
    return {**entries.get(f'/**/{spec.defaults}', {}), **entries.get(f'/**/{spec.name}', {})}


def write_parameters(spec, directory, extra=None, params_file=None):
    """Write a node's own parameters to <directory>/<node>.yaml; return the path.

    They are what it inherits from its kind's params section (inherited_parameters),
    the graph's and the operator's overrides (extra), strings quoted so they stay strings.
    """
    path = os.path.join(directory, f'{spec.name}.yaml')
    values = {**inherited_parameters(spec, params_file), **spec.parameters, **(extra or {})}
    with open(path, 'w', encoding='utf-8') as stream:
        stream.write(parameters_yaml(spec.name, values))
    return path


def parse_value(text):
    """Return the value of a NAME=VALUE override as ROS types it.

    YAML scalars and uniform lists ([a, b]) are typed; anything else stays the text it is.
    """
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, list) and value and all(type(v) is type(value[0]) and
                                                 isinstance(v, (bool, int, float, str))
                                                 for v in value):
        return value
    return text


def frame_prefix(namespace):
    """Return the TF frame prefix of a rig in `namespace`: 'rig1/' for /rig1, '' for none.

    Rigs on one domain share /tf; each one's frames (rig1/odom, rig1/base_link, its links)
    stay apart, as robot_state_publisher's frame_prefix keeps a robot's.
    """
    namespace = normalize_namespace(namespace)
    return namespace.lstrip('/') + '/' if namespace else ''


def normalize_namespace(namespace):
    """'rig1' and '/rig1' both mean /rig1; '' is the root namespace."""
    namespace = namespace.strip().strip('/')
    return '/' + namespace if namespace else ''
