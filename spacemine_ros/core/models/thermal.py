"""Thermal model of the furnace and its charge (lumped: one temperature).

Energy balance per step:  P_heater - P_rad - P_cond = dU/dt (+ what leaves with vapour
and tapped melt), with
- P_rad = eps_eff * sigma * A * (T^4 - T_env^4): radiation to space from the hot zone
  through the shields (eps_eff rises when the cooling door is open);
- P_cond = G * (T - T_deck): conduction through the mounts;
- U = m_crucible h_crucible(T) + sum_s m_s h_s(T) + sum_a f_a C_a: sensible enthalpy from
  temperature-dependent specific heats plus, for every arrest a the charge has gone
  through, its latent heat C_a times the share f_a done.
Arrests are isothermal transformations: a species' solid-solid transitions (iron's
alpha-gamma at 1184 K and gamma-delta at 1665 K; its magnetic transition is a lambda peak
of cp, in the cp table), its melting, and eutectic melting: iron and troilite melt
together at the Fe-FeS eutectic (1261 K), far below either's own melting point, in the
eutectic's proportions; what is left of the component in excess melts at its own point.
The step is solved with the enthalpy method: heat goes into sensible heat until the next
arrest, then into its latent heat at constant temperature until it is done, then on
(and back on cooling). Volatile species (bound water, organics) leave as vapour across
their release window, taking their enthalpy and their release enthalpy with them. Every
joule is booked (heater_energy, radiated, conducted, carried_out, charged_in), so the
balance closes by construction and is tested.
"""

from dataclasses import dataclass, field
import bisect
import math

from spacemine_ros.core.config import ConfigError, load_yaml, require

T_REFERENCE = 298.15  # K, zero of the sensible enthalpy


@dataclass(frozen=True)
class HeatCapacity:
    """cp(T) as a piecewise-linear table, flat outside it; exact enthalpy integral."""

    temperatures: tuple  # K, increasing
    values: tuple  # J/(kg K)

    def __post_init__(self):
        # The integral of cp up to each knot, and to T_REFERENCE: enthalpy() is called in
        # the furnace's inner solve, so it must not re-integrate the table every time.
        xs, ys = self.temperatures, self.values
        knots = [0.0]
        for x0, x1, y0, y1 in zip(xs, xs[1:], ys, ys[1:]):
            knots.append(knots[-1] + (x1 - x0) * (y0 + y1) / 2.0)
        object.__setattr__(self, '_knots', tuple(knots))
        object.__setattr__(self, '_reference', self._integral_from_first(T_REFERENCE))

    def cp(self, temperature):
        """Specific heat at temperature [J/(kg K)]."""
        xs, ys = self.temperatures, self.values
        if temperature <= xs[0]:
            return float(ys[0])
        if temperature >= xs[-1]:
            return float(ys[-1])
        i = bisect.bisect_right(xs, temperature) - 1
        return ys[i] + (ys[i + 1] - ys[i]) * (temperature - xs[i]) / (xs[i + 1] - xs[i])

    def _integral_from_first(self, temperature):
        xs, ys = self.temperatures, self.values
        if temperature <= xs[0]:
            return (temperature - xs[0]) * ys[0]
        if temperature >= xs[-1]:
            return self._knots[-1] + (temperature - xs[-1]) * ys[-1]
        i = bisect.bisect_right(xs, temperature) - 1
        x0, y0 = xs[i], ys[i]
        y = y0 + (ys[i + 1] - y0) * (temperature - x0) / (xs[i + 1] - x0)
        return self._knots[i] + (temperature - x0) * (y0 + y) / 2.0

    def enthalpy(self, temperature):
        """Sensible enthalpy from T_REFERENCE to temperature [J/kg]."""
        return self._integral_from_first(temperature) - self._reference


