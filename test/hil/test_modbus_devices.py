"""The Modbus RTU stack against an emulated device on a virtual serial line, or a real one.

By default each test gets a pty pair with a wire that can misbehave and an emulator of the
profile behind it, and the values read are checked exactly: the emulator holds known,
distinct values, so a wrong word order, scale or address fails. With --hil-port PORT
--hil-profile NAME the checks that need no planted values run against a real device:
readings inside the profile's limits (and --hil-expect FILE's), setpoints that survive a
write and read back; tests that move the device also need --hil-allow-motion. Fault
injection needs the virtual line, so those tests are skipped on a real port.

--hil-emulate-word-order little builds the emulators with the other 32-bit word order
(a commissioning mistake): the exact-value checks must then fail, which
test_hil_suite.py checks.
"""

import math
import os

from pymodbus.constants import ExcCodes
import pytest
import yaml

from spacemine_ros.hardware.emulator import BusEmulator, DeviceEmulator, EmulatedDevice, \
    VirtualLine
from spacemine_ros.hardware.modbus_device import DeviceError, ModbusDevice
from spacemine_ros.hardware.profiles import load_profiles, RAW_RANGE
from test.conftest import CONFIG

pytestmark = pytest.mark.hil
# Virtual lines are served by threads of this host: their latency is its scheduling.
VIRTUAL_TIMEOUT = 0.2  # s per request
LATE = 1.5 * VIRTUAL_TIMEOUT  # s, how late a late answer comes
LATE_WINDOW = 2.5 * VIRTUAL_TIMEOUT  # s: the fault tests' late answers fall inside it
FAULT_PROFILES = ('spindle_vfd', 'feed_drive', 'scraper_joint_drive')  # 16/32-bit, float


@pytest.fixture(scope='module')
def profiles():
    return load_profiles(os.path.join(CONFIG, 'devices.yaml'))


class Bench:
    """A device under test: a driver, and the emulator and line when emulated."""

    def __init__(self, profile, port=None, parity=None, word_order=None, retries=2,
                 late_window=None):
        self.profile = profile
        self.line = self.emulator = None
        timeout = None
        if port is None:
            self.line = VirtualLine()
            parity = VirtualLine.PARITY
            self.emulator = DeviceEmulator(profile, self.line.device_port, parity=parity,
                                           word_order=word_order)
            port = self.line.driver_port
            timeout = VIRTUAL_TIMEOUT
        self.device = ModbusDevice(profile, port, parity=parity, timeout=timeout,
                                   retries=retries, late_window=late_window)
        self.device.open()

    def close(self):
        self.device.close()
        if self.emulator:
            self.emulator.close()
            self.line.close()


def pytest_generate_tests(metafunc):
    """Every profile against its emulator; only the named one against a real port."""
    config = metafunc.config
    if 'profile_name' in metafunc.fixturenames:
        names = ([config.getoption('--hil-profile')] if config.getoption('--hil-port')
                 else sorted(load_profiles(os.path.join(CONFIG, 'devices.yaml'))))
        metafunc.parametrize('profile_name', names)
    if 'fault_profile' in metafunc.fixturenames:
        metafunc.parametrize('fault_profile', [] if config.getoption('--hil-port')
                             else FAULT_PROFILES)


def _bench(request, profile, retries=2, late_window=None):
    config = request.config
    return Bench(profile, config.getoption('--hil-port'), config.getoption('--hil-parity'),
                 config.getoption('--hil-emulate-word-order'), retries, late_window)


@pytest.fixture
def bench(request, profiles, profile_name):
    rig = _bench(request, profiles[profile_name])
    yield rig
    rig.close()


@pytest.fixture
def faulty(request, profiles, fault_profile):
    """Return an emulated device whose line will misbehave (one retry per request)."""
    rig = _bench(request, profiles[fault_profile], retries=1, late_window=LATE_WINDOW)
    yield rig
    rig.close()


def emulated_only(bench):
    if bench.emulator is None:
        pytest.skip('needs the emulator (fault injection or planted values)')


