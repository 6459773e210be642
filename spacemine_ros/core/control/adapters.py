"""Per-subsystem adapters: a rig's readings into a controller, its command out of it.

One adapter per kind of subsystem of the rig file. It finds the subsystem's joints by
role, turns readings (joint values by name, the subsystem's sensor values) into its
controller's measurement, the controller's command into {joint: {field: value}} for the
rig codec (core.rig_interface: encoded for a topic, decoded by the backend), and says at
which pace the controller must be ticked in its state now. The ROS controller nodes and
the headless engine (spacemine_ros.headless) both use them, so neither names a joint nor
builds a command of its own. No rclpy.
"""

from dataclasses import dataclass
import enum
import math

from spacemine_ros.core.control.anchoring import AnchoringState
from spacemine_ros.core.control.drill import DrillMeasurement, DrillState
from spacemine_ros.core.control.material_handling import LineMeasurement, LineState
from spacemine_ros.core.control.scraper import ROLES, ScraperMeasurement, ScraperState
from spacemine_ros.core.control.smelter import Phase, SmelterMeasurement


class InputError(ValueError):
    """A reading the controller cannot act on (missing or not finite); the message says which."""


class Pace(enum.Enum):
    """How often a controller must be ticked in its state now."""

    MOVING = 'moving'  # a drive is on its way: every control period
    WORKING = 'working'  # a process runs (a line draining, a furnace soaking)
    IDLE = 'idle'  # nothing under way: only to renew its hold


@dataclass(frozen=True)
class Periods:
    """The period of each pace [s] (the lockstep world advances to the next one due).

    moving is the rig's control period. working suits processes whose time constants are
    seconds or more: the furnace's shortest is about 9 s (heat capacity over the slope of
    its losses, door open at 1850 K), a clog is judged over a second, the separator's
    residence is half a drum turn (1.6 s at 2 rad/s). A drive that must stop on a reading
    (a feeder dosing the furnace) runs at the moving pace while it does.
    """

    moving: float = 0.05
    working: float = 0.5
    idle: float = 1.0

    def of(self, pace):
        """Return the period [s] of a pace."""
        return getattr(self, pace.value)

    def until_next(self, pace, time):
        """Return how long from time [s] to the next tick of a pace [s].

        Ticks fall on whole multiples of the pace's period on the rig's clock, so every
        participant of one pace is due at the same instants and the world stops there once.
        """
        period = self.of(pace)
        return (math.floor(time / period + 1e-6) + 1) * period - time

    def validate(self):
        """Return self; ValueError unless 0 < moving <= working <= idle <= 60 s."""
        values = (self.moving, self.working, self.idle)
        if not all(math.isfinite(v) for v in values) or \
                not 0.0 < self.moving <= self.working <= self.idle <= 60.0:
            raise ValueError(f'periods must rise from moving to idle within (0, 60] s, got '
                             f'moving {self.moving:g}, working {self.working:g}, idle '
                             f'{self.idle:g}')
        return self


class Joints:
    """Joint readings by name, from a JointState's (or the world's) arrays."""

    __slots__ = ('_rows', '_columns')

    def __init__(self, names, positions=(), velocities=(), efforts=()):
        self._rows = {name: row for row, name in enumerate(names)}
        self._columns = {'position': positions, 'velocity': velocities, 'effort': efforts}

    def value(self, field, name):
        """Return a joint's reading of one field; InputError if it is missing or not finite."""
        row = self._rows.get(name)
        column = self._columns[field]
        if row is None or row >= len(column):
            raise InputError(f'no {field} of {name} in the readings')
        value = column[row]
        if not math.isfinite(value):
            raise InputError(f'{name} {field} reads {value}')
        return float(value)


def finite(name, value):
    """Return value as a float; InputError if it is not a finite number."""
    if not math.isfinite(value):
        raise InputError(f'{name} reads {value}')
    return float(value)


