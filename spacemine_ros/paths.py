"""Where the package's data files (config, urdf, launch) are, installed or in a checkout."""

import os

PACKAGE = 'spacemine_ros'


def share_directory():
    """Return the package's share directory.

    An ament install puts data under share/spacemine_ros; a source checkout (or an
    editable install) keeps it next to the Python package, which is tried first so a
    developer always runs the files they are editing.
    """
    checkout = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if os.path.isfile(os.path.join(checkout, 'package.xml')):
        return checkout
    try:
        from ament_index_python.packages import get_package_share_directory
        return get_package_share_directory(PACKAGE)
    except (ImportError, LookupError, ValueError, OSError):
        pass
    import sys
    installed = os.path.join(sys.prefix, 'share', PACKAGE)
    if os.path.isdir(installed):
        return installed
    raise FileNotFoundError(f'cannot find the {PACKAGE} share directory')


def share_path(*parts):
    """Return the path of a file under the share directory (e.g. config/bodies.yaml)."""
    return os.path.join(share_directory(), *parts)


def default_data_dir(namespace):
    """Return a rig's data directory: $SPACEMINE_DATA_DIR, else under XDG_DATA_HOME."""
    base = os.environ.get('SPACEMINE_DATA_DIR') or os.path.join(
        os.environ.get('XDG_DATA_HOME') or os.path.expanduser('~/.local/share'), PACKAGE)
    return os.path.join(base, namespace.strip('/').replace('/', '_') or 'root')