def probe_values(profile):
    """Return {register: value}: distinct, exactly representable values for each register.

    32-bit values have both words non-zero and different, so the other word order reads
    another number; writable registers stay inside their limits.
    """
    values = {}
    for index, register in enumerate(sorted(profile.registers.values(),
                                            key=lambda r: (r.kind, r.address))):
        if math.isfinite(register.minimum) and math.isfinite(register.maximum):
            span = register.maximum - register.minimum
            value = register.minimum + span * (0.31 + 0.17 * (index % 4))
        elif register.data_type == 'float32':
            value = 12.3 + 1.7 * index
        elif register.width == 2:
            value = (0x12345 + 0x1111 * index) * register.scale + register.offset
        else:
            low, high = RAW_RANGE[register.data_type]
            value = min(1234 + 97 * index, high) * register.scale + register.offset
        values[register.name] = register.decode(register.encode(value, check_limits=False))
    return values


def load_expectations(path):
    """Read --hil-expect: {register: value | [min, max]}."""
    with open(path) as stream:
        data = yaml.safe_load(stream) or {}
    if not isinstance(data, dict):
        raise ValueError(f'{path}: expected register: value or [min, max] entries')
    return data


# Values ----------------------------------------------------------------------------------------
def test_every_register_reads_the_exact_value_the_device_holds(bench):
    emulated_only(bench)
    expected = probe_values(bench.profile)
    for name, value in expected.items():
        bench.emulator.set(name, value)
    for name, value in expected.items():
        assert bench.device.read(name) == value, name
    # One request per register kind gives the same values.
    assert bench.device.read_many(list(expected)) == expected


def test_readings_are_plausible(request, bench):
    # Against a real device: finite, inside the profile's limits where it has them, and
    # as --hil-expect says.
    expect = request.config.getoption('--hil-expect')
    expectations = load_expectations(expect) if expect else {}
    unknown = set(expectations) - set(bench.profile.registers)
    assert not unknown, f'--hil-expect names registers {bench.profile.name} lacks: {unknown}'
    for name, register in bench.profile.registers.items():
        value = bench.device.read(name)
        assert math.isfinite(value), name
        if register.writable:
            assert register.minimum <= value <= register.maximum, \
                f"{name} = {value:g} {register.unit} outside the profile's limits"
        wanted = expectations.get(name)
        if isinstance(wanted, list):
            assert wanted[0] <= value <= wanted[1], f'{name} = {value:g}, expected {wanted}'
        elif wanted is not None:
            assert value == pytest.approx(float(wanted), abs=abs(register.scale)), name


def test_setpoints_survive_a_write_and_read_back(request, bench):
    writable = [r for r in bench.profile.registers.values() if r.writable]
    if not writable:
        pytest.skip('no writable register')
    may_move = bench.emulator is not None or request.config.getoption('--hil-allow-motion')
    probes = probe_values(bench.profile)
    for register in writable:
        held = bench.device.read(register.name)
        assert bench.device.write(register.name, held, confirm=True)  # harmless: same value
        assert bench.device.read(register.name) == held
        if may_move and register.name != 'control':
            bench.device.write(register.name, probes[register.name], confirm=True)
            assert bench.device.read(register.name) == probes[register.name]
            bench.device.write(register.name, held, confirm=True)
            if bench.emulator:
                assert bench.emulator.get(register.name) == held


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


# Line and answer faults (emulated) -----------------------------------------------------------
def planted(bench):
    """Plant probe values; return them."""
    values = probe_values(bench.profile)
    for name, value in values.items():
        bench.emulator.set(name, value)
    return values


def first_input(profile):
    return next(r.name for r in sorted(profile.registers.values(), key=lambda r: r.address)
                if r.kind == 'input')


def one_of_each_kind(profile):
    """Return the first input and the first holding register (FC04 and FC03 reads)."""
    ordered = sorted(profile.registers.values(), key=lambda r: r.address)
    return [next(r.name for r in ordered if r.kind == kind) for kind in ('input', 'holding')
            if any(r.kind == kind for r in ordered)]


def reads_again(bench, name, value):
    """Return whether the driver reads the right value again (a few tries)."""
    for _ in range(5):
        try:
            return bench.device.read(name) == value
        except DeviceError:
            continue
    return False


@pytest.mark.parametrize('fault', ['drop', 'corrupt_crc', 'garbage', 'truncate', 'delay'])
def test_line_faults_raise_a_device_error_and_the_driver_recovers(faulty, fault):
    values = planted(faulty)
    name = first_input(faulty.profile)
    faulty.line.fault = fault
    faulty.line.delay = 5.0 * VIRTUAL_TIMEOUT  # each way: far beyond every window
    with pytest.raises(DeviceError, match=f'{faulty.profile.name}.*reading {name}'):
        faulty.device.read(name)
    faulty.line.fault = 'none'
    assert reads_again(faulty, name, values[name])