class AnchorsAdapter:
    """The anchors subsystem and the anchoring controller."""

    def __init__(self, spec):
        self.spec = spec
        self.joints = [joint.name for joint in spec.role_joints('anchor')]

    def readings(self, joints):
        """Return (embeds [m], axial loads [N]) of the anchors, in their order."""
        return ([joints.value('position', name) for name in self.joints],
                [joints.value('effort', name) for name in self.joints])

    def command(self, anchor_commands):
        """Return {joint: {position, effort}} of the AnchorCommands (embed target, tension)."""
        return {name: {'position': float(c.embed_depth), 'velocity': 0.0,
                       'effort': float(c.tension)}
                for name, c in zip(self.joints, anchor_commands)}

    @staticmethod
    def pace(controller, loaded):
        """Return the pace: moving while deploying, proving or releasing, or loaded."""
        state = controller.state
        if state in (AnchoringState.DEPLOYING, AnchoringState.PROOF_TESTING,
                     AnchoringState.RELEASING) or controller.deploy_pending:
            return Pace.MOVING
        if state == AnchoringState.ANCHORED:
            return Pace.MOVING if loaded else Pace.WORKING
        return Pace.IDLE


class DrillAdapter:
    """A drill subsystem (feed and spindle) and its drill controller."""

    def __init__(self, spec):
        self.spec = spec
        self.feed = spec.joint('feed').name
        self.spindle = spec.joint('spindle').name

    def measurement(self, time, joints):
        """Return the DrillMeasurement of the readings (feed effort is thrust, spindle torque)."""
        return DrillMeasurement(
            time=time, feed_position=joints.value('position', self.feed),
            spindle_speed=joints.value('velocity', self.spindle),
            thrust=joints.value('effort', self.feed),
            torque=joints.value('effort', self.spindle))

    def command(self, command, spindle_torque=math.nan):
        """Return the decoded command of a DrillCommand (spindle torque NaN: not limited)."""
        return {self.feed: {'velocity': float(command.feed_speed),
                            'effort': float(command.thrust_limit)},
                self.spindle: {'velocity': float(command.spindle_speed),
                               'effort': float(spindle_torque)}}

    def stop(self):
        """Return the stop command: no feed, no spindle, no thrust and no torque at all."""
        return {self.feed: {'velocity': 0.0, 'effort': 0.0},
                self.spindle: {'velocity': 0.0, 'effort': 0.0}}

    @staticmethod
    def pace(controller):
        """Return the pace: moving while it approaches, drills, backs off or retracts."""
        if controller.state in (DrillState.APPROACHING, DrillState.DRILLING,
                                DrillState.BACKING_OFF, DrillState.RETRACTING):
            return Pace.MOVING
        return Pace.IDLE


class ScraperAdapter:
    """A scraper subsystem (slew, shoulder, elbow, wrist) and its scraper controller."""

    def __init__(self, spec):
        self.spec = spec
        self.joints = {role: spec.joint(role).name for role in ROLES}

    @property
    def blade_topic(self):
        """The sensor of the soil's force on its blade."""
        return f'{self.spec.name}/blade_wrench'

    def positions(self, joints):
        """Return the arm's joint positions by role."""
        return {role: joints.value('position', name) for role, name in self.joints.items()}

    def measurement(self, time, joints, blade_force, bucket_mass):
        """Return the ScraperMeasurement (blade force: the soil's force [N] as x, y, z)."""
        force = math.sqrt(sum(finite('blade force', f) ** 2 for f in blade_force[:3]))
        return ScraperMeasurement(time, self.positions(joints), force,
                                  bucket_mass if math.isfinite(bucket_mass) else 0.0)

    def command(self, command):
        """Return the decoded command of a ScraperCommand (every joint: the blade limit)."""
        velocities = command.velocities or {}
        return {name: {'position': float(command.positions[role]),
                       'velocity': float(velocities.get(role, 0.0)),
                       'effort': float(command.force_limit)}
                for role, name in self.joints.items()}

    def hold(self, positions):
        """Return the command that holds the arm at positions (by role), blade unloaded."""
        return {name: {'position': float(positions[role]), 'velocity': 0.0, 'effort': 0.0}
                for role, name in self.joints.items()}

    @staticmethod
    def pace(controller):
        """Return the pace: moving while a job is under way."""
        if controller.state in (ScraperState.IDLE, ScraperState.DONE, ScraperState.FAULT):
            return Pace.IDLE
        return Pace.MOVING


