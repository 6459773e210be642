"""From released volatiles to propellant: a cold trap, a PEM electrolyser, gas tanks, a hand-over.

The furnace's off-gas passes a cold trap that freezes water out of it (the rest is vented);
a proton-exchange-membrane (PEM) stack splits the water into hydrogen and oxygen; each gas
is kept in a tank with a relief valve and a leak; products leave the rig through a
hand-over to a visiting vehicle within its docking window. Every function takes and gives
SI units (kg, s, K, Pa, A, V, W, J). Where a figure is assumed rather than measured, the
field says so; docs/models.md lists each law with its source and validity. No rclpy.

Mass balance is exact by construction: the oxygen of a mass of water is its molar share
of it, and the hydrogen the rest, so water in = hydrogen + oxygen out to the last bit.
"""

from dataclasses import dataclass
import math

from scipy.optimize import brentq

from spacemine_ros.core.validation import in_range, positive

# CODATA 2018 (exact in the 2019 SI): Faraday and molar gas constants.
FARADAY = 96485.33212  # C/mol
GAS_CONSTANT = 8.314462618  # J/(mol K)
# Molar masses from the IUPAC conventional atomic weights (H 1.008, O 15.999) [kg/mol].
M_H = 1.008e-3
M_O = 15.999e-3
MOLAR_MASS = {'water': 2.0 * M_H + M_O, 'hydrogen': 2.0 * M_H, 'oxygen': 2.0 * M_O,
              # The furnace's other volatiles, as the gas they leave as (organics burn or
              # pyrolyse to CO2 and CO; CO2 stands for them).
              'organics': 44.009e-3}
# H2O(l) -> H2 + 1/2 O2 at 298.15 K, from the CODATA key values (Cox, Wagman & Medvedev
# 1989): formation enthalpy of liquid water -285.83 kJ/mol; entropies H2O(l) 69.95, H2
# 130.68, O2 205.15 J/(mol K).
REACTION_ENTHALPY = 285.83e3  # J/mol
REACTION_ENTROPY = 130.68 + 0.5 * 205.15 - 69.95  # J/(mol K), 163.3
STANDARD_TEMPERATURE = 298.15  # K
STANDARD_PRESSURE = 1.0e5  # Pa
# The electrons per water molecule split.
ELECTRONS = 2
# Thermoneutral voltage: at it the cell's electrical work is the reaction's whole enthalpy
# (higher heating value), so the stack neither heats nor cools: 1.481 V.
THERMONEUTRAL_VOLTAGE = REACTION_ENTHALPY / (ELECTRONS * FARADAY)
# Ice: latent heat of sublimation, 2.834 MJ/kg at 273 K, within 0.2 % down to 200 K
# (Feistel & Wagner 2007, Geochim. Cosmochim. Acta 71); water vapour's specific heat,
# 1.9-2.1 kJ/(kg K) over 300-800 K (NIST Chemistry WebBook, Shomate fit of H2O gas).
SUBLIMATION_HEAT = 2.834e6  # J/kg
SPECIFIC_HEAT = {'water': 2.0e3, 'organics': 1.0e3}  # J/(kg K), CO2 0.85-1.2 over 300-800 K


class PropellantError(ValueError):
    """A setpoint or an input the model refuses; the message says which and why."""


def _finite(name, value, low=-math.inf, high=math.inf, low_open=False):
    """Return value as a float within [low, high] ((low, high] if low_open, low 0)."""
    try:
        number = positive(name, value) if low_open else in_range(name, value, low, high)
        return in_range(name, number, low, high)
    except ValueError as error:
        raise PropellantError(str(error)) from None


def water_split(water):
    """Return (hydrogen, oxygen) [kg] from electrolysing a mass of water [kg], exactly."""
    # Oxygen first: it is most of the water, so water - oxygen is exact in floating point
    # (Sterbenz's lemma) and hydrogen + oxygen gives the water back bit for bit.
    oxygen = water * (M_O / MOLAR_MASS['water'])
    return water - oxygen, oxygen


def ice_vapour_pressure(temperature):
    """Return the vapour pressure of ice [Pa] at temperature [K] (110-273.16 K).

    Murphy & Koop 2005 (Q. J. R. Meteorol. Soc. 131, eq. 7), within 0.1 % of the best
    measurements over that range.
    """
    t = _finite('ice temperature', temperature, 110.0, 273.16)
    return math.exp(9.550426 - 5723.265 / t + 3.53068 * math.log(t) - 0.00728332 * t)


