"""Bodies the rig can work on: shape, gravity, spin, regolith, strata and composition.

Values come from config/bodies.yaml, where each one carries its source. Surface gravity
and escape speed are stored there for reference and checked here against GM and radius
(g = GM/R^2, v_esc = sqrt(2 GM/R), sphere of the mean radius), so a typo cannot slip in.
The work site's own gravity, slope, escape speed and ground velocity come from the body's
shape (core/models/shape.py: sphere, triaxial ellipsoid or polyhedron, uniform density) and its
spin, at the site's latitude and longitude.
"""

from dataclasses import dataclass, field, replace
from functools import cached_property
import math
import os

import numpy as np

from spacemine_ros.core.config import ConfigError, load_yaml, require
from spacemine_ros.core.models.conveying import LaunchSite
from spacemine_ros.core.models.drilling import Stratum, StrataColumn
from spacemine_ros.core.models.shape import Ellipsoid, load_obj, Polyhedron, site_gravity, Sphere

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

    latitude: float  # rad, planetocentric
    substrate: str  # 'rock' (a boulder or bedrock) or 'regolith'
    anchor_type: str = 'microspine'  # the anchor design the rig is fitted with here
    longitude: float = 0.0  # rad, east, from the body's long axis (x)
    heading: float = 0.0  # rad, the rig's x axis from local east toward north


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

    shape: object = None  # core.models.shape Sphere, Ellipsoid or Polyhedron (None: sphere)

    @property
    def spin_rate(self):
        """Angular speed of the body's rotation [rad/s]."""
        return 2.0 * math.pi / self.rotation_period

    @cached_property
    def figure(self):
        """The body's shape (a sphere of the mean radius unless one is given)."""
        return self.shape or Sphere(self.gm, self.mean_radius)

    def site_gravity(self, latitude=None, longitude=None):
        """Return the SiteGravity of the work site (or of another latitude, longitude) [rad]."""
        if latitude is None and longitude is None:
            return self._site_gravity
        return site_gravity(self.figure, self.spin_rate,
                            self.site.latitude if latitude is None else latitude,
                            self.site.longitude if longitude is None else longitude)

    @cached_property
    def _site_gravity(self):
        return site_gravity(self.figure, self.spin_rate, self.site.latitude,
                            self.site.longitude)

    def rig_frame(self, site):
        """Rows x, y, z of the rig's frame in the body frame (z the ground's normal)."""
        east, north, up = site.local_frame()
        heading = self.site.heading
        return np.array([math.cos(heading) * east + math.sin(heading) * north,
                         -math.sin(heading) * east + math.cos(heading) * north, up])

    def gravity_vector(self, latitude=None, longitude=None):
        """Effective gravity at the site in the rig's frame (z up from the ground) [m/s^2].

        The body's attraction plus the centrifugal acceleration of the spin, which points
        away from the spin axis. On a sphere its vertical part reduces gravity by
        w^2 R cos^2(lat) and its horizontal part points toward the equator; on other
        shapes the ground's own slope tilts it further.
        """
        site = self.site_gravity(latitude, longitude)
        return self.rig_frame(site) @ site.effective

    def effective_gravity(self, latitude=None, longitude=None):
        """Magnitude of the effective gravity at the site [m/s^2]."""
        return float(np.linalg.norm(self.site_gravity(latitude, longitude).effective))

    def launch_site(self):
        """Return the LaunchSite of the work site: its escape speed, the ground's velocity."""
        site = self.site_gravity()
        return LaunchSite(site.escape_speed,
                          tuple(float(v) for v in self.rig_frame(site) @ site.ground_velocity))


def _number(entry, key, where, low=0.0, high=math.inf, exclusive_low=True):
    return _checked(require(entry, key, where), f'{where}.{key}', low, high, exclusive_low)


def _checked(value, where, low=0.0, high=math.inf, exclusive_low=True):
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f'{where}: expected a number, got {value!r}') from None
    if not math.isfinite(number) or number < low or number > high or (
            exclusive_low and number == low):
        bound = '>' if exclusive_low else '>='
        raise ConfigError(f'{where}: {number!r} out of range ({bound} {low:g}, <= {high:g})')
    return number


def _check_sources(entry, where, keys):
    sources = entry.get('sources')
    if not isinstance(sources, dict):
        raise ConfigError(f'{where}: missing a sources mapping (every value needs its source)')
    missing = [key for key in keys if not sources.get(key)]
    if missing:
        raise ConfigError(f'{where}: no source given for {", ".join(missing)}')
    return dict(sources)


def body_from_config(key, entry, base_dir='.'):
    """Build a Body from one entry of bodies.yaml; raise ConfigError if anything is wrong.

    base_dir: where files the entry names (a shape file) are looked up.
    """
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
        anchor_type=str(require(site_entry, 'anchor_type', f'{where}.site')),
        longitude=math.radians(_checked(site_entry.get('longitude_deg', 0.0),
                                        f'{where}.site.longitude_deg', -360.0, 360.0, False)),
        heading=math.radians(_checked(site_entry.get('heading_deg', 0.0),
                                      f'{where}.site.heading_deg', -360.0, 360.0, False)))

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

    shape = _shape(entry.get('shape'), f'{where}.shape', gm, radius, base_dir)

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
        semi_major_axis=_number(entry, 'semi_major_axis_au', where, high=100.0),
        shape=shape)


