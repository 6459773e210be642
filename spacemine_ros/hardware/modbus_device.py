"""One Modbus RTU device on a serial line, in engineering units (pymodbus underneath).

Reads and writes go through the device profile's register map. Every failure (no port,
timeout, CRC error, exception response, garbage on the line) becomes a DeviceError with
the device, register and reason; pymodbus retries a request `retries` times first.
Writes that must not be lost (a stop) are confirmed by reading the register back.
"""

import logging

from pymodbus.client import ModbusSerialClient
from pymodbus.exceptions import ModbusException
from serial import SerialException


# pymodbus logs every failed request and frame dump itself; failures reach the caller as
# DeviceErrors and the field bus reports them in diagnostics, so its own log stays quiet.
logging.getLogger('pymodbus').setLevel(logging.CRITICAL)


class DeviceError(RuntimeError):
    """A device did not do what was asked; the message says which and why."""


def serial_client(port, bus, retries=2, timeout=None, parity=None):
    """Return a pymodbus RTU client for a serial port with a profile's bus settings."""
    # No automatic reconnect: the bus worker decides when to reopen, with its own backoff.
    return ModbusSerialClient(
        port=port, baudrate=bus.baudrate, parity=parity or bus.parity, stopbits=bus.stopbits,
        timeout=timeout if timeout is not None else bus.timeout, retries=retries,
        reconnect_delay=0.0)


class ModbusDevice:
    """A device profile bound to a serial port, alone or sharing a client on a bus."""

    def __init__(self, profile, port, retries=2, timeout=None, parity=None, client=None,
                 unit_id=None):
        self.profile = profile
        self.port = port
        self.unit_id = unit_id or profile.bus.unit_id
        self.client = client or serial_client(port, profile.bus, retries, timeout, parity)
        self.errors = 0

    # Connection ---------------------------------------------------------------------------
    def open(self):
        """Open the port; raise DeviceError if it cannot be opened."""
        if not self.client.connect():
            raise DeviceError(f'{self.profile.name}: cannot open {self.port}')

    def close(self):
        """Close the port."""
        self.client.close()

    @property
    def connected(self):
        """True while the port is open."""
        return bool(self.client.connected)

    # Registers ----------------------------------------------------------------------------
    def _fail(self, register, what, reason):
        self.errors += 1
        raise DeviceError(f'{self.profile.name} (unit {self.unit_id} on '
                          f'{self.port}): {what} {register.name} failed: {reason}')

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
            reader = (self.client.read_holding_registers if kind == 'holding'
                      else self.client.read_input_registers)
            try:
                response = reader(first, count=count, device_id=self.unit_id)
            except (ModbusException, OSError, SerialException) as error:
                self._fail(group[0], 'reading', error)
            if response.isError():
                self._fail(group[0], 'reading', f'exception response {response}')
            if len(response.registers) < count:
                self._fail(group[0], 'reading', f'short response ({len(response.registers)} '
                           f'of {count} registers)')
            for register in group:
                start = register.address - first
                values[register.name] = register.decode(
                    response.registers[start:start + register.width],
                    self.profile.bus.word_order)
        return values

    def write(self, name, value, confirm=False):
        """Write one register (limits checked first); confirm=True reads it back."""
        register = self.profile.register(name)
        if not register.writable:
            raise DeviceError(f'{self.profile.name}: {name} is read-only')
        raw = register.encode(value, self.profile.bus.word_order)  # ValueError if out of range
        try:
            response = self.client.write_registers(register.address, raw,
                                                   device_id=self.unit_id)
        except (ModbusException, OSError, SerialException) as error:
            self._fail(register, 'writing', error)
        if response.isError():
            self._fail(register, 'writing', f'exception response {response}')
        if confirm:
            back = self.read(name)
            if abs(back - register.decode(raw, self.profile.bus.word_order)) > 1e-9 * max(
                    1.0, abs(back)):
                self._fail(register, 'confirming', f'read back {back}, wrote {value}')
        return True
