"""Device emulators on virtual serial lines, with a wire that can misbehave.

A VirtualLine is two pseudo-terminals joined by a copying thread: the driver opens one
end's path, the emulator the other's, and bytes cross the "wire" in between, where
faults can be injected. Line faults act on both directions (drop, delay, corrupt a CRC,
add garbage, cut a frame short, disconnect); answer faults act on the device's answers
only, frame by frame, the way a misbehaving third-party device or adapter would (late
answers, a wrong function code, unit id or register count, a byte count that disagrees,
a bogus write echo, noise before the frame). A device can also answer with a Modbus
exception. A BusEmulator serves the register maps of the devices on one line
(EmulatedDevice each) with pymodbus' RTU server on its end; register values are set and
read in engineering units, so a simulation can drive them. DeviceEmulator is one device
alone on a line.
"""

import asyncio
import heapq
import itertools
import os
import random
import select
import threading
import time
import tty

from pymodbus.server import ModbusSerialServer
from pymodbus.simulator import DataType, SimData, SimDevice

from spacemine_ros.hardware.rtu import crc_ok, EXCEPTION_BIT, READS, with_crc, WRITES

LINE_FAULTS = ('none', 'drop', 'delay', 'corrupt_crc', 'garbage', 'truncate', 'disconnect')
ANSWER_FAULTS = ('late', 'late_once', 'wrong_function', 'wrong_unit', 'wrong_count',
                 'byte_count_mismatch', 'bogus_echo', 'noise_prefix')
FAULTS = LINE_FAULTS + ANSWER_FAULTS
SERVER_PARITY = {'none': 'N', 'even': 'E', 'odd': 'O'}


def answer_length(data):
    """Return the length of the answer frame at the start of data, or 0 if not known yet."""
    if len(data) < 2:
        return 0
    code = data[1]
    if code & EXCEPTION_BIT:
        return 5
    if code in READS:
        return 5 + data[2] if len(data) > 2 else 0
    if code in WRITES:
        return 8
    return len(data)  # not an answer this wire knows: pass it on whole


def mutate_answer(fault, frame, rng, noise=None):
    """Return an answer frame as a misbehaving device would send it (CRC kept valid)."""
    unit, code, body = frame[0], frame[1], bytearray(frame[2:-2])
    if fault == 'wrong_function' and not code & EXCEPTION_BIT:
        code = {3: 4, 4: 3, 6: 16, 16: 6}.get(code, code)
    elif fault == 'wrong_unit':
        unit = unit % 247 + 1
    elif fault == 'wrong_count' and code in READS:
        registers = body[1:]
        registers = registers[:-2] if len(registers) > 2 else registers + b'\x00\x2a'
        body = bytearray([len(registers)]) + registers
    elif fault == 'wrong_count' and code in WRITES:
        body[3] ^= 0x01  # quantity (FC16) or value (FC06) off by one bit
    elif fault == 'byte_count_mismatch' and code in READS:
        body[0] = (body[0] + 2) & 0xFF  # says more than it carries
    elif fault == 'bogus_echo' and code in WRITES:
        body[1] ^= 0x01  # echoes another address
    elif fault == 'noise_prefix':
        prefix = bytes(noise) if noise is not None else bytes([rng.randrange(256)])
        return prefix + bytes(frame)
    else:
        return bytes(frame)
    return with_crc(bytes([unit, code]) + bytes(body))


