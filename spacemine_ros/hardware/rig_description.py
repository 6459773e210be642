"""The rig's actuators and sensors, declared once (config/rig_hardware.yaml).

One file says which device drives which joint or process: its profile, bus, unit id,
which command field goes to which register, which registers make up the joint's state or
a sensor topic, what is written to enable it and to make it safe, its limits and the
devices it is interlocked with. The field-bus driver, the HIL emulators and the
simulation's drive limits all read it, so a new rig is a new YAML file, not new code.
"""

from dataclasses import dataclass, field
import math

from spacemine_ros.core.config import ConfigError, load_extending, require
from spacemine_ros.core.rig_interface import load_rig_interface
from spacemine_ros.hardware.profiles import check_parity, load_profiles
from spacemine_ros.paths import share_path

JOINT_FIELDS = ('position', 'velocity', 'effort')
OUTPUT_TYPES = ('float64', 'temperature', 'wrench', 'odometry')
TRIPLES = ('wrench', 'odometry')  # output types made of x, y, z registers


@dataclass(frozen=True)
class CommandBinding:
    """A register set from one field of the joint's command: value = field x gain."""

    register: str
    field: str
    gain: float = 1.0


@dataclass(frozen=True)
class StateBinding:
    """A joint-state field read from a register, its time integral or its rate."""

    field: str
    register: str
    how: str = 'value'  # value | integral | rate


@dataclass(frozen=True)
class Output:
    """A sensor topic made from registers."""

    topic: str
    type: str  # float64 | temperature | wrench (force x, y, z) | odometry (position x, y, z)
    registers: tuple
    frame: str = ''
    child_frame: str = ''  # odometry: the frame whose position it is
    invalid_mask: dict = field(default_factory=dict)  # register -> bits that mean 'invalid'


@dataclass(frozen=True)
class DeviceSpec:
    """One device on the rig."""

    name: str
    profile: object  # DeviceProfile
    bus: str
    unit_id: int
    joint: str = ''
    command_topic: str = ''
    command: tuple = ()  # CommandBinding
    state: tuple = ()  # StateBinding
    outputs: tuple = ()  # Output
    setup: dict = field(default_factory=dict)  # register -> value, written on configure
    enable: dict = field(default_factory=dict)  # written on activate
    safe: dict = field(default_factory=dict)  # written (confirmed) to make it safe; None = hold
    limits: dict = field(default_factory=dict)  # register -> (min, max)
    interlocks: tuple = ()  # device names: any of them faulted -> this one safe

    def limit(self, register):
        """Return (min, max) of a register: the rig's limit, else the profile's."""
        if register in self.limits:
            return self.limits[register]
        spec = self.profile.register(register)
        return spec.minimum, spec.maximum

    def clamp(self, register, value):
        """Return value clamped to the register's limits (the drive limit)."""
        low, high = self.limit(register)
        return min(max(value, low), high)

    @property
    def read_registers(self):
        """Registers the driver polls: joint state and sensor outputs."""
        names = [b.register for b in self.state]
        for output in self.outputs:
            names += list(output.registers) + list(output.invalid_mask)
        return tuple(dict.fromkeys(names))


@dataclass(frozen=True)
class BusSpec:
    """One serial line and how it is polled."""

    name: str
    port: str  # a device path, or 'auto' to find it by `match`
    match: dict  # pyserial ListPortInfo fields -> wanted value
    baudrate: int
    parity: str
    stopbits: int
    timeout: float  # s per request
    poll_rate: float  # Hz
    retries: int  # per request, by the Modbus client
    fault_after: int  # consecutive failed polls before a device is FAULT
    backoff_min: float  # s, first reconnect delay; doubles up to backoff_max
    backoff_max: float
    command_timeout: float  # s without a command -> the device is made safe
    late_window: float = 0.0  # s after a failed request in which answers are discarded
    # (0: four request timeouts)


@dataclass(frozen=True)
class RigDescription:
    """Buses and devices of a rig."""

    name: str
    buses: dict  # name -> BusSpec
    devices: dict  # name -> DeviceSpec

    def on_bus(self, bus):
        """Devices on one bus, in file order."""
        return [d for d in self.devices.values() if d.bus == bus]

    def for_joint(self, joint):
        """Return the device that drives or measures a joint, or None."""
        for device in self.devices.values():
            if device.joint == joint:
                return device
        return None

    def joint_limit(self, joint, register, default):
        """Return the upper limit of a joint's register, or default if no device has it."""
        device = self.for_joint(joint)
        if device is None or register not in device.profile.registers:
            return default
        high = device.limit(register)[1]
        return high if math.isfinite(high) else default


