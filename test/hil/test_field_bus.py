"""The field bus (driver threads, faults, safe states) against emulated devices.

No ROS here: FieldBus is driven directly, the emulators stand in for the devices and the
virtual line's wire injects faults. Waits are bounded polls for a state, never timings.
"""

import math
import os

from pymodbus.constants import ExcCodes
import pytest

from spacemine_ros.hardware.emulator import VirtualLine
from spacemine_ros.hardware.field_bus import FAULT, FieldBus, OK
from spacemine_ros.hardware.hil import HilRig
from test.hil.drill_bus import DRILL_BUS, drill_bus_description, wait_for

pytestmark = pytest.mark.hil


class Rig:
    """Emulated drill bus + the real driver stack on its virtual line."""

    def __init__(self, tmp_path, **bus):
        self.description = drill_bus_description(**bus)
        self.hil = HilRig(self.description, port_dir=str(tmp_path))
        self.bus = FieldBus(self.description, self.hil.ports, parity=VirtualLine.PARITY)
        self.line = self.hil.lines['drill_bus']

    def device(self, name):
        return self.hil.devices[name]

    def status(self, name):
        return self.bus.snapshots()['drill_bus'].devices[name]

    def drill(self, feed_speed=0.01, thrust=100.0, spindle=5.0):
        return self.bus.command('drill/command', ['drill_feed', 'drill_spindle'], [],
                                [feed_speed, spindle], [thrust, 0.0])

    def anchors(self, embed=0.02, tension=50.0):
        names = [f'anchor_{i}_joint' for i in range(4)]
        return self.bus.command('anchors/command', names, [embed] * 4, [], [tension] * 4)

    def close(self):
        self.bus.close()
        self.hil.close()


@pytest.fixture
def rig(tmp_path):
    rig = Rig(tmp_path)
    assert rig.bus.open() == {}
    rig.bus.start()
    yield rig
    rig.close()


def running(rig):
    """Enable outputs and keep commands fresh until the spindle runs."""
    rig.bus.enable_outputs(True)

    def spinning():
        rig.drill()
        rig.anchors()
        return rig.device('spindle').get('speed_ref') == pytest.approx(5.0) and \
            rig.device('spindle').get('control') == 1
    assert wait_for(spinning)


def test_commands_reach_the_devices_within_the_rig_limits(rig):
    running(rig)
    assert rig.device('feed').get('velocity_ref') == pytest.approx(0.01)
    assert rig.device('feed').get('force_limit') == pytest.approx(100.0)
    assert rig.device('anchor_2').get('tension_ref') == pytest.approx(50.0)
    # Beyond the drive limit of the rig description: clamped, not passed on.
    assert wait_for(lambda: not rig.drill(thrust=1e6) and
                    rig.device('feed').get('force_limit') == pytest.approx(500.0))


def test_readings_come_back_as_joint_states_and_sensor_outputs(rig):
    rig.device('feed').set('position', 0.123)
    rig.device('feed').set('force', 42.0)
    rig.device('spindle').set('speed', 3.0)
    rig.device('drill_gauge').set('mass', 0.25)

    def read():
        snapshots = rig.bus.snapshots()
        joints = {row[0]: row[1:] for row in rig.bus.joint_states(snapshots) or []}
        outputs = {o.topic: v for o, v in rig.bus.outputs(snapshots)}
        return joints, outputs
    # Nothing is reported before every device has been read once.
    assert wait_for(lambda: read()[0].get('drill_feed', [0])[0] == pytest.approx(0.123) and
                    read()[1].get('material/drill/mass') is not None)
    joints, outputs = read()
    assert joints['drill_feed'][2] == pytest.approx(42.0)
    assert joints['drill_spindle'][1] == pytest.approx(3.0)
    assert outputs['material/drill/mass'] == [pytest.approx(0.25)]
    # The spindle's angle is the integral of its speed: it advances.
    first = read()[0]['drill_spindle'][0]
    assert wait_for(lambda: read()[0]['drill_spindle'][0] > first + 0.05)


def test_the_poll_rate_achieved_is_measured(rig):
    assert wait_for(lambda: rig.bus.snapshots()['drill_bus'].cycles > 20)
    snapshot = rig.bus.snapshots()['drill_bus']
    assert 0.0 < snapshot.achieved_rate <= 1.2 * snapshot.poll_rate


def test_disabling_outputs_writes_confirmed_stops(rig):
    running(rig)
    rig.bus.enable_outputs(False)
    assert wait_for(rig.bus.all_safe_confirmed)
    spindle, feed = rig.device('spindle'), rig.device('feed')
    assert spindle.get('control') == 0 and spindle.get('speed_ref') == 0.0
    assert feed.get('velocity_ref') == 0.0 and feed.get('force_limit') == 0.0
    assert spindle.was_written('control', 0) and feed.was_written('velocity_ref', 0.0)


