"""The poll rate a Modbus RTU line allows, from its framing (the bench's yardstick).

Modbus over serial line (Modbus-IDA, "Modbus over Serial Line V1.02", 2.5.1): each byte
is 11 bits on the wire (start, 8 data, parity or a second stop, stop); frames are
separated by at least 3.5 character times, fixed at 1.75 ms above 19200 baud; an RTU
frame is unit id + PDU + 2 CRC bytes. A poll is a request, a silent interval, the
response and another silent interval, plus the device's own turnaround.
"""

BITS_PER_CHARACTER = 11
FIXED_SILENCE = 1.75e-3  # s: the 3.5-character gap above 19200 baud


def character_time(baudrate):
    """Seconds one byte takes on the wire."""
    return BITS_PER_CHARACTER / baudrate


def silent_interval(baudrate):
    """Inter-frame gap [s]: 3.5 characters, or 1.75 ms above 19200 baud."""
    return FIXED_SILENCE if baudrate > 19200 else 3.5 * character_time(baudrate)


def read_registers_bytes(count):
    """(request, response) RTU frame sizes [bytes] of a read of count registers (FC 3/4)."""
    return 1 + 5 + 2, 1 + 2 + 2 * count + 2


def write_registers_bytes(count):
    """(request, response) RTU frame sizes [bytes] of a write of count registers (FC 16)."""
    return 1 + 6 + 2 * count + 2, 1 + 5 + 2


def poll_time(baudrate, request_bytes, response_bytes, turnaround=0.0):
    """Seconds one request/response exchange occupies the line."""
    return ((request_bytes + response_bytes) * character_time(baudrate)
            + 2.0 * silent_interval(baudrate) + turnaround)


def max_poll_rate(baudrate, registers=4, turnaround=0.0):
    """Return the most reads of `registers` registers per second the line can carry."""
    request, response = read_registers_bytes(registers)
    return 1.0 / poll_time(baudrate, request, response, turnaround)
