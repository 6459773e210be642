"""ROS test isolation: a random domain per test process, discovery on this host only."""

import os

import pytest

from spacemine_ros.domain import claim_domain

# Before rclpy creates any participant: tests must not see each other, a rig running on
# this host, or the network. The subprocesses they start inherit the domain.
os.environ.pop('ROS_DOMAIN_ID', None)
os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
claim_domain()
os.environ.setdefault('RMW_IMPLEMENTATION', 'rmw_fastrtps_cpp')


def pytest_collection_modifyitems(items):
    """Mark every test here as a ROS test."""
    for item in items:
        if '/ros/' in str(item.fspath):
            item.add_marker(pytest.mark.ros)
