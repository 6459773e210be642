"""Drill controller: drills to a goal depth as fast as the limits allow.

Limits, all hard: thrust below the allowance the anchoring controller grants the drill
from the anchors' force budget (and the feed drive's limit), torque below the motor
limit (thrust is set from the measured torque per unit thrust, which the drag-bit model
says is a property of bit and rock), spindle power below the power budget. A stall or
jam (torque at the motor limit or spindle stopped, and no penetration, for stall_time)
backs the bit off and retries; too many retries, or any anchoring problem, stop thrust
and retract.
"""

from dataclasses import dataclass
import enum
import math

from spacemine_ros.core.models.drilling import teale_specific_energy
from spacemine_ros.core.validation import in_range, non_negative, positive


class DrillState(enum.Enum):
    """States of the drill controller."""

    IDLE = 'IDLE'
    APPROACHING = 'APPROACHING'
    DRILLING = 'DRILLING'
    BACKING_OFF = 'BACKING_OFF'
    RETRACTING = 'RETRACTING'
    DONE = 'DONE'
    FAULT = 'FAULT'


ACTIVE_STATES = (DrillState.APPROACHING, DrillState.DRILLING, DrillState.BACKING_OFF)


@dataclass
class DrillParams:
    """Limits and tuning of the drill controller (SI units)."""

    goal_depth: float = 0.3  # m below the surface
    feed_stroke: float = 1.0  # m the feed can travel
    max_thrust: float = 400.0  # N, feed drive limit
    max_torque: float = 20.0  # N m, spindle motor limit
    torque_margin: float = 0.8  # thrust is limited so torque stays below this share
    power_budget: float = 150.0  # W for the spindle
    max_spindle_speed: float = 20.0  # rad/s
    max_feed_speed: float = 0.01  # m/s cap on the rate of penetration
    approach_speed: float = 0.02  # m/s toward the surface
    approach_thrust: float = 10.0  # N force limit while approaching
    contact_thrust: float = 2.0  # N: thrust above this means the bit touches rock
    retract_speed: float = 0.02  # m/s
    thrust_ramp: float = 20.0  # N/s
    speed_ramp: float = 2.0  # rad/s^2
    stall_torque_fraction: float = 0.95  # torque at this share of max_torque counts as stalled
    stall_rate: float = 1e-5  # m/s: slower than this is no progress
    stall_time: float = 1.0  # s of stall before backing off
    backoff_distance: float = 0.01  # m
    max_retries: int = 3
    position_tolerance: float = 0.0005  # m
    bit_radius: float = 0.025  # m, for the specific energy estimate
    # m cut per revolution with the cutters fully in (blades x exposure): thrust past the
    # point where the bit cuts this deep buys no penetration, only load (the founder point)
    max_depth_of_cut: float = 0.006

    def validate(self):
        """Raise ValueError with a reason if a value is out of range."""
        positive('goal_depth', self.goal_depth, 'm')
        positive('feed_stroke', self.feed_stroke, 'm')
        if self.goal_depth >= self.feed_stroke:
            raise ValueError(f'goal_depth {self.goal_depth:g} m must be less than the feed '
                             f'stroke {self.feed_stroke:g} m')
        positive('max_thrust', self.max_thrust, 'N')
        positive('max_torque', self.max_torque, 'N m')
        in_range('torque_margin', self.torque_margin, 0.1, 1.0)
        non_negative('power_budget', self.power_budget, 'W')  # 0: no power, no spindle
        positive('max_spindle_speed', self.max_spindle_speed, 'rad/s')
        for name in ('max_feed_speed', 'approach_speed', 'retract_speed', 'approach_thrust',
                     'contact_thrust', 'thrust_ramp', 'speed_ramp', 'stall_rate', 'stall_time',
                     'backoff_distance', 'position_tolerance', 'bit_radius',
                     'max_depth_of_cut'):
            positive(name, getattr(self, name))
        in_range('stall_torque_fraction', self.stall_torque_fraction, 0.5, 1.0)
        in_range('max_retries', self.max_retries, 0, 100)
        if self.contact_thrust >= self.approach_thrust:
            raise ValueError('contact_thrust must be below approach_thrust')
        return self


@dataclass
class DrillMeasurement:
    """Sensor readings for one control period."""

    time: float  # s
    feed_position: float  # m the feed has extended (0: bit at its parked position)
    spindle_speed: float  # rad/s
    thrust: float  # N on the bit
    torque: float  # N m on the bit