@dataclass(frozen=True)
class SpeciesThermal:
    """Thermal properties of one species of the charge."""

    name: str
    heat_capacity: HeatCapacity
    melting_point: float = math.inf  # K
    latent_heat: float = 0.0  # J/kg
    release: tuple = ()  # (T_start, T_end) K: leaves as vapour across this window
    release_enthalpy: float = 0.0  # J/kg
    transitions: tuple = ()  # ((T [K], latent heat [J/kg]), ...) in the solid

    def arrests(self):
        """Return ((temperature, latent heat), ...) of its transformations, melting last."""
        melting = ((self.melting_point, self.latent_heat),) if self.melts else ()
        return tuple(sorted(self.transitions)) + melting

    @property
    def melts(self):
        """Whether the species has a melting point (volatiles leave before they melt)."""
        return math.isfinite(self.melting_point) and not self.release

    def released_share(self, temperature):
        """Share of this volatile released once the charge has reached temperature."""
        if not self.release:
            return 0.0
        start, end = self.release
        return min(max((temperature - start) / (end - start), 0.0), 1.0)


@dataclass(frozen=True)
class Eutectic:
    """Species that melt together at a eutectic: composition {species: mass share}."""

    name: str
    temperature: float  # K
    composition: dict  # species -> mass share of the eutectic melt (sum 1)
    latent_heat: float  # J per kg of eutectic melt


@dataclass(frozen=True)
class FurnaceDesign:
    """Furnace, heater and sensor figures (config/smelter.yaml)."""

    sigma: float
    solar_constant: float
    heater: str  # 'electric' or 'solar'
    electric_max_power: float  # W
    concentrator_area: float  # m^2
    concentrator_efficiency: float
    crucible_mass: float  # kg
    crucible: HeatCapacity
    hot_zone_area: float  # m^2
    shielded_emissivity: float
    door_open_emissivity: float
    environment_temperature: float  # K
    mount_conductance: float  # W/K
    deck_temperature: float  # K
    initial_temperature: float  # K
    max_temperature: float  # K
    safe_charge_temperature: float  # K
    thermocouple_range: tuple  # K
    tap_time: float  # s
    metal_recovery: float
    species: dict = field(default_factory=dict)  # name -> SpeciesThermal
    eutectics: tuple = ()  # Eutectic, ...

    def bound(self, masses):
        """Return ({eutectic name: kg of melt it can make}, {species: (kg bound, T)})."""
        melts, bound = {}, {}
        for eutectic in self.eutectics:
            if all(masses.get(name, 0.0) > 0.0 for name in eutectic.composition):
                total = min(masses[name] / share for name, share in
                            eutectic.composition.items())
                melts[eutectic.name] = total
                for name, share in eutectic.composition.items():
                    bound[name] = (share * total, eutectic.temperature)
        return melts, bound

    def arrests(self, masses):
        """Return [(key, temperature, latent heat [J])] the charge masses can go through.

        A species bound in a eutectic goes through its own arrests below the eutectic
        with all its mass, above it with what the eutectic leaves.
        """
        found = []
        melts, bound = self.bound(masses)
        for eutectic in self.eutectics:
            if eutectic.name in melts:
                found.append((('eutectic', eutectic.name), eutectic.temperature,
                              melts[eutectic.name] * eutectic.latent_heat))
        for name, mass in masses.items():
            if mass <= 0.0:
                continue
            in_eutectic, above = bound.get(name, (0.0, math.inf))
            for temperature, latent in self.species[name].arrests():
                affected = mass - in_eutectic if temperature > above else mass
                if affected > 0.0 and latent > 0.0:
                    found.append(((name, temperature), temperature, affected * latent))
        return found

    def max_heater_power(self, heliocentric_distance=1.0):
        """Most the heater can deliver [W]; a solar concentrator's flux falls as 1/r^2."""
        if self.heater == 'solar':
            flux = self.solar_constant / heliocentric_distance ** 2
            return flux * self.concentrator_area * self.concentrator_efficiency
        return self.electric_max_power

    def radiated_power(self, temperature, door_open=False):
        """Radiation to space [W]: eps * sigma * A * (T^4 - T_env^4)."""
        emissivity = self.door_open_emissivity if door_open else self.shielded_emissivity
        return emissivity * self.sigma * self.hot_zone_area * (
            temperature ** 4 - self.environment_temperature ** 4)

    def conducted_power(self, temperature):
        """Conduction through the mounts [W]."""
        return self.mount_conductance * (temperature - self.deck_temperature)

    def losses(self, temperature, door_open=False):
        """Total heat loss at temperature [W]."""
        return self.radiated_power(temperature, door_open) + self.conducted_power(temperature)

    def heat_capacity(self, temperature, masses):
        """Heat capacity of crucible and charge [J/K] (sensible only)."""
        total = self.crucible_mass * self.crucible.cp(temperature)
        for name, mass in masses.items():
            total += mass * self.species[name].heat_capacity.cp(temperature)
        return total


