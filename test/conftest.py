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
