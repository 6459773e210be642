"""Modbus RTU transactions as data: a request, and the answer matched to it byte by byte.

No I/O here (hardware/rtu_master.py moves the bytes). pymodbus encodes the request PDUs
and computes the CRC; what pymodbus' client does not do is done here: an answer is
accepted only if it comes from the unit asked, with the function asked, a CRC that
checks, and contents that fit the request (byte count = 2 x registers read; a write's
echoed address and value or quantity). The frame search starts only where the expected
unit id and function code stand, so noise before a frame (RS-485 turnaround) is skipped
whatever the unit id. When no answer is found, diagnose() names the precise cause.
"""

from dataclasses import dataclass
import struct

from pymodbus.constants import ExcCodes
from pymodbus.framer import FramerRTU
from pymodbus.pdu.register_message import (
    ReadHoldingRegistersRequest, ReadInputRegistersRequest, WriteMultipleRegistersRequest,
    WriteSingleRegisterRequest)

READ_HOLDING, READ_INPUT, WRITE_SINGLE, WRITE_MULTIPLE = 3, 4, 6, 16
READS = (READ_HOLDING, READ_INPUT)
WRITES = (WRITE_SINGLE, WRITE_MULTIPLE)
MAX_READ, MAX_WRITE = 125, 123  # registers per request (Modbus application protocol 6.3, 6.12)
EXCEPTION_BIT = 0x80
FRAME_MAX = 256  # bytes in an RTU frame (Modbus over serial line 2.5.1)
_PDU = {READ_HOLDING: ReadHoldingRegistersRequest, READ_INPUT: ReadInputRegistersRequest,
        WRITE_SINGLE: WriteSingleRegisterRequest, WRITE_MULTIPLE: WriteMultipleRegistersRequest}


class AnswerError(Exception):
    """A frame from the unit asked, with a valid CRC, that is not a good answer.

    exception_code is set when the device answered with a Modbus exception.
    """

    def __init__(self, cause, exception_code=None):
        super().__init__(cause)
        self.cause = cause
        self.exception_code = exception_code


def crc_ok(frame):
    """Return whether a frame's last two bytes are the Modbus CRC of the rest."""
    if len(frame) < 4:
        return False
    return FramerRTU.compute_CRC(frame[:-2]) == (frame[-2] << 8 | frame[-1])


def with_crc(body):
    """Return body followed by its Modbus CRC (low byte first on the wire)."""
    return bytes(body) + FramerRTU.compute_CRC(bytes(body)).to_bytes(2, 'big')


def character_time(baudrate, parity='none', stopbits=1):
    """Return the seconds one character takes: start, 8 data, parity and stop bits."""
    return (1 + 8 + (0 if parity == 'none' else 1) + stopbits) / baudrate


def frame_gap(baudrate, parity='none', stopbits=1):
    """Return the RTU inter-frame silence t3.5 [s]: 3.5 characters, 1.75 ms above 19200 baud.

    Modbus over serial line V1.02, 2.5.1.1: above 19200 baud fixed timers are used.
    """
    if baudrate > 19200:
        return 1.75e-3
    return 3.5 * character_time(baudrate, parity, stopbits)


@dataclass(frozen=True)
class Request:
    """One Modbus request to one unit: read or write holding/input registers."""

    unit: int
    function: int
    address: int
    count: int = 1
    values: tuple = ()  # registers written (FC06: one; FC16: count)

    def __post_init__(self):
        if not 1 <= self.unit <= 247:
            raise ValueError(f'unit id {self.unit} outside 1..247')
        if self.function not in _PDU:
            raise ValueError(f'function code {self.function} is not supported')
        if not 0 <= self.address <= 0xFFFF:
            raise ValueError(f'address {self.address} outside 0..65535')
        limit = MAX_READ if self.function in READS else MAX_WRITE
        if self.function == WRITE_SINGLE:
            limit = 1
        if not 1 <= self.count <= limit or self.address + self.count > 0x10000:
            raise ValueError(f'{self.count} registers at {self.address}: outside the '
                             f'protocol limit of {limit} registers in 0..65535')
        if self.function in WRITES:
            if len(self.values) != self.count:
                raise ValueError(f'{len(self.values)} values for {self.count} registers')
            if any(not 0 <= v <= 0xFFFF for v in self.values):
                raise ValueError(f'register values must be 0..65535, got {self.values}')

    @classmethod
    def read(cls, unit, kind, address, count):
        """Read `count` holding or input registers from `address`."""
        return cls(unit, READ_HOLDING if kind == 'holding' else READ_INPUT, address, count)

    @classmethod
    def write(cls, unit, address, values, single=False):
        """Write registers (FC16), or one register with FC06 when single is set."""
        values = tuple(int(v) for v in values)
        function = WRITE_SINGLE if single and len(values) == 1 else WRITE_MULTIPLE
        return cls(unit, function, address, len(values), values)

    def frame(self):
        """Return the request as bytes on the wire (unit, PDU, CRC)."""
        if self.function in READS:
            pdu = _PDU[self.function](address=self.address, count=self.count, dev_id=self.unit)
        else:
            pdu = _PDU[self.function](address=self.address, registers=list(self.values),
                                      dev_id=self.unit)
        return with_crc(bytes([self.unit, self.function]) + pdu.encode())

    @property
    def answer_length(self):
        """Bytes in a correct answer."""
        return 5 + 2 * self.count if self.function in READS else 8

    def __str__(self):
        kind = {READ_HOLDING: 'read holding', READ_INPUT: 'read input',
                WRITE_SINGLE: 'write (FC06)', WRITE_MULTIPLE: 'write (FC16)'}[self.function]
        return (f'{kind} register{"s" if self.count > 1 else ""} {self.address}'
                + (f'..{self.address + self.count - 1}' if self.count > 1 else '')
                + f' of unit {self.unit}')


