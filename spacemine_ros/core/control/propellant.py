"""Propellant plant controller: the cold trap, the electrolyser's current and its interlocks.

Each period it takes the plant's measurements and gives the commands: the trap's plate
temperature (its cooler on while off-gas may come), the stack's current and the valves.
The current is what the supervisor's power share draws (PemStack.current_for_power), at
most the operator's current limit, none when there is no water to split or a tank is at
its pressure limit (HELD, with the reason).

Interlocks, each latched until reset() with its reason, each a safe state (the stack
without current, the gas valves to the tanks closed):
- over-pressure: a tank above its pressure limit by more than the margin (the relief
  valve should have held it): the vent opens;
- hydrogen in the oxygen line above its limit (2 % by volume: half of hydrogen's lower
  flammability limit in oxygen, 4 %): the oxygen line is vented;
- stack over-temperature: the coolant runs at its most;
- a reading that is not a number, or outside its sensor's range.
No rclpy.
"""

from dataclasses import dataclass, replace
import enum
import math

from spacemine_ros.core.models.propellant import PemStack
from spacemine_ros.core.validation import in_range, non_negative, positive


class PlantState(enum.Enum):
    """What the plant does."""

    IDLE = 'IDLE'  # trap warm, stack off
    RUNNING = 'RUNNING'  # trap cold, the stack at its share
    HELD = 'HELD'  # running, but nothing to split or nowhere to put it (reason given)
    FAULT = 'FAULT'  # an interlock tripped: safe state until reset


class Interlock(enum.Enum):
    """What tripped the plant (its safe state follows)."""

    SENSOR = 'SENSOR'
    OVER_PRESSURE = 'OVER_PRESSURE'
    HYDROGEN_IN_OXYGEN = 'HYDROGEN_IN_OXYGEN'
    OVER_TEMPERATURE = 'OVER_TEMPERATURE'


@dataclass(frozen=True)
class PlantParams:
    """Setpoints and interlock limits (SI: K, Pa, A, W; shares as fractions)."""

    trap_temperature: float = 230.0  # K: the plates' setpoint
    current_limit: float = 200.0  # A: the most the operator lets the stack draw
    stack_temperature: float = 343.15  # K: the coolant's setpoint
    max_stack_temperature: float = 358.15  # K: over-temperature trip
    hydrogen_pressure_limit: float = 3.0e7  # Pa: the stack stops feeding the tank above
    oxygen_pressure_limit: float = 1.5e7  # Pa
    pressure_margin: float = 0.05  # share above the limit that trips over-pressure
    hydrogen_in_oxygen_limit: float = 0.02  # mole fraction
    min_water: float = 1e-3  # kg: below, nothing to split

    def validate(self, stack, hydrogen_rating, oxygen_rating):
        """Return self; ValueError naming the first value out of range.

        stack: the PemStack; *_rating: the tanks' rated pressures [Pa] (a limit above a
        vessel's rating is refused).
        """
        in_range('trap_temperature', self.trap_temperature, 110.0, 273.16, 'K')
        in_range('current_limit', self.current_limit, 0.0, stack.max_current(), 'A')
        in_range('max_stack_temperature', self.max_stack_temperature, stack.min_temperature,
                 stack.max_temperature, 'K')
        in_range('stack_temperature', self.stack_temperature, stack.min_temperature,
                 self.max_stack_temperature, 'K')
        positive('hydrogen_pressure_limit', self.hydrogen_pressure_limit, 'Pa')
        positive('oxygen_pressure_limit', self.oxygen_pressure_limit, 'Pa')
        in_range('hydrogen_pressure_limit', self.hydrogen_pressure_limit, 0.0,
                 hydrogen_rating / (1.0 + self.pressure_margin), 'Pa')
        in_range('oxygen_pressure_limit', self.oxygen_pressure_limit, 0.0,
                 oxygen_rating / (1.0 + self.pressure_margin), 'Pa')
        in_range('pressure_margin', self.pressure_margin, 0.0, 0.5)
        in_range('hydrogen_in_oxygen_limit', self.hydrogen_in_oxygen_limit, 0.0, 0.04)
        non_negative('min_water', self.min_water, 'kg')
        return self


@dataclass(frozen=True)
class PlantMeasurement:
    """The plant's readings in one period."""

    time: float  # s
    water: float  # kg in the water store (ice on the plates and the tank)
    stack_temperature: float  # K
    hydrogen_pressure: float  # Pa
    oxygen_pressure: float  # Pa
    hydrogen_in_oxygen: float  # mole fraction in the oxygen line
    power_share: float  # W the supervisor gives the stack


@dataclass(frozen=True)
class PlantCommand:
    """What the plant's drives and valves are told."""

    stack_current: float = 0.0  # A
    trap_temperature: float = 273.16  # K (warm: the cooler off)
    cooler_on: bool = False
    coolant_temperature: float = 343.15  # K: the stack coolant's setpoint
    hydrogen_valve_open: bool = False  # stack to hydrogen tank
    oxygen_valve_open: bool = False  # stack to oxygen tank
    vent_open: bool = False  # the gas lines to the vent


