"""The rig's node graph as data, shared by launch/rig.launch.py and spacemine-rig.

graph() answers: for this backend, body and namespace, which nodes run, with which
executable, parameters and remappings. Launch files turn the answer into launch_ros
Node actions; the project's own launcher starts the same nodes in one process or in
one process each.
"""

from dataclasses import dataclass, field

from spacemine_ros.paths import share_path

BACKENDS = ('sim',)  # 'hil' and 'hardware' come with the serial drivers


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


def default_params_file():
    """Return the installed (or checked-out) config/rig.yaml."""
    return share_path('config', 'rig.yaml')


def graph(backend='sim', body='bennu', use_sim_time=True):
    """Return the NodeSpecs of a rig for a backend and body."""
    if backend not in BACKENDS:
        raise ValueError(f'unknown backend {backend!r}; available: {", ".join(BACKENDS)}')
    common = {'body': body}
    controllers = {**common, 'use_sim_time': bool(use_sim_time)}
    return [
        # The simulation is the clock: it never runs on simulated time itself.
        NodeSpec('rig_sim', 'rig_sim', 'spacemine_ros.nodes.rig_sim', 'RigSimNode',
                 {**common, 'use_sim_time': False}),
        NodeSpec('anchoring', 'anchoring', 'spacemine_ros.nodes.anchoring', 'AnchoringNode',
                 controllers),
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
    return str(value)
