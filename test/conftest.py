"""Shared fixtures: config paths and loaded presets."""

import os
import shutil
import tempfile

import pytest

from spacemine_ros.core.models.anchors import load_anchor_types
from spacemine_ros.core.models.body import load_bodies

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join(ROOT, 'config')
# The supervisors the tests start keep their mission records here, never in the user's
# data directory (the subprocesses the tests start inherit it).
os.environ['SPACEMINE_DATA_DIR'] = tempfile.mkdtemp(prefix='spacemine_test_data_')


def pytest_unconfigure(config):
    """Remove this test process's data directory (each xdist worker has its own)."""
    shutil.rmtree(os.environ['SPACEMINE_DATA_DIR'], ignore_errors=True)


@pytest.fixture(scope='session')
def bodies():
    """Every body preset of config/bodies.yaml."""
    return load_bodies(os.path.join(CONFIG, 'bodies.yaml'))


@pytest.fixture(scope='session')
def anchor_types():
    """Every anchor design of config/anchors.yaml."""
    return load_anchor_types(os.path.join(CONFIG, 'anchors.yaml'))


def pytest_addoption(parser):
    """HIL options: run test/hil against a real device instead of the emulators."""
    group = parser.getgroup('hil', 'hardware-in-the-loop')
    group.addoption('--hil-port', default=None,
                    help='serial port of a real device (default: an emulator on a pty)')
    group.addoption('--hil-profile', default='spindle_vfd',
                    help='device profile of the device on --hil-port (config/devices.yaml)')
    group.addoption('--hil-allow-motion', action='store_true',
                    help='allow tests that make a real device move')
    group.addoption('--hil-parity', default=None, choices=('none', 'even', 'odd'),
                    help="parity of the real line (default: the profile's framing)")
    group.addoption('--hil-expect', default=None, metavar='FILE',
                    help='YAML of known readings of the real device: register: value or '
                    '[min, max]')
    group.addoption('--hil-emulate-word-order', default=None, choices=('big', 'little'),
                    help='build the emulators with this 32-bit word order instead of the '
                    "profile's (to see the suite catch a mismatch)")