def _shape(entry, where, gm, radius, base_dir):
    """Build the body's shape from its `shape` entry (none: a sphere of the mean radius).

    ellipsoid: `dimensions` [m], the body's extents along its long, intermediate and
    short axes; the ellipsoid keeps their proportions and is scaled to the volume of the
    mean-radius sphere (so it holds the body's mass at its bulk density). polyhedron: an
    OBJ `file` (relative to the bodies file) in `units` (m or km), centred on the centre
    of mass.
    """
    if entry is None:
        return None
    if not isinstance(entry, dict):
        raise ConfigError(f'{where}: expected a mapping')
    model = entry.get('model')
    try:
        if model == 'ellipsoid':
            dimensions = entry.get('dimensions')
            if not isinstance(dimensions, list) or len(dimensions) != 3:
                raise ConfigError(f'{where}.dimensions: expected three extents [m]')
            extents = [_checked(d, f'{where}.dimensions') for d in dimensions]
            if extents != sorted(extents, reverse=True):
                raise ConfigError(f'{where}.dimensions: give the long axis first and the '
                                  f'short axis last, got {extents}')
            scale = radius / math.prod(e / 2.0 for e in extents) ** (1.0 / 3.0)
            return Ellipsoid(gm, *(scale * e / 2.0 for e in extents))
        if model == 'polyhedron':
            path = str(require(entry, 'file', where))
            units = entry.get('units', 'm')
            if units not in ('m', 'km'):
                raise ConfigError(f'{where}.units: expected m or km, got {units!r}')
            vertices, faces = load_obj(os.path.join(base_dir, path))
            return Polyhedron(gm, vertices * (1000.0 if units == 'km' else 1.0), faces)
    except (OSError, ValueError) as error:
        raise ConfigError(f'{where}: {error}') from None
    raise ConfigError(f'{where}.model: expected ellipsoid or polyhedron, got {model!r}')


def load_bodies(path):
    """Load every body preset in a bodies.yaml file, keyed by name."""
    data = load_yaml(path)
    entries = require(data, 'bodies', str(path))
    if not isinstance(entries, dict) or not entries:
        raise ConfigError(f'{path}: bodies must be a non-empty mapping')
    base_dir = os.path.dirname(os.path.abspath(str(path)))
    return {key: body_from_config(key, entry, base_dir) for key, entry in entries.items()}


def parse_site(text):
    """Return (latitude, longitude) [deg] of a site given as 'LAT,LON' in degrees.

    ConfigError with the reason if it is not two finite numbers within range.
    """
    parts = [part.strip() for part in str(text).split(',')]
    if len(parts) != 2:
        raise ConfigError(f'site {text!r}: expected LAT,LON in degrees, e.g. 20,45')
    latitude = _checked(parts[0], f'site {text!r}: latitude', -90.0, 90.0, False)
    longitude = _checked(parts[1], f'site {text!r}: longitude', -360.0, 360.0, False)
    return latitude, longitude


def load_body(path, key, site=''):
    """Load one body preset; the error lists the known presets when key is unknown.

    A key that is no preset of the file may name an asteroid of the catalogue beside it
    (targets.yaml: '2008EV5', '2008 EV5', 'Didymos'): its preset is built from the
    catalogue (planning.presets; what it assumes in body.sources['assumed']).
    site: 'LAT,LON' [deg] moves the work site there ('' keeps the preset's); its
    substrate and anchor design stay the preset's.
    """
    bodies = load_bodies(path)
    if key in bodies:
        body = bodies[key]
    else:
        body = _catalogue_body(path, key, bodies)
    if site:
        latitude, longitude = parse_site(site)
        body = replace(body, site=replace(body.site, latitude=math.radians(latitude),
                                          longitude=math.radians(longitude)))
    return body


CATALOGUE_FILE = 'targets.yaml'  # the NEA catalogue, beside the bodies file


def _catalogue_body(path, key, bodies):
    """Build the body of a catalogue asteroid named by key (ConfigError if none)."""
    catalogue_path = os.path.join(os.path.dirname(os.path.abspath(str(path))), CATALOGUE_FILE)
    known = f'known bodies: {", ".join(sorted(bodies))}'
    if not os.path.exists(catalogue_path):
        raise ConfigError(f'unknown body {key!r}; {known}')
    # The planning layer builds on this module: imported here, not at the top.
    from spacemine_ros.planning.catalogue import find_target, load_catalogue
    from spacemine_ros.planning.presets import catalogue_body
    catalogue = load_catalogue(catalogue_path)
    try:
        target = find_target(catalogue, key)
    except KeyError:
        raise ConfigError(f'unknown body {key!r}; {known}, or an asteroid of '
                          f'{catalogue_path} ({", ".join(sorted(catalogue))})') from None
    return catalogue_body(target, path)
