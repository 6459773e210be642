"""Modbus RTU framing and the master's transactions, in simulated time (no serial port).

The slave here (scripted_line.RegisterSlave) is written without pymodbus, so the master
is checked against an independent implementation of the other side. Every rule the
driver promises is stated as a test: an answer is accepted only from the unit and
function asked, with the count or echo asked, and a late answer is never taken for the
answer to a later request.
"""

import os
import struct

from hypothesis import given, HealthCheck, settings, strategies as st
import pytest
import yaml

from spacemine_ros.hardware.modbus_device import DeviceError, ModbusDevice
from spacemine_ros.hardware.profiles import load_profiles
from spacemine_ros.hardware.rtu import (
    AnswerError, crc_ok, diagnose, find_answer, frame_gap, Request, with_crc)
from spacemine_ros.hardware.rtu_master import LineError, RtuMaster
from spacemine_ros.hardware.scripted_line import RegisterSlave, ScriptedLine, VirtualClock
from test.conftest import CONFIG


def rig_unit_ids():
    with open(os.path.join(CONFIG, 'rig_hardware.yaml')) as stream:
        devices = yaml.safe_load(stream)['devices']
    return sorted({entry['unit_id'] for entry in devices.values()})


def read_answer(unit, function, registers):
    return with_crc(bytes([unit, function, 2 * len(registers)])
                    + struct.pack(f'>{len(registers)}H', *registers))


def is_correct_answer(request, frame):
    """Return whether frame is a well-formed answer to request (an independent oracle)."""
    if len(frame) < 5 or not crc_ok(frame) or frame[0] != request.unit:
        return False
    if frame[1] != request.function:
        return False
    if request.function in (3, 4):
        return frame[2] == 2 * request.count and len(frame) == 5 + 2 * request.count
    address, second = struct.unpack('>HH', frame[2:6])
    expected = request.values[0] if request.function == 6 else request.count
    return len(frame) == 8 and address == request.address and second == expected


def correct_answers(request, data):
    """Every well-formed answer to request found anywhere in data."""
    return [bytes(data[i:i + n]) for i in range(len(data)) for n in (8, 5 + 2 * request.count)
            if is_correct_answer(request, bytes(data[i:i + n]))]


# Framing --------------------------------------------------------------------------------------
def test_request_frames_match_the_specification_examples():
    # Modbus over serial line, 6.2.2: read 10 holding registers of slave 1 from 0.
    assert Request.read(1, 'holding', 0, 10).frame() == bytes.fromhex('01 03 00 00 00 0a c5 cd')
    assert Request.write(17, 1, [3], single=True).frame()[:6] == bytes.fromhex('11 06 00 01 00 03')
    frame = Request.write(17, 1, [0x000A, 0x0102]).frame()
    assert frame[:11] == bytes.fromhex('11 10 00 01 00 02 04 00 0a 01 02') and crc_ok(frame)


@pytest.mark.parametrize('bad', [dict(unit=0), dict(unit=248), dict(count=126),
                                 dict(address=65535, count=2), dict(function=5)])
def test_impossible_requests_are_refused(bad):
    args = {'unit': 1, 'function': 3, 'address': 0, 'count': 1, **bad}
    with pytest.raises(ValueError):
        Request(**args)


def test_the_frame_gap_is_three_and_a_half_characters_up_to_19200_baud():
    assert frame_gap(9600, 'even') == pytest.approx(3.5 * 11 / 9600)
    assert frame_gap(115200) == pytest.approx(1.75e-3)


def test_a_good_answer_is_found_and_decoded():
    request = Request.read(7, 'input', 4, 3)
    answer = find_answer(request, read_answer(7, 4, [1, 2, 0xFFFF]))
    assert answer.registers == (1, 2, 0xFFFF)


def test_an_answer_from_another_unit_is_not_taken():
    request = Request.read(1, 'holding', 0, 1)
    data = read_answer(2, 3, [99])
    assert find_answer(request, data) is None
    assert 'from unit 2' in diagnose(request, data, 0.05)


def test_a_wrong_function_code_is_not_taken():
    request = Request.read(1, 'holding', 0, 1)
    data = read_answer(1, 4, [99])
    assert find_answer(request, data) is None
    assert 'function code 4, not 3' in diagnose(request, data, 0.05)


def test_a_wrong_register_count_is_an_error():
    request = Request.read(1, 'holding', 0, 2)
    with pytest.raises(AnswerError, match='byte count 2 .* expected 4 for 2 registers'):
        find_answer(request, read_answer(1, 3, [5]))