# Parsing ------------------------------------------------------------------------------------
def _mapping(value, where):
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f'{where}: expected a mapping')
    return value


def _number(value, where, low=-math.inf, high=math.inf, integer=False):
    try:
        number = int(value) if integer else float(value)
    except (TypeError, ValueError):
        raise ConfigError(f'{where}: expected a number, got {value!r}') from None
    if isinstance(value, bool) or (integer and number != float(value)):
        raise ConfigError(f'{where}: expected {"an integer" if integer else "a number"}, '
                          f'got {value!r}')
    if not math.isfinite(number) or not low <= number <= high:
        raise ConfigError(f'{where}: {value!r} outside {low:g}..{high:g}')
    return number


def _bus(name, entry, where):
    entry = _mapping(entry, where)
    port = str(require(entry, 'port', where))
    match = _mapping(entry.get('match'), f'{where}.match')
    if port == 'auto' and not match:
        raise ConfigError(f'{where}: port auto needs a match (e.g. serial_number, vid, pid)')
    parity = check_parity(entry.get('parity', 'even'), f'{where}.parity')
    backoff_min = _number(entry.get('backoff_min', 0.1), f'{where}.backoff_min', 0.001, 60)
    backoff_max = _number(entry.get('backoff_max', 2.0), f'{where}.backoff_max', 0.001, 600)
    if backoff_max < backoff_min:
        raise ConfigError(f'{where}: backoff_max is below backoff_min')
    timeout = _number(entry.get('timeout', 0.05), f'{where}.timeout', 0.001, 10.0)
    late_window = _number(entry.get('late_window', 0.0), f'{where}.late_window', 0.0, 60.0)
    if late_window and late_window < timeout:
        raise ConfigError(f'{where}: late_window {late_window:g} s is shorter than the '
                          f'timeout {timeout:g} s')
    return BusSpec(
        name=name, port=port, match={str(k): v for k, v in match.items()},
        baudrate=_number(entry.get('baudrate', 115200), f'{where}.baudrate', 1200, 4000000,
                         integer=True),
        parity=parity,
        stopbits=_number(entry.get('stopbits', 1), f'{where}.stopbits', 1, 2, integer=True),
        timeout=timeout, late_window=late_window,
        poll_rate=_number(entry.get('poll_rate', 20.0), f'{where}.poll_rate', 0.1, 1000.0),
        retries=_number(entry.get('retries', 1), f'{where}.retries', 0, 10, integer=True),
        fault_after=_number(entry.get('fault_after', 3), f'{where}.fault_after', 1, 100,
                            integer=True),
        backoff_min=backoff_min, backoff_max=backoff_max,
        command_timeout=_number(entry.get('command_timeout', 0.5), f'{where}.command_timeout',
                                0.01, 60.0))


def _register(profile, name, where, writable=False):
    if name not in profile.registers:
        raise ConfigError(f'{where}: {profile.name} has no register {name!r}; registers: '
                          f'{", ".join(sorted(profile.registers))}')
    if writable and not profile.registers[name].writable:
        raise ConfigError(f'{where}: {profile.name}.{name} is read-only')
    return name


def _values(profile, entry, where, limits, allow_hold=False):
    """Return a register -> value mapping of writes, checked against the limits.

    With allow_hold, the value `hold` means: leave the register as last written.
    """
    values = {}
    for register, value in _mapping(entry, where).items():
        _register(profile, register, f'{where}.{register}', writable=True)
        if allow_hold and value == 'hold':
            values[register] = None
            continue
        number = _number(value, f'{where}.{register}')
        low, high = limits.get(register, (profile.registers[register].minimum,
                                          profile.registers[register].maximum))
        if not low <= number <= high:
            raise ConfigError(f'{where}.{register}: {number:g} outside its limits '
                              f'[{low:g}, {high:g}]')
        values[register] = number
    return values


def _limits(profile, entry, where):
    limits = {}
    for register, pair in _mapping(entry, where).items():
        _register(profile, register, f'{where}.{register}', writable=True)
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise ConfigError(f'{where}.{register}: expected [min, max]')
        low, high = (_number(v, f'{where}.{register}') for v in pair)
        spec = profile.registers[register]
        if low > high or low < spec.minimum or high > spec.maximum:
            raise ConfigError(f'{where}.{register}: [{low:g}, {high:g}] must be an ordered '
                              f'range inside the profile [{spec.minimum:g}, '
                              f'{spec.maximum:g}] {spec.unit}')
        limits[register] = (low, high)
    return limits