class FurnaceThermal:
    """State of the furnace and its charge, advanced by energy balance."""

    def __init__(self, design):
        self.design = design
        self.temperature = design.initial_temperature
        self.masses = {}  # species -> kg in the furnace (not yet released or tapped)
        self.done = {}  # arrest key (FurnaceDesign.arrests) -> share transformed 0..1
        self.charged = {}  # species -> kg charged in this batch (for release shares)
        self.released = {}  # species -> kg released as vapour in this batch
        self.heater_energy = 0.0  # J
        self.radiated = 0.0
        self.conducted = 0.0
        self.carried_out = 0.0  # J leaving with vapour and tapped melt
        self.charged_in = 0.0  # J brought in with the charge (sensible, from T_REFERENCE)
        self.initial_energy = self.internal_energy()

    # Energy --------------------------------------------------------------------------------
    def _parts(self):
        """Yield (mass, HeatCapacity) of the crucible and each species of the charge."""
        design = self.design
        yield design.crucible_mass, design.crucible
        for name, mass in self.masses.items():
            yield mass, design.species[name].heat_capacity

    def _sensible(self, temperature):
        return sum(mass * table.enthalpy(temperature) for mass, table in self._parts())

    def _latent(self):
        return sum(self.done.get(key, 0.0) * capacity
                   for key, _, capacity in self.design.arrests(self.masses))

    def internal_energy(self):
        """Return the internal energy of crucible and charge [J] (sensible + latent)."""
        return self._sensible(self.temperature) + self._latent()

    @property
    def melted(self):
        """Molten share of each meltable species {species: 0..1}."""
        design = self.design
        melts, bound = design.bound(self.masses)
        liquid = {}
        for eutectic in design.eutectics:
            done = self.done.get(('eutectic', eutectic.name), 0.0)
            for name, share in eutectic.composition.items():
                if eutectic.name in melts:
                    liquid[name] = liquid.get(name, 0.0) + done * share * melts[eutectic.name]
        shares = {}
        for name, mass in self.masses.items():
            species = design.species[name]
            if not species.melts:
                continue
            free = mass - bound.get(name, (0.0, 0.0))[0]
            molten = liquid.get(name, 0.0) + free * self.done.get(
                (name, species.melting_point), 0.0)
            shares[name] = min(molten / mass, 1.0) if mass > 0.0 else 0.0
        return shares

    def refreeze(self, share):
        """Set every arrest's done share to `share` (a test of the melt probe's checks)."""
        self.done = dict.fromkeys(self.done, share)

    def energy_balance_error(self):
        """Energy in minus (change of internal energy + losses + outflow) [J]."""
        energy_in = self.heater_energy + self.charged_in
        change = self.internal_energy() - self.initial_energy
        return energy_in - (change + self.radiated + self.conducted + self.carried_out)

    def melt_fraction(self):
        """Molten share of the meltable charge (1 if it has none)."""
        meltable = {n: m for n, m in self.masses.items()
                    if self.design.species[n].melts and m > 0.0}
        total = sum(meltable.values())
        if total <= 0.0:
            return 1.0
        melted = self.melted
        return sum(m * melted.get(n, 0.0) for n, m in meltable.items()) / total

    def _heat_capacity(self, temperature):
        """d(sensible enthalpy)/dT of crucible and charge [J/K]."""
        return sum(mass * table.cp(temperature) for mass, table in self._parts())

    def _solve_sensible(self, target, low, high):
        """Temperature in [low, high] where the sensible enthalpy equals target.

        Newton's method on the (increasing, piecewise-quadratic) enthalpy, kept inside
        the bracket, which shrinks every step; a step that would leave it bisects.
        """
        temperature = min(max(self.temperature, low), high)
        for _ in range(100):
            error = self._sensible(temperature) - target
            if error < 0.0:
                low = temperature
            else:
                high = temperature
            slope = self._heat_capacity(temperature)
            step = error / slope if slope > 0.0 else math.inf
            candidate = temperature - step
            if abs(candidate - temperature) <= 1e-12 * max(1.0, temperature):
                # Converged: a last step of rounding size may fall a hair outside the
                # bracket, which must not send it bisecting the whole of it.
                return min(max(candidate, low), high)
            if not low < candidate < high:
                candidate = 0.5 * (low + high)
            if abs(candidate - temperature) <= 1e-12 * max(1.0, temperature) or high - low <= 0.0:
                return candidate
            temperature = candidate
        return temperature

    def add_heat(self, energy):
        """Put energy [J] into the charge (negative takes it out), through its arrests."""
        for _ in range(200):
            if abs(energy) <= 1e-12:
                return
            arrests = self.design.arrests(self.masses)
            temperature = self.temperature
            if energy > 0.0:
                at_point = [(key, capacity) for key, at, capacity in arrests
                            if abs(at - temperature) < 1e-9 and self.done.get(key, 0.0) < 1.0]
                if at_point:
                    key, capacity = at_point[0]
                    need = (1.0 - self.done.get(key, 0.0)) * capacity
                    used = min(energy, need)
                    self.done[key] = 1.0 if used >= need else min(
                        self.done.get(key, 0.0) + used / capacity, 1.0)
                    energy -= used
                    continue
                above = [at for key, at, _ in arrests
                         if at > temperature and self.done.get(key, 0.0) < 1.0]
                ceiling = min(above) if above else math.inf
            else:
                at_point = [(key, capacity) for key, at, capacity in arrests
                            if abs(at - temperature) < 1e-9 and self.done.get(key, 0.0) > 0.0]
                if at_point:
                    key, capacity = at_point[-1]  # on cooling the last formed goes first
                    held = self.done[key] * capacity
                    used = min(-energy, held)
                    self.done[key] = 0.0 if used >= held else max(
                        self.done[key] - used / capacity, 0.0)
                    energy += used
                    continue
                below = [at for key, at, _ in arrests
                         if at < temperature and self.done.get(key, 0.0) > 0.0]
                ceiling = max(below) if below else -math.inf
            start = self._sensible(temperature)
            if math.isfinite(ceiling):
                to_ceiling = self._sensible(ceiling) - start
                if (energy > 0.0 and energy >= to_ceiling) or (energy < 0.0
                                                               and energy <= to_ceiling):
                    self.temperature = ceiling
                    energy -= to_ceiling
                    continue
            low, high = (temperature, temperature + 5000.0) if energy > 0.0 else \
                (1.0, temperature)
            if math.isfinite(ceiling):
                low, high = (low, ceiling) if energy > 0.0 else (ceiling, high)
            self.temperature = self._solve_sensible(start + energy, low, high)
            return

    def _keep_transformed(self, change):
        """Change the masses (change()) keeping each arrest's transformed joules.

        Material that arrives has not gone through the arrests the charge has: the share
        done of each is scaled so the latent heat already taken stays what it was.
        """
        before = {key: self.done.get(key, 0.0) * capacity
                  for key, _, capacity in self.design.arrests(self.masses)}
        change()
        self.done = {key: min(before.get(key, 0.0) / capacity, 1.0)
                     for key, _, capacity in self.design.arrests(self.masses) if capacity > 0.0}

    # Process -------------------------------------------------------------------------------
    def charge(self, masses, temperature=None):
        """Add material {species: kg} arriving at temperature (default: the deck's)."""
        temperature = self.design.deck_temperature if temperature is None else temperature
        heat = 0.0
        for name, mass in masses.items():
            if mass <= 0.0:
                continue
            if name not in self.design.species:
                raise ValueError(f'no thermal data for species {name!r}')
            enthalpy = self.design.species[name].heat_capacity
            self.charged_in += mass * enthalpy.enthalpy(temperature)
            heat += mass * (enthalpy.enthalpy(temperature) - enthalpy.enthalpy(self.temperature))
            self.charged[name] = self.charged.get(name, 0.0) + mass
        arriving = {n: m for n, m in masses.items() if m > 0.0}
        self._keep_transformed(lambda: self.masses.update(
            {n: self.masses.get(n, 0.0) + m for n, m in arriving.items()}))
        self.add_heat(heat)  # the cold charge and the furnace reach one temperature

    def remove(self, masses):
        """Take material out (tapping); its enthalpy leaves with it. Returns what left.

        What leaves is a share of the charge as it is (molten as much as the rest), so
        each arrest keeps its share done.
        """
        removed = {}
        before = self.internal_energy()
        for name, mass in masses.items():
            held = self.masses.get(name, 0.0)
            mass = min(mass, held)
            if mass <= 0.0:
                continue
            self.masses[name] = held - mass
            removed[name] = mass
        self.carried_out += before - self.internal_energy()
        return removed

    def step(self, dt, heater_power, door_open=False):
        """Advance dt [s] with heater_power [W]; return {species: kg} released as vapour."""
        design = self.design
        radiated = design.radiated_power(self.temperature, door_open) * dt
        conducted = design.conducted_power(self.temperature) * dt
        heater = max(heater_power, 0.0) * dt
        self.heater_energy += heater
        self.radiated += radiated
        self.conducted += conducted
        self.add_heat(heater - radiated - conducted)
        released = {}
        for name, props in design.species.items():
            if not props.release or self.masses.get(name, 0.0) <= 0.0:
                continue
            target = props.released_share(self.temperature) * self.charged.get(name, 0.0)
            amount = min(target - self.released.get(name, 0.0), self.masses[name])
            if amount <= 0.0:
                continue
            before = self.internal_energy()
            self._keep_transformed(lambda: self.masses.__setitem__(
                name, self.masses[name] - amount))
            self.released[name] = self.released.get(name, 0.0) + amount
            self.carried_out += before - self.internal_energy() + amount * props.release_enthalpy
            self.add_heat(-amount * props.release_enthalpy)
            released[name] = amount
        return released

    def new_batch(self):
        """Forget the last batch's charge bookkeeping (the furnace must be empty)."""
        self.charged, self.released = {}, {}
        self.done = {}


