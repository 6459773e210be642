"""The Modbus RTU stack against an emulated device on a virtual serial line, or a real one.

By default each test gets a pty pair with a wire that can misbehave and an emulator of the
profile behind it. With --hil-port PORT --hil-profile NAME the same checks run against a
real device (fault injection needs the virtual line, so those tests are skipped); tests
that move the device also need --hil-allow-motion.
"""

import os

from pymodbus.constants import ExcCodes
import pytest

from spacemine_ros.hardware.emulator import DeviceEmulator, VirtualLine
from spacemine_ros.hardware.modbus_device import DeviceError, ModbusDevice
from spacemine_ros.hardware.profiles import load_profiles
from test.conftest import CONFIG

pytestmark = pytest.mark.hil


@pytest.fixture(scope='module')
def profiles():
    return load_profiles(os.path.join(CONFIG, 'devices.yaml'))


class Bench:
    """A device under test: a driver, and the emulator and line when emulated."""

    def __init__(self, profile, port=None):
        self.profile = profile
        self.line = self.emulator = None
        parity = None
        if port is None:
            self.line = VirtualLine()
            parity = VirtualLine.PARITY
            self.emulator = DeviceEmulator(profile, self.line.device_port, parity=parity)
            port = self.line.driver_port
        self.device = ModbusDevice(profile, port, parity=parity)
        self.device.open()

    def close(self):
        self.device.close()
        if self.emulator:
            self.emulator.close()
            self.line.close()


def pytest_generate_tests(metafunc):
    """Every profile against its emulator; only the named one against a real port."""
    if 'profile_name' in metafunc.fixturenames:
        config = metafunc.config
        names = ([config.getoption('--hil-profile')] if config.getoption('--hil-port')
                 else sorted(load_profiles(os.path.join(CONFIG, 'devices.yaml'))))
        metafunc.parametrize('profile_name', names)


@pytest.fixture
def bench(request, profiles, profile_name):
    port = request.config.getoption('--hil-port')
    rig = Bench(profiles[profile_name], port)
    yield rig
    rig.close()


def emulated_only(bench):
    if bench.emulator is None:
        pytest.skip('needs the emulator (fault injection or planted values)')


def test_every_readable_register_reads(bench):
    for name in bench.profile.registers:
        value = bench.device.read(name)
        assert value == value  # not NaN


def test_readings_follow_the_device(bench):
    emulated_only(bench)
    readable = [r for r in bench.profile.registers.values() if r.kind == 'input']
    for register in readable:
        value = register.decode(register.encode(
            min(max(1.25, register.minimum), register.maximum)))
        bench.emulator.set(register.name, value)
        assert bench.device.read(register.name) == pytest.approx(value, abs=abs(register.scale))


def test_a_stop_is_written_and_confirmed(request, bench):
    if bench.emulator is None and not request.config.getoption('--hil-allow-motion'):
        pytest.skip('writing the control word of a real drive needs --hil-allow-motion')
    if 'control' not in bench.profile.registers:
        pytest.skip('this device has no control word')
    assert bench.device.write('control', 0, confirm=True)
    if bench.emulator:
        assert bench.emulator.get('control') == 0 and bench.emulator.writes >= 1


def test_out_of_range_writes_never_reach_the_device(bench):
    writable = [r for r in bench.profile.registers.values() if r.writable]
    if not writable:
        pytest.skip('no writable register')
    register = writable[0]
    writes = bench.emulator.writes if bench.emulator else None
    with pytest.raises(ValueError, match='outside'):
        bench.device.write(register.name, register.maximum + 1.0)
    if bench.emulator:
        assert bench.emulator.writes == writes


@pytest.mark.parametrize('fault', ['drop', 'corrupt_crc', 'garbage', 'truncate', 'delay'])
def test_line_faults_raise_a_device_error_and_the_driver_recovers(bench, fault):
    emulated_only(bench)
    name = next(r.name for r in bench.profile.registers.values() if r.kind == 'input')
    bench.emulator.set(name, 1.0)
    bench.line.fault = fault
    bench.line.delay = 0.5  # beyond the 50 ms timeout
    with pytest.raises(DeviceError, match=f'{bench.profile.name}.*reading {name}'):
        bench.device.read(name)
    bench.line.fault = 'none'
    # The next request on a clean line is answered again (stale bytes are flushed).
    for _ in range(5):
        try:
            assert bench.device.read(name) == pytest.approx(1.0, abs=0.01)
            break
        except DeviceError:
            continue
    else:
        pytest.fail('the driver did not recover after the fault cleared')


def test_an_exception_response_is_a_device_error(bench):
    emulated_only(bench)
    name = next(iter(bench.profile.registers))
    bench.emulator.device.exception = ExcCodes.DEVICE_FAILURE
    with pytest.raises(DeviceError, match='exception response'):
        bench.device.read(name)
    bench.emulator.device.exception = None
    assert bench.device.read(name) == bench.device.read(name)


def test_a_missing_port_is_a_clear_error(profiles):
    device = ModbusDevice(profiles['spindle_vfd'], '/dev/does-not-exist')
    with pytest.raises(DeviceError, match='cannot open /dev/does-not-exist'):
        device.open()