def _command(profile, entry, where):
    bindings = []
    for register, source in _mapping(entry, where).items():
        _register(profile, register, f'{where}.{register}', writable=True)
        if isinstance(source, str):
            source = {'field': source}
        source = _mapping(source, f'{where}.{register}')
        field_name = require(source, 'field', f'{where}.{register}')
        if field_name not in JOINT_FIELDS:
            raise ConfigError(f'{where}.{register}.field: expected one of '
                              f'{", ".join(JOINT_FIELDS)}, got {field_name!r}')
        bindings.append(CommandBinding(register, field_name, _number(
            source.get('gain', 1.0), f'{where}.{register}.gain')))
    return tuple(bindings)


def _state(profile, entry, where):
    bindings = []
    for field_name, source in _mapping(entry, where).items():
        if field_name not in JOINT_FIELDS:
            raise ConfigError(f'{where}: unknown joint field {field_name!r}; expected one of '
                              f'{", ".join(JOINT_FIELDS)}')
        how = 'value'
        if isinstance(source, dict):
            if len(source) != 1 or next(iter(source)) not in ('integral_of', 'rate_of'):
                raise ConfigError(f'{where}.{field_name}: expected a register name, '
                                  f'{{integral_of: register}} or {{rate_of: register}}')
            how, source = next(iter(source.items()))
            how = 'integral' if how == 'integral_of' else 'rate'
        bindings.append(StateBinding(field_name, _register(profile, str(source),
                                                           f'{where}.{field_name}'), how))
    return tuple(bindings)


def _outputs(profile, entry, where):
    if entry is None:
        return ()
    if not isinstance(entry, list):
        raise ConfigError(f'{where}: expected a list')
    outputs = []
    for index, item in enumerate(entry):
        here = f'{where}[{index}]'
        item = _mapping(item, here)
        kind = require(item, 'type', here)
        if kind not in OUTPUT_TYPES:
            raise ConfigError(f'{here}.type: expected one of {", ".join(OUTPUT_TYPES)}')
        registers = item.get('registers', [item['register']] if 'register' in item else [])
        triple = kind in TRIPLES
        if not isinstance(registers, list) or len(registers) != (3 if triple else 1):
            raise ConfigError(f'{here}: a {kind} output needs '
                              f'{"registers: [x, y, z]" if triple else "register"}')
        mask = {_register(profile, r, f'{here}.invalid_when.{r}'): _number(
            bits, f'{here}.invalid_when.{r}', 1, 0xFFFF, integer=True)
            for r, bits in _mapping(item.get('invalid_when'), f'{here}.invalid_when').items()}
        outputs.append(Output(
            topic=str(require(item, 'topic', here)), type=kind,
            registers=tuple(_register(profile, str(r), here) for r in registers),
            frame=str(item.get('frame', '')), child_frame=str(item.get('child_frame', '')),
            invalid_mask=mask))
    return tuple(outputs)


def _joint_of(rig, joint, command, limits, profile, where):
    """Return the command topic of a device's joint in the rig file, checking its fields.

    Explicit limits must lie inside the joint's limits in the rig file (after the gain);
    a commanded register without explicit limits gets the rig file's (within the
    profile's), so the driver never passes on what the joint cannot do.
    """
    try:
        subsystem, spec = rig.joint(joint)
    except KeyError as error:
        raise ConfigError(f'{where}.joint: {error.args[0]}') from None
    for binding in command:
        interface = spec.command.get(binding.field)
        if interface is None:
            raise ConfigError(f'{where}.command.{binding.register}: {joint} takes no '
                              f'{binding.field} command (it takes '
                              f'{", ".join(spec.command) or "none"})')
        if binding.register not in limits:
            spec_low = profile.registers[binding.register].minimum
            spec_high = profile.registers[binding.register].maximum
            bounds = sorted((interface.minimum * binding.gain, interface.maximum * binding.gain))
            limits[binding.register] = (max(bounds[0], spec_low), min(bounds[1], spec_high))
            continue
        low, high = limits[binding.register]
        low, high = sorted((low / binding.gain, high / binding.gain))
        if low < interface.minimum - 1e-9 or high > interface.maximum + 1e-9:
            raise ConfigError(f'{where}.limits.{binding.register}: [{low:g}, {high:g}] '
                              f"{interface.unit} (after the gain) lies outside {joint}'s "
                              f'{binding.field} limits [{interface.minimum:g}, '
                              f'{interface.maximum:g}] in the rig file')
    return subsystem.command_topic