# Cold trap ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Capture:
    """What a cold trap did with the gas of one step."""

    captured: float  # kg of water frozen out
    vented: dict  # kg per species passed on to the vent
    heat: float  # J taken out of the gas
    energy: float  # J of electricity the cooler used
    efficiency: float  # captured / water in (0 with no water)
    limit: float  # the most any trap could capture at this temperature and pressure


@dataclass(frozen=True)
class ColdTrap:
    """A condenser held below the frost point of the off-gas: water freezes on its plates.

    Two limits bound what it takes: the gas leaves no drier than ice's vapour pressure at
    the plates (thermodynamics: at most 1 - p_sat(T) / p_water of the water), and only the
    share of the gas that meets a plate in its passage freezes out (the mass-transfer
    effectiveness 1 - exp(-NTU), NTU = k A / V, V the gas's volume flow at the plates).
    The cooler lifts the heat to its radiator at a fraction of Carnot's coefficient of
    performance; at or above the radiator's temperature the plates need no cooler.
    """

    plate_area: float = 0.5  # m^2
    mass_transfer: float = 0.05  # m/s: k, assumed (forced flow over plates: 0.01-0.1)
    line_pressure: float = 2.0e3  # Pa: the off-gas line's total pressure, set by its valve
    radiator_temperature: float = 300.0  # K: where the cooler rejects its heat
    carnot_fraction: float = 0.2  # assumed, small Stirling coolers reach 0.1-0.3 of Carnot
    capacity: float = 20.0  # kg of ice the plates hold before they must be thawed

    def __post_init__(self):
        _finite('plate_area', self.plate_area, 0.0, 1e3, low_open=True)
        _finite('mass_transfer', self.mass_transfer, 0.0, 10.0, low_open=True)
        _finite('line_pressure', self.line_pressure, 0.0, 1e7, low_open=True)
        _finite('radiator_temperature', self.radiator_temperature, 100.0, 1000.0)
        _finite('carnot_fraction', self.carnot_fraction, 0.0, 1.0, low_open=True)
        _finite('capacity', self.capacity, 0.0, 1e6, low_open=True)

    def limit(self, water, others, temperature):
        """Return the share of the water [0, 1] that the gas can give up at the plates.

        water and others [kg/s or kg]: the step's water and other gases {species: kg}.
        """
        moles = water / MOLAR_MASS['water']
        total = moles + sum(m / MOLAR_MASS[s] for s, m in others.items())
        if moles <= 0.0:
            return 0.0
        partial = self.line_pressure * moles / total
        return max(0.0, 1.0 - ice_vapour_pressure(temperature) / partial)

    def effectiveness(self, water, others, temperature, dt):
        """Return 1 - exp(-NTU) for the step's gas at the plate temperature [K]."""
        moles = (water / MOLAR_MASS['water'] +
                 sum(m / MOLAR_MASS[s] for s, m in others.items())) / dt
        if moles <= 0.0:
            return 1.0
        volume_flow = moles * GAS_CONSTANT * temperature / self.line_pressure  # m^3/s
        return -math.expm1(-self.mass_transfer * self.plate_area / volume_flow)

    def step(self, water, others, gas_temperature, temperature, dt, held=0.0):
        """Pass one step's off-gas [kg] through the trap held at temperature [K].

        gas_temperature: the gas's temperature as it comes in [K]; held: ice already on
        the plates [kg] (a full trap captures nothing more).
        """
        water = _finite('water', water, 0.0, 1e6)
        others = {s: _finite(s, m, 0.0, 1e6) for s, m in others.items()}
        unknown = [s for s in others if s not in MOLAR_MASS or s == 'water']
        if unknown:
            raise PropellantError(f'unknown off-gas species {unknown[0]!r}')
        gas_temperature = _finite('gas temperature', gas_temperature, 100.0, 3000.0)
        temperature = _finite('trap temperature', temperature, 110.0, 273.16)
        dt = _finite('dt', dt, 0.0, 1e6, low_open=True)
        limit = self.limit(water, others, temperature)
        share = limit * self.effectiveness(water, others, temperature, dt)
        captured = min(water * share, max(self.capacity - held, 0.0))
        vented = {s: m for s, m in others.items() if m > 0.0}
        if water - captured > 0.0:
            vented['water'] = water - captured
        # The gas leaves at the plates' temperature (the effectiveness's share of it).
        cooling = max(gas_temperature - temperature, 0.0) * self.effectiveness(
            water, others, temperature, dt)
        heat = captured * SUBLIMATION_HEAT + cooling * (
            water * SPECIFIC_HEAT['water'] +
            sum(m * SPECIFIC_HEAT[s] for s, m in others.items()))
        return Capture(captured=captured, vented=vented, heat=heat,
                       energy=heat / self.coefficient_of_performance(temperature),
                       efficiency=captured / water if water > 0.0 else 0.0, limit=limit)

    def coefficient_of_performance(self, temperature):
        """Return the cooler's heat lifted per joule of electricity at plate temperature [K]."""
        lift = self.radiator_temperature - temperature
        if lift <= 0.0:
            return math.inf  # the radiator alone takes the heat
        return self.carnot_fraction * temperature / lift