def _table(entry, where):
    try:
        points = [(float(t), float(c)) for t, c in entry]
    except (TypeError, ValueError):
        raise ConfigError(f'{where}: expected a list of [temperature, cp] pairs') from None
    temperatures = [t for t, _ in points]
    if len(points) < 1 or temperatures != sorted(temperatures) or len(set(temperatures)) != \
            len(temperatures) or any(c <= 0.0 or not math.isfinite(c) for _, c in points):
        raise ConfigError(f'{where}: temperatures must increase and cp be positive')
    return HeatCapacity(tuple(temperatures), tuple(c for _, c in points))


def _positive(entry, key, where):
    value = require(entry, key, where)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f'{where}.{key}: expected a number, got {value!r}') from None
    if not (math.isfinite(number) and number >= 0.0):
        raise ConfigError(f'{where}.{key}: expected a number >= 0, got {number!r}')
    return number


def furnace_design_from(data, where='smelter'):
    """Build the FurnaceDesign from parsed config/smelter.yaml."""
    constants = require(data, 'constants', where)
    furnace = require(data, 'furnace', where)
    fwhere = f'{where}.furnace'
    species = {}
    for name, entry in require(data, 'species', where).items():
        swhere = f'{where}.species.{name}'
        release = entry.get('release', ())
        if release and (len(release) != 2 or not float(release[0]) < float(release[1])):
            raise ConfigError(f'{swhere}.release: expected [start, end] with start < end')
        species[name] = SpeciesThermal(
            name=name, heat_capacity=_table(require(entry, 'cp', swhere), f'{swhere}.cp'),
            melting_point=_positive(entry, 'melting_point', swhere)
            if 'melting_point' in entry else math.inf,
            latent_heat=_positive(entry, 'latent_heat', swhere) if 'latent_heat' in entry
            else 0.0,
            release=tuple(float(t) for t in release),
            release_enthalpy=_positive(entry, 'release_enthalpy', swhere)
            if 'release_enthalpy' in entry else 0.0,
            transitions=_transitions(entry.get('transitions', []), f'{swhere}.transitions'))
    eutectics = tuple(_eutectic(name, entry, f'{where}.eutectics.{name}', species)
                      for name, entry in (data.get('eutectics') or {}).items())
    heater = require(furnace, 'heater', fwhere)
    if heater not in ('electric', 'solar'):
        raise ConfigError(f'{fwhere}.heater: expected electric or solar, got {heater!r}')
    crucible_name = require(furnace, 'crucible_material', fwhere)
    crucibles = require(data, 'crucible', where)
    if crucible_name not in crucibles:
        raise ConfigError(f'{fwhere}.crucible_material: unknown {crucible_name!r}')
    tc_range = require(furnace, 'thermocouple_range', fwhere)
    numbers = {key: _positive(furnace, key, fwhere) for key in (
        'electric_max_power', 'concentrator_area', 'concentrator_efficiency', 'crucible_mass',
        'hot_zone_area', 'shielded_emissivity', 'door_open_emissivity',
        'environment_temperature', 'mount_conductance', 'deck_temperature',
        'initial_temperature', 'max_temperature', 'safe_charge_temperature', 'tap_time',
        'metal_recovery')}
    for key in ('shielded_emissivity', 'door_open_emissivity', 'concentrator_efficiency',
                'metal_recovery'):
        if numbers[key] > 1.0:
            raise ConfigError(f'{fwhere}.{key}: must be within [0, 1], got {numbers[key]}')
    if numbers['safe_charge_temperature'] >= numbers['max_temperature']:
        raise ConfigError(f'{fwhere}: safe_charge_temperature must be below max_temperature')
    return FurnaceDesign(
        sigma=_positive(constants, 'stefan_boltzmann', f'{where}.constants'),
        solar_constant=_positive(constants, 'solar_constant', f'{where}.constants'),
        heater=heater, crucible=_table(require(crucibles[crucible_name], 'cp', fwhere),
                                       f'{where}.crucible.{crucible_name}.cp'),
        thermocouple_range=(float(tc_range[0]), float(tc_range[1])), species=species,
        eutectics=eutectics, **numbers)


