"""The rig description: xacro to URDF, for PyBullet and robot_state_publisher."""

import os
import tempfile

import xacro

from spacemine_ros.paths import share_path


def drills_argument(drills):
    """Return the xacro `drills` argument for [(name, x, y)] drill masts."""
    return ','.join(f'{name}:{x:g}:{y:g}' for name, x, y in drills)


def rig_urdf_xml(xacro_path=None, drills=None):
    """Return the rig's URDF as an XML string, expanded from its xacro file.

    drills: [(name, x, y)] of the rig file's drill subsystems (default: one, `drill`).
    """
    path = xacro_path or share_path('urdf', 'rig.urdf.xacro')
    mappings = {'drills': drills_argument(drills)} if drills else {}
    return xacro.process_file(path, mappings=mappings).toprettyxml(indent='  ')


def write_rig_urdf(xacro_path=None, directory=None, drills=None):
    """Write the expanded URDF to a temporary file (PyBullet loads files) and return its path."""
    handle, path = tempfile.mkstemp(prefix='spacemine_rig_', suffix='.urdf', dir=directory)
    with os.fdopen(handle, 'w', encoding='utf-8') as stream:
        stream.write(rig_urdf_xml(xacro_path, drills))
    return path