@dataclass
class DrillCommand:
    """Drive commands for one control period."""

    feed_speed: float = 0.0  # m/s, positive advances
    thrust_limit: float = 0.0  # N force limit of the feed drive
    spindle_speed: float = 0.0  # rad/s


class DrillController:
    """Drill state machine and control law; call update() once per control period."""

    def __init__(self, params):
        self.params = params.validate()
        self.state = DrillState.IDLE
        self.reason = ''
        self.surface_position = None  # feed position where the bit met the surface
        self.retries = 0
        self.command = DrillCommand()
        self.rate = 0.0  # m/s, filtered
        self.torque_per_thrust = None  # m, filtered T/W
        self.stall_since = None
        self.backoff_target = 0.0
        self.goal_reached = False
        self.last = None
        self.peak_thrust = 0.0
        self.energy = 0.0  # J delivered to the rock
        self.specific_energy = None  # J/m^3 (Teale), latest
        self.max_depth = 0.0

    @property
    def depth(self):
        """Bit depth below the surface [m], 0 before the surface is found."""
        if self.surface_position is None or self.last is None:
            return 0.0
        return max(self.last.feed_position - self.surface_position, 0.0)

    @property
    def request(self):
        """Force the drill asks of the anchors' budget [N]: its thrust limit while drilling."""
        return self.params.max_thrust if self.state in ACTIVE_STATES else 0.0

    def start(self, anchored, budget, goal_depth=None):
        """Operator request to drill; returns (accepted, reason).

        budget [N] is what all tools together may put on the anchors now.
        """
        if self.state in ACTIVE_STATES or self.state == DrillState.RETRACTING:
            return False, f'drill is busy ({self.state.value})'
        if not anchored:
            return False, 'refusing to drill: the rig is not anchored'
        if budget <= self.params.contact_thrust:
            return False, (f"refusing to drill: the tools' share of the safe anchor capacity "
                           f'is only {budget:.1f} N')
        if goal_depth is not None:
            goal = positive('goal_depth', goal_depth, 'm')
            if goal >= self.params.feed_stroke:
                return False, (f'goal_depth {goal:g} m is beyond the feed stroke '
                               f'{self.params.feed_stroke:g} m')
            self.params.goal_depth = goal
        self.state = DrillState.APPROACHING
        self.reason = ''
        self.retries = 0
        self.goal_reached = False
        self.stall_since = None
        self.peak_thrust = 0.0
        return True, f'drilling to {self.params.goal_depth:.3f} m'

    def abort(self, reason='aborted by operator'):
        """Stop thrust and retract; returns (accepted, reason)."""
        if self.state not in ACTIVE_STATES:
            return False, f'nothing to abort ({self.state.value})'
        self.state = DrillState.RETRACTING
        self.reason = reason
        return True, 'retracting'

    def input_lost(self, reason):
        """Fault if drilling or retracting: the feed's readings stopped (returns whether)."""
        if self.state not in ACTIVE_STATES + (DrillState.RETRACTING,):
            return False
        self._fault(reason)
        return True

    def _fault(self, reason):
        self.state = DrillState.FAULT
        self.reason = reason

    def update(self, measurement, anchored, allowance, budget):
        """Return the DrillCommand for this period from the measurement and anchor status.

        allowance [N] is the thrust the anchoring controller grants the drill now; budget
        [N] what all tools together may put on the anchors (a thrust above it faults).
        """
        params = self.params
        dt = 0.0 if self.last is None else measurement.time - self.last.time
        previous = self.last
        self.last = measurement
        if previous is not None and dt > 0.0:
            rate = (measurement.feed_position - previous.feed_position) / dt
            self.rate += min(dt / 0.5, 1.0) * (rate - self.rate)  # 0.5 s low-pass
            power = (measurement.torque * measurement.spindle_speed
                     + measurement.thrust * max(rate, 0.0))
            self.energy += max(power, 0.0) * dt
        self.peak_thrust = max(self.peak_thrust, measurement.thrust)
        if self.surface_position is not None:
            self.max_depth = max(self.max_depth, self.depth)

        limit = min(params.max_thrust, max(allowance, 0.0) if math.isfinite(allowance) else 0.0)
        if self.state in ACTIVE_STATES:
            if not anchored:
                self._fault('anchoring lost while drilling: thrust stopped, retracting')
            elif measurement.thrust > budget + 1e-9 and self.state == DrillState.DRILLING:
                self._fault(f"thrust {measurement.thrust:.1f} N above the anchors' budget "
                            f'{budget:.1f} N: retracting')

        state = self.state
        if state == DrillState.APPROACHING:
            self._approach(measurement, limit)
        elif state == DrillState.DRILLING:
            self._drill(measurement, limit, dt)
        elif state == DrillState.BACKING_OFF:
            self.command = DrillCommand(-params.retract_speed, 0.0, 0.0)
            if measurement.feed_position <= self.backoff_target + params.position_tolerance:
                self.state = DrillState.APPROACHING
        elif state in (DrillState.RETRACTING, DrillState.FAULT):
            if measurement.feed_position > params.position_tolerance:
                self.command = DrillCommand(-params.retract_speed, 0.0, 0.0)
            else:
                self.command = DrillCommand()
                if state == DrillState.RETRACTING:
                    self.state = DrillState.DONE if self.goal_reached else DrillState.IDLE
        else:
            self.command = DrillCommand()
        return self.command

    def _approach(self, measurement, limit):
        params = self.params
        self.command = DrillCommand(params.approach_speed, min(params.approach_thrust, limit), 0.0)
        if measurement.thrust >= params.contact_thrust:
            if self.surface_position is None:
                self.surface_position = measurement.feed_position
            self.state = DrillState.DRILLING
            self.stall_since = None
        elif measurement.feed_position >= params.feed_stroke - params.position_tolerance:
            self._fault('no ground contact within the feed stroke')

    def _drill(self, measurement, limit, dt):
        params = self.params
        if self.depth >= params.goal_depth:
            self.goal_reached = True
            self.state = DrillState.RETRACTING
            self.command = DrillCommand(-params.retract_speed, 0.0, 0.0)
            return
        stalled_motor = measurement.torque >= params.stall_torque_fraction * params.max_torque or (
            self.command.spindle_speed > 0.5 and
            measurement.spindle_speed < 0.2 * self.command.spindle_speed)
        if measurement.thrust > params.contact_thrust and not stalled_motor:
            ratio = measurement.torque / measurement.thrust
            if self.torque_per_thrust is None:
                self.torque_per_thrust = ratio
            else:
                self.torque_per_thrust += 0.2 * (ratio - self.torque_per_thrust)
        if stalled_motor and self.rate < params.stall_rate:
            if self.stall_since is None:
                self.stall_since = measurement.time
            elif measurement.time - self.stall_since >= params.stall_time:
                self._back_off(measurement)
                return
        else:
            self.stall_since = None

        target = limit
        if self.torque_per_thrust:
            target = min(target, params.torque_margin * params.max_torque / self.torque_per_thrust)
        if measurement.spindle_speed > 0.5 and self.rate * 2.0 * math.pi / \
                measurement.spindle_speed >= 0.95 * params.max_depth_of_cut:
            # The cutters are fully in: more thrust would bear on the bit body.
            target = min(target, self.command.thrust_limit)
        thrust = min(self.command.thrust_limit + params.thrust_ramp * dt, target)
        thrust = max(min(thrust, limit), 0.0)
        expected_torque = max(measurement.torque,
                              (self.torque_per_thrust or 0.0) * thrust, 1e-3)
        speed_target = min(params.max_spindle_speed, 0.9 * params.power_budget / expected_torque)
        speed = self.command.spindle_speed
        step = params.speed_ramp * dt
        speed = min(max(speed_target, speed - step), speed + step)
        self.command = DrillCommand(params.max_feed_speed, thrust, max(speed, 0.0))
        if self.rate > params.stall_rate:
            self.specific_energy = teale_specific_energy(
                measurement.thrust, measurement.torque, measurement.spindle_speed, self.rate,
                math.pi * params.bit_radius ** 2)

    def _back_off(self, measurement):
        params = self.params
        self.retries += 1
        self.stall_since = None
        if self.retries > params.max_retries:
            self._fault(f'bit jammed at {self.depth:.3f} m: {params.max_retries} back-offs did '
                        'not clear it; retracting')
            return
        self.state = DrillState.BACKING_OFF
        self.backoff_target = max(measurement.feed_position - params.backoff_distance, 0.0)
        self.command = DrillCommand(-params.retract_speed, 0.0, 0.0)