class LineAdapter:
    """The material line (conveyor, separator, feeders) and its line controller."""

    def __init__(self, spec):
        self.spec = spec
        self.conveyor = spec.joint('conveyor').name
        self.separator = spec.joint('separator').name
        self.feeders = {j.extra.get('hopper', ''): j.name for j in spec.role_joints('feeder')}

    def conveyor_torque(self, joints):
        """Return the conveyor motor's torque [N m] (InputError if it cannot be read)."""
        return joints.value('effort', self.conveyor)

    def measurement(self, time, torque, books, masses, hoppers):
        """Return the LineMeasurement: conveyor torque, its load, discharge and the hoppers.

        books: the rig's TotalizerBooks (its totalizer readings); masses: the mass
        sensors by account (the books stand in for one not read yet).
        """
        ledger = books.ledger
        point = 'conveyor_discharge'
        return LineMeasurement(
            time=time, conveyor_torque=torque,
            conveyor_load=masses.get('conveyor', ledger.mass('conveyor')),
            conveyor_discharged=books.reading(point, 'delivered') + books.reading(point, 'lost'),
            hopper_masses={h: masses.get(h, ledger.mass(h)) for h in hoppers},
            fed=sum(books.reading(name, 'delivered') for name in books.config.transfer_points
                    if name.startswith('feed_')))

    def command(self, command):
        """Return the decoded command of a LineCommand (drive speeds [rad/s])."""
        feeders = command.feeders or {}
        speeds = {self.conveyor: command.conveyor, self.separator: command.separator}
        speeds.update({joint: feeders.get(hopper, 0.0) for hopper, joint in self.feeders.items()})
        return {name: {'velocity': float(speed)} for name, speed in speeds.items()}

    def stop(self):
        """Return the command that stops every drive."""
        return {name: {'velocity': 0.0} for name in
                [self.conveyor, self.separator, *self.feeders.values()]}

    @staticmethod
    def pace(line):
        """Return the pace: moving while it feeds the furnace, working while it runs.

        A feed stops on its totalizer's reading: at a working pace it would run on for up
        to a period's flow past the charge asked for.
        """
        if line.feed_request is not None:
            return Pace.MOVING
        if line.state in (LineState.RUNNING, LineState.HELD, LineState.CLEARING):
            return Pace.WORKING
        return Pace.IDLE


class FurnaceAdapter:
    """The furnace subsystem (heater, door, tap) and the smelter's batch controller."""

    def __init__(self, spec):
        self.spec = spec
        self.heater = spec.joint('heater').name
        self.door = spec.joint('door').name
        self.tap = spec.joint('tap').name

    @property
    def temperature_topic(self):
        """The furnace's thermocouple."""
        return f'{self.spec.name}/temperature'

    @property
    def melt_topic(self):
        """The furnace's melt probe."""
        return f'{self.spec.name}/melt_fraction'

    @staticmethod
    def measurement(time, temperature, melt_fraction, masses, hopper):
        """Return the SmelterMeasurement (NaN temperature passes: the interlock decides)."""
        return SmelterMeasurement(
            time=time, temperature=temperature,
            melt_fraction=melt_fraction if math.isfinite(melt_fraction) else 0.0,
            furnace_mass=masses.get('furnace', 0.0),
            hopper_mass=masses.get(hopper, 0.0) if hopper else 0.0)

    def command(self, command):
        """Return the decoded command of a SmelterCommand (heater [W], door and tap)."""
        return {self.heater: {'effort': float(command.heater_power)},
                self.door: {'position': 1.0 if command.door_open else 0.0},
                self.tap: {'position': 1.0 if command.tap_open else 0.0}}

    def stop(self):
        """Return the safe command: heater off, door and tap shut."""
        return {self.heater: {'effort': 0.0}, self.door: {'position': 0.0},
                self.tap: {'position': 0.0}}

    @staticmethod
    def pace(controller):
        """Return the pace: working while a batch is under way."""
        if controller.phase in (Phase.IDLE, Phase.DONE, Phase.FAULT):
            return Pace.IDLE
        return Pace.WORKING


ADAPTERS = {'anchors': AnchorsAdapter, 'drill': DrillAdapter, 'scraper': ScraperAdapter,
            'material_line': LineAdapter, 'furnace': FurnaceAdapter}


def adapter_for(spec):
    """Return the adapter of a rig file subsystem (by its kind)."""
    return ADAPTERS[spec.kind](spec)