# Electrolysis ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class PemStack:
    """A PEM electrolyser stack: cell voltage against current density and temperature.

    V = E_rev(T, p) + eta_anode + eta_cathode + i (R_membrane + R_contact), with
    - E_rev = (dH - T dS) / 2F plus Nernst's pressure term (dH, dS at 298 K: CODATA);
    - each electrode's activation overpotential RT/(alpha F) asinh(i / 2 i0) (Butler-Volmer
      at equal transfer coefficients; Bard & Faulkner, Electrochemical Methods, 2001);
    - the membrane's area resistance thickness / sigma, sigma of a hydrated Nafion membrane
      (0.005139 lambda - 0.00326) exp(1268 (1/303 - 1/T)) S/cm (Springer, Zawodzinski &
      Gottesfeld 1991, J. Electrochem. Soc. 138, 2334).
    The exchange current densities and the contact resistance are assumed, chosen within
    the published ranges so the curve lies in the operating window Carmo et al. report for
    PEM cells at 80 C (1.7-2.0 V at 1-2 A/cm^2; Int. J. Hydrogen Energy 38 (2013) 4901).
    Faradaic efficiency: the share of the current that makes gas (the rest, gas crossing
    the membrane and recombining, heats the stack).
    """

    cells: int = 10
    cell_area: float = 0.01  # m^2 (100 cm^2)
    anode_exchange_current: float = 20.0  # A/m^2 (2e-3 A/cm^2, iridium oxide; assumed)
    cathode_exchange_current: float = 1.0e4  # A/m^2 (1 A/cm^2, platinum; assumed)
    transfer_coefficient: float = 0.5
    membrane_thickness: float = 183e-6  # m (Nafion 117)
    membrane_water_content: float = 21.0  # water molecules per sulfonic group, in water
    contact_resistance: float = 5.0e-6  # ohm m^2 (0.05 ohm cm^2; assumed)
    max_current_density: float = 2.0e4  # A/m^2 (2 A/cm^2)
    faradaic_efficiency: float = 0.99
    min_temperature: float = 283.15  # K: below, the membrane's water may freeze
    max_temperature: float = 363.15  # K: above, the membrane dries and softens

    def __post_init__(self):
        if not isinstance(self.cells, int) or not 1 <= self.cells <= 1000:
            raise PropellantError(f'cells must be a whole number in [1, 1000], got '
                                  f'{self.cells!r}')
        _finite('cell_area', self.cell_area, 0.0, 10.0, low_open=True)
        _finite('anode_exchange_current', self.anode_exchange_current, 0.0, 1e6, True)
        _finite('cathode_exchange_current', self.cathode_exchange_current, 0.0, 1e6, True)
        _finite('transfer_coefficient', self.transfer_coefficient, 0.0, 1.0, True)
        _finite('membrane_thickness', self.membrane_thickness, 0.0, 1e-2, True)
        _finite('membrane_water_content', self.membrane_water_content, 1.0, 25.0)
        _finite('contact_resistance', self.contact_resistance, 0.0, 1.0)
        _finite('max_current_density', self.max_current_density, 0.0, 1e5, True)
        _finite('faradaic_efficiency', self.faradaic_efficiency, 0.0, 1.0, True)
        if not self.min_temperature < self.max_temperature:
            raise PropellantError('min_temperature must be below max_temperature')

    def _temperature(self, temperature):
        return _finite('stack temperature', temperature, self.min_temperature,
                       self.max_temperature)

    @staticmethod
    def reversible_voltage(temperature, hydrogen_pressure=STANDARD_PRESSURE,
                           oxygen_pressure=STANDARD_PRESSURE):
        """Return the open-circuit cell voltage [V] at temperature [K] and gas pressures [Pa]."""
        gibbs = REACTION_ENTHALPY - temperature * REACTION_ENTROPY
        nernst = GAS_CONSTANT * temperature / (ELECTRONS * FARADAY) * math.log(
            hydrogen_pressure / STANDARD_PRESSURE *
            math.sqrt(oxygen_pressure / STANDARD_PRESSURE))
        return gibbs / (ELECTRONS * FARADAY) + nernst

    def membrane_resistance(self, temperature):
        """Return the membrane's area resistance [ohm m^2] at temperature [K]."""
        sigma = (0.005139 * self.membrane_water_content - 0.00326) * math.exp(
            1268.0 * (1.0 / 303.0 - 1.0 / temperature)) * 100.0  # S/cm -> S/m
        return self.membrane_thickness / sigma

    def cell_voltage(self, current_density, temperature, hydrogen_pressure=STANDARD_PRESSURE,
                     oxygen_pressure=STANDARD_PRESSURE):
        """Return one cell's voltage [V] at current density [A/m^2] and temperature [K]."""
        i = _finite('current density', current_density, 0.0, self.max_current_density)
        t = self._temperature(temperature)
        thermal = GAS_CONSTANT * t / (self.transfer_coefficient * FARADAY)
        activation = thermal * (math.asinh(i / (2.0 * self.anode_exchange_current)) +
                                math.asinh(i / (2.0 * self.cathode_exchange_current)))
        ohmic = i * (self.membrane_resistance(t) + self.contact_resistance)
        return self.reversible_voltage(t, hydrogen_pressure, oxygen_pressure) + activation + \
            ohmic

    def max_current(self):
        """Return the stack's rated current [A]."""
        return self.max_current_density * self.cell_area

    def max_power(self, temperature):
        """Return the stack's electrical power at its rated current [W]."""
        return self.power(self.max_current(), temperature)

    def power(self, current, temperature):
        """Return the stack's electrical power [W] at a current [A] (cells in series)."""
        current = _finite('stack current', current, 0.0, self.max_current())
        return self.cells * current * self.cell_voltage(current / self.cell_area, temperature)

    def current_for_power(self, power, temperature):
        """Return the current [A] that draws power [W] (the rated current at most)."""
        power = _finite('stack power', power, 0.0, 1e9)
        if power <= 0.0:
            return 0.0
        if power >= self.max_power(temperature):
            return self.max_current()
        return brentq(lambda current: self.power(current, temperature) - power, 0.0,
                      self.max_current(), xtol=1e-12, rtol=1e-12)

    def water_rate(self, current):
        """Return the water split [kg/s] by a current [A] (Faraday's law)."""
        current = _finite('stack current', current, 0.0, self.max_current())
        return self.faradaic_efficiency * self.cells * current / (ELECTRONS * FARADAY) * \
            MOLAR_MASS['water']

    def efficiency(self, current_density, temperature):
        """Return the stack's efficiency on the higher heating value (0-1)."""
        return self.faradaic_efficiency * THERMONEUTRAL_VOLTAGE / self.cell_voltage(
            current_density, temperature)

    def energy_per_water(self, current_density, temperature):
        """Return the electrical energy per kg of water split [J/kg]."""
        voltage = self.cell_voltage(current_density, temperature)
        return voltage * ELECTRONS * FARADAY / (self.faradaic_efficiency * MOLAR_MASS['water'])

    def step(self, current, temperature, dt, water_available):
        """Split water for dt at a current [A]; return (water, hydrogen, oxygen, energy, heat).

        Masses in kg, energy and heat in J. With less water than the current would split,
        the current is cut to what the water allows (a stack run dry is damaged).
        """
        dt = _finite('dt', dt, 0.0, 1e6, low_open=True)
        water_available = _finite('water available', water_available, 0.0, 1e9)
        current = _finite('stack current', current, 0.0, self.max_current())
        water = self.water_rate(current) * dt
        if water > water_available:
            current *= water_available / water
            water = water_available
        energy = self.power(current, temperature) * dt
        hydrogen, oxygen = water_split(water)
        # What the reaction does not store (its enthalpy) heats the stack.
        heat = energy - water / MOLAR_MASS['water'] * REACTION_ENTHALPY
        return water, hydrogen, oxygen, energy, heat


