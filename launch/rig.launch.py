"""Start a spacemine_ros rig: the backend and the controllers, in a namespace.

    ros2 launch spacemine_ros rig.launch.py backend:=sim body:=bennu namespace:=rig1
    ros2 launch spacemine_ros rig.launch.py plan:=bennu_shift autostart:=true

The node graph comes from spacemine_ros.bringup, the same description the project's own
launcher (spacemine-rig) starts, so the two cannot drift apart.
"""

import os
import secrets
import shutil
import tempfile

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, GroupAction, OpaqueFunction, \
    RegisterEventHandler, Shutdown
from launch.event_handlers import OnShutdown
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import LifecycleNode, Node, PushROSNamespace
from launch_ros.parameter_descriptions import ParameterValue

from spacemine_ros import bringup
from spacemine_ros.core.mission.plan import check_against_rig, load_plan
from spacemine_ros.core.rig_interface import load_rig_interface
from spacemine_ros.domain import dds_environment
from spacemine_ros.hardware.ports import parse_ports
from spacemine_ros.nodes.supervisor import plan_path
from spacemine_ros.params_files import load_params_file
from spacemine_ros.security import check_keystore, enclave, security_environment
from spacemine_ros.sim.description import rig_urdf_xml

DESCRIPTION_NODE = 'robot_state_publisher'

ARGUMENTS = [
    ('backend', 'sim', 'What the controllers drive: ' + ', '.join(bringup.BACKENDS)),
    ('body', 'bennu', 'Body preset from config/bodies.yaml, or an asteroid of '
     'config/targets.yaml (e.g. 2008EV5)'),
    ('anchor_type', '', "Anchor design from config/anchors.yaml (empty: the body site's)"),
    ('site', '', "Work site LAT,LON in degrees, planetocentric (empty: the body preset's)"),
    ('namespace', '', 'Namespace of the rig (several rigs can share a domain)'),
    ('rig', '', 'Rig file: a name in config/rigs/ (e.g. twin_drill) or a path (empty: '
     'default)'),
    ('params_file', '', 'Node parameters YAML (empty: the installed config/rig.yaml)'),
    ('use_sim_time', 'true', 'Controllers follow /clock from the simulation (sim backend '
     'only; hil and hardware run on the wall clock)'),
    ('log_level', 'info', 'Log level of every node'),
    ('respawn', 'false', 'Restart a node that exits'),
    ('publish_description', 'true', 'Run robot_state_publisher with the rig URDF'),
    ('ports', '', 'Serial port of each bus for the hardware backend: bus=/dev/path, comma '
     'separated (empty: as config/rig_hardware.yaml says)'),
    ('plan', '', 'Shift plan the supervisor loads: a name in config/plans/ (e.g. '
     'bennu_shift) or a path (empty: none; load one later with spacemine-command)'),
    ('autostart', 'false', 'Start the plan as soon as every node is alive'),
    ('resume', 'false', "Take up what the rig's data directory holds and go on: the stored "
     "shift, the simulation's world, what each controller remembers (a node respawned "
     'within one launch always does)'),
    ('data_dir', '', "The rig's data directory: the mission record, the world checkpoint, "
     "the controllers' records (empty: $SPACEMINE_DATA_DIR or "
     '~/.local/share/spacemine_ros/<namespace>)'),
    ('keystore', '', 'An SROS2 keystore: every node in its enclave /<namespace>/<node>, DDS '
     'security enforced (ROS_SECURITY_*; docs/operations.md). Empty: no DDS security'),
    ('record', 'false', "Record every topic to an MCAP file in the rig's data directory "
     '(opens in ros2 bag and Foxglove)'),
]


def _truthy(text):
    return text.strip().lower() in ('1', 'true', 'yes', 'on')


def _checked(value):
    """Refuse a bad launch argument before any node starts (one line from launch)."""
    for name in ('use_sim_time', 'respawn', 'publish_description', 'autostart', 'resume',
                 'record'):
        if value[name].strip().lower() not in ('true', 'false', '1', '0', 'yes', 'no', 'on',
                                               'off'):
            raise ValueError(f'launch argument {name}:={value[name]!r}: expected true or false')
    if value['backend'] not in bringup.BACKENDS:
        raise ValueError(f'launch argument backend:={value["backend"]!r}: expected one of '
                         f'{", ".join(bringup.BACKENDS)}')
    params_file = value['params_file'] or bringup.default_params_file()
    load_params_file(params_file)  # ConfigError naming the file, line and key
    parse_ports([e.strip() for e in value['ports'].split(',') if e.strip()])
    bringup.check_site(value['body'], {'anchor_type': value['anchor_type']}, value['site'])
    rig = load_rig_interface(bringup.rig_file_path(value['rig']))  # ConfigError naming the key
    if value['plan']:  # PlanError naming the step and field
        check_against_rig(load_plan(plan_path(value['plan'])), rig, value['body'])
    return params_file


