"""A ROS 2 workspace with this repository under src/ builds both of its packages with colcon.

colcon does not look inside a package for others, and the repository's root is the
ament_python package spacemine_ros; spacemine_interfaces (ament_cmake) is in a folder of
it. The README's workspace commands name both base paths; these tests run them with the
upstream colcon (colcon-common-extensions, pinned in requirements-tools.txt) on a copy of
the repository, the ROS prefix being the venv's.
"""

import os
import shutil
import subprocess
import sys

import pytest

from test.conftest import ROOT

PREFIX = sys.prefix
# What the README's `colcon build` is given: the workspace's sources and the interface
# package inside this one.
BASE_PATHS = ['--base-paths', 'src', 'src/spacemine_ros/spacemine_interfaces']
LEFT_OUT = shutil.ignore_patterns('.git', '.venv*', 'build', 'install', 'log', '__pycache__',
                                  '*.egg-info', '.pytest_cache', '.hypothesis', 'results')


def workspace(tmp_path):
    shutil.copytree(ROOT, tmp_path / 'src' / 'spacemine_ros', ignore=LEFT_OUT)
    return tmp_path


def colcon(directory, *args, limit=60):
    env = dict(os.environ, PATH=f'{PREFIX}/bin:{os.environ["PATH"]}',
               AMENT_PREFIX_PATH=PREFIX, CMAKE_PREFIX_PATH=PREFIX, COLCON_LOG_PATH='log')
    return subprocess.run([os.path.join(PREFIX, 'bin', 'colcon'), *args], cwd=directory,
                          env=env, capture_output=True, text=True, timeout=limit)


def test_colcon_finds_both_packages_and_builds_the_interfaces_first(tmp_path):
    root = workspace(tmp_path)
    listed = colcon(root, 'list', *BASE_PATHS)
    assert listed.returncode == 0, listed.stderr
    packages = dict(line.split('\t')[::2] for line in listed.stdout.splitlines())
    assert packages == {'spacemine_interfaces': '(ros.ament_cmake)',
                        'spacemine_ros': '(ros.ament_python)'}
    order = colcon(root, 'list', '--topological-order', '--names-only', *BASE_PATHS)
    assert order.stdout.split() == ['spacemine_interfaces', 'spacemine_ros']
    # Without the second base path colcon stops at the repository's package.xml.
    alone = colcon(root, 'list', '--names-only', '--base-paths', 'src')
    assert alone.stdout.split() == ['spacemine_ros']


@pytest.mark.slow
def test_colcon_build_installs_both_packages_into_the_workspace(tmp_path):
    root = workspace(tmp_path)
    built = colcon(root, 'build', *BASE_PATHS, '--cmake-args',
                   f'-DPython3_EXECUTABLE={sys.executable}', '-DBUILD_TESTING=OFF',
                   limit=900)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    install = root / 'install'
    index = install / 'spacemine_interfaces' / 'share' / 'ament_index' / 'resource_index'
    # What `ros2 interface show` and rosidl's runtime find the interfaces by.
    listed = (index / 'rosidl_interfaces' / 'spacemine_interfaces').read_text().split()
    assert 'srv/ChargeFurnace.srv' in listed
    assert (install / 'spacemine_interfaces' / 'share' / 'spacemine_interfaces' / 'srv' /
            'ChargeFurnace.srv').exists()
    assert (install / 'spacemine_ros' / 'share' / 'ament_index' / 'resource_index' /
            'packages' / 'spacemine_ros').exists()
    assert (install / 'spacemine_ros' / 'share' / 'spacemine_ros' / 'launch' /
            'rig.launch.py').exists()
