"""Modbus device profiles: bus settings and register maps, validated at load.

A profile says, for one device type, which registers hold what (address, kind, data
type, scale, offset, SI unit, access, limits) and how to reach it on the bus. Values are
converted between engineering units and raw registers here, with pymodbus doing the
bit-level packing of 16- and 32-bit integers and floats.
"""

from dataclasses import dataclass
import math

from pymodbus.client.mixin import ModbusClientMixin

from spacemine_ros.core.config import ConfigError, load_yaml, require

DATA_TYPES = {
    'uint16': ModbusClientMixin.DATATYPE.UINT16,
    'int16': ModbusClientMixin.DATATYPE.INT16,
    'uint32': ModbusClientMixin.DATATYPE.UINT32,
    'int32': ModbusClientMixin.DATATYPE.INT32,
    'float32': ModbusClientMixin.DATATYPE.FLOAT32,
}
WIDTH = {'uint16': 1, 'int16': 1, 'uint32': 2, 'int32': 2, 'float32': 2}
RAW_RANGE = {'uint16': (0, 0xFFFF), 'int16': (-0x8000, 0x7FFF), 'uint32': (0, 0xFFFFFFFF),
             'int32': (-0x80000000, 0x7FFFFFFF), 'float32': (-3.4e38, 3.4e38)}
KINDS = ('holding', 'input')
# Written out: ROS's YAML reads a bare N or Y as a boolean, so N/E/O are not used.
PARITIES = ('none', 'even', 'odd')
WRITE_FUNCTIONS = (16, 6)  # write multiple registers, or write single register


@dataclass(frozen=True)
class Register:
    """One quantity in a device's register map."""

    name: str
    address: int
    kind: str  # holding (read/write) or input (read only)
    data_type: str
    scale: float = 1.0
    offset: float = 0.0
    unit: str = ''
    writable: bool = False
    minimum: float = -math.inf
    maximum: float = math.inf

    @property
    def width(self):
        """Number of 16-bit registers the value takes."""
        return WIDTH[self.data_type]

    def encode(self, value, word_order='big', check_limits=True):
        """Return the raw registers of a value; raises ValueError if out of limits.

        check_limits=False is for the device side (an emulator reporting a reading),
        which the write limits do not bind; the data type's range still does.
        """
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f'{self.name}: value must be a finite number, got {value!r}')
        if check_limits and not self.minimum <= value <= self.maximum:
            raise ValueError(f'{self.name}: {value:g} {self.unit} outside '
                             f'[{self.minimum:g}, {self.maximum:g}] {self.unit}')
        raw = (value - self.offset) / self.scale
        if self.data_type != 'float32':
            raw = int(round(raw))
            low, high = RAW_RANGE[self.data_type]
            if not low <= raw <= high:
                raise ValueError(f'{self.name}: {value:g} {self.unit} does not fit in '
                                 f'{self.data_type} at scale {self.scale:g}')
        return ModbusClientMixin.convert_to_registers(raw, DATA_TYPES[self.data_type],
                                                      word_order=word_order)

    def decode(self, registers, word_order='big'):
        """Return the engineering value of raw registers."""
        if len(registers) != self.width:
            raise ValueError(f'{self.name}: expected {self.width} registers, '
                             f'got {len(registers)}')
        raw = ModbusClientMixin.convert_from_registers(list(registers),
                                                       DATA_TYPES[self.data_type],
                                                       word_order=word_order)
        return raw * self.scale + self.offset


@dataclass(frozen=True)
class BusSettings:
    """How to reach a device on its serial line."""

    unit_id: int
    baudrate: int = 115200
    parity: str = 'even'
    stopbits: int = 1
    timeout: float = 0.05  # s
    word_order: str = 'big'
    write_function: int = 16  # 6: one-register values are written with FC06
    late_window: float = 0.0  # s after a failed request in which answers are discarded
    # (0: four timeouts; rtu_master.RtuMaster)


@dataclass(frozen=True)
class DeviceProfile:
    """A device type: bus settings and its register map."""

    name: str
    description: str
    bus: BusSettings
    registers: dict  # name -> Register

    def register(self, name):
        """Return the named register; raises KeyError with the known names."""
        try:
            return self.registers[name]
        except KeyError:
            raise KeyError(f'{self.name} has no register {name!r}; registers: '
                           f'{", ".join(sorted(self.registers))}') from None


def _number(entry, key, where, default=None, integer=False):
    value = entry.get(key, default) if default is not None else require(entry, key, where)
    try:
        number = int(value) if integer else float(value)
    except (TypeError, ValueError):
        raise ConfigError(f'{where}.{key}: expected a number, got {value!r}') from None
    if integer and number != float(value):
        raise ConfigError(f'{where}.{key}: expected an integer, got {value!r}')
    if not integer and not math.isfinite(number):
        raise ConfigError(f'{where}.{key}: expected a finite number, got {value!r}')
    return number


def check_parity(parity, where):
    """Return a valid parity name; ConfigError naming where otherwise."""
    if parity not in PARITIES:
        hint = (' (write it out: ROS reads a bare N as a boolean)'
                if parity in ('N', 'E', 'O', False) else '')
        raise ConfigError(f'{where}: expected none, even or odd, got {parity!r}{hint}')
    return parity


