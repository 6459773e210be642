"""One Modbus RTU device on a serial line, in engineering units (pymodbus underneath).

Reads and writes go through the device profile's register map. Every failure (no port,
timeout, CRC error, exception response, garbage on the line) becomes a DeviceError with
the device, register and reason; pymodbus retries a request `retries` times first.
Writes that must not be lost (a stop) are confirmed by reading the register back.
"""

from pymodbus.client import ModbusSerialClient
from pymodbus.exceptions import ModbusException


class DeviceError(RuntimeError):
    """A device did not do what was asked; the message says which and why."""


class ModbusDevice:
    """A device profile bound to a serial port."""

    def __init__(self, profile, port, retries=2, timeout=None, parity=None):
        self.profile = profile
        self.port = port
        bus = profile.bus
        self.client = ModbusSerialClient(
            port=port, baudrate=bus.baudrate, parity=parity or bus.parity, stopbits=bus.stopbits,
            timeout=timeout if timeout is not None else bus.timeout, retries=retries,
            reconnect_delay=0.1, reconnect_delay_max=2.0)
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
        raise DeviceError(f'{self.profile.name} (unit {self.profile.bus.unit_id} on '
                          f'{self.port}): {what} {register.name} failed: {reason}')

    def read(self, name):
        """Read one register, in its engineering unit."""
        register = self.profile.register(name)
        unit = self.profile.bus.unit_id
        reader = (self.client.read_holding_registers if register.kind == 'holding'
                  else self.client.read_input_registers)
        try:
            response = reader(register.address, count=register.width, device_id=unit)
        except ModbusException as error:
            self._fail(register, 'reading', error)
        if response.isError():
            self._fail(register, 'reading', f'exception response {response}')
        return register.decode(response.registers, self.profile.bus.word_order)

    def write(self, name, value, confirm=False):
        """Write one register (limits checked first); confirm=True reads it back."""
        register = self.profile.register(name)
        if not register.writable:
            raise DeviceError(f'{self.profile.name}: {name} is read-only')
        raw = register.encode(value, self.profile.bus.word_order)  # ValueError if out of range
        try:
            response = self.client.write_registers(register.address, raw,
                                                   device_id=self.profile.bus.unit_id)
        except ModbusException as error:
            self._fail(register, 'writing', error)
        if response.isError():
            self._fail(register, 'writing', f'exception response {response}')
        if confirm:
            back = self.read(name)
            if abs(back - register.decode(raw, self.profile.bus.word_order)) > 1e-9 * max(
                    1.0, abs(back)):
                self._fail(register, 'confirming', f'read back {back}, wrote {value}')
        return True
