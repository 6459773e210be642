"""The rig's subsystems and their joints' command and state interfaces, and the codec.

config/rigs/<rig>.yaml declares each subsystem (kind, controller, command topic) and
each joint's command interfaces (field, unit, limits) and state interfaces (ros2_control's
idea). RigInterface loads and checks it; decode() turns a command (the arrays of a
JointState, or registers mapped by the HIL wiring) into {joint: {field: value}} for the
subsystem, refusing what is missing or not finite and clamping to the drives' limits;
joint_state_rows() orders state values for a JointState. The simulation, the HIL
wiring, the test loop and the controllers all use it, so a command is decoded in one
place. No rclpy, no pybullet.
"""

from dataclasses import dataclass, field
import math

from spacemine_ros.core.config import ConfigError, load_extending, require

FIELDS = ('position', 'velocity', 'effort')
KINDS = ('anchors', 'drill', 'scraper', 'material_line', 'furnace')


class CommandError(ValueError):
    """A command the subsystem refuses; the message says why (nothing was applied)."""


@dataclass(frozen=True)
class CommandInterface:
    """One commanded field of a joint, with the drive's limits (inf: the plugin's own)."""

    field: str
    unit: str
    minimum: float = -math.inf
    maximum: float = math.inf

    def clamp(self, value):
        """Return value within the limits (a drive saturates at its limit)."""
        return min(max(value, self.minimum), self.maximum)


@dataclass(frozen=True)
class Joint:
    """A joint (or a non-joint actuator) of a subsystem."""

    name: str
    role: str
    command: dict  # field -> CommandInterface
    state: dict  # field -> unit; empty: not reported in joint_states
    extra: dict = field(default_factory=dict)  # other keys (e.g. a feeder's hopper)


@dataclass(frozen=True)
class Subsystem:
    """One tool or process of the rig."""

    name: str
    kind: str
    controller: str
    command_topic: str
    joints: tuple  # Joint
    loads_anchors: bool = False  # its reaction goes into the anchors: in the force budget
    settings: dict = field(default_factory=dict)  # mount, cuttings, bit_radius, ...

    def joint(self, role, index=0):
        """Return the index-th joint of a role; KeyError naming the subsystem if none."""
        found = [j for j in self.joints if j.role == role]
        if index >= len(found):
            raise KeyError(f'{self.name} has no {role} joint #{index}')
        return found[index]

    def role_joints(self, role):
        """Return every joint of a role, in file order."""
        return [j for j in self.joints if j.role == role]

    def decode(self, names, position=(), velocity=(), effort=()):
        """Return {joint: {field: value}} of a command for every joint of the subsystem.

        Arrays as in a JointState (empty: the field is not sent). Every commanded field
        of every joint must be there and finite (CommandError naming what is not); a
        value beyond a drive's limits is clamped to it. Joints of other subsystems are
        ignored.
        """
        columns = {'position': position, 'velocity': velocity, 'effort': effort}
        rows = {name: row for row, name in enumerate(names)}
        decoded = {}
        for joint in self.joints:
            if not joint.command:
                continue
            row = rows.get(joint.name)
            if row is None:
                raise CommandError(f'{self.command_topic}: no {joint.name} in the command')
            values = {}
            for name, interface in joint.command.items():
                column = columns[name]
                value = column[row] if row < len(column) else math.nan
                try:
                    value = float(value)
                except (TypeError, ValueError):
                    value = math.nan
                if not math.isfinite(value):
                    raise CommandError(f'{self.command_topic}: {joint.name} {name} must be a '
                                       f'finite number [{interface.unit}], got {value}')
                values[name] = interface.clamp(value)
            decoded[joint.name] = values
        return decoded

    def encode(self, command):
        """Return (names, position, velocity, effort) arrays of {joint: {field: value}}.

        Fields a joint does not command are NaN (the JointState convention for 'not
        set'); an array no joint uses is left empty.
        """
        names = [j.name for j in self.joints if j.command]
        used = {f for j in self.joints for f in j.command}
        arrays = {f: ([float(command.get(n, {}).get(f, math.nan)) for n in names]
                      if f in used else []) for f in FIELDS}
        return names, arrays['position'], arrays['velocity'], arrays['effort']


