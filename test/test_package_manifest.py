"""package.xml names every dependency the code imports, by its rosdep key.

rosdep users install exactly what package.xml says, so a module imported by the package
or its launch files but missing there is a crash on their first start. Every
third-party import is mapped to its rosdep key (rosdistro's rosdep/python.yaml, or the
ROS package of the same name) and must be an exec_depend; every exec_depend must be
used; every PyPI distribution behind a Python key is pinned in requirements.txt.
"""

import ast
import os
import re
import sys
import xml.etree.ElementTree as ElementTree

from test.conftest import ROOT

# module -> (rosdep key, PyPI distribution pinned in requirements.txt or None)
PYTHON_KEYS = {
    'numpy': ('python3-numpy', 'numpy'),
    'scipy': ('python3-scipy', 'scipy'),
    'matplotlib': ('python3-matplotlib', 'matplotlib'),
    'mcap': ('mcap-ros2-support', 'mcap'),  # mcap-ros2-support brings mcap
    'mcap_ros2': ('mcap-ros2-support', 'mcap-ros2-support'),
    'yaml': ('python3-yaml', 'PyYAML'),
    'serial': ('python3-serial', 'pyserial'),
    'tqdm': ('python3-tqdm', 'tqdm'),
    'pymodbus': ('python3-pymodbus', 'pymodbus'),
    'pybullet': ('python3-pybullet-pip', 'pybullet'),
    'pydantic': ('python3-pydantic', 'pydantic'),
    'transitions': ('python3-transitions', 'transitions'),
    'psutil': ('python3-psutil', 'psutil'),
    'cryptography': ('python3-cryptography', 'cryptography'),
}
ROS_PACKAGES = {'rclpy', 'std_msgs', 'std_srvs', 'geometry_msgs', 'sensor_msgs', 'nav_msgs',
                'diagnostic_msgs', 'rcl_interfaces', 'rosgraph_msgs', 'ament_index_python',
                'launch', 'launch_ros', 'xacro', 'tf2_msgs', 'trajectory_msgs',
                'spacemine_interfaces', 'action_msgs'}
# Imported by the campaign and target tools only, and with no rosdep key in rosdistro
# (rosdep/python.yaml has none for them): pip installs them from requirements.txt
# (docs/campaigns.md, docs/targets.md), so they must be pinned there and stay out of
# package.xml, where rosdep would fail on them.
PIP_ONLY = {'dask': 'dask', 'distributed': 'distributed', 'pyarrow': 'pyarrow',
            'lamberthub': 'lamberthub'}
# Needed without an import: rclpy.lifecycle uses lifecycle_msgs; the launch file starts
# robot_state_publisher.
USED_WITHOUT_IMPORT = {'lifecycle_msgs', 'robot_state_publisher'}


def imported_modules():
    modules = set()
    for top in ('spacemine_ros', 'launch'):
        for directory, _, files in os.walk(os.path.join(ROOT, top)):
            for name in files:
                if not name.endswith('.py'):
                    continue
                with open(os.path.join(directory, name)) as stream:
                    tree = ast.parse(stream.read())
                for node in ast.walk(tree):
                    if isinstance(node, ast.Import):
                        modules.update(alias.name.split('.')[0] for alias in node.names)
                    elif isinstance(node, ast.ImportFrom) and node.level == 0:
                        modules.add(node.module.split('.')[0])
    return {m for m in modules if m not in sys.stdlib_module_names and m != 'spacemine_ros'}


def exec_depends():
    root = ElementTree.parse(os.path.join(ROOT, 'package.xml')).getroot()
    return {element.text.strip() for element in root.iter()
            if element.tag in ('exec_depend', 'depend')}


def test_every_import_is_an_exec_depend_and_every_exec_depend_is_used():
    modules = imported_modules()
    unknown = modules - set(PYTHON_KEYS) - ROS_PACKAGES - set(PIP_ONLY)
    assert not unknown, f'imports with no rosdep key here: {sorted(unknown)}'
    needed = {PYTHON_KEYS[m][0] if m in PYTHON_KEYS else m for m in modules - set(PIP_ONLY)}
    declared = exec_depends()
    assert needed - declared == set(), f'missing from package.xml: {needed - declared}'
    unused = declared - needed - USED_WITHOUT_IMPORT
    assert unused == set(), f'declared in package.xml but not used: {unused}'


def test_every_python_dependency_is_pinned_for_pip():
    with open(os.path.join(ROOT, 'requirements.txt')) as stream:
        pinned = dict(re.findall(r'^([A-Za-z0-9_.-]+)==(\S+)', stream.read(), re.M))
    for module in imported_modules() & set(PYTHON_KEYS):
        distribution = PYTHON_KEYS[module][1]
        assert distribution in pinned, f'{distribution} is not pinned in requirements.txt'
    for module in imported_modules() & set(PIP_ONLY):
        assert PIP_ONLY[module] in pinned, f'{PIP_ONLY[module]} is not pinned in requirements.txt'
