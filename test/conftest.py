"""Shared fixtures: config paths and loaded presets."""

import os

import pytest

from spacemine_ros.core.anchoring import load_anchor_types
from spacemine_ros.core.body import load_bodies

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join(ROOT, 'config')


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