def _register(name, entry, where):
    if not isinstance(entry, dict):
        raise ConfigError(f'{where}: expected a mapping')
    address = _number(entry, 'address', where, integer=True)
    if not 0 <= address <= 0xFFFF:
        raise ConfigError(f'{where}.address: {address} outside 0..65535')
    kind = require(entry, 'kind', where)
    if kind not in KINDS:
        raise ConfigError(f'{where}.kind: expected one of {", ".join(KINDS)}, got {kind!r}')
    data_type = require(entry, 'type', where)
    if data_type not in DATA_TYPES:
        raise ConfigError(f'{where}.type: expected one of {", ".join(DATA_TYPES)}, got '
                          f'{data_type!r}')
    access = entry.get('access', 'r')
    if access not in ('r', 'rw'):
        raise ConfigError(f'{where}.access: expected r or rw, got {access!r}')
    if access == 'rw' and kind != 'holding':
        raise ConfigError(f'{where}: only holding registers can be written')
    scale = _number(entry, 'scale', where, default=1.0)
    if scale == 0.0:
        raise ConfigError(f'{where}.scale: must not be 0')
    minimum = _number(entry, 'min', where, default=-math.inf) if 'min' in entry else -math.inf
    maximum = _number(entry, 'max', where, default=math.inf) if 'max' in entry else math.inf
    if access == 'rw' and not (math.isfinite(minimum) and math.isfinite(maximum)):
        raise ConfigError(f'{where}: a writable register needs min and max')
    if minimum > maximum:
        raise ConfigError(f'{where}: min {minimum:g} is above max {maximum:g}')
    return Register(name=name, address=address, kind=kind, data_type=data_type, scale=scale,
                    offset=_number(entry, 'offset', where, default=0.0),
                    unit=str(entry.get('unit', '')), writable=access == 'rw',
                    minimum=minimum, maximum=maximum)


def _bus(entry, where):
    if not isinstance(entry, dict):
        raise ConfigError(f'{where}: expected a mapping')
    unit_id = _number(entry, 'unit_id', where, integer=True)
    if not 1 <= unit_id <= 247:
        raise ConfigError(f'{where}.unit_id: {unit_id} outside 1..247 (Modbus RTU addresses)')
    parity = check_parity(entry.get('parity', 'even'), f'{where}.parity')
    stopbits = _number(entry, 'stopbits', where, default=1, integer=True)
    if stopbits not in (1, 2):
        raise ConfigError(f'{where}.stopbits: expected 1 or 2, got {stopbits}')
    baudrate = _number(entry, 'baudrate', where, default=115200, integer=True)
    if baudrate not in (9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600, 1000000):
        raise ConfigError(f'{where}.baudrate: {baudrate} is not a standard rate')
    timeout = _number(entry, 'timeout', where, default=0.05)
    if not 0.001 <= timeout <= 10.0:
        raise ConfigError(f'{where}.timeout: {timeout} s outside 0.001..10 s')
    word_order = entry.get('word_order', 'big')
    if word_order not in ('big', 'little'):
        raise ConfigError(f'{where}.word_order: expected big or little, got {word_order!r}')
    late_window = _number(entry, 'late_window', where, default=0.0)
    if late_window and not timeout <= late_window <= 60.0:
        raise ConfigError(f'{where}.late_window: {late_window} s outside timeout..60 s')
    write_function = _number(entry, 'write_function', where, default=16, integer=True)
    if write_function not in WRITE_FUNCTIONS:
        raise ConfigError(f'{where}.write_function: expected 16 or 6, got {write_function}')
    return BusSettings(unit_id=unit_id, baudrate=baudrate, parity=parity, stopbits=stopbits,
                       timeout=timeout, word_order=word_order, write_function=write_function,
                       late_window=late_window)


def profile_from(name, entry, where):
    """Build and validate one DeviceProfile."""
    if not isinstance(entry, dict):
        raise ConfigError(f'{where}: expected a mapping')
    registers_entry = require(entry, 'registers', where)
    if not isinstance(registers_entry, dict) or not registers_entry:
        raise ConfigError(f'{where}.registers: expected a non-empty mapping')
    registers = {reg: _register(reg, value, f'{where}.registers.{reg}')
                 for reg, value in registers_entry.items()}
    for kind in KINDS:  # no two registers of a kind may overlap
        used = {}
        for register in registers.values():
            if register.kind != kind:
                continue
            for address in range(register.address, register.address + register.width):
                if address in used:
                    raise ConfigError(f'{where}.registers: {register.name} overlaps '
                                      f'{used[address]} at {kind} address {address}')
                used[address] = register.name
    return DeviceProfile(name=name, description=str(entry.get('description', '')),
                         bus=_bus(require(entry, 'bus', where), f'{where}.bus'),
                         registers=registers)


def load_profiles(path):
    """Load every device profile of a devices.yaml file."""
    data = load_yaml(path)
    profiles = require(data, 'profiles', str(path))
    if not isinstance(profiles, dict) or not profiles:
        raise ConfigError(f'{path}: profiles must be a non-empty mapping')
    return {name: profile_from(name, entry, f'{path}: profiles.{name}')
            for name, entry in profiles.items()}