def test_a_byte_count_that_disagrees_with_the_frame_is_an_error():
    request = Request.read(1, 'holding', 0, 1)
    frame = with_crc(bytes([1, 3, 4, 0, 5]))  # says 4 bytes, carries 2
    with pytest.raises(AnswerError, match='byte count 4 in a 7-byte answer'):
        find_answer(request, frame)


@pytest.mark.parametrize('single', [True, False])
def test_a_bogus_write_echo_is_an_error(single):
    request = Request.write(1, 10, [42], single=single)
    good = with_crc(bytes([1, request.function, 0, 10, 0, 42 if single else 1]))
    assert find_answer(request, good) is not None
    for echo in ([0, 11, 0, 42 if single else 1], [0, 10, 0, 43 if single else 2]):
        with pytest.raises(AnswerError, match='write echo'):
            find_answer(request, with_crc(bytes([1, request.function] + echo)))


def test_an_exception_response_names_its_code():
    request = Request.read(1, 'holding', 0, 1)
    with pytest.raises(AnswerError, match='DEVICE_FAILURE') as raised:
        find_answer(request, with_crc(bytes([1, 0x83, 4])))
    assert raised.value.exception_code == 4


@pytest.mark.parametrize('unit', rig_unit_ids())
@pytest.mark.parametrize('function', [3, 4])
def test_noise_before_a_good_frame_is_skipped_for_every_unit_of_the_rig(unit, function):
    request = Request(unit, function, 0, 2)
    frame = read_answer(unit, function, [0x1234, 0x5678])
    for noise in range(256):
        answer = find_answer(request, bytes([noise]) + frame)
        assert answer is not None and answer.registers == (0x1234, 0x5678), noise
    # A few bytes of garbage that start like the expected header, too.
    for garbage in ([unit], [unit, function], [unit, function, 4], [0, unit, function]):
        assert find_answer(request, bytes(garbage) + frame).registers == (0x1234, 0x5678)


def test_every_failure_has_its_own_cause():
    request = Request.read(1, 'holding', 0, 1)
    frame = read_answer(1, 3, [7])
    assert 'silence' in diagnose(request, b'', 0.05)
    assert 'truncated answer' in diagnose(request, frame[:5], 0.05)
    damaged = frame[:-1] + bytes([frame[-1] ^ 0x55])
    assert 'CRC error' in diagnose(request, damaged, 0.05)
    assert 'no frame from unit 1' in diagnose(request, bytes(range(20, 40)), 0.05)


@settings(max_examples=3000, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(1, 3), st.sampled_from([3, 4, 6, 16]), st.integers(1, 4),
       st.binary(max_size=40), st.binary(max_size=12), st.booleans())
def test_any_bytes_give_an_error_or_the_values_of_a_correct_answer(
        unit, function, count, prefix, suffix, plant):
    if function in (3, 4):
        request = Request(unit, function, 10, count)
        planted = read_answer(unit, function, list(range(100, 100 + count)))
    else:
        count = 1 if function == 6 else count
        request = Request(unit, function, 10, count, tuple(range(count)))
        second = 0 if function == 6 else count
        planted = with_crc(bytes([unit, function, 0, 10, 0, second]))
    data = prefix + (planted if plant else b'') + suffix
    try:
        answer = find_answer(request, data)
    except AnswerError:
        return
    if answer is None:
        return
    frame = data[answer.start:answer.end]
    assert is_correct_answer(request, frame)
    if function in (3, 4):
        assert answer.registers == struct.unpack(f'>{count}H', frame[3:-2])


# The master, in simulated time -----------------------------------------------------------------
def slave_line(slave, timeout=0.05, retries=0):
    clock = VirtualClock()
    line = ScriptedLine(slave, clock)
    master = RtuMaster(line, timeout=timeout, retries=retries, clock=clock)
    master.open()
    return master, line


def distinct_registers(count=20):
    return {address: 1000 + address for address in range(count)}


def test_an_always_late_device_never_gives_a_value():
    slave = RegisterSlave(1, holding=distinct_registers(),
                          delay=lambda n: 0.080 + 0.01 * (n % 5))  # 80-120 ms
    master, _ = slave_line(slave, timeout=0.05, retries=2)
    for address in range(10):
        with pytest.raises(LineError, match='answer came 8[0-9] ms|answer came 9|answer came 1'):
            master.execute(Request.read(1, 'holding', address, 1))
    assert master.late_answers == 3 * 10


def test_a_late_answer_is_discarded_and_the_retry_gets_its_own_answer():
    slave = RegisterSlave(1, holding=distinct_registers(),
                          delay=lambda n: 0.1 if n == 1 else 0.002)
    master, _ = slave_line(slave, timeout=0.05, retries=1)
    assert master.execute(Request.read(1, 'holding', 3, 1)).registers == (1003,)
    assert master.execute(Request.read(1, 'holding', 4, 1)).registers == (1004,)
    assert master.late_answers == 1