@dataclass(frozen=True)
class RigInterface:
    """Every subsystem of a rig."""

    name: str
    subsystems: dict  # name -> Subsystem
    hardware: str = ''  # path of its field-bus devices file (rig_description), if any

    def drill_masts(self):
        """Return [(name, x, y)] of the drill subsystems' masts (the URDF's drills)."""
        return [(s.name, *[float(v) for v in s.settings.get('mount', (0.0, 0.0))])
                for s in self.by_kind('drill')]

    def by_kind(self, kind):
        """Return the subsystems of a kind, in file order."""
        return [s for s in self.subsystems.values() if s.kind == kind]

    def by_topic(self, topic):
        """Return the subsystem commanded on a topic, or None."""
        return next((s for s in self.subsystems.values() if s.command_topic == topic), None)

    def by_controller(self, controller):
        """Return the subsystem a controller node drives; KeyError if none."""
        for subsystem in self.subsystems.values():
            if subsystem.controller == controller:
                return subsystem
        raise KeyError(f'{self.name}: no subsystem is driven by {controller!r}; controllers: '
                       f'{", ".join(s.controller for s in self.subsystems.values())}')

    def joint(self, name):
        """Return (subsystem, joint) of a joint name; KeyError if the rig has none."""
        for subsystem in self.subsystems.values():
            for joint in subsystem.joints:
                if joint.name == name:
                    return subsystem, joint
        raise KeyError(f'{self.name} has no joint {name!r}')

    @property
    def state_joints(self):
        """Joints reported in joint_states, in file order."""
        return [j for s in self.subsystems.values() for j in s.joints if j.state]

    @property
    def command_topics(self):
        """Every subsystem's command topic, in file order."""
        return [s.command_topic for s in self.subsystems.values()]

    @property
    def budget_tools(self):
        """Names of the tools whose reactions load the anchors (the force budget's tools)."""
        return [s.name for s in self.subsystems.values() if s.loads_anchors]

    @property
    def anchoring_controller(self):
        """Name of the anchors' controller node (it owns the force budget)."""
        return self.by_kind('anchors')[0].controller

    def budget_topics(self, tool):
        """Return the force budget's topics of a tool: {'load', 'request', 'allowance'}.

        The tool publishes its load on the anchors and the force it asks for; the
        anchoring controller publishes the tool's allowance (std_msgs/Float64, N each).
        """
        if tool not in self.budget_tools:
            raise KeyError(f'{tool} is not a tool that loads the anchors '
                           f'(tools: {", ".join(self.budget_tools) or "none"})')
        return {'load': f'{tool}/load', 'request': f'{tool}/force_request',
                'allowance': f'{self.anchoring_controller}/allowance/{tool}'}


def _limit(entry, key, where):
    if key not in entry:
        return -math.inf if key == 'min' else math.inf
    try:
        value = float(entry[key])
    except (TypeError, ValueError):
        raise ConfigError(f'{where}.{key}: expected a number, got {entry[key]!r}') from None
    if not math.isfinite(value):
        raise ConfigError(f'{where}.{key}: expected a finite number, got {entry[key]!r}')
    return value


def _joints(entries, where):
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f'{where}: expected a non-empty list of joints')
    joints = []
    for index, entry in enumerate(entries):
        jwhere = f'{where}[{index}]'
        if not isinstance(entry, dict):
            raise ConfigError(f'{jwhere}: expected a mapping')
        name = str(require(entry, 'name', jwhere))
        repeat = entry.get('repeat', 1)
        if not isinstance(repeat, int) or isinstance(repeat, bool) or not 1 <= repeat <= 64:
            raise ConfigError(f'{jwhere}.repeat: expected an integer 1..64, got {repeat!r}')
        if repeat > 1 and '{i}' not in name:
            raise ConfigError(f'{jwhere}: a repeated joint needs {{i}} in its name')
        role = str(require(entry, 'role', jwhere))
        command = {}
        for field_name, spec in (entry.get('command') or {}).items():
            cwhere = f'{jwhere}.command.{field_name}'
            if field_name not in FIELDS:
                raise ConfigError(f'{cwhere}: expected one of {", ".join(FIELDS)}')
            spec = spec or {}
            if not isinstance(spec, dict):
                raise ConfigError(f'{cwhere}: expected {{unit, min, max}}')
            low, high = _limit(spec, 'min', cwhere), _limit(spec, 'max', cwhere)
            if low > high:
                raise ConfigError(f'{cwhere}: min {low:g} is above max {high:g}')
            command[field_name] = CommandInterface(field_name, str(require(spec, 'unit', cwhere)),
                                                   low, high)
        state = entry.get('state') or {}
        if not isinstance(state, dict) or set(state) - set(FIELDS):
            raise ConfigError(f'{jwhere}.state: expected position, velocity, effort: unit')
        extra = {k: v for k, v in entry.items()
                 if k not in ('name', 'repeat', 'role', 'command', 'state')}
        for i in range(repeat):
            joints.append(Joint(name.format(i=i) if repeat > 1 else name, role, command,
                                {k: str(v) for k, v in state.items()}, extra))
    return tuple(joints)


