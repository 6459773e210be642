"""Smelter controller: recipes, the temperature loop and the batch cycle with interlocks.

Temperature loop: PID on the thermocouple with feed-forward for what the furnace loses
at the setpoint (radiation and conduction, from the furnace model) plus the heat the
setpoint's ramp needs (heat capacity x ramp rate). The output is limited to
[0, min(heater maximum, power budget)]; the integrator only integrates while the output
is not saturated in the direction of the error (conditional integration), so a long
saturation does not wind it up.

Batch cycle: CHARGING (from a hopper, through the material line) -> HEATING (ramp) ->
SOAKING (hold at the soak temperature; a smelt waits for the melt to complete, then
holds soak_time) -> TAPPING (melt out: metal to products, the rest to slag; residue for a
volatile run) -> COOLING (heater off, door open, down to the safe charging temperature)
-> DONE.

Interlocks (each leaves the heater off): over-temperature; a thermocouple that reads NaN
or outside its physical range, or that stays put while the energy balance says the
charge must be heating or cooling; charging above the safe charging temperature; tapping
before the melt is complete (the tap is never opened then).
"""

from collections import deque
import dataclasses
from dataclasses import dataclass
import enum
import math

from spacemine_ros.core.config import ConfigError, require
from spacemine_ros.core.validation import in_range, non_negative, positive


@dataclass(frozen=True)
class Recipe:
    """A process recipe (config/smelter.yaml recipes)."""

    name: str
    source_hopper: str
    charge_mass: float  # kg
    ramp_rate: float  # K/s
    soak_temperature: float  # K
    soak_time: float  # s
    melt_required: bool
    products: tuple  # species tapped as product (the rest is slag)


def recipes_from(data, where='smelter'):
    """Recipes by name from parsed config/smelter.yaml."""
    recipes = {}
    for name, entry in require(data, 'recipes', where).items():
        rwhere = f'{where}.recipes.{name}'
        try:
            recipe = Recipe(
                name=name, source_hopper=str(require(entry, 'source_hopper', rwhere)),
                charge_mass=positive('charge_mass', require(entry, 'charge_mass', rwhere),
                                     'kg'),
                ramp_rate=positive('ramp_rate', require(entry, 'ramp_rate', rwhere), 'K/s'),
                soak_temperature=positive('soak_temperature',
                                          require(entry, 'soak_temperature', rwhere), 'K'),
                soak_time=non_negative('soak_time', require(entry, 'soak_time', rwhere), 's'),
                melt_required=bool(require(entry, 'melt_required', rwhere)),
                products=tuple(entry.get('products') or ()))
        except ValueError as error:
            raise ConfigError(f'{rwhere}: {error}') from None
        recipes[name] = recipe
    return recipes


MAX_CHARGE = 100.0  # kg in one batch


def batch_recipe(recipes, name, charge_mass):
    """Return the Recipe a batch goal asks; ValueError naming what is wrong.

    recipes[name], charged with charge_mass [kg] if above 0, else with its own charge.
    """
    if name not in recipes:
        raise ValueError(f'unknown recipe {name!r}; recipes: {", ".join(sorted(recipes))}')
    if not 0.0 <= charge_mass <= MAX_CHARGE:
        raise ValueError(f'charge_mass must be within 0..{MAX_CHARGE:g} kg, got {charge_mass:g}')
    recipe = recipes[name]
    return dataclasses.replace(recipe, charge_mass=charge_mass) if charge_mass > 0.0 else recipe


ARREST_BAND = 5.0  # K around a melting point where a thermal arrest is expected


class Phase(enum.Enum):
    """Phases of a batch."""

    IDLE = 'IDLE'
    CHARGING = 'CHARGING'
    HEATING = 'HEATING'
    SOAKING = 'SOAKING'
    TAPPING = 'TAPPING'
    COOLING = 'COOLING'
    DONE = 'DONE'
    FAULT = 'FAULT'


TRACE_LIMIT = 12_000  # periods: ten minutes at 20 Hz
ACTIVE = (Phase.CHARGING, Phase.HEATING, Phase.SOAKING, Phase.TAPPING, Phase.COOLING)


