"""The rig's node graph as data, shared by launch/rig.launch.py and spacemine-rig.

graph() answers: for this backend, body and namespace, which nodes run, with which
executable, parameters and remappings. Launch files turn the answer into launch_ros
Node actions; the project's own launcher starts the same nodes in one process or in
one process each.
"""

from dataclasses import dataclass, field
import os
import tempfile

from spacemine_ros.paths import share_path

# sim: rig_sim alone (lockstep, simulated time). hil: rig_sim serving emulated devices on
# virtual serial lines + the field-bus driver (real time). hardware: the field-bus driver
# on the rig's serial ports (real time).
BACKENDS = ('sim', 'hil', 'hardware')


@dataclass(frozen=True)
class NodeSpec:
    """One node of the graph."""

    name: str
    executable: str  # console script installed under lib/spacemine_ros
    module: str  # python module with main(), for the launcher's process-per-node mode
    node_class: str  # class in module, for the launcher's single-process mode
    parameters: dict = field(default_factory=dict)  # overrides on top of the params file
    remappings: tuple = ()
    package: str = 'spacemine_ros'
    lifecycle: bool = False  # a managed node (launch: LifecycleNode)


def default_params_file():
    """Return the installed (or checked-out) config/rig.yaml."""
    return share_path('config', 'rig.yaml')


def hil_port_dir(namespace=''):
    """Directory of the HIL port links of a rig (one per namespace, so rigs can coexist)."""
    name = normalize_namespace(namespace).strip('/').replace('/', '_') or 'root'
    return os.path.join(tempfile.gettempdir(), 'spacemine_hil', name)


def graph(backend='sim', body='bennu', use_sim_time=True, namespace=''):
    """Return the NodeSpecs of a rig for a backend and body.

    use_sim_time applies to the sim backend only: hil and hardware run on the wall
    clock, as a real rig does.
    """
    if backend not in BACKENDS:
        raise ValueError(f'unknown backend {backend!r}; available: {", ".join(BACKENDS)}')
    common = {'body': body}
    sim_time = bool(use_sim_time) and backend == 'sim'
    controllers = {**common, 'use_sim_time': sim_time}
    # Off the simulation, odometry comes at its own pace, not stamp-aligned with joints.
    anchoring = {**controllers, 'odom_sync': backend == 'sim'}
    nodes = []
    if backend in ('sim', 'hil'):
        sim = {**common, 'use_sim_time': False}  # the simulation is the clock
        if backend == 'hil':
            sim.update(hil=True, lockstep=False, hil_port_dir=hil_port_dir(namespace))
        nodes.append(NodeSpec('rig_sim', 'rig_sim', 'spacemine_ros.nodes.rig_sim',
                              'RigSimNode', sim))
    if backend in ('hil', 'hardware'):
        bus = {'use_sim_time': False, 'autostart': True}
        if backend == 'hil':
            # Virtual serial lines cannot carry parity: 8N1 on both ends. Their latency is
            # the host's scheduling, not the wire's: allow it more time per reply.
            bus.update(port_dir=hil_port_dir(namespace), parity='none', request_timeout=0.25)
        nodes.append(NodeSpec('field_bus', 'field_bus', 'spacemine_ros.nodes.field_bus',
                              'FieldBusNode', bus, lifecycle=True))
    return nodes + [
        NodeSpec('anchoring', 'anchoring', 'spacemine_ros.nodes.anchoring', 'AnchoringNode',
                 anchoring),
        NodeSpec('drill', 'drill', 'spacemine_ros.nodes.drill', 'DrillNode', controllers),
        NodeSpec('scraper', 'scraper', 'spacemine_ros.nodes.scraper', 'ScraperNode',
                 controllers),
        NodeSpec('material_handling', 'material_handling',
                 'spacemine_ros.nodes.material_handling', 'MaterialHandlingNode', controllers),
        NodeSpec('smelter', 'smelter', 'spacemine_ros.nodes.smelter', 'SmelterNode',
                 controllers),
    ]


def ros_arguments(spec, namespace='', params_file=None, extra_parameters=None):
    """Command-line ROS arguments that give a node its name, namespace and parameters."""
    args = ['--ros-args', '-r', f'__node:={spec.name}']
    if namespace:
        args += ['-r', f'__ns:={normalize_namespace(namespace)}']
    if params_file:
        args += ['--params-file', params_file]
    for key, value in {**spec.parameters, **(extra_parameters or {})}.items():
        args += ['-p', f'{key}:={_format(value)}']
    for source, target in spec.remappings:
        args += ['-r', f'{source}:={target}']
    return args


def normalize_namespace(namespace):
    """'rig1' and '/rig1' both mean /rig1; '' is the root namespace."""
    namespace = namespace.strip().strip('/')
    return '/' + namespace if namespace else ''


def _format(value):
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, str):
        import yaml
        # ROS reads -p values as YAML with its own rules (it takes N and Y for booleans):
        # text is quoted so it stays text; numbers and booleans written as text (command
        # line overrides) stay what they say.
        try:
            if isinstance(yaml.safe_load(value), (bool, int, float)):
                return value
        except yaml.YAMLError:
            pass
        return "'" + value.replace("'", "''") + "'"
    return str(value)