def _take_the_rig_down(event, context):
    # A node that exits takes the rig down (never half a rig), unless it is respawned;
    # not again while the launch is already shutting down.
    if context.is_shutdown:
        return None
    return [Shutdown(reason=f'{event.action.name} exited with code {event.returncode}')]


def _nodes(context):
    value = {name: LaunchConfiguration(name).perform(context) for name, _, _ in ARGUMENTS}
    params_file = _checked(value)
    use_sim_time = _truthy(value['use_sim_time']) and value['backend'] == 'sim'
    respawn = _truthy(value['respawn'])
    keystore = value['keystore']

    def secured(name):
        """Each node in its enclave when a keystore is given: (environment, arguments)."""
        if not keystore:
            return {}, []
        return security_environment(keystore), ['--enclave', enclave(value['namespace'], name)]

    actions = []
    if value['namespace']:
        actions.append(PushROSNamespace(bringup.normalize_namespace(value['namespace'])))
    # Each node's own parameters go in a file written here with every string quoted: a
    # dict would be dumped by launch_ros unquoted, and ROS reads e.g. a bare N as false.
    directory = tempfile.mkdtemp(prefix='spacemine_params_')
    cleanup = RegisterEventHandler(OnShutdown(
        on_shutdown=lambda event, context: shutil.rmtree(directory, ignore_errors=True)))
    ports = [entry.strip() for entry in value['ports'].split(',') if entry.strip()]
    # This launch's session: a respawned supervisor finds it in its record and goes on
    # with its shift; a new launch starts clean unless resume:=true.
    session = secrets.token_hex(6)
    specs = bringup.graph(value['backend'], value['body'], use_sim_time, value['namespace'],
                          ports=ports, anchor_type=value['anchor_type'], rig=value['rig'],
                          site=value['site'], plan=value['plan'],
                          autostart=_truthy(value['autostart']),
                          resume=_truthy(value['resume']), data_dir=value['data_dir'],
                          recording=_truthy(value['record']), session=session)
    if keystore:  # every node's enclave there before any starts
        check_keystore(keystore, value['namespace'], [spec.name for spec in specs] + (
            [DESCRIPTION_NODE] if _truthy(value['publish_description']) else []))
    for spec in specs:
        security_env, enclave_args = secured(spec.name)
        # A managed node configures and activates itself (its autostart parameter);
        # LifecycleNode lets launch event handlers see and drive its transitions too.
        kind, extra = (LifecycleNode, {'namespace': ''}) if spec.lifecycle else (Node, {})
        actions.append(kind(
            package=spec.package, executable=spec.executable, name=spec.name, **extra,
            parameters=[params_file, bringup.write_parameters(spec, directory,
                                                              params_file=params_file)],
            remappings=list(spec.remappings), respawn=respawn,
            # Each node stops safely if this launch dies without stopping it: ros2 launch
            # exits on SIGTERM leaving its processes (spacemine_ros.nodes.common).
            # And they talk over UDP unless the operator chose a DDS transport
            # (spacemine_ros.domain: a killed process can deafen shared memory).
            additional_env={bringup.STOP_WITH_PARENT: str(os.getpid()), **dds_environment(),
                            **security_env},
            on_exit=None if respawn else _take_the_rig_down,
            arguments=['--ros-args', '--log-level', value['log_level'], *enclave_args],
            output='screen'))
    if _truthy(value['publish_description']):
        drills = load_rig_interface(bringup.rig_file_path(value['rig'])).drill_masts()
        security_env, enclave_args = secured(DESCRIPTION_NODE)
        actions.append(Node(
            package='robot_state_publisher', executable='robot_state_publisher',
            name=DESCRIPTION_NODE, output='screen',
            arguments=['--ros-args', *enclave_args] if enclave_args else [],
            remappings=[bringup.CLOCK_REMAP],
            additional_env={**dds_environment(), **security_env},
            parameters=[{'robot_description': ParameterValue(rig_urdf_xml(drills=drills),
                                                             value_type=str),
                         'frame_prefix': bringup.frame_prefix(value['namespace']),
                         'use_sim_time': use_sim_time}]))
    return [cleanup, GroupAction(actions)]


def generate_launch_description():
    """Launch description of one rig."""
    return LaunchDescription(
        [DeclareLaunchArgument(name, default_value=default, description=description)
         for name, default, description in ARGUMENTS] + [OpaqueFunction(function=_nodes)])
