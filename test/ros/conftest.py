"""ROS test isolation: a random domain per test process, discovery on this host only."""

import json
import os
import subprocess
import sys

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


@pytest.fixture(scope='session')
def recorded_shift(tmp_path_factory):
    """Run the shortened make-sim shift once, recorded, in its own process.

    Returns (exit status, summary figures): test_shift checks the shift, test_recording
    the file it wrote (one run serves both: a shift is the slowest thing in the suite).
    """
    directory = tmp_path_factory.mktemp('recorded')
    summary_file = directory / 'summary.json'
    status = subprocess.run(
        [sys.executable, '-m', 'spacemine_ros.shift', '--body', 'bennu', '--depth', '0.05',
         '--passes', '1', '-p', 'scraper.pass_length=0.3', '--no-progress', '--record',
         '--namespace', 'recorded', '--data-dir', str(directory / 'data'),
         '--summary-file', str(summary_file), '--site', '5,30'], check=False).returncode
    return status, json.loads(summary_file.read_text())