# Storage --------------------------------------------------------------------------------------
# Hydrogen: Abel-Noble, p (v - b) = R T, b = 7.69e-3 m^3/kg (Chenoweth 1983, Sandia
# SAND83-8229; within 2 % of NIST's density to 70 MPa at room temperature: 40.2 kg/m^3 at
# 70 MPa, 288 K). Oxygen: Peng-Robinson (Ind. Eng. Chem. Fundam. 15 (1976) 59) with its
# critical point and acentric factor (NIST: 154.58 K, 5.043 MPa; omega 0.022).
ABEL_NOBLE_COVOLUME = 7.69e-3  # m^3/kg, hydrogen
CRITICAL = {'oxygen': (154.58, 5.043e6, 0.022)}


def gas_pressure(species, density, temperature):
    """Return the pressure [Pa] of hydrogen or oxygen at density [kg/m^3] and temperature [K]."""
    r = GAS_CONSTANT / MOLAR_MASS[species]
    if density <= 0.0:
        return 0.0
    volume = 1.0 / density  # m^3/kg
    if species == 'hydrogen':
        if volume <= ABEL_NOBLE_COVOLUME:
            raise PropellantError(f'hydrogen at {density:g} kg/m^3 is denser than the '
                                  f'Abel-Noble covolume allows')
        return r * temperature / (volume - ABEL_NOBLE_COVOLUME)
    tc, pc, omega = CRITICAL[species]
    a = 0.45724 * (r * tc) ** 2 / pc
    b = 0.07780 * r * tc / pc
    kappa = 0.37464 + 1.54226 * omega - 0.26992 * omega ** 2
    alpha = (1.0 + kappa * (1.0 - math.sqrt(temperature / tc))) ** 2
    if volume <= b:
        raise PropellantError(f'{species} at {density:g} kg/m^3 is denser than a liquid')
    attraction = a * alpha / (volume * volume + 2.0 * b * volume - b * b)
    return r * temperature / (volume - b) - attraction


