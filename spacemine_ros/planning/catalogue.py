"""The catalogue of near-Earth asteroids that spacemine-targets ranks (config/targets.yaml).

Each target has osculating orbital elements at a stated epoch and the physical figures
that were measured (absolute magnitude, diameter, albedo, spectral class, rotation
period, bulk density), every one with the source it was taken from. A figure that was
not measured is absent: unknown stays unknown. A bad entry (a negative diameter, e >= 1,
perihelion beyond 1.3 au, an unknown spectral class, a figure without a source) is
refused with one line naming it (ConfigError).

Pure Python, no ROS; SI units inside (the file's keys say their units).
"""

from dataclasses import dataclass, field
import math

from spacemine_ros.core.config import ConfigError, load_yaml, require, require_mapping
from spacemine_ros.planning.orbits import AU, Elements

NEO_PERIHELION = 1.3  # au: a near-Earth object's perihelion is below this (CNEOS)

# Spectral classes (Tholen 1984, SMASSII of Bus & Binzel 2002, Bus-DeMeo 2009) and the
# composition family the rig's material and recipe models know: C (carbonaceous,
# hydrated: water), S (stony, ordinary chondrite: a few % Fe-Ni metal), M (metallic).
# E: enstatite-rich, aubrite-like, which no recipe of the rig models. X-complex labels
# without an albedo cannot be told apart (Tholen splits X by albedo into E, M and P):
# their family stays unknown.
FAMILIES = {
    'C': ('B', 'C', 'Cb', 'Cg', 'Cgh', 'Ch', 'F', 'G', 'CF', 'CB', 'BU', 'D', 'P', 'T'),
    'S': ('S', 'Sa', 'Sq', 'Sr', 'Sv', 'Sk', 'Sl', 'Sw', 'Sqw', 'Q', 'A', 'K', 'L', 'Ld',
          'O', 'R', 'V'),
    'M': ('M',),
    'E': ('E', 'Xe'),  # enstatite achondrite (aubrite) analogues: no recipe models them
    'X': ('X', 'Xc', 'Xk', 'Xn'),
}
CLASSES = {label: family for family, labels in FAMILIES.items() for label in labels}
# Tholen's albedo split of the X complex: E above 0.3, M from 0.1 to 0.3, P below 0.1.
X_SPLIT = ((0.3, 'E'), (0.1, 'M'), (0.0, 'C'))

FIGURES = {  # key in the file: (attribute, unit factor to SI, lowest, highest, what)
    'absolute_magnitude': ('absolute_magnitude', 1.0, -5.0, 35.0, 'H'),
    'diameter_m': ('diameter', 1.0, 0.0, 1e6, 'diameter [m]'),
    'albedo': ('albedo', 1.0, 0.0, 1.0, 'geometric albedo'),
    'rotation_period_h': ('rotation_period', 3600.0, 0.0, 1e5, 'rotation period [h]'),
    'bulk_density_kg_m3': ('bulk_density', 1.0, 100.0, 9000.0, 'bulk density [kg/m^3]'),
}
ORBIT_KEYS = ('epoch_jd', 'a_au', 'e', 'i_deg', 'node_deg', 'peri_deg', 'M_deg', 'source')


@dataclass(frozen=True)
class Figure:
    """A measured value and where it comes from."""

    value: object
    source: str  # the full citation


@dataclass(frozen=True)
class Target:
    """A catalogue entry: orbit, measured figures (SI) and their sources.

    Figures not measured are None. family: 'C', 'S', 'M', 'E' or None (no class, or an
    X-complex class without an albedo to split it).
    """

    key: str
    name: str
    elements: Elements
    orbit_source: str
    preset: str = ''
    absolute_magnitude: Figure = None
    diameter: Figure = None  # m
    albedo: Figure = None
    spectral_class: Figure = None
    rotation_period: Figure = None  # s
    bulk_density: Figure = None  # kg/m^3
    sources: dict = field(default_factory=dict)

    @property
    def family(self):
        """Return the composition family: C, S, M, E, or None if the class does not tell."""
        if self.spectral_class is None:
            return None
        family = CLASSES[self.spectral_class.value]
        if family != 'X':
            return family
        if self.albedo is None:
            return None
        return next(f for floor, f in X_SPLIT if self.albedo.value >= floor)

    @property
    def perihelion_au(self):
        """Return the perihelion distance q [au]."""
        return self.elements.perihelion / AU


