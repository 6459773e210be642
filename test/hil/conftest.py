"""HIL tests that bring up ROS nodes get the same isolation as test/ros."""

import pytest

import test.ros.conftest  # noqa: F401,I100 - sets a private ROS domain before rclpy starts


def pytest_collection_modifyitems(config, items):
    """With --hil-port only the device checks run: the rest needs the emulators."""
    if config.getoption('--hil-port') is None:
        return
    skip = pytest.mark.skip(reason='needs the emulated rig (not run with --hil-port)')
    for item in items:
        if '/hil/' in str(item.fspath) and 'test_modbus_devices' not in str(item.fspath):
            item.add_marker(skip)