def _device(name, entry, buses, profiles, where, rig):
    entry = _mapping(entry, where)
    profile_name = require(entry, 'profile', where)
    if profile_name not in profiles:
        raise ConfigError(f'{where}.profile: unknown profile {profile_name!r}; known: '
                          f'{", ".join(sorted(profiles))}')
    profile = profiles[profile_name]
    bus = require(entry, 'bus', where)
    if bus not in buses:
        raise ConfigError(f'{where}.bus: unknown bus {bus!r}; buses: {", ".join(buses)}')
    limits = _limits(profile, entry.get('limits'), f'{where}.limits')
    command = _command(profile, entry.get('command'), f'{where}.command')
    state = _state(profile, entry.get('state'), f'{where}.state')
    joint = str(entry.get('joint', ''))
    if (command or state) and not joint:
        raise ConfigError(f'{where}: a device with command or state needs a joint name')
    # The joint's subsystem (the rig file) says on which topic it is commanded.
    command_topic = _joint_of(rig, joint, command, limits, profile, where) if joint else ''
    safe = _values(profile, entry.get('safe'), f'{where}.safe', limits, allow_hold=True)
    unsafe = [b.register for b in command if b.register not in safe]
    if unsafe:
        raise ConfigError(f'{where}.safe: commanded registers need a safe value (or hold): '
                          f'{", ".join(unsafe)}')
    interlocks = entry.get('interlocks', []) or []
    if not isinstance(interlocks, list):
        raise ConfigError(f'{where}.interlocks: expected a list of device names')
    return DeviceSpec(
        name=name, profile=profile, bus=bus,
        unit_id=_number(entry.get('unit_id', profile.bus.unit_id), f'{where}.unit_id', 1, 247,
                        integer=True),
        joint=joint, command_topic=command_topic, command=command, state=state,
        outputs=_outputs(profile, entry.get('outputs'), f'{where}.outputs'),
        setup=_values(profile, entry.get('setup'), f'{where}.setup', limits),
        enable=_values(profile, entry.get('enable'), f'{where}.enable', limits),
        safe=safe, limits=limits, interlocks=tuple(str(d) for d in interlocks))


def description_from(data, where, profiles, rig=None):
    """Build and validate a RigDescription from parsed YAML, against the rig file."""
    data = _mapping(data, where)
    rig = rig or load_rig_interface(share_path('config', 'rigs', 'default.yaml'))
    bus_entries = _mapping(require(data, 'buses', where), f'{where}.buses')
    if not bus_entries:
        raise ConfigError(f'{where}.buses: at least one bus is needed')
    buses = {name: _bus(name, entry, f'{where}.buses.{name}')
             for name, entry in bus_entries.items()}
    device_entries = _mapping(require(data, 'devices', where), f'{where}.devices')
    devices = {name: _device(name, entry, buses, profiles, f'{where}.devices.{name}', rig)
               for name, entry in device_entries.items()}
    seen_units, seen_joints, seen_topics = {}, {}, {}
    for device in devices.values():
        here = f'{where}.devices.{device.name}'
        key = (device.bus, device.unit_id)
        if key in seen_units:
            raise ConfigError(f'{here}: unit id {device.unit_id} on {device.bus} is also '
                              f'{seen_units[key]}')
        seen_units[key] = device.name
        if device.joint:
            if device.joint in seen_joints:
                raise ConfigError(f'{here}: joint {device.joint} is also served by '
                                  f'{seen_joints[device.joint]}')
            seen_joints[device.joint] = device.name
        for output in device.outputs:
            if output.topic in seen_topics:
                raise ConfigError(f'{here}: topic {output.topic} is also published by '
                                  f'{seen_topics[output.topic]}')
            seen_topics[output.topic] = device.name
        for other in device.interlocks:
            if other not in devices or other == device.name:
                raise ConfigError(f'{here}.interlocks: {other!r} is not another device')
    return RigDescription(name=str(data.get('rig', 'rig')), buses=buses, devices=devices)


def load_rig_description(path, profiles_path, rig=None):
    """Load a rig's devices, the device profiles they name, checked against the rig file.

    rig: the rig file's RigInterface (default: config/rigs/default.yaml); the devices
    file must name the same rig.
    """
    # A devices file may `extends:` another and list only what differs: a device given
    # again keeps the keys it does not name.
    data = load_extending(path, ('buses', 'devices'), merge_entries=True)
    if rig is not None and isinstance(data, dict) and data.get('rig', rig.name) != rig.name:
        raise ConfigError(f'{path}: describes rig {data["rig"]!r}, but the rig file is '
                          f'{rig.name!r}')
    return description_from(data, str(path), load_profiles(profiles_path), rig)