def test_the_command_timeout_stops_the_drives(rig):
    running(rig)
    # The controller falls silent: after command_timeout the driver writes the stop.
    assert wait_for(rig.bus.all_safe_confirmed)
    assert rig.device('spindle').get('control') == 0
    assert rig.device('spindle').get('speed_ref') == 0.0
    assert rig.status('spindle').safe_reason == 'command timeout'
    # Tension dropped, but an anchor holds where it is.
    anchor = rig.device('anchor_0')
    assert anchor.get('tension_ref') == 0.0 and anchor.get('position_ref') == pytest.approx(0.02)


def test_the_estop_stops_the_drives_while_commands_keep_coming(rig):
    running(rig)
    rig.bus.set_estop(True)
    assert wait_for(lambda: rig.drill() == [] and rig.status('spindle').safe_confirmed)
    assert rig.device('spindle').get('control') == 0
    assert rig.status('spindle').safe_reason == 'e-stop latched'
    rig.bus.set_estop(False)
    assert wait_for(lambda: rig.drill() == [] and rig.device('spindle').get('control') == 1)


def test_a_non_finite_command_is_refused_and_the_drive_made_safe(rig):
    running(rig)
    refused = rig.drill(spindle=math.nan)
    assert refused == [('drill_spindle', 'missing or non-finite speed_ref')]
    assert wait_for(lambda: rig.status('spindle').safe_confirmed)
    assert rig.device('spindle').get('control') == 0
    assert 'non-finite' in rig.status('spindle').safe_reason


@pytest.mark.parametrize('fault', ['drop', 'corrupt_crc', 'garbage', 'truncate', 'delay',
                                   'disconnect'])
def test_line_faults_fault_the_devices_and_they_recover(rig, fault):
    running(rig)
    rig.line.delay = 2.0  # each way: beyond the 0.25 s timeout and the late window
    rig.line.fault = fault
    assert wait_for(lambda: rig.status('spindle').state == FAULT)
    assert rig.status('spindle').errors >= 2 and rig.status('spindle').last_error
    rows = dict((r[0], r[1:]) for r in rig.bus.joint_states(rig.bus.snapshots()))
    assert all(math.isnan(v) for v in rows['drill_spindle'])  # no stale numbers
    rig.line.fault = 'none'
    assert wait_for(lambda: all(rig.status(n).state == OK for n in DRILL_BUS))
    # Back to following commands, with everything written again.
    assert wait_for(lambda: rig.drill() == [] and rig.anchors() == [] and
                    not rig.status('spindle').safe and
                    rig.device('spindle').get('control') == 1)


def test_an_exception_response_faults_that_device_and_its_interlocks_go_safe(rig):
    running(rig)
    rig.device('anchor_1').exception = ExcCodes.DEVICE_FAILURE
    assert wait_for(lambda: rig.status('anchor_1').state == FAULT)
    assert 'exception' in rig.status('anchor_1').last_error
    # The feed is interlocked with every anchor: it is stopped although commanded.
    assert wait_for(lambda: rig.drill() == [] and rig.status('feed').safe_confirmed)
    assert rig.device('feed').get('control') == 0 and rig.device('feed').get('force_limit') == 0
    assert 'interlocked: anchor_1' in rig.status('feed').safe_reason
    assert rig.status('spindle').state == OK  # the rest of the bus goes on
    rig.device('anchor_1').exception = None
    assert wait_for(lambda: rig.drill() == [] and rig.anchors() == [] and
                    rig.device('feed').get('control') == 1)


def test_a_device_that_stops_answering_is_probed_with_backoff(rig):
    running(rig)
    rig.device('anchor_3').exception = ExcCodes.GATEWAY_NO_RESPONSE
    assert wait_for(lambda: rig.status('anchor_3').state == FAULT)
    errors = rig.status('anchor_3').errors
    cycles = rig.bus.snapshots()['drill_bus'].cycles
    assert wait_for(lambda: rig.bus.snapshots()['drill_bus'].cycles > cycles + 50)
    # Probed once per backoff (<= 0.2 s at 50 Hz polling), not every cycle.
    assert rig.status('anchor_3').errors - errors < 40


def test_a_port_that_disappears_is_reopened_when_it_comes_back(tmp_path):
    rig = Rig(tmp_path)
    try:
        assert rig.bus.open() == {}
        rig.bus.start()
        running(rig)
        link = rig.hil.ports['drill_bus']
        # Unplug: the device node vanishes and the line goes dead.
        os.remove(link)
        rig.line.fault = 'disconnect'
        assert wait_for(lambda: not rig.bus.snapshots()['drill_bus'].port_open)
        assert all(rig.status(n).state == FAULT for n in DRILL_BUS)
        # Plug back in: same name, working line.
        rig.line.fault = 'none'
        os.symlink(rig.line.driver_port, link)
        assert wait_for(lambda: rig.bus.snapshots()['drill_bus'].port_open and
                        all(rig.status(n).state == OK for n in DRILL_BUS))
    finally:
        rig.close()


def test_a_device_that_is_not_there_fails_the_check_at_open(tmp_path):
    rig = Rig(tmp_path)
    try:
        rig.device('anchor_2').exception = ExcCodes.GATEWAY_NO_RESPONSE
        missing = rig.bus.open()
        assert list(missing) == ['anchor_2'] and 'anchor_drive' in missing['anchor_2']
    finally:
        rig.close()