def interface_from(data, where):
    """Build and check a RigInterface from a parsed rig file."""
    if not isinstance(data, dict):
        raise ConfigError(f'{where}: expected a mapping')
    entries = require(data, 'subsystems', where)
    if not isinstance(entries, dict) or not entries:
        raise ConfigError(f'{where}.subsystems: expected a non-empty mapping')
    subsystems, seen_joints, seen_topics, seen_controllers = {}, {}, {}, {}
    for name, entry in entries.items():
        swhere = f'{where}.subsystems.{name}'
        if not isinstance(entry, dict):
            raise ConfigError(f'{swhere}: expected a mapping')
        kind = require(entry, 'kind', swhere)
        if kind not in KINDS:
            raise ConfigError(f'{swhere}.kind: expected one of {", ".join(KINDS)}, got {kind!r}')
        joints = _joints(require(entry, 'joints', swhere), f'{swhere}.joints')
        for joint in joints:
            if joint.name in seen_joints:
                raise ConfigError(f'{swhere}: joint {joint.name} is also in '
                                  f'{seen_joints[joint.name]}')
            seen_joints[joint.name] = name
        topic = str(require(entry, 'command_topic', swhere))
        controller = str(entry.get('controller', name))
        for value, seen, what in ((topic, seen_topics, 'command_topic'),
                                  (controller, seen_controllers, 'controller')):
            if value in seen:
                raise ConfigError(f"{swhere}.{what}: {value} is also {seen[value]}'s")
            seen[value] = name
        settings = {k: v for k, v in entry.items()
                    if k not in ('kind', 'controller', 'command_topic', 'joints',
                                 'loads_anchors')}
        loads_anchors = entry.get('loads_anchors', False)
        if not isinstance(loads_anchors, bool):
            raise ConfigError(f'{swhere}.loads_anchors: expected true or false, '
                              f'got {loads_anchors!r}')
        subsystems[name] = Subsystem(name, kind, controller, topic, joints, loads_anchors,
                                     settings)
    for kind in ('anchors', 'material_line', 'furnace'):
        if len([s for s in subsystems.values() if s.kind == kind]) > 1:
            raise ConfigError(f'{where}: one {kind} subsystem per rig')
    if not any(s.kind == 'anchors' for s in subsystems.values()):
        raise ConfigError(f'{where}: the rig needs an anchors subsystem (the force budget)')
    for drill in (s for s in subsystems.values() if s.kind == 'drill'):
        mount = drill.settings.get('mount', (0.0, 0.0))
        if not (isinstance(mount, (list, tuple)) and len(mount) == 2 and
                all(isinstance(v, (int, float)) and math.isfinite(v) for v in mount)):
            raise ConfigError(f'{where}.subsystems.{drill.name}.mount: expected [x, y] in m, '
                              f'got {mount!r}')
    hardware = data.get('hardware') or ''  # made absolute by load_rig_interface
    if not isinstance(hardware, str):
        raise ConfigError(f'{where}.hardware: expected a file name, got {hardware!r}')
    return RigInterface(str(data.get('rig', where)), subsystems, hardware)


def load_rig_interface(path):
    """Load a rig file (config/rigs/<rig>.yaml), and the rig it extends, if any.

    A rig that extends another lists only its own subsystems: each replaces the base's
    of that name whole, null removes one.
    """
    return interface_from(load_extending(path, ('subsystems',), paths=('hardware',)),
                          str(path))