SAFE = PlantCommand()
# Sensor ranges: readings outside are a failed sensor, not a state of the plant.
RANGES = {'water': (0.0, 1e4), 'stack_temperature': (200.0, 500.0),
          'hydrogen_pressure': (0.0, 1e8), 'oxygen_pressure': (0.0, 1e8),
          'hydrogen_in_oxygen': (0.0, 1.0), 'power_share': (0.0, 1e7)}


class PlantController:
    """The propellant plant's state machine, its current and its interlocks."""

    def __init__(self, params, stack=None, hydrogen_rating=3.5e7, oxygen_rating=2.0e7):
        self.stack = stack or PemStack()
        self.ratings = (hydrogen_rating, oxygen_rating)
        self.params = params.validate(self.stack, *self.ratings)
        self.state = PlantState.IDLE
        self.reason = ''
        self.interlock = None  # the Interlock that tripped, while in FAULT
        self.command = SAFE

    def set_params(self, **changes):
        """Change setpoints; return (ok, reason). A refused change changes nothing."""
        try:
            params = replace(self.params, **changes).validate(self.stack, *self.ratings)
        except (TypeError, ValueError) as error:
            return False, str(error)
        self.params = params
        return True, ''

    def start(self):
        """Start capturing and producing; return (ok, reason)."""
        if self.state is PlantState.FAULT:
            return False, f'in fault ({self.reason}): reset first'
        if self.state is PlantState.IDLE:
            self.state, self.reason = PlantState.RUNNING, ''
        return True, ''

    def stop(self):
        """Stop the stack and warm the trap (what it captured stays)."""
        if self.state is not PlantState.FAULT:
            self.state, self.reason = PlantState.IDLE, ''
        self.command = SAFE

    def reset(self, measurement):
        """Clear a fault once its cause is gone; return (ok, reason)."""
        if self.state is not PlantState.FAULT:
            return True, ''
        _, cause = self._interlock(measurement)
        if cause:
            return False, f'still {cause}'
        self.state, self.reason, self.interlock = PlantState.IDLE, '', None
        return True, ''

    def update(self, measurement):
        """Return the period's PlantCommand for a PlantMeasurement."""
        if self.state is PlantState.FAULT:
            return self.command
        interlock, cause = self._interlock(measurement)
        if interlock is not None:
            return self._fault(interlock, cause)
        if self.state is PlantState.IDLE:
            self.command = SAFE
            return SAFE
        params = self.params
        held = self._held(measurement)
        self.state, self.reason = (PlantState.HELD, held) if held else (PlantState.RUNNING, '')
        current = 0.0
        if not held:
            current = min(self.stack.current_for_power(measurement.power_share,
                                                       measurement.stack_temperature),
                          params.current_limit)
        self.command = PlantCommand(
            stack_current=current, trap_temperature=params.trap_temperature, cooler_on=True,
            coolant_temperature=params.stack_temperature,
            hydrogen_valve_open=current > 0.0, oxygen_valve_open=current > 0.0)
        return self.command

    def _held(self, measurement):
        params = self.params
        if measurement.water < params.min_water:
            return 'no water to split'
        if measurement.hydrogen_pressure >= params.hydrogen_pressure_limit:
            return 'the hydrogen tank is at its pressure limit'
        if measurement.oxygen_pressure >= params.oxygen_pressure_limit:
            return 'the oxygen tank is at its pressure limit'
        if measurement.power_share <= 0.0:
            return 'no power share'
        return ''

    def _interlock(self, measurement):
        """Return (Interlock, reason) of what trips now, or (None, '')."""
        for name, (low, high) in RANGES.items():
            value = getattr(measurement, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or \
                    not low <= value <= high:
                return Interlock.SENSOR, (f'{name} reading {value!r} is outside its sensor '
                                          f'range [{low:g}, {high:g}]')
        params, margin = self.params, 1.0 + self.params.pressure_margin
        for gas, pressure, limit in (
                ('hydrogen', measurement.hydrogen_pressure, params.hydrogen_pressure_limit),
                ('oxygen', measurement.oxygen_pressure, params.oxygen_pressure_limit)):
            if pressure > limit * margin:
                return Interlock.OVER_PRESSURE, (f'{gas} over-pressure: {pressure:.4g} Pa '
                                                 f'above {limit * margin:.4g} Pa')
        if measurement.hydrogen_in_oxygen > params.hydrogen_in_oxygen_limit:
            return Interlock.HYDROGEN_IN_OXYGEN, (
                f'hydrogen in the oxygen line: {measurement.hydrogen_in_oxygen:.2%} above '
                f'{params.hydrogen_in_oxygen_limit:.2%}')
        if measurement.stack_temperature > params.max_stack_temperature:
            return Interlock.OVER_TEMPERATURE, (
                f'stack over-temperature: {measurement.stack_temperature:.1f} K above '
                f'{params.max_stack_temperature:.1f} K')
        return None, ''

    def _fault(self, interlock, reason):
        self.state, self.reason, self.interlock = PlantState.FAULT, reason, interlock
        # Safe: no current, the tanks shut off; then what the cause needs: a vent for a
        # gas line that must not hold what it holds, the coolant at its coldest for heat.
        self.command = replace(
            SAFE, vent_open=interlock in (Interlock.OVER_PRESSURE, Interlock.HYDROGEN_IN_OXYGEN),
            coolant_temperature=self.stack.min_temperature
            if interlock is Interlock.OVER_TEMPERATURE else self.params.stack_temperature)
        return self.command
