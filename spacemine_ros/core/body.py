"""Bodies the rig can work on: gravity, spin, regolith, strata and composition.

Values come from config/bodies.yaml, where each one carries its source. Surface gravity
and escape speed are stored there for reference and checked here against GM and radius
(g = GM/R^2, v_esc = sqrt(2 GM/R), sphere of the mean radius), so a typo cannot slip in.
"""

from dataclasses import dataclass, field
import math

import numpy as np

from spacemine_ros.core.config import ConfigError, load_yaml, require
from spacemine_ros.core.drilling import Stratum, StrataColumn

GRAVITATIONAL_CONSTANT = 6.67430e-11  # m^3 kg^-1 s^-2, CODATA 2018
_DERIVED_TOLERANCE = 0.02  # stored g and v_esc must match GM/R within 2 %


@dataclass(frozen=True)
class Regolith:
    """Bulk properties of the surface layer, used by anchoring and cutting models."""

    density: float  # kg/m^3
    cohesion: float  # Pa
    friction_angle: float  # rad


@dataclass(frozen=True)
class Site:
    """Where on the body the rig works."""

    latitude: float  # rad
    substrate: str  # 'rock' (a boulder or bedrock) or 'regolith'
    anchor_type: str = 'microspine'  # the anchor design the rig is fitted with here


@dataclass(frozen=True)
class Body:
    """A small body and the rig's work site on it."""

    key: str
    name: str
    composition_class: str  # 'C', 'S' or 'M'
    gm: float  # m^3/s^2
    mean_radius: float  # m
    rotation_period: float  # s
    bulk_density: float  # kg/m^3
    surface_gravity: float  # m/s^2, stored value (checked against GM/R^2)
    escape_velocity: float  # m/s, stored value (checked against sqrt(2 GM/R))
    regolith: Regolith
    site: Site
    strata: StrataColumn
    composition: dict = field(default_factory=dict)  # mass fractions, sum 1
    sources: dict = field(default_factory=dict)
    semi_major_axis: float = 1.0  # AU, mean distance from the Sun (solar heating)

    @property
    def spin_rate(self):
        """Angular speed of the body's rotation [rad/s]."""
        return 2.0 * math.pi / self.rotation_period

    def gravity_vector(self, latitude=None):
        """Effective gravity at the site in the local frame (x east, y north, z up) [m/s^2].

        Gravity of a sphere plus the centrifugal acceleration of the spin, which points
        away from the spin axis: its vertical part reduces gravity by w^2 R cos^2(lat), its
        horizontal part w^2 R cos(lat) sin(lat) points toward the equator.
        """
        lat = self.site.latitude if latitude is None else latitude
        centrifugal = self.spin_rate ** 2 * self.mean_radius * math.cos(lat)
        return np.array([
            0.0,
            -centrifugal * math.sin(lat),
            -self.surface_gravity + centrifugal * math.cos(lat),
        ])

    def effective_gravity(self, latitude=None):
        """Magnitude of the effective gravity at the site [m/s^2]."""
        return float(np.linalg.norm(self.gravity_vector(latitude)))


def _number(entry, key, where, low=0.0, high=math.inf, exclusive_low=True):
    value = require(entry, key, where)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f'{where}.{key}: expected a number, got {value!r}') from None
    if not math.isfinite(number) or number < low or number > high or (
            exclusive_low and number == low):
        bound = '>' if exclusive_low else '>='
        raise ConfigError(f'{where}.{key}: {number!r} out of range ({bound} {low:g}, <= {high:g})')
    return number


def _check_sources(entry, where, keys):
    sources = entry.get('sources')
    if not isinstance(sources, dict):
        raise ConfigError(f'{where}: missing a sources mapping (every value needs its source)')
    missing = [key for key in keys if not sources.get(key)]
    if missing:
        raise ConfigError(f'{where}: no source given for {", ".join(missing)}')
    return dict(sources)


