"""DDS security as far as it can be had here: enclaves, the policy, the keystore settings.

The PyPI wheels' Fast DDS has no security plugins, so no node can run enforced here.
What is tested: the SROS2 policy read off a live rig of the twin-drill rig file gives
every node its enclave and lets only the supervisor call the controllers' actions and
services; the launch file and spacemine-rig start each node in its enclave with the
ROS_SECURITY_* settings when a keystore is given, and refuse a keystore that lacks one.
"""

import os
import signal
import subprocess
import sys
import xml.etree.ElementTree as ElementTree

import pytest
import rclpy

from spacemine_ros import bringup, launcher
from spacemine_ros.launcher import create_nodes
from spacemine_ros.security import enclave, granted, KINDS, policy_xml, rig_interfaces, \
    with_supervisor_calls
from test.conftest import ROOT
from test.launched import LaunchedRig
from test.ros.test_launch_parameters import launch_file, launched_nodes  # noqa: F401
from test.timing import wall

NAMESPACE = f'/secure{os.getpid()}'
RIG = 'twin_drill'


@pytest.fixture(scope='module')
def policy(tmp_path_factory):
    """Return the policy of a live twin-drill sim rig (nodes built in this process)."""
    rclpy.init()
    specs = bringup.graph('sim', 'bennu', rig=RIG,
                          data_dir=str(tmp_path_factory.mktemp('secure')))
    nodes = create_nodes(specs, NAMESPACE, bringup.default_params_file())
    observer = rclpy.create_node('policy_reader')
    try:
        interfaces = rig_interfaces(observer, [s.name for s in specs], NAMESPACE, timeout=60.0)
        controllers = [s.name for s in specs if s.module.split('.')[-1] in
                       ('anchoring', 'drill', 'scraper', 'material_handling', 'smelter')]
        yield specs, policy_xml(with_supervisor_calls(interfaces, controllers), NAMESPACE)
    finally:
        for node in [*nodes, observer]:
            node.destroy_node()
        rclpy.try_shutdown()


def test_every_node_of_the_rig_file_has_its_enclave_in_the_policys_format(policy):
    specs, text = policy
    root = ElementTree.fromstring(text)
    assert root.tag == 'policy' and root.get('version') == '0.2.0'
    paths = [e.get('path') for e in root.find('enclaves')]
    assert sorted(paths) == sorted(enclave(NAMESPACE, s.name) for s in specs)
    assert enclave(NAMESPACE, 'drill_a') in paths and enclave(NAMESPACE, 'drill_b') in paths
    groups = {group: (item, rules) for group, item, rules in KINDS}
    for element in root.iter('enclave'):
        (profiles,) = list(element)
        (profile,) = list(profiles)
        assert profile.get('ns') == NAMESPACE
        assert element.get('path') == enclave(NAMESPACE, profile.get('node'))
        for listing in profile:  # policy.xsd: topics/services/actions, one rule, ALLOW
            item, rules = groups[listing.tag]
            assert list(listing.attrib) in ([rule] for rule in rules)
            assert set(listing.attrib.values()) == {'ALLOW'}
            assert listing and all(child.tag == item and child.text.startswith('/')
                                   for child in listing)


def test_only_the_supervisor_calls_the_tools_and_each_tool_serves_its_own(policy):
    _, text = policy
    supervisor = enclave(NAMESPACE, 'supervisor')
    for node, action in (('drill_a', 'drill_to_depth'), ('drill_b', 'drill_to_depth'),
                         ('scraper', 'scrape'), ('anchoring', 'deploy'),
                         ('anchoring', 'release'), ('material_handling', 'drain'),
                         ('smelter', 'smelt_batch')):
        name = f'{NAMESPACE}/{node}/{action}'
        assert granted(text, 'call', name) == [supervisor], name
        assert granted(text, 'execute', name) == [enclave(NAMESPACE, node)], name
    for node, service in (('scraper', 'reset'), ('smelter', 'reset'),
                          ('material_handling', 'reset')):
        name = f'{NAMESPACE}/{node}/{service}'
        assert granted(text, 'request', name) == [supervisor], name
        assert granted(text, 'reply', name) == [enclave(NAMESPACE, node)], name
    # The smelter's charge goes to the line itself; the supervisor may call it too.
    charge = f'{NAMESPACE}/material_handling/charge_furnace'
    assert granted(text, 'request', charge) == sorted(
        [supervisor, enclave(NAMESPACE, 'smelter')])
    # Commands to the drives: published by their controller only.
    drill_command = next(t for t in ElementTree.fromstring(text).itertext()
                         if t.startswith(f'{NAMESPACE}/drill_a/') and 'command' in t)
    assert granted(text, 'publish', drill_command) == [enclave(NAMESPACE, 'drill_a')]
    # Nobody is granted the supervisor's parameters but the supervisor.
    assert granted(text, 'request', f'{NAMESPACE}/drill_a/set_parameters') == []


