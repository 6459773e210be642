"""The rig description: xacro to URDF, for PyBullet and robot_state_publisher."""

import os
import tempfile

import xacro

from spacemine_ros.paths import share_path


def rig_urdf_xml(xacro_path=None):
    """Return the rig's URDF as an XML string, expanded from its xacro file."""
    path = xacro_path or share_path('urdf', 'rig.urdf.xacro')
    return xacro.process_file(path).toprettyxml(indent='  ')


def write_rig_urdf(xacro_path=None, directory=None):
    """Write the expanded URDF to a temporary file (PyBullet loads files) and return its path."""
    handle, path = tempfile.mkstemp(prefix='spacemine_rig_', suffix='.urdf', dir=directory)
    with os.fdopen(handle, 'w', encoding='utf-8') as stream:
        stream.write(rig_urdf_xml(xacro_path))
    return path