class VirtualLine:
    """Two pty ends joined by a wire thread with fault injection.

    Linux pseudo-terminals refuse parity settings (EINVAL), so both ends of a virtual
    line use PARITY (8N1) whatever the profile says.
    """

    PARITY = 'none'

    def __init__(self, seed=0):
        self._masters, self._slaves, self.paths = [], [], []
        for _ in range(2):
            master, slave = os.openpty()
            tty.setraw(master)
            tty.setraw(slave)
            self._masters.append(master)
            self._slaves.append(slave)
            self.paths.append(os.ttyname(slave))
        self.fault = 'none'
        self.delay = 0.2  # s, for the delay, late and late_once faults
        self.noise = None  # bytes put before each answer by noise_prefix (None: one random)
        self.rng = random.Random(seed)
        self.bytes_carried = 0
        self.answers_seen = 0
        self._answers = bytearray()  # device -> driver bytes not yet a whole frame
        self._queue = []  # (release time, order, target, data)
        self._order = itertools.count()
        self._running = True
        self._thread = threading.Thread(target=self._carry, daemon=True)
        self._thread.start()

    @property
    def driver_port(self):
        """Path the driver opens."""
        return self.paths[0]

    @property
    def device_port(self):
        """Path the emulated device listens on."""
        return self.paths[1]

    def _carry(self):
        while self._running:
            wait = 0.05
            if self._queue:
                wait = min(wait, max(0.0, self._queue[0][0] - time.monotonic()))
            ready, _, _ = select.select(self._masters, [], [], wait)
            for source in ready:
                try:
                    data = os.read(source, 4096)
                except OSError:
                    continue
                if source == self._masters[0]:
                    self._send(self._masters[1], *self._misbehave(data))
                else:
                    self._answer(data)
            now = time.monotonic()
            while self._queue and self._queue[0][0] <= now:
                _, _, target, data = heapq.heappop(self._queue)
                self._write(target, data)

    def _send(self, target, data, delay=0.0):
        if not data:
            return
        if delay > 0.0 or self._queue:  # keep the order of what is already waiting
            heapq.heappush(self._queue, (time.monotonic() + delay, next(self._order), target,
                                         data))
        else:
            self._write(target, data)

    def _write(self, target, data):
        self.bytes_carried += len(data)
        try:
            os.write(target, data)
        except OSError:
            pass

    def _answer(self, data):
        fault = self.fault
        if fault not in ANSWER_FAULTS:
            self._answers.clear()
            self._send(self._masters[0], *self._misbehave(data))
            return
        self._answers += data
        while self._answers:
            length = answer_length(self._answers)
            if not length or len(self._answers) < length:
                return  # the rest of the frame is on its way
            frame, self._answers = bytes(self._answers[:length]), self._answers[length:]
            self.answers_seen += 1
            delay = 0.0
            if fault in ('late', 'late_once'):
                delay = self.delay
                if fault == 'late_once':
                    self.fault = fault = 'none'
            elif crc_ok(frame):
                frame = mutate_answer(fault, frame, self.rng, self.noise)
            self._send(self._masters[0], frame, delay)

    def _misbehave(self, data):
        """Return (bytes to pass on, delay [s]) under a line fault."""
        fault = self.fault
        if fault in ('drop', 'disconnect'):
            return b'', 0.0
        if fault == 'delay':
            return data, self.delay
        if fault == 'corrupt_crc' and len(data) >= 2:
            data = data[:-1] + bytes([data[-1] ^ 0xFF])
        elif fault == 'garbage':
            data = bytes(self.rng.randrange(256) for _ in range(5)) + data
        elif fault == 'truncate':  # a partial frame: the tail never arrives
            data = data[:max(1, len(data) // 2)]
        return data, 0.0

    def close(self):
        """Stop the wire and close every end."""
        self._running = False
        self._thread.join(timeout=1.0)
        for fd in self._masters + self._slaves:
            try:
                os.close(fd)
            except OSError:
                pass


class EmulatedDevice:
    """One device's register store, in raw registers, set and read in engineering units.

    The server's action hook copies the store into each response and takes each write
    into it, so the simulation can read and set it at any time.
    """

    def __init__(self, profile, unit_id=None, word_order=None):
        self.profile = profile
        self.unit_id = unit_id or profile.bus.unit_id
        # A device built with the other word order (a commissioning mistake to catch).
        self.word_order = word_order or profile.bus.word_order
        size = 1 + max((r.address + r.width for r in profile.registers.values()), default=1)
        self.holding = [0] * size
        self.inputs = [0] * size
        self.writes = 0
        self.written = []  # (register address, raw values) of each write, in order
        # Fault injection: answer every request with this Modbus exception (e.g.
        # ExcCodes.DEVICE_FAILURE, as a drive in its own fault state does); None: normal.
        self.exception = None

        def block(kind):
            datatype = DataType.BITS if kind == 'bits' else DataType.REGISTERS
            return [SimData(0, values=[0] * size if kind == 'regs' else [False],
                            datatype=datatype)]
        self.sim_device = SimDevice(self.unit_id,
                                    simdata=(block('bits'), block('bits'), block('regs'),
                                             block('regs')),
                                    action=self._on_access)

    async def _on_access(self, function_code, start_address, address, count,
                         current_registers, set_values):
        if self.exception is not None:
            return self.exception
        store = self.inputs if function_code == 4 else self.holding
        if set_values is not None and function_code in (6, 16):
            for offset, value in enumerate(set_values):
                store[address + offset] = int(value)
            self.writes += 1
            self.written.append((address, [int(v) for v in set_values]))
            del self.written[:-1000]  # a bounded history is enough to see a stop
        for index in range(len(current_registers)):
            position = start_address + index
            if 0 <= position < len(store):
                current_registers[index] = store[position]
        return None

    def _store(self, register):
        return self.holding if register.kind == 'holding' else self.inputs

    def set(self, name, value):
        """Set a register (what the device reports) in engineering units."""
        register = self.profile.register(name)
        raw = register.encode(value, self.word_order, check_limits=False)
        self._store(register)[register.address:register.address + register.width] = raw

    def get(self, name):
        """Read a register (e.g. what the driver wrote) in engineering units."""
        register = self.profile.register(name)
        raw = self._store(register)[register.address:register.address + register.width]
        return register.decode(raw, self.word_order)

    def was_written(self, name, value):
        """Return whether the driver ever wrote this engineering value to the register."""
        register = self.profile.register(name)
        raw = register.encode(value, self.word_order, check_limits=False)
        return any(address == register.address and values[:register.width] == list(raw)
                   for address, values in self.written)


class BusEmulator:
    """Devices sharing one serial line, served by pymodbus' RTU server (a multi-drop bus)."""

    def __init__(self, devices, port, baudrate=115200, parity='even', stopbits=1):
        self.devices = {device.unit_id: device for device in devices}
        if len(self.devices) != len(devices):
            raise ValueError('two emulated devices share a unit id')
        self._settings = dict(port=port, baudrate=baudrate, parity=SERVER_PARITY[parity],
                              stopbits=stopbits)
        self._loop = asyncio.new_event_loop()
        self.server = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        if not self._ready.wait(5.0):
            raise RuntimeError(f'bus emulator did not start on {port}')

    def _serve(self):
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._main())

    async def _main(self):
        # The server binds to the running loop, so it is made inside it.
        self.server = ModbusSerialServer([d.sim_device for d in self.devices.values()],
                                         **self._settings)
        self._loop.call_soon(self._ready.set)
        await self.server.serve_forever()

    def close(self):
        """Stop the server."""
        if self._loop.is_running():
            future = asyncio.run_coroutine_threadsafe(self.server.shutdown(), self._loop)
            try:
                future.result(timeout=5.0)
            except Exception:  # noqa: B902 - shutting down regardless
                pass
        self._thread.join(timeout=5.0)


class DeviceEmulator(BusEmulator):
    """One device profile alone on its serial line."""

    def __init__(self, profile, port, parity=None, word_order=None):
        self.device = EmulatedDevice(profile, word_order=word_order)
        self.profile = profile
        bus = profile.bus
        super().__init__([self.device], port, baudrate=bus.baudrate,
                         parity=parity or bus.parity, stopbits=bus.stopbits)

    @property
    def writes(self):
        """Number of write requests the device has taken."""
        return self.device.writes

    def set(self, name, value):
        """Set a register in engineering units."""
        self.device.set(name, value)

    def get(self, name):
        """Read a register in engineering units."""
        return self.device.get(name)

    def was_written(self, name, value):
        """Return whether the driver ever wrote this value to the register."""
        return self.device.was_written(name, value)