def test_the_launch_file_runs_each_node_in_its_enclave(launch_file, tmp_path):  # noqa: F811
    keystore = tmp_path / 'keystore'
    specs = bringup.graph('sim', 'bennu', namespace='rig7')
    for name in [s.name for s in specs] + ['robot_state_publisher']:
        (keystore / 'enclaves' / 'rig7' / name).mkdir(parents=True)
    actions, shut_down = launched_nodes(launch_file, namespace='rig7', keystore=str(keystore))
    try:
        assert len(actions) == len(specs) + 1
        for action in actions:
            kwargs = action.kwargs
            arguments = kwargs['arguments']
            assert arguments[arguments.index('--enclave') + 1] == f'/rig7/{kwargs["name"]}'
            assert arguments.index('--enclave') > arguments.index('--ros-args')
            assert {k: kwargs['additional_env'][k] for k in (
                'ROS_SECURITY_KEYSTORE', 'ROS_SECURITY_ENABLE', 'ROS_SECURITY_STRATEGY')} == {
                'ROS_SECURITY_KEYSTORE': str(keystore), 'ROS_SECURITY_ENABLE': 'true',
                'ROS_SECURITY_STRATEGY': 'Enforce'}
    finally:
        shut_down()
    actions, shut_down = launched_nodes(launch_file, namespace='rig7')
    shut_down()
    assert not any('--enclave' in a.kwargs.get('arguments', []) or
                   'ROS_SECURITY_ENABLE' in a.kwargs.get('additional_env', {})
                   for a in actions)
    (keystore / 'enclaves' / 'rig7' / 'drill').rmdir()
    with pytest.raises(ValueError, match='no enclave /rig7/drill'):
        launched_nodes(launch_file, namespace='rig7', keystore=str(keystore))


def test_spacemine_rig_starts_each_process_in_its_enclave(tmp_path, monkeypatch):
    started = []

    class Recorded:
        def __init__(self, command, **kwargs):
            started.append((command, kwargs['env']))
            self.pid = 0

    spec = bringup.graph('sim', 'bennu', namespace='rig7')[1]
    with monkeypatch.context() as patched:
        patched.setattr(launcher.subprocess, 'Popen', Recorded)
        launcher.start_process(spec, 'rig7', bringup.default_params_file(), {}, str(tmp_path),
                               keystore='/keys')
    ((command, env),) = started
    assert command[command.index('--enclave') + 1] == f'/rig7/{spec.name}'
    assert env['ROS_SECURITY_KEYSTORE'] == '/keys' and env['ROS_SECURITY_ENABLE'] == 'true'
    missing = subprocess.run(
        [sys.executable, '-m', 'spacemine_ros.launcher', '--processes', '--keystore',
         str(tmp_path), '--namespace', 'rig7'], cwd=ROOT, capture_output=True, text=True,
        timeout=120)
    assert missing.returncode == 2 and 'not an SROS2 keystore' in missing.stderr
    in_one = subprocess.run([sys.executable, '-m', 'spacemine_ros.launcher', '--keystore',
                             str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert in_one.returncode == 2 and '--keystore needs --processes' in in_one.stderr


def test_spacemine_keys_reads_the_policy_off_a_running_rig(tmp_path):
    rig = LaunchedRig(['--namespace', 'policy_rig', '--data-dir', str(tmp_path / 'data')],
                      log=str(tmp_path / 'rig.log'))
    try:
        made = subprocess.run(
            [sys.executable, '-m', 'spacemine_ros.keys', 'sros2-policy', '--namespace',
             'policy_rig', '--timeout', str(wall(120.0))], cwd=ROOT, capture_output=True,
            text=True, timeout=wall(300.0))
        assert made.returncode == 0, made.stderr
        root = ElementTree.fromstring(made.stdout)
        assert sorted(e.get('path') for e in root.iter('enclave')) == sorted(
            enclave('policy_rig', s.name) for s in bringup.graph('sim', 'bennu'))
        assert granted(made.stdout, 'call', '/policy_rig/drill/drill_to_depth') == [
            '/policy_rig/supervisor']
        nobody = subprocess.run(
            [sys.executable, '-m', 'spacemine_ros.keys', 'sros2-policy', '--namespace',
             'no_such_rig', '--timeout', '3'], cwd=ROOT, capture_output=True, text=True,
            timeout=wall(120.0))
        assert nobody.returncode == 1 and 'nodes not on the graph' in nobody.stderr
    finally:
        rig.process.send_signal(signal.SIGINT)
        try:
            rig.process.wait(timeout=wall(60.0))
        except subprocess.TimeoutExpired:
            rig.kill()