@dataclass
class SmelterParams:
    """Gains, limits and interlock settings (SI units, kelvin)."""

    kp: float = 150.0  # W/K
    ki: float = 3.0  # W/(K s)
    kd: float = 0.0  # W s/K, on the measurement
    power_budget: float = 4000.0  # W the supervisor allows the heater
    max_temperature: float = 1950.0  # K: over-temperature trip
    safe_charge_temperature: float = 700.0  # K
    thermocouple_min: float = 150.0  # K: physical range of the sensor
    thermocouple_max: float = 2600.0
    stuck_time: float = 20.0  # s a reading may stay put ...
    stuck_band: float = 0.05  # K ... within this band ...
    stuck_rise: float = 10.0  # K ... while the energy balance predicts this much change
    settle_band: float = 10.0  # K: within this of the soak temperature counts as there
    charge_timeout: float = 600.0  # s to receive the charge
    charge_tolerance: float = 0.02  # share of the charge mass that may be missing
    tap_empty_mass: float = 1e-3  # kg left when tapping is done

    def validate(self):
        """Raise ValueError with a reason if a value is out of range."""
        non_negative('power_budget', self.power_budget, 'W')  # 0: no power, heater off
        for name in ('max_temperature', 'safe_charge_temperature',
                     'stuck_time', 'stuck_band', 'stuck_rise', 'settle_band', 'charge_timeout',
                     'tap_empty_mass'):
            positive(name, getattr(self, name))
        for name in ('kp', 'ki', 'kd'):
            non_negative(name, getattr(self, name))
        in_range('charge_tolerance', self.charge_tolerance, 0.0, 0.5)
        if self.safe_charge_temperature >= self.max_temperature:
            raise ValueError(f'safe_charge_temperature {self.safe_charge_temperature:g} K must '
                             f'be below max_temperature {self.max_temperature:g} K')
        if not self.thermocouple_min < self.thermocouple_max:
            raise ValueError('thermocouple_min must be below thermocouple_max')
        return self


class TemperatureLoop:
    """PID with feed-forward, output limits and conditional integration."""

    def __init__(self, params, design):
        self.params = params
        self.design = design
        self.integral = 0.0
        self.last_measurement = None
        self.output = 0.0
        self.feed_forward = 0.0

    def reset(self):
        """Clear the integrator (a new setpoint profile)."""
        self.integral, self.last_measurement, self.output = 0.0, None, 0.0

    def update(self, setpoint, setpoint_rate, measurement, dt, masses, limit):
        """Return the heater power [W] for this period."""
        params = self.params
        self.feed_forward = (self.design.losses(setpoint)
                             + self.design.heat_capacity(setpoint, masses) * setpoint_rate)
        error = setpoint - measurement
        derivative = 0.0
        if self.last_measurement is not None and dt > 0.0:
            derivative = -(measurement - self.last_measurement) / dt
        self.last_measurement = measurement
        unclamped = self.feed_forward + params.kp * error + params.ki * self.integral \
            + params.kd * derivative
        output = min(max(unclamped, 0.0), limit)
        saturated_high = unclamped >= limit and error > 0.0
        saturated_low = unclamped <= 0.0 and error < 0.0
        if dt > 0.0 and not (saturated_high or saturated_low):
            self.integral += error * dt
        self.output = output
        return output


@dataclass
class SmelterMeasurement:
    """Inputs of one control period."""

    time: float  # s
    temperature: float  # K, thermocouple
    melt_fraction: float  # 0..1, melt probe
    furnace_mass: float  # kg in the furnace
    hopper_mass: float = math.inf  # kg in the recipe's source hopper


@dataclass
class SmelterCommand:
    """Outputs: heater power [W], cooling door and tap (open or shut)."""

    heater_power: float = 0.0
    door_open: bool = False
    tap_open: bool = False