@dataclass(frozen=True)
class Answer:
    """A good answer: the registers read (empty for a write) and where it lay in the bytes."""

    registers: tuple
    start: int
    end: int


def exception_name(code):
    """Return the name of a Modbus exception code ('DEVICE_FAILURE (4)')."""
    try:
        return f'{ExcCodes(code).name} ({code})'
    except ValueError:
        return f'unknown exception code {code}'


def _check(request, frame):
    """Return the Answer registers of a CRC-valid frame from the right unit and function.

    Raises AnswerError if its contents do not fit the request.
    """
    if request.function in READS:
        byte_count = frame[2]
        if byte_count != 2 * request.count or len(frame) != 5 + byte_count:
            raise AnswerError(f'byte count {byte_count} in a {len(frame)}-byte answer, '
                              f'expected {2 * request.count} for {request.count} '
                              f'register{"s" if request.count > 1 else ""}')
        return struct.unpack(f'>{request.count}H', frame[3:3 + byte_count])
    address, second = struct.unpack('>HH', frame[2:6])
    expected = request.values[0] if request.function == WRITE_SINGLE else request.count
    what = 'value' if request.function == WRITE_SINGLE else 'quantity'
    if address != request.address or second != expected:
        raise AnswerError(f'write echo names address {address}, {what} {second}; the '
                          f'request was address {request.address}, {what} {expected}')
    return ()


def find_answer(request, data):
    """Return the first good Answer to request in data, or None if there is none (yet).

    Only offsets where the request's unit id and function code (or its exception code)
    stand are tried, each at the lengths its header allows, and a frame counts only if
    its CRC checks: noise before the frame, and frames of other units, are skipped.
    Raises AnswerError on a CRC-valid frame of that unit and function whose contents do
    not answer the request, and on an exception response.
    """
    unit, function = request.unit, request.function
    end = len(data)
    for start in range(end - 1):
        if data[start] != unit:
            continue
        code = data[start + 1]
        if code == function | EXCEPTION_BIT:
            frame = data[start:start + 5]
            if len(frame) == 5 and crc_ok(frame):
                raise AnswerError(f'exception response {exception_name(frame[2])}',
                                  exception_code=frame[2])
            continue
        if code != function:
            continue
        lengths = [request.answer_length]
        if function in READS and start + 2 < end:
            lengths.insert(0, 5 + data[start + 2])  # as long as its own byte count says
        for length in dict.fromkeys(lengths):
            frame = data[start:start + length]
            if len(frame) == length and crc_ok(frame):
                return Answer(tuple(_check(request, bytes(frame))), start, start + length)
    return None


def _frames(data):
    """Yield (start, frame) of every CRC-valid frame of a known length in data."""
    for start in range(len(data) - 3):
        code = data[start + 1]
        lengths = [5]  # an exception response
        if code in WRITES or code in (5, 15):
            lengths.append(8)
        if code in (1, 2) + READS + (23,) and start + 2 < len(data):
            lengths.append(5 + data[start + 2])
        for length in lengths:
            frame = data[start:start + length]
            if len(frame) == length and crc_ok(frame):
                yield start, bytes(frame)


def diagnose(request, data, waited):
    """Return the precise reason why data (all that arrived in `waited` s) holds no answer."""
    limit = f'within {waited * 1000:.0f} ms'
    if not data:
        return f'no answer {limit} (silence)'
    preview = data[:16].hex(' ') + (' ...' if len(data) > 16 else '')
    for _, frame in _frames(data):
        if frame[0] != request.unit:
            return (f'an answer from unit {frame[0]} (function {frame[1] & 0x7F}), not from '
                    f'unit {request.unit} {limit}: two devices share a unit id, or the line '
                    f'echoes another master')
        if frame[1] & 0x7F != request.function:
            return (f'an answer with function code {frame[1]}, not {request.function} '
                    f'{limit}')
    unit, function = request.unit, request.function
    for start in range(len(data) - 1):
        if data[start] != unit or data[start + 1] not in (function, function | EXCEPTION_BIT):
            continue
        length = 5 if data[start + 1] & EXCEPTION_BIT else request.answer_length
        if function in READS and not data[start + 1] & EXCEPTION_BIT and \
                start + 2 < len(data):
            length = 5 + data[start + 2]
        frame = data[start:start + length]
        if len(frame) < length:
            return (f'truncated answer {limit}: {len(frame)} of {length} bytes '
                    f'({bytes(frame).hex(" ")})')
        received = frame[-2] << 8 | frame[-1]
        computed = FramerRTU.compute_CRC(bytes(frame[:-2]))
        return (f'CRC error in the answer (received {received:04x}, computed '
                f'{computed:04x}): line noise, or wrong baud rate or parity')
    return (f'{len(data)} bytes {limit} but no frame from unit {unit} ({preview}): '
            f'line noise, or wrong baud rate or parity')