def test_after_a_late_answer_the_next_request_gets_its_own_register():
    slave = RegisterSlave(1, holding=distinct_registers(),
                          delay=lambda n: 0.09 if n == 1 else 0.002)
    master, _ = slave_line(slave, timeout=0.05, retries=0)
    with pytest.raises(LineError, match='no answer within'):
        master.execute(Request.read(1, 'holding', 0, 1))
    assert master.execute(Request.read(1, 'holding', 1, 1)).registers == (1001,)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 19), st.floats(0.0, 0.199)), min_size=1, max_size=30),
       st.integers(0, 2))
def test_within_the_late_window_every_value_read_is_its_own_registers(reads, retries):
    # Any answer delay up to the late window (4 timeouts: 200 ms), in any order.
    delays = [d for _, d in reads] + [0.001] * 100
    slave = RegisterSlave(1, holding=distinct_registers(), delay=lambda n: delays[n - 1])
    master, _ = slave_line(slave, timeout=0.05, retries=retries)
    for address, _ in reads:
        try:
            answer = master.execute(Request.read(1, 'holding', address, 1))
        except LineError:
            continue
        assert answer.registers == (1000 + address,)


def test_bytes_waiting_before_a_request_are_not_its_answer():
    slave = RegisterSlave(1, holding=distinct_registers())
    master, line = slave_line(slave)
    line.inject(read_answer(1, 3, [4242]))  # a stale frame sits in the input buffer
    assert master.execute(Request.read(1, 'holding', 5, 1)).registers == (1005,)
    assert master.discarded >= 7


def test_an_exception_response_is_not_retried():
    slave = RegisterSlave(1, holding=distinct_registers())
    slave.exception = 6
    master, _ = slave_line(slave, retries=3)
    with pytest.raises(LineError, match='DEVICE_BUSY') as raised:
        master.execute(Request.read(1, 'holding', 0, 1))
    assert raised.value.exception_code == 6 and slave.requests == 1


def test_a_corrupted_answer_is_retried_after_the_line_is_quiet():
    answers = iter([lambda a: a[:-1] + bytes([a[-1] ^ 1])] + [lambda a: a] * 5)
    slave = RegisterSlave(1, holding=distinct_registers(), mutate=lambda a: next(answers)(a))
    master, _ = slave_line(slave, retries=1)
    assert master.execute(Request.read(1, 'holding', 2, 1)).registers == (1002,)
    assert slave.requests == 2


def test_writes_are_acknowledged_only_by_their_own_echo():
    slave = RegisterSlave(1, mutate=lambda a: with_crc(a[:3] + bytes([a[3] + 1]) + a[4:6]))
    master, _ = slave_line(slave, retries=1)
    with pytest.raises(LineError, match='write echo names address 11'):
        master.execute(Request.write(1, 10, [1, 2]))


def test_a_chattering_line_is_reported_not_waited_on_forever():
    slave = RegisterSlave(1, delay=10.0)
    master, line = slave_line(slave, timeout=0.05)
    for step in range(200):  # another master polling every 20 ms: frames apart
        line.inject(read_answer(9, 3, [step]), delay=0.02 * step)
    with pytest.raises(LineError, match='an answer from unit 9'):
        master.execute(Request.read(1, 'holding', 0, 1))
    for step in range(5000):  # a byte every millisecond, never t3.5 of silence
        line.inject(b'\x55', delay=0.001 * step)
    with pytest.raises(LineError, match='never fell silent'):
        master.execute(Request.read(1, 'holding', 0, 1))


# The device layer's messages --------------------------------------------------------------------
@pytest.fixture(scope='module')
def profiles():
    return load_profiles(os.path.join(CONFIG, 'devices.yaml'))


def test_a_device_error_names_device_unit_port_register_and_cause(profiles):
    profile = profiles['feed_drive']
    slave = RegisterSlave(2, mutate=lambda a: read_answer(2, 4, [1]))  # one register, not 4
    master, _ = slave_line(slave)
    device = ModbusDevice(profile, 'scripted', master=master, name='feed')
    with pytest.raises(DeviceError) as raised:
        device.read_many(['position', 'force', 'status'])
    text = str(raised.value)
    assert text.startswith('feed (unit 2, feed_drive on scripted): reading position, force, '
                           'status failed: byte count 2')


def test_a_missing_port_says_why(profiles):
    device = ModbusDevice(profiles['spindle_vfd'], '/dev/does-not-exist')
    with pytest.raises(DeviceError, match='cannot open /dev/does-not-exist: .*No such file'):
        device.open()
