"""Fuzz the Modbus RTU driver with malformed answers; count what it wrongly accepts.

Usage: python bench/bench_modbus_fuzz.py [--answers 100000] [--seed 1] [--driver both]

Each case is one request (a read of 1-4 holding or input registers, or an FC16 write)
to one of the rig's unit ids, answered with bytes from a seeded generator: random bytes,
a correct answer with bit flips, cut short or extended, or rebuilt with a valid CRC
around a wrong function code, unit id, register count, odd or disagreeing byte count, a
bogus write echo or nonsense; a stale answer to another request before the fresh one;
noise before a correct answer; exception responses; correct answers. The outcome of a
read is an error, the values of a well-formed answer to that request found in the bytes
("correct"), or anything else ("wrong value"); of a write, an error, an acknowledgement
by a correct echo, or a bogus acknowledgement.

Two drivers see the same bytes: the project's RTU master (hardware/rtu_master.py) and,
for comparison, pymodbus' own serial client used the way the driver used it before
(isError() and a register count check). Both run in simulated time on a scripted line,
so 100,000 answers take seconds and the figures do not depend on the host's load. A
second scenario reads distinct registers from a device that answers 80-120 ms late
against a 50 ms timeout. Figures are printed and saved to bench/results/modbus_fuzz.json.
"""

import argparse
import os
import random
import struct
import sys
import types

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from spacemine_ros.hardware.rtu import crc_ok, Request, with_crc  # noqa: E402
from spacemine_ros.hardware.rtu_master import LineError, RtuMaster  # noqa: E402
from spacemine_ros.hardware.scripted_line import ScriptedLine, VirtualClock  # noqa: E402

UNITS = (1, 2, 10, 11, 12, 13, 20, 21, 22, 23, 30, 31, 32, 33, 40, 41, 50, 51, 52, 60, 70,
         80, 90)
KINDS = ('random', 'bit_flip', 'truncated', 'extended', 'wrong_function', 'wrong_unit',
         'wrong_count', 'odd_byte_count', 'byte_count_mismatch', 'bogus_echo',
         'stale_then_fresh', 'nonsense_valid_crc', 'noise_prefix', 'exception', 'correct')
TIMEOUT = 0.05  # s


# The generator -----------------------------------------------------------------------------
def random_request(rng):
    unit = rng.choice(UNITS)
    address = rng.randrange(0, 16)
    if rng.random() < 0.75:
        return Request(unit, rng.choice((3, 4)), address, rng.randint(1, 4))
    count = rng.randint(1, 2)
    return Request(unit, 16, address, count, tuple(rng.randrange(65536) for _ in range(count)))


def correct_answer(rng, request):
    if request.function in (3, 4):
        registers = [rng.randrange(65536) for _ in range(request.count)]
        return with_crc(bytes([request.unit, request.function, 2 * request.count])
                        + struct.pack(f'>{request.count}H', *registers))
    echo = struct.pack('>HH', request.address, request.count)
    return with_crc(bytes([request.unit, 16]) + echo)