class BatchController:
    """Runs one batch at a time through its phases."""

    def __init__(self, params, design, recipes, heliocentric_distance=1.0):
        self.design = design
        self.recipes = recipes
        self.heater_limit = design.max_heater_power(heliocentric_distance)
        self.loop = TemperatureLoop(params.validate(), design)
        self.phase = Phase.IDLE
        self.reason = ''
        self.recipe = None
        self.recalled = None  # (phase, recipe) an earlier controller recorded
        self.last = None
        self.phase_since = 0.0
        self.setpoint = math.nan
        self.setpoint_rate = 0.0
        self.feed_request = None  # (hopper, kg) for the material line, taken by the node
        self.melt_complete_at = None
        self.stuck_reference = None  # (time, temperature, predicted change so far)
        self.command = SmelterCommand()
        # (time, temperature, setpoint, power) of the batch: its latest TRACE_LIMIT periods
        # (a rig runs for weeks; nothing kept in memory grows without bound).
        self.trace = deque(maxlen=TRACE_LIMIT)
        self.energy = 0.0  # J delivered by the heater this batch
        self.power_wait = False  # the heater's share cannot heat the charge now

    @property
    def params(self):
        """Gains and limits (shared with the temperature loop)."""
        return self.loop.params

    @params.setter
    def params(self, params):
        self.loop.params = params.validate()

    # Restarts -------------------------------------------------------------------------------
    def record(self):
        """Return what a restarted controller needs to go on with this batch (JSON)."""
        return {'phase': self.phase.value, 'recipe': self.recipe.name if self.recipe else ''}

    def recall(self, record):
        """Take up what the controller before this one recorded (record()).

        A batch it had finished stays DONE (a restart does not make it a new one); one
        it was charging, heating, tapping or cooling is gone on with by the next start()
        of the same recipe (one cooling with its charge still in it is heated again).
        A record that does not fit (unknown phase or recipe) is ignored.
        """
        phase = record.get('phase') if isinstance(record, dict) else None
        recipe = record.get('recipe') if isinstance(record, dict) else None
        if phase not in {p.value for p in Phase} or recipe not in self.recipes:
            self.recalled = None
            return
        self.recalled = (Phase(phase), recipe)
        if Phase(phase) == Phase.DONE:
            self.phase, self.recipe = Phase.DONE, self.recipes[recipe]

    def _go_on(self, recipe, measurement, charged):
        """Go on with the recorded batch of this recipe where it stood; (accepted, text).

        Returns None if there is nothing recorded to go on with.
        """
        recalled, self.recalled = self.recalled, None
        if recalled is None or recalled[1] != recipe.name:
            return None
        phase, params = recalled[0], self.params
        self.recipe, self.reason, self.melt_complete_at = recipe, '', None
        if phase in (Phase.TAPPING, Phase.COOLING) and \
                measurement.furnace_mass <= params.tap_empty_mass:
            self._enter(Phase.COOLING, measurement.time)  # tapped: cool it to the end
            return True, f'{recipe.name}: the batch was tapped before a restart: cooling down'
        if phase in (Phase.HEATING, Phase.SOAKING, Phase.COOLING) and \
                measurement.furnace_mass > params.tap_empty_mass:
            # Heated before the restart (or cooling with the charge still in it: a batch
            # stopped by an abort or a hold): what is left of the charge (volatiles may
            # have left it lighter than charged) is heated again from where it is.
            self.setpoint = measurement.temperature
            self._enter(Phase.HEATING, measurement.time)
            return True, (f'{recipe.name}: heating the {measurement.furnace_mass:.3f} kg '
                          'charge of the batch a restart interrupted')
        if phase == Phase.TAPPING:
            self.setpoint = recipe.soak_temperature
            self._enter(Phase.TAPPING, measurement.time)
            return True, (f'{recipe.name}: tapping the {measurement.furnace_mass:.3f} kg left '
                          'before a restart')
        if phase == Phase.CHARGING and 0.0 < measurement.furnace_mass < charged:
            rest = recipe.charge_mass - measurement.furnace_mass
            self.feed_request = (recipe.source_hopper, rest)
            self._enter(Phase.CHARGING, measurement.time)
            return True, f'{recipe.name}: charging the {rest:.3f} kg left before a restart'
        return None

    # Operator ------------------------------------------------------------------------------
    def start(self, recipe_name, measurement):
        """Start a batch (or go on with one a restart interrupted); (accepted, message)."""
        if self.phase in ACTIVE:
            return False, f'busy ({self.phase.value})'
        if self.phase == Phase.FAULT:
            return False, f'in fault ({self.reason}); reset first'
        recipe = self.recipes.get(recipe_name)
        if recipe is None:
            return False, (f'unknown recipe {recipe_name!r}; recipes: '
                           f'{", ".join(sorted(self.recipes))}')
        reading = self._sensor_problem(measurement.temperature)
        if reading:
            return False, f'refused: {reading}'
        charged = recipe.charge_mass * (1.0 - self.params.charge_tolerance)
        went_on = self._go_on(recipe, measurement, charged)
        if went_on is not None:
            return went_on
        hot_charge = measurement.furnace_mass > self.params.tap_empty_mass and \
            measurement.temperature > self.params.safe_charge_temperature
        if measurement.furnace_mass >= charged or hot_charge:
            # A batch stopped on its way (an e-stop, a fault, a restart) goes on with the
            # charge already in the furnace: nothing is charged twice. A hot furnace holds
            # only a heated charge, which volatiles may have left lighter than charged.
            self.recipe, self.reason = recipe, ''
            self.melt_complete_at = None
            self.feed_request = None
            self.setpoint = measurement.temperature
            self._enter(Phase.HEATING, measurement.time)
            return True, (f'{recipe.name}: the furnace holds {measurement.furnace_mass:.3f} kg '
                          'already: heating it (no new charge)')
        if measurement.temperature > self.params.safe_charge_temperature:
            return False, (f'refused: furnace at {measurement.temperature:.0f} K, above the '
                           f'safe charging temperature {self.params.safe_charge_temperature:.0f}'
                           ' K; cool it down first')
        if measurement.furnace_mass > self.params.tap_empty_mass:
            return False, (f'refused: the furnace still holds {measurement.furnace_mass:.3f} '
                           'kg')
        if measurement.hopper_mass < recipe.charge_mass:
            return False, (f'refused: {recipe.source_hopper} holds '
                           f'{measurement.hopper_mass:.3f} kg, the recipe needs '
                           f'{recipe.charge_mass:.3f} kg')
        self.recipe, self.reason, self.energy = recipe, '', 0.0
        self.trace.clear()
        self.melt_complete_at = None
        self.feed_request = (recipe.source_hopper, recipe.charge_mass)
        self._enter(Phase.CHARGING, measurement.time)
        return True, (f'{recipe.name}: charging {recipe.charge_mass:.3f} kg from '
                      f'{recipe.source_hopper}')

    def abort(self, reason='aborted by operator'):
        """Stop heating and cool down."""
        if self.phase not in ACTIVE:
            return False, f'no batch running ({self.phase.value})'
        self.reason = reason
        self._enter(Phase.COOLING, self.last.time if self.last else 0.0)
        return True, f'cooling down: {reason}'

    def cool_down(self):
        """Heater off and door open until the safe charging temperature."""
        if self.phase == Phase.FAULT:
            return False, f'in fault ({self.reason}); reset first'
        self._enter(Phase.COOLING, self.last.time if self.last else 0.0)
        return True, 'cooling down'

    def reset(self):
        """Clear a fault (the heater stays off)."""
        if self.phase != Phase.FAULT:
            return False, f'not in fault ({self.phase.value})'
        self.phase, self.reason = Phase.IDLE, ''
        return True, 'fault cleared'

    @property
    def progress(self):
        """Rough share of the batch done, 0..1."""
        order = [Phase.CHARGING, Phase.HEATING, Phase.SOAKING, Phase.TAPPING, Phase.COOLING]
        if self.phase == Phase.DONE:
            return 1.0
        if self.phase not in order:
            return 0.0
        return order.index(self.phase) / len(order)

    # Control -------------------------------------------------------------------------------
    def _enter(self, phase, time):
        self.phase, self.phase_since = phase, time
        self.stuck_reference = None
        if phase == Phase.HEATING:
            self.loop.reset()

    def input_lost(self, reason):
        """Fault if a batch is running: the furnace's readings stopped (returns whether)."""
        if self.phase not in ACTIVE:
            return False
        self._fault(reason)
        return True

    def _fault(self, reason):
        self.phase, self.reason = Phase.FAULT, reason
        self.feed_request = None

    def _sensor_problem(self, temperature):
        params = self.params
        if not math.isfinite(temperature):
            return f'thermocouple reads {temperature}'
        if not params.thermocouple_min <= temperature <= params.thermocouple_max:
            return (f'thermocouple reads {temperature:.1f} K, outside its physical range '
                    f'[{params.thermocouple_min:g}, {params.thermocouple_max:g}] K')
        return ''

    def _capacity(self, temperature, measurement, masses):
        """Heat capacity [J/K] and latent heat that may be absorbed near temperature [J]."""
        if masses:
            capacity = self.design.heat_capacity(temperature, masses)
            latent = sum(capacity for _, at, capacity in self.design.arrests(masses)
                         if abs(at - temperature) <= ARREST_BAND)
        else:  # species unknown: 1000 J/(kg K), and any arrest may be a melt
            capacity = self.design.heat_capacity(temperature, {}) + \
                1000.0 * max(measurement.furnace_mass, 0.0)
            latent = max(measurement.furnace_mass, 0.0) * max(
                (s.latent_heat for s in self.design.species.values()), default=0.0)
        return capacity, latent

    def _check_interlocks(self, measurement, dt, masses=None):
        params = self.params
        problem = self._sensor_problem(measurement.temperature)
        if problem:
            return problem
        if measurement.temperature > params.max_temperature:
            return (f'over-temperature: {measurement.temperature:.1f} K above the '
                    f'{params.max_temperature:.0f} K limit')
        if self.phase == Phase.CHARGING and \
                measurement.temperature > params.safe_charge_temperature:
            return (f'furnace at {measurement.temperature:.0f} K while charging, above the '
                    f'safe charging temperature {params.safe_charge_temperature:.0f} K')
        # A stuck thermocouple: the energy balance says the charge must have taken up (or
        # given off) more than stuck_rise worth of sensible heat, plus any latent heat it
        # could be absorbing at a melting point near the reading, yet the reading has not
        # left a stuck_band for stuck_time.
        if self.last is not None and dt > 0.0:
            temperature = measurement.temperature
            net = self.command.heater_power - self.design.losses(temperature,
                                                                 self.command.door_open)
            reference = self.stuck_reference
            if reference is None or abs(temperature - reference[1]) > params.stuck_band:
                self.stuck_reference = (measurement.time, temperature, 0.0)
            else:
                energy = reference[2] + net * dt
                self.stuck_reference = (reference[0], reference[1], energy)
                capacity, latent = self._capacity(temperature, measurement, masses)
                if measurement.time - reference[0] >= params.stuck_time and \
                        abs(energy) >= capacity * params.stuck_rise + latent:
                    return (f'thermocouple stuck at {temperature:.1f} K for '
                            f'{measurement.time - reference[0]:.0f} s while the energy '
                            f'balance predicts a change of {abs(energy) / capacity:.0f} K')
        return ''

    def _power_short(self, limit, temperature, measurement, masses):
        """Return whether a heater limit [W] is too low to heat the charge at all.

        Too low: below the furnace's losses at its temperature plus a tenth of what
        following the recipe's ramp takes (heat capacity x ramp rate).
        """
        capacity, _ = self._capacity(temperature, measurement, masses or None)
        need = self.design.losses(temperature, False) + \
            0.1 * capacity * self.recipe.ramp_rate
        return limit < need

    def update(self, measurement, masses=None):
        """Return the SmelterCommand for this period.

        masses: the charge by species if known (for the feed-forward's heat capacity);
        otherwise the furnace mass is taken at 1000 J/(kg K).
        """
        params = self.params
        previous, self.last = self.last, measurement
        dt = measurement.time - previous.time if previous else 0.0
        if self.phase != Phase.FAULT:
            problem = self._check_interlocks(measurement, dt, masses)
            if problem:
                self._fault(problem)
        if self.phase == Phase.FAULT:
            # Heater off; the door opens so the furnace sheds heat whatever it reads.
            self.command = SmelterCommand(0.0, door_open=True, tap_open=False)
            return self.command
        charge = masses if masses is not None else {}
        limit = min(self.heater_limit, params.power_budget)
        recipe = self.recipe
        temperature = measurement.temperature
        heater, door, tap = 0.0, False, False
        phase = self.phase
        if phase == Phase.CHARGING:
            if measurement.furnace_mass >= recipe.charge_mass * (1.0 - params.charge_tolerance):
                self.feed_request = None
                self.setpoint = temperature
                self._enter(Phase.HEATING, measurement.time)
            elif measurement.time - self.phase_since > params.charge_timeout:
                self._fault(f'charge incomplete after {params.charge_timeout:.0f} s: '
                            f'{measurement.furnace_mass:.3f} of {recipe.charge_mass:.3f} kg')
                return self.update(measurement, masses)
        elif phase in (Phase.HEATING, Phase.SOAKING):
            soak = recipe.soak_temperature
            self.power_wait = self._power_short(limit, temperature, measurement, charge)
            if self.power_wait:
                # The share cannot heat the charge (a night, a flat battery): the ramp
                # waits, following the furnace down, and the batch heats again (and
                # soaks anew) once the supervisor grants more. Nothing is failed for it.
                if phase == Phase.SOAKING:
                    self._enter(Phase.HEATING, measurement.time)
                self.setpoint, self.setpoint_rate = min(self.setpoint, temperature), 0.0
            elif phase == Phase.HEATING:
                self.setpoint = min(self.setpoint + recipe.ramp_rate * dt, soak)
                self.setpoint_rate = recipe.ramp_rate if self.setpoint < soak else 0.0
                if self.setpoint >= soak and abs(temperature - soak) <= params.settle_band:
                    self._enter(Phase.SOAKING, measurement.time)
            else:
                self.setpoint, self.setpoint_rate = soak, 0.0
                held_since = self.phase_since
                if recipe.melt_required:
                    if measurement.melt_fraction >= 1.0 - 1e-6:
                        if self.melt_complete_at is None:
                            self.melt_complete_at = measurement.time
                        held_since = self.melt_complete_at
                    else:
                        held_since = None
                if held_since is not None and measurement.time - held_since >= \
                        recipe.soak_time:
                    self._enter(Phase.TAPPING, measurement.time)
            heater = self.loop.update(self.setpoint, self.setpoint_rate, temperature, dt,
                                      charge, limit)
        if self.phase == Phase.TAPPING:
            self.setpoint, self.setpoint_rate = recipe.soak_temperature, 0.0
            heater = self.loop.update(self.setpoint, 0.0, temperature, dt, charge, limit)
            # Interlock: the tap opens only on a complete melt.
            melt_ok = not recipe.melt_required or measurement.melt_fraction >= 1.0 - 1e-6
            tap = melt_ok
            if not melt_ok:
                self._fault(f'melt incomplete at tapping ({measurement.melt_fraction:.3f}): '
                            'tap kept shut')
                return self.update(measurement, masses)
            if measurement.furnace_mass <= params.tap_empty_mass:
                self._enter(Phase.COOLING, measurement.time)
                heater, tap = 0.0, False
        if self.phase == Phase.COOLING:
            heater, door = 0.0, True
            self.setpoint = math.nan
            if temperature <= params.safe_charge_temperature:
                self.phase = Phase.IDLE if self.reason else Phase.DONE
                door = False
        self.energy += self.command.heater_power * dt
        self.command = SmelterCommand(heater, door, tap)
        if self.phase in ACTIVE:
            self.trace.append((measurement.time, temperature, self.setpoint, heater))
        return self.command
