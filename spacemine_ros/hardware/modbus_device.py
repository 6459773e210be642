"""One Modbus RTU device on a serial line, in engineering units.

Reads and writes go through the device profile's register map and an RtuMaster
(hardware/rtu_master.py), which matches every answer to its request and resynchronises
the line after a failure. Every failure (port, silence, CRC, wrong unit or function,
wrong count, bad write echo, exception response) becomes a DeviceError naming the
device, unit, port, registers and the precise cause. Writes that must not be lost (a
stop) are confirmed by reading the register back.
"""

from spacemine_ros.hardware.rtu import Request
from spacemine_ros.hardware.rtu_master import LineError, open_master


class DeviceError(RuntimeError):
    """A device did not do what was asked; the message says which and why."""

    def __init__(self, message, exception_code=None):
        super().__init__(message)
        self.exception_code = exception_code


def line_for(port, bus, retries=2, timeout=None, parity=None, late_window=None):
    """Return an RtuMaster for a serial port with a profile's bus settings (not open)."""
    timeout = timeout if timeout is not None else bus.timeout
    late_window = late_window or bus.late_window
    late_window = max(late_window, timeout) if late_window else None
    return open_master(port, bus.baudrate, parity or bus.parity, bus.stopbits, timeout,
                       retries, late_window)


class ModbusDevice:
    """A device profile bound to a serial line, alone or sharing its master on a bus."""

    def __init__(self, profile, port, retries=2, timeout=None, parity=None, master=None,
                 unit_id=None, name=None, late_window=None):
        self.profile = profile
        self.port = port
        self.name = name or profile.name
        self.unit_id = unit_id or profile.bus.unit_id
        self.master = master or line_for(port, profile.bus, retries, timeout, parity,
                                         late_window)
        self.errors = 0

    # Connection ---------------------------------------------------------------------------
    def open(self):
        """Open the port; DeviceError with the OS's reason if it cannot be opened."""
        try:
            self.master.open()
        except LineError as error:
            raise DeviceError(f'{self._who()}: {error}') from None

    def close(self):
        """Close the port."""
        self.master.close()

    @property
    def connected(self):
        """True while the port is open."""
        return self.master.is_open

    # Registers ----------------------------------------------------------------------------
    def _who(self):
        profile = f', {self.profile.name}' if self.name != self.profile.name else ''
        return f'{self.name} (unit {self.unit_id}{profile} on {self.port})'

    def _transact(self, request, what, registers):
        try:
            return self.master.execute(request)
        except LineError as error:
            self.errors += 1
            names = ', '.join(r.name for r in registers)
            raise DeviceError(f'{self._who()}: {what} {names} failed: {error}',
                              error.exception_code) from None

    def read(self, name):
        """Read one register, in its engineering unit."""
        return self.read_many([name])[name]

    def read_many(self, names):
        """Read several registers, one request per register kind; return {name: value}."""
        registers = [self.profile.register(name) for name in names]
        values = {}
        for kind in ('input', 'holding'):
            group = [r for r in registers if r.kind == kind]
            if not group:
                continue
            first = min(r.address for r in group)
            count = max(r.address + r.width for r in group) - first
            answer = self._transact(Request.read(self.unit_id, kind, first, count),
                                    'reading', group)
            for register in group:
                start = register.address - first
                values[register.name] = register.decode(
                    answer.registers[start:start + register.width],
                    self.profile.bus.word_order)
        return values

    def write(self, name, value, confirm=False):
        """Write one register (limits checked first); confirm=True reads it back."""
        register = self.profile.register(name)
        if not register.writable:
            raise DeviceError(f'{self._who()}: {name} is read-only')
        raw = register.encode(value, self.profile.bus.word_order)  # ValueError if out of range
        single = self.profile.bus.write_function == 6
        self._transact(Request.write(self.unit_id, register.address, raw, single=single),
                       'writing', [register])
        if confirm:
            back = self.read(name)
            wrote = register.decode(raw, self.profile.bus.word_order)
            if abs(back - wrote) > 1e-9 * max(1.0, abs(back)):
                self.errors += 1
                raise DeviceError(f'{self._who()}: confirming {name} failed: read back '
                                  f'{back:g}, wrote {wrote:g}')
        return True