@pytest.mark.parametrize('fault, cause', [
    ('late', 'its answer came .* ms after the request and was discarded'),
    ('wrong_function', 'function code'),
    ('wrong_unit', 'an answer from unit'),
    ('wrong_count', 'byte count'),
    ('byte_count_mismatch', 'byte count'),
])
def test_answers_that_do_not_fit_the_request_are_errors_never_values(faulty, fault, cause):
    values = planted(faulty)
    faulty.line.delay = LATE  # late, but inside the late window
    faulty.line.fault = fault
    for name in one_of_each_kind(faulty.profile):
        with pytest.raises(DeviceError, match=f'reading {name} failed: .*{cause}'):
            faulty.device.read(name)
    faulty.line.fault = 'none'
    for name, value in values.items():
        assert reads_again(faulty, name, value), name


def test_a_late_answer_is_never_taken_for_the_next_request(faulty):
    values = planted(faulty)
    names = list(values)
    faulty.line.delay = LATE
    for index, name in enumerate(names):
        if index % 2 == 0:
            faulty.line.fault = 'late_once'
        # Either the retry got this register's own answer, or the read failed.
        try:
            assert faulty.device.read(name) == values[name], name
        except DeviceError as error:
            assert 'discarded' in str(error)
    assert faulty.device.master.late_answers >= 1


@pytest.mark.parametrize('fault', ['bogus_echo', 'wrong_count', 'wrong_function'])
def test_a_write_is_acknowledged_only_by_its_own_echo(faulty, fault):
    register = next(r for r in faulty.profile.registers.values() if r.writable)
    value = probe_values(faulty.profile)[register.name]
    faulty.line.fault = fault
    with pytest.raises(DeviceError, match=f'writing {register.name} failed'):
        faulty.device.write(register.name, value)
    faulty.line.fault = 'none'
    assert faulty.device.write(register.name, value, confirm=True)


def test_an_exception_response_is_a_device_error(bench):
    emulated_only(bench)
    name = next(iter(bench.profile.registers))
    bench.emulator.device.exception = ExcCodes.DEVICE_FAILURE
    with pytest.raises(DeviceError, match='exception response DEVICE_FAILURE'):
        bench.device.read(name)
    bench.emulator.device.exception = None
    assert bench.device.read(name) == bench.device.read(name)


def rig_unit_ids():
    with open(os.path.join(CONFIG, 'rig_hardware.yaml')) as stream:
        devices = yaml.safe_load(stream)['devices']
    return sorted({entry['unit_id'] for entry in devices.values()})


def test_noise_before_an_answer_never_makes_a_unit_unreachable(request, profiles):
    # One line with a device at every unit id the rig uses; before each answer one byte
    # of noise, which is in turn every unit id and function code the rig uses.
    if request.config.getoption('--hil-port'):
        pytest.skip('needs the emulated line')
    profile = profiles['conveyor_drive']
    units = rig_unit_ids()
    line = VirtualLine(seed=7)
    emulators = [EmulatedDevice(profile, unit) for unit in units]
    server = BusEmulator(emulators, line.device_port, parity=VirtualLine.PARITY)
    first = ModbusDevice(profile, line.driver_port, parity=VirtualLine.PARITY,
                         timeout=VIRTUAL_TIMEOUT, unit_id=units[0])
    drivers = {unit: ModbusDevice(profile, line.driver_port, master=first.master,
                                  unit_id=unit) for unit in units}
    try:
        first.open()
        for device in emulators:
            device.set('speed', 0.01 * device.unit_id)
        line.fault = 'noise_prefix'
        for noise in sorted(set(units) | {3, 4, 6, 16, 0x83, 0x00, 0xFF}):
            line.noise = bytes([noise])
            for unit, driver in drivers.items():
                assert driver.read('speed') == pytest.approx(0.01 * unit), \
                    f'unit {unit} after noise byte {noise}'
        assert first.master.discarded >= line.answers_seen  # every noise byte dropped
    finally:
        first.close()
        server.close()
        line.close()


def test_a_missing_port_is_a_clear_error(profiles):
    device = ModbusDevice(profiles['spindle_vfd'], '/dev/does-not-exist')
    with pytest.raises(DeviceError, match='cannot open /dev/does-not-exist: .*No such file'):
        device.open()
