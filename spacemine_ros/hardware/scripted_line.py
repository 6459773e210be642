"""A serial line in simulated time, and a Modbus RTU slave written without pymodbus.

For tests and benches of the RTU master that must not depend on the host's scheduling:
ScriptedLine has the link interface of rtu_master.SerialLink (open, close, write, read
with a timeout, discard), but its bytes arrive at scheduled instants of a VirtualClock,
and a read that waits advances that clock instead of sleeping. What answers a request is
a function of the request's bytes; RegisterSlave is one, an independent implementation
of the slave side (FC03, FC04, FC06, FC16 and exception responses) with adjustable
answer delay and a hook to corrupt its answers.
"""

import heapq
import itertools
import struct

from spacemine_ros.hardware.rtu import crc_ok, EXCEPTION_BIT, with_crc


class VirtualClock:
    """Seconds that pass only when something waits."""

    def __init__(self, start=0.0):
        self.now = float(start)

    def __call__(self):
        """Return the time now [s]."""
        return self.now

    def advance(self, seconds):
        """Let time pass."""
        self.now += max(0.0, seconds)


class ScriptedLine:
    """A link whose answers come from respond(request bytes) -> [(delay s, bytes), ...]."""

    def __init__(self, respond, clock=None, baudrate=115200, port='scripted'):
        self.respond = respond
        self.clock = clock or VirtualClock()
        self.baudrate = baudrate
        self.parity = 'none'
        self.stopbits = 1
        self.port = port
        self.is_open = False
        self.sent = []  # every request written, in order
        self._arrivals = []  # (time, order, bytes)
        self._order = itertools.count()

    def open(self):
        """Open (always works)."""
        self.is_open = True

    def close(self):
        """Close; what was on its way is lost."""
        self.is_open = False
        self._arrivals.clear()

    def inject(self, data, delay=0.0):
        """Make bytes arrive delay s from now, unasked (noise, another master)."""
        heapq.heappush(self._arrivals, (self.clock() + delay, next(self._order), bytes(data)))

    def write(self, data):
        """Send a request; the responder schedules what comes back."""
        self.sent.append(bytes(data))
        for delay, answer in self.respond(bytes(data)) or ():
            self.inject(answer, delay)

    def read(self, timeout):
        """Return what has arrived by the time anything arrives within timeout, else b''."""
        now = self.clock()
        if not self._arrivals or self._arrivals[0][0] > now + timeout:
            self.clock.advance(timeout)
            return b''
        self.clock.advance(self._arrivals[0][0] - now)
        data = bytearray()
        while self._arrivals and self._arrivals[0][0] <= self.clock():
            data += heapq.heappop(self._arrivals)[2]
        return bytes(data)

    def discard(self):
        """Return and drop what is already there."""
        return self.read(0.0)


class RegisterSlave:
    """A Modbus RTU slave: holding and input registers, answers after `delay` s.

    delay may be a number or a function of the request count; mutate(answer) -> bytes
    lets a test corrupt answers; exception, when set, is returned for every request.
    """

    def __init__(self, unit, holding=None, inputs=None, delay=0.002, mutate=None):
        self.unit = unit
        self.holding = dict(holding or {})
        self.inputs = dict(inputs or {})
        self.delay = delay
        self.mutate = mutate
        self.exception = None
        self.requests = 0
        self.writes = []  # (address, values)

    def __call__(self, frame):
        """Answer one request frame: [(delay, bytes)], or [] if not for this unit."""
        if len(frame) < 4 or frame[0] != self.unit or not crc_ok(frame):
            return []  # not ours, or damaged: a slave stays silent
        self.requests += 1
        answer = self._answer(frame[1], frame[2:-2])
        if self.mutate is not None:
            answer = self.mutate(answer)
        delay = self.delay(self.requests) if callable(self.delay) else self.delay
        return [(delay, answer)] if answer else []

    def _answer(self, function, body):
        if self.exception is not None:
            return with_crc(bytes([self.unit, function | EXCEPTION_BIT, self.exception]))
        if function in (3, 4) and len(body) == 4:
            address, count = struct.unpack('>HH', body)
            store = self.holding if function == 3 else self.inputs
            values = [store.get(address + i, 0) for i in range(count)]
            return with_crc(bytes([self.unit, function, 2 * count])
                            + struct.pack(f'>{count}H', *values))
        if function == 6 and len(body) == 4:
            address, value = struct.unpack('>HH', body)
            self.holding[address] = value
            self.writes.append((address, [value]))
            return with_crc(bytes([self.unit, 6]) + body)
        if function == 16 and len(body) >= 5:
            address, count, byte_count = struct.unpack('>HHB', body[:5])
            if byte_count != 2 * count or len(body) != 5 + byte_count:
                return with_crc(bytes([self.unit, 16 | EXCEPTION_BIT, 3]))  # illegal value
            values = list(struct.unpack(f'>{count}H', body[5:5 + 2 * count]))
            for offset, value in enumerate(values):
                self.holding[address + offset] = value
            self.writes.append((address, values))
            return with_crc(bytes([self.unit, 16]) + struct.pack('>HH', address, count))
        return with_crc(bytes([self.unit, function | EXCEPTION_BIT, 1]))  # illegal function