def target_from(key, entry, where='targets'):
    """Build a Target from its mapping in the file (ConfigError, one line, if bad)."""
    where = f'{where}.{key}'
    if not isinstance(entry, dict):
        raise ConfigError(f'{where}: expected a mapping')
    known = {'name', 'preset', 'orbit', 'sources', *FIGURES, 'spectral_class'}
    unknown = sorted(set(entry) - known)
    if unknown:
        raise ConfigError(f'{where}: unknown key {unknown[0]!r}')
    sources = entry.get('sources') or {}
    if not isinstance(sources, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in sources.items()):
        raise ConfigError(f'{where}.sources: expected a mapping of name: citation')

    def cited(name, what):
        if not isinstance(name, str) or name not in sources:
            raise ConfigError(f'{where}.{what}: source {name!r} is not one of {where}.sources '
                              f'({", ".join(sorted(sources)) or "none"})')
        return sources[name]

    orbit = require_mapping(entry, 'orbit', where, ORBIT_KEYS)
    values = {}
    for name in ORBIT_KEYS[:-1]:
        value = orbit[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                not math.isfinite(value):
            raise ConfigError(f'{where}.orbit.{name}: expected a finite number, got {value!r}')
        values[name] = float(value)
    if not 0.0 <= values['e'] < 1.0:
        raise ConfigError(f'{where}.orbit.e: {values["e"]:g} is not an elliptic orbit '
                          '(a near-Earth asteroid has 0 <= e < 1)')
    if values['a_au'] <= 0.0:
        raise ConfigError(f'{where}.orbit.a_au: {values["a_au"]:g} must be > 0')
    if values['a_au'] * (1.0 - values['e']) >= NEO_PERIHELION:
        raise ConfigError(f'{where}.orbit: perihelion {values["a_au"] * (1 - values["e"]):.3f} '
                          f'au is not below {NEO_PERIHELION} au: not a near-Earth object')
    if not 0.0 <= values['i_deg'] <= 180.0:
        raise ConfigError(f'{where}.orbit.i_deg: {values["i_deg"]:g} is not in [0, 180]')
    if not 2.2e6 < values['epoch_jd'] < 2.6e6:
        raise ConfigError(f'{where}.orbit.epoch_jd: {values["epoch_jd"]:g} is not a Julian '
                          'date of the modern era')
    elements = Elements(a=values['a_au'] * AU, e=values['e'], i=math.radians(values['i_deg']),
                        raan=math.radians(values['node_deg']),
                        argp=math.radians(values['peri_deg']),
                        mean_anomaly=math.radians(values['M_deg']), epoch=values['epoch_jd'])
    figures = {}
    for name, (attribute, factor, low, high, what) in FIGURES.items():
        if name not in entry:
            continue
        pair = entry[name]
        if not isinstance(pair, list) or len(pair) != 2:
            raise ConfigError(f'{where}.{name}: expected [value, source]')
        value, source = pair
        if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                not math.isfinite(value) or not low < value <= high and not (
                    name == 'absolute_magnitude' and low <= value <= high):
            raise ConfigError(f'{where}.{name}: {value!r} is not a {what} in ({low:g}, {high:g}]')
        figures[attribute] = Figure(float(value) * factor, cited(source, name))
    if 'spectral_class' in entry:
        pair = entry['spectral_class']
        if not isinstance(pair, list) or len(pair) != 2:
            raise ConfigError(f'{where}.spectral_class: expected [class, source]')
        label, source = pair
        if label not in CLASSES:
            raise ConfigError(f'{where}.spectral_class: unknown class {label!r} (known: '
                              f'{", ".join(sorted(CLASSES))})')
        figures['spectral_class'] = Figure(label, cited(source, 'spectral_class'))
    name = entry.get('name', key)
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f'{where}.name: expected a non-empty string')
    preset = entry.get('preset', '')
    if not isinstance(preset, str):
        raise ConfigError(f'{where}.preset: expected a body preset name')
    return Target(key=key, name=name, elements=elements,
                  orbit_source=cited(orbit['source'], 'orbit.source'), preset=preset,
                  sources=dict(sources), **figures)


def catalogue_from(data, where='catalogue'):
    """Build {key: Target} from the parsed file (ConfigError, one line, if bad)."""
    targets = require(data if isinstance(data, dict) else {}, 'targets', where)
    if not isinstance(targets, dict) or not targets:
        raise ConfigError(f'{where}: targets must be a non-empty mapping')
    catalogue = {}
    for key, entry in targets.items():
        if not isinstance(key, str) or not key.isidentifier() and not key.isalnum():
            raise ConfigError(f'{where}.targets: bad key {key!r} (letters and digits)')
        catalogue[key] = target_from(key, entry, f'{where}.targets')
    return catalogue


def load_catalogue(path):
    """Load config/targets.yaml (or another catalogue file): {key: Target}."""
    return catalogue_from(load_yaml(path), str(path))


def find_target(catalogue, name):
    """Return the Target named by a key or a designation ('2008EV5', '2008 EV5', 'Bennu').

    KeyError naming the close ones if none matches.
    """
    wanted = _normal(name)
    for key, target in catalogue.items():
        if wanted == _normal(key) or wanted in _names(target):
            return target
    raise KeyError(f'{name!r} is not in the catalogue; known: {", ".join(sorted(catalogue))}')


def _normal(text):
    return ''.join(c for c in text.lower() if c.isalnum())


def _names(target):
    """Return the normalised forms a target answers to: number, name, designations.

    '101955 Bennu (1999 RQ36)': 101955bennu..., 101955, bennu, 1999rq36; an unnumbered
    '2000 SG344' answers to 2000sg344 only.
    """
    text = target.name
    names = {_normal(text)}
    if '(' in text:
        outer, inner = text.split('(', 1)
        names.add(_normal(outer))
        names.update(_normal(word) for word in outer.split())
        names.update(_normal(part) for part in inner.split(')', 1)[0].split(','))
    names.discard('')
    return names
