"""ROS test isolation: a random domain per test process, discovery on this host only."""

import os
import random

import pytest

# Before rclpy creates any participant: tests must not see each other or the network.
os.environ['ROS_DOMAIN_ID'] = str(random.SystemRandom().randint(1, 101))
os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
os.environ.setdefault('RMW_IMPLEMENTATION', 'rmw_fastrtps_cpp')


def pytest_collection_modifyitems(items):
    """Mark every test here as a ROS test."""
    for item in items:
        if '/ros/' in str(item.fspath):
            item.add_marker(pytest.mark.ros)