def _transitions(entry, where):
    try:
        pairs = tuple((float(t), float(h)) for t, h in entry)
    except (TypeError, ValueError):
        raise ConfigError(f'{where}: expected a list of [temperature, latent heat] pairs') \
            from None
    if any(not (math.isfinite(t) and t > 0.0 and math.isfinite(h) and h >= 0.0)
           for t, h in pairs):
        raise ConfigError(f'{where}: temperatures must be positive, latent heats >= 0')
    return pairs


def _eutectic(name, entry, where, species):
    if not isinstance(entry, dict):
        raise ConfigError(f'{where}: expected a mapping')
    composition = require(entry, 'composition', where)
    if not isinstance(composition, dict) or len(composition) < 2:
        raise ConfigError(f'{where}.composition: expected two or more species with shares')
    unknown = [s for s in composition if s not in species]
    if unknown:
        raise ConfigError(f'{where}.composition: no thermal data for {", ".join(unknown)}')
    shares = {str(s): _positive(composition, s, f'{where}.composition') for s in composition}
    if abs(sum(shares.values()) - 1.0) > 1e-6 or min(shares.values()) <= 0.0:
        raise ConfigError(f'{where}.composition: shares must be positive and sum to 1')
    temperature = _positive(entry, 'temperature', where)
    for member in shares:
        if species[member].melts and temperature >= species[member].melting_point:
            raise ConfigError(f'{where}.temperature: a eutectic melts below the melting '
                              f'point of {member} ({species[member].melting_point:g} K)')
    return Eutectic(str(name), temperature, shares, _positive(entry, 'latent_heat', where))


def load_furnace_design(path):
    """Load the furnace design from config/smelter.yaml."""
    return furnace_design_from(load_yaml(path), str(path))