def gas_density(species, pressure, temperature):
    """Return the density [kg/m^3] of a gas at pressure [Pa] and temperature [K].

    Above the gas's critical temperature (a tank's gas), where the pressure rises with the
    density all the way to the equation's limit.
    """
    if pressure <= 0.0:
        return 0.0
    r = GAS_CONSTANT / MOLAR_MASS[species]
    if species == 'hydrogen':
        return 1.0 / (r * temperature / pressure + ABEL_NOBLE_COVOLUME)
    tc, pc, _ = CRITICAL[species]
    densest = pc / (0.07780 * r * tc) * (1.0 - 1e-9)  # 1 / b
    return brentq(lambda rho: gas_pressure(species, rho, temperature) - pressure, 0.0, densest,
                  xtol=1e-12, rtol=1e-12)


@dataclass
class GasTank:
    """A gas tank at the rig's temperature: pressure from its gas's equation of state.

    A relief valve vents down to its set pressure whatever would raise the pressure above
    it; a leak loses a share of the gas per second (seals and valves, stated per tank).
    """

    species: str
    volume: float  # m^3
    rated_pressure: float  # Pa: the vessel's working pressure
    relief_pressure: float  # Pa: the valve opens above it (at most the rating)
    leak_rate: float = 0.0  # 1/s: share of the gas lost per second
    temperature: float = 293.15  # K
    mass: float = 0.0  # kg held

    def __post_init__(self):
        if self.species not in ('hydrogen', 'oxygen'):
            raise PropellantError(f'a gas tank holds hydrogen or oxygen, not {self.species!r}')
        _finite('volume', self.volume, 0.0, 1e3, low_open=True)
        _finite('rated_pressure', self.rated_pressure, 0.0, 1e8, low_open=True)
        _finite('relief_pressure', self.relief_pressure, 0.0, self.rated_pressure,
                low_open=True)
        _finite('leak_rate', self.leak_rate, 0.0, 1.0)
        # Gas storage: well above oxygen's critical point (155 K), below the seals' limit.
        _finite('temperature', self.temperature, 200.0, 400.0)
        _finite('mass', self.mass, 0.0, self.capacity())

    def pressure(self):
        """Return the tank's pressure now [Pa]."""
        return gas_pressure(self.species, self.mass / self.volume, self.temperature)

    def capacity(self):
        """Return the mass [kg] the tank holds at its relief pressure."""
        return gas_density(self.species, self.relief_pressure, self.temperature) * self.volume

    def fill(self, mass):
        """Take in a mass of gas [kg]; return what the relief valve vented of it [kg]."""
        mass = _finite(f'{self.species} in', mass, 0.0, 1e6)
        room = max(self.capacity() - self.mass, 0.0)
        kept = min(mass, room)
        self.mass += kept
        return mass - kept

    def draw(self, mass):
        """Give out up to a mass of gas [kg]; return what it gave."""
        mass = _finite(f'{self.species} out', mass, 0.0, 1e6)
        given = min(mass, self.mass)
        self.mass -= given
        return given

    def leak(self, dt):
        """Lose the leak's share of the gas over dt [s]; return the mass lost [kg]."""
        dt = _finite('dt', dt, 0.0, 1e9)
        lost = -self.mass * math.expm1(-self.leak_rate * dt)
        self.mass -= lost
        return lost

    def check_setpoint(self, pressure):
        """Return a pressure setpoint [Pa] the tank can take; PropellantError naming why not."""
        return _finite(f'{self.species} tank pressure setpoint', pressure, 0.0,
                       self.relief_pressure)