def answer_bytes(rng, request, kind):
    """Bytes the 'device' sends back for one request."""
    good = correct_answer(rng, request)
    unit, function, body = good[0], good[1], bytearray(good[2:-2])
    if kind == 'random':
        return bytes(rng.randrange(256) for _ in range(rng.randint(0, 40)))
    if kind == 'bit_flip':
        data = bytearray(good)
        for _ in range(rng.randint(1, 3)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        return bytes(data)
    if kind == 'truncated':
        return good[:rng.randrange(1, len(good))]
    if kind == 'extended':
        return good + bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
    if kind == 'wrong_function':
        others = [f for f in (1, 2, 3, 4, 6, 16, 23) if f != function]
        return with_crc(bytes([unit, rng.choice(others)]) + body)
    if kind == 'wrong_unit':
        return with_crc(bytes([rng.choice([u for u in UNITS if u != unit]), function]) + body)
    if kind in ('wrong_count', 'odd_byte_count') and function in (3, 4):
        count = rng.choice([c for c in range(0, 6) if c != request.count])
        data = bytes(rng.randrange(256) for _ in range(2 * count))
        if kind == 'odd_byte_count':
            data += bytes([rng.randrange(256)])
        return with_crc(bytes([unit, function, len(data)]) + data)
    if kind == 'byte_count_mismatch' and function in (3, 4):
        body[0] = rng.choice([b for b in range(0, 12) if b != body[0]])
        return with_crc(bytes([unit, function]) + body)
    if kind in ('bogus_echo', 'wrong_count', 'odd_byte_count', 'byte_count_mismatch'):
        # A write: echo another address or quantity (a read with bogus_echo: wrong count).
        if function == 16:
            field = rng.choice((0, 1))
            address, count = struct.unpack('>HH', body)
            address, count = ((address + rng.randint(1, 5)) % 65536, count) if field == 0 \
                else (address, count + rng.randint(1, 3))
            return with_crc(bytes([unit, 16]) + struct.pack('>HH', address, count))
        return with_crc(bytes([unit, function, 2 * request.count + 2])
                        + bytes(2 * request.count + 2))
    if kind == 'stale_then_fresh':
        other = Request(unit, 4 if function == 3 else 3, 0, rng.randint(1, 4)) \
            if function in (3, 4) else Request(unit, 3, 0, rng.randint(1, 4))
        if function in (3, 4) and rng.random() < 0.5:
            other = Request(unit, function, 0, (request.count % 4) + 1)
        return correct_answer(rng, other) + good
    if kind == 'nonsense_valid_crc':
        noise = [rng.randrange(256) for _ in range(rng.randint(0, 12))]
        return with_crc(bytes([unit, function] + noise))
    if kind == 'noise_prefix':
        return bytes(rng.randrange(256) for _ in range(rng.randint(1, 3))) + good
    if kind == 'exception':
        return with_crc(bytes([unit, function | 0x80, rng.randint(1, 11)]))
    return good


def cases(seed, count):
    rng = random.Random(seed)
    for _ in range(count):
        request = random_request(rng)
        kind = rng.choice(KINDS)
        yield request, kind, answer_bytes(rng, request, kind)


# The oracle -------------------------------------------------------------------------------
def is_correct_answer(request, frame):
    if len(frame) < 5 or not crc_ok(frame) or frame[0] != request.unit or \
            frame[1] != request.function:
        return False
    if request.function in (3, 4):
        return frame[2] == 2 * request.count and len(frame) == 5 + 2 * request.count
    echo = struct.unpack('>HH', frame[2:6]) if len(frame) == 8 else None
    return echo == (request.address, request.count)


def correct_values(request, data):
    """Register tuples of every well-formed answer to request in data ({()} for a write)."""
    found = set()
    for start in range(len(data)):
        for length in (8, 5 + 2 * request.count):
            frame = data[start:start + length]
            if is_correct_answer(request, frame):
                found.add(tuple(struct.unpack(f'>{request.count}H', frame[3:-2]))
                          if request.function in (3, 4) else ())
    return found


# The drivers ------------------------------------------------------------------------------
class ProjectDriver:
    """hardware/rtu_master.RtuMaster on a scripted line (no retries: one answer a case)."""

    name = 'rtu_master'

    def __init__(self):
        self.clock = VirtualClock()
        self.answer = b''
        self.delay = 0.002
        self.line = ScriptedLine(lambda frame: [(self.delay, self.answer)], self.clock)
        self.master = RtuMaster(self.line, timeout=TIMEOUT, retries=0, clock=self.clock)
        self.master.open()

    def transact(self, request):
        """Return register values, () for an acknowledged write; raise on an error."""
        return self.master.execute(request).registers


class FakeSerialSocket:
    """What pymodbus' serial client reads from: the scripted line's bytes, by sim time."""

    def __init__(self, line):
        self.line = line
        self.buffer = bytearray()

    def _pull(self):  # what has arrived by now
        self.buffer += self.line.read(0.0)

    @property
    def in_waiting(self):
        """Bytes arrived and not read."""
        self._pull()
        return len(self.buffer)

    def read(self, size):
        """Return up to size arrived bytes."""
        self._pull()
        data, self.buffer[:] = bytes(self.buffer[:size]), self.buffer[size:]
        return data

    def write(self, data):
        """Send a request."""
        self.line.write(data)
        return len(data)

    def close(self):
        """Nothing to close."""

    is_open = True


class PymodbusDriver:
    """pymodbus' ModbusSerialClient, checked as the driver did before (isError, count)."""

    name = 'pymodbus_client'

    def __init__(self):
        import logging

        from pymodbus.client import ModbusSerialClient
        import pymodbus.client.serial as client_module
        import pymodbus.transaction.transaction as transaction_module

        logging.getLogger('pymodbus').setLevel(logging.CRITICAL)
        self.clock = VirtualClock()
        clock = self.clock
        # Its waits run on the same simulated clock as the scripted line.
        client_module.time = types.SimpleNamespace(time=clock, sleep=clock.advance)
        transaction_module.monotonic = clock
        self.answer = b''
        self.delay = 0.002
        self.line = ScriptedLine(lambda frame: [(self.delay, self.answer)], clock)
        self.client = ModbusSerialClient(port='scripted', timeout=TIMEOUT, retries=0,
                                         reconnect_delay=0.0)
        self.client.socket = FakeSerialSocket(self.line)

    def transact(self, request):
        """Return register values, () for an acknowledged write; raise on an error."""
        from pymodbus.exceptions import ModbusException
        try:
            return self._transact(request)
        except ModbusException as error:  # as the driver caught them
            raise LineError(str(error)) from None

    def _transact(self, request):
        if request.function in (3, 4):
            reader = (self.client.read_holding_registers if request.function == 3
                      else self.client.read_input_registers)
            response = reader(request.address, count=request.count, device_id=request.unit)
            if response.isError() or len(response.registers) < request.count:
                raise LineError('error response or short read')
            return tuple(response.registers[:request.count])
        response = self.client.write_registers(request.address, list(request.values),
                                               device_id=request.unit)
        if response.isError():
            raise LineError('error response')
        return ()


def run(driver, seed, count):
    """Return {outcome: number} and per-kind wrong counts for `count` fuzz cases."""
    outcomes = {'error': 0, 'correct': 0, 'wrong_value': 0, 'bogus_ack': 0, 'crash': 0}
    by_kind = {}
    for request, kind, answer in cases(seed, count):
        driver.answer = answer
        try:
            values = driver.transact(request)
        except LineError:
            outcomes['error'] += 1
            continue
        except Exception:  # noqa: B902 - counted: a crash is one of the outcomes
            outcomes['crash'] += 1
            by_kind.setdefault(kind, 0)
            by_kind[kind] += 1
            continue
        if tuple(values) in correct_values(request, answer):
            outcomes['correct'] += 1
            continue
        outcome = 'wrong_value' if request.function in (3, 4) else 'bogus_ack'
        outcomes[outcome] += 1
        by_kind[kind] = by_kind.get(kind, 0) + 1
    reads = sum(1 for request, _, _ in cases(seed, count) if request.function in (3, 4))
    return {'answers': count, 'reads': reads, 'writes': count - reads, **outcomes,
            'wrong_or_bogus_by_kind': dict(sorted(by_kind.items()))}


def late_device(driver, requests=1000, seed=2):
    """Distinct registers from a device 80-120 ms late against a 50 ms timeout."""
    rng = random.Random(seed)

    def respond(frame):
        address = struct.unpack('>H', frame[2:4])[0]
        answer = with_crc(bytes([1, 3, 2]) + struct.pack('>H', 1000 + address))
        return [(rng.uniform(0.080, 0.120), answer)]
    driver.line.respond = respond
    counts = {'requests': requests, 'error': 0, 'own_value': 0, 'another_registers_value': 0}
    for index in range(requests):
        address = index % 50
        try:
            values = driver.transact(Request(1, 3, address, 1))
        except LineError:
            counts['error'] += 1
            continue
        key = 'own_value' if values == (1000 + address,) else 'another_registers_value'
        counts[key] += 1
    return counts


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--answers', type=int, default=100_000)
    parser.add_argument('--seed', type=int, default=1)
    parser.add_argument('--driver', choices=('both', 'rtu_master', 'pymodbus_client'),
                        default='both')
    args = parser.parse_args(argv)
    from results import save

    drivers = [d for d in (ProjectDriver, PymodbusDriver)
               if args.driver in ('both', d.name)]
    figures = {'seed': args.seed, 'drivers': {}}
    for make in drivers:
        fuzz = run(make(), args.seed, args.answers)
        late = late_device(make())
        figures['drivers'][make.name] = {'fuzz': fuzz, 'late_device': late}
        print(f'{make.name}: {fuzz["answers"]} answers ({fuzz["reads"]} reads, '
              f'{fuzz["writes"]} writes): {fuzz["error"]} errors, {fuzz["correct"]} correct, '
              f'{fuzz["wrong_value"]} wrong values '
              f'({100.0 * fuzz["wrong_value"] / max(fuzz["reads"], 1):.2f} % of reads), '
              f'{fuzz["bogus_ack"]} bogus write acks '
              f'({100.0 * fuzz["bogus_ack"] / max(fuzz["writes"], 1):.2f} % of writes), '
              f'{fuzz["crash"]} crashes')
        if fuzz['wrong_or_bogus_by_kind']:
            print(f'  wrong or bogus by kind: {fuzz["wrong_or_bogus_by_kind"]}')
        print(f'  late device (80-120 ms vs 50 ms timeout), {late["requests"]} reads of '
              f'distinct registers: {late["own_value"]} own value, '
              f'{late["another_registers_value"]} another register\'s value, '
              f'{late["error"]} errors')
    print(f'saved {save("modbus_fuzz", figures)}')


if __name__ == '__main__':
    main()
