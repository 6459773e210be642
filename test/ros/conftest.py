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


@pytest.fixture
def ros():
    """Initialise rclpy for the test; shut it down after."""
    import rclpy
    rclpy.init()
    yield
    rclpy.try_shutdown()


@pytest.fixture(scope='module')
def references(tmp_path_factory):
    """Return {plan: the facts of its shift run without a kill}, run when first asked.

    The kill-and-resume cases' uninterrupted runs (test/ros/kill_cases.py), once per file.
    """
    from test.ros.kill_cases import run_shift
    runs = {}

    def reference(plan):
        if plan not in runs:  # in the asking test's rclpy context
            runs[plan] = run_shift(tmp_path_factory.mktemp(f'reference_{plan}'),
                                   f'whole_{plan}', plan=plan)
        return runs[plan]
    return reference