# The hand-over --------------------------------------------------------------------------------
@dataclass(frozen=True)
class DockingWindow:
    """A visiting vehicle's stay: it arrives at a rig time [s] and stays for a duration [s]."""

    arrives: float
    stays: float

    def __post_init__(self):
        _finite('arrival', self.arrives, 0.0, 1e12)
        _finite('stay', self.stays, 0.0, 1e9, low_open=True)

    @property
    def departs(self):
        """Rig time the vehicle leaves [s]."""
        return self.arrives + self.stays

    def open(self, time):
        """Tell whether the vehicle is docked at a rig time [s]."""
        return self.arrives <= time < self.departs


class HandOver:
    """Transfers products to a docked vehicle at their rates, with a manifest.

    rates {product: kg/s}; wanted {product: kg} (missing: all there is). What leaves the
    rig is in the manifest; a window that closes before everything wanted went is missed
    for the rest, which stays stored.
    """

    def __init__(self, window, rates, wanted=None):
        self.window = window
        self.rates = {name: _finite(f'{name} transfer rate', rate, 0.0, 1e3, low_open=True)
                      for name, rate in rates.items()}
        self.wanted = {name: _finite(f'{name} wanted', mass, 0.0, 1e9)
                       for name, mass in (wanted or {}).items()}
        unknown = [name for name in self.wanted if name not in self.rates]
        if unknown:
            raise PropellantError(f'no transfer rate for {unknown[0]}')
        self.manifest = dict.fromkeys(self.rates, 0.0)

    def step(self, time, dt, stored):
        """Transfer for dt [s] from time [s]; stored {product: kg}; return {product: kg} moved."""
        dt = _finite('dt', dt, 0.0, 1e9, low_open=True)
        start, end = max(time, self.window.arrives), min(time + dt, self.window.departs)
        if end <= start:
            return {}
        moved = {}
        for name, rate in self.rates.items():
            left = self.wanted.get(name, math.inf) - self.manifest[name]
            mass = min(rate * (end - start), max(left, 0.0), stored.get(name, 0.0))
            if mass > 0.0:
                moved[name] = mass
                self.manifest[name] += mass
        return moved

    def done(self, stored):
        """Tell whether everything wanted (or everything stored) has gone."""
        return all(self.manifest[name] >= self.wanted[name] - 1e-12 if name in self.wanted
                   else stored.get(name, 0.0) <= 0.0 for name in self.rates)

    def missed(self, time, stored):
        """Tell whether the window closed with what was wanted not all gone."""
        return time >= self.window.departs and not self.done(stored)