def body_from_config(key, entry):
    """Build a Body from one entry of bodies.yaml; raise ConfigError if anything is wrong."""
    where = f'bodies.{key}'
    if 'gm' in entry:
        gm = _number(entry, 'gm', where)
    else:
        gm = GRAVITATIONAL_CONSTANT * _number(entry, 'mass', where)
    radius = _number(entry, 'mean_radius', where)
    stored_g = _number(entry, 'surface_gravity', where)
    stored_v = _number(entry, 'escape_velocity', where)
    for label, stored, derived in (
            ('surface_gravity', stored_g, gm / radius ** 2),
            ('escape_velocity', stored_v, math.sqrt(2.0 * gm / radius))):
        if abs(stored - derived) > _DERIVED_TOLERANCE * derived:
            raise ConfigError(
                f'{where}.{label}: {stored:g} disagrees with GM and radius ({derived:g})')

    regolith_entry = require(entry, 'regolith', where)
    regolith = Regolith(
        density=_number(regolith_entry, 'density', f'{where}.regolith'),
        cohesion=_number(regolith_entry, 'cohesion', f'{where}.regolith', exclusive_low=False),
        friction_angle=math.radians(
            _number(regolith_entry, 'friction_angle_deg', f'{where}.regolith', high=90.0)))
    site_entry = require(entry, 'site', where)
    substrate = require(site_entry, 'substrate', f'{where}.site')
    if substrate not in ('rock', 'regolith'):
        raise ConfigError(f'{where}.site.substrate: expected rock or regolith, got {substrate!r}')
    site = Site(
        latitude=math.radians(_number(
            site_entry, 'latitude_deg', f'{where}.site', low=-90.0, high=90.0,
            exclusive_low=False)),
        substrate=substrate,
        anchor_type=str(require(site_entry, 'anchor_type', f'{where}.site')))

    strata_entries = require(entry, 'strata', where)
    if not isinstance(strata_entries, list) or not strata_entries:
        raise ConfigError(f'{where}.strata: expected a non-empty list of strata')
    strata = []
    for index, stratum in enumerate(strata_entries):
        swhere = f'{where}.strata[{index}]'
        strata.append(Stratum(
            name=str(require(stratum, 'name', swhere)),
            top=_number(stratum, 'top', swhere, exclusive_low=False),
            bottom=_number(stratum, 'bottom', swhere),
            specific_energy=_number(stratum, 'specific_energy', swhere),
            cutting_ratio=_number(stratum, 'cutting_ratio', swhere),
            density=_number(stratum, 'density', swhere),
            wedge_torque=float(stratum.get('wedge_torque', 0.0)),
            wedge_clears=bool(stratum.get('wedge_clears', True))))
    try:
        column = StrataColumn(strata)
    except ValueError as error:
        raise ConfigError(f'{where}.strata: {error}') from None

    composition = require(entry, 'composition', where)
    if not isinstance(composition, dict) or not composition:
        raise ConfigError(f'{where}.composition: expected a mapping of mass fractions')
    fractions = {name: _number(composition, name, f'{where}.composition', exclusive_low=False,
                               high=1.0) for name in composition}
    if abs(sum(fractions.values()) - 1.0) > 1e-6:
        raise ConfigError(
            f'{where}.composition: mass fractions sum to {sum(fractions.values()):g}, not 1')
    composition_class = require(entry, 'composition_class', where)
    if composition_class not in ('C', 'S', 'M'):
        raise ConfigError(
            f'{where}.composition_class: expected C, S or M, got {composition_class!r}')

    sources = _check_sources(entry, where, [
        'gm' if 'gm' in entry else 'mass', 'mean_radius', 'rotation_period', 'bulk_density',
        'regolith', 'strata', 'composition', 'site', 'semi_major_axis_au'])
    return Body(
        key=key, name=str(require(entry, 'name', where)), composition_class=composition_class,
        gm=gm, mean_radius=radius,
        rotation_period=_number(entry, 'rotation_period', where),
        bulk_density=_number(entry, 'bulk_density', where),
        surface_gravity=stored_g, escape_velocity=stored_v,
        regolith=regolith, site=site, strata=column, composition=fractions, sources=sources,
        semi_major_axis=_number(entry, 'semi_major_axis_au', where, high=100.0))


def load_bodies(path):
    """Load every body preset in a bodies.yaml file, keyed by name."""
    data = load_yaml(path)
    entries = require(data, 'bodies', str(path))
    if not isinstance(entries, dict) or not entries:
        raise ConfigError(f'{path}: bodies must be a non-empty mapping')
    return {key: body_from_config(key, entry) for key, entry in entries.items()}


def load_body(path, key):
    """Load one body preset; the error lists the known presets when key is unknown."""
    bodies = load_bodies(path)
    if key not in bodies:
        raise ConfigError(f'unknown body {key!r}; known bodies: {", ".join(sorted(bodies))}')
    return bodies[key]
