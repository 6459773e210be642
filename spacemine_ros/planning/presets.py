"""A body preset for any catalogue entry (spacemine-shift --body 2008EV5).

A target with a preset of config/bodies.yaml is that preset. Any other is built from
the preset of its composition family (its regolith, work site, strata and composition:
C from Bennu, S from Itokawa, M from Psyche) with its own size, spin, distance from the
Sun and, where measured, bulk density; what was not measured is assumed and said so
(Body.sources['assumed'], printed by spacemine-shift): the density from its family, the
diameter from H and the albedo (or the family's albedo), no spin if its period is unknown.
A target whose family is unknown (no spectral class, or an X class without an albedo) or
has no recipe (E types) gets no preset: its regolith and composition would be guesses.
"""

import copy
import math
import os

from spacemine_ros.core.config import ConfigError, load_yaml, require
from spacemine_ros.core.models.body import body_from_config, GRAVITATIONAL_CONSTANT
from spacemine_ros.planning.orbits import AU

# The preset each composition family borrows its regolith, site, strata and composition
# from, and the family's bulk density and albedo where the target's own are unknown:
# C: Bennu and Ryugu, 1.19 g/cm3 (Lauretta et al. 2019; Watanabe et al. 2019), albedo
# 0.06 (mean of C-complex NEAs, Thomas et al. 2011, AJ 142); S: rubble piles Itokawa
# 1.9 and Moshup 1.97 g/cm3 (Fujiwara et al. 2006; Ostro et al. 2006), albedo 0.26
# (Thomas et al. 2011); M: Psyche 4.17 g/cm3 (config/bodies.yaml), albedo 0.15 (Tholen
# M range 0.1-0.3).
TEMPLATES = {'C': ('bennu', 1190.0, 0.06), 'S': ('itokawa', 1900.0, 0.26),
             'M': ('psyche', 4170.0, 0.15)}
NO_SPIN_PERIOD = 1e9  # s: a spin this slow changes no force of the model
DIAMETER_CONSTANT = 1329e3  # m: D = 1329 km / sqrt(albedo) 10^(-H/5) (Pravec & Harris 2007)


def diameter_from_magnitude(absolute_magnitude, albedo):
    """Diameter [m] of a body of absolute magnitude H and geometric albedo."""
    if not 0.0 < albedo <= 1.0:
        raise ValueError(f'albedo {albedo!r} must be in (0, 1]')
    return DIAMETER_CONSTANT / math.sqrt(albedo) * 10.0 ** (-absolute_magnitude / 5.0)


def catalogue_entry(target, bodies_data):
    """Return (key, bodies.yaml-style entry, [assumption, ...]) for a catalogue Target.

    bodies_data: the parsed bodies.yaml. ConfigError (one line) if no preset can be built.
    """
    presets = require(bodies_data, 'bodies', 'bodies file')
    if target.preset:
        if target.preset not in presets:
            raise ConfigError(f'{target.key}: preset {target.preset!r} is not a body of the '
                              f'bodies file ({", ".join(sorted(presets))})')
        return target.preset, presets[target.preset], []
    family = target.family
    if family not in TEMPLATES:
        why = ('its spectral class is unknown' if target.spectral_class is None else
               f'no recipe models {target.spectral_class.value}-type regolith'
               if family == 'E' else
               f'{target.spectral_class.value} without an albedo could be E, M or P')
        raise ConfigError(f'no body preset for {target.name}: {why}, so its regolith and '
                          'composition would be guesses')
    template, family_density, family_albedo = TEMPLATES[family]
    if template not in presets:
        raise ConfigError(f'no body preset for {target.name}: the bodies file has no '
                          f'{template!r} to take the {family} family from')
    entry = copy.deepcopy(presets[template])
    assumed = [f'regolith, work site, strata and composition of {template} '
               f'({family} family, {target.spectral_class.value} type)']
    if target.bulk_density is not None:
        density = target.bulk_density.value
    else:
        density = family_density
        assumed.append(f'bulk density {density:g} kg/m^3 ({family} family)')
    if target.diameter is not None:
        diameter = target.diameter.value
    else:
        if target.albedo is not None:
            albedo, basis = target.albedo.value, 'its albedo'
        else:
            albedo, basis = family_albedo, f'the {family} family albedo {family_albedo:g}'
        diameter = diameter_from_magnitude(target.absolute_magnitude.value, albedo) \
            if target.absolute_magnitude is not None else None
        if diameter is None:
            raise ConfigError(f'no body preset for {target.name}: neither its diameter nor '
                              'its absolute magnitude is known')
        assumed.append(f'diameter {diameter:.0f} m from H {target.absolute_magnitude.value:g} '
                       f'and {basis}')
    if target.rotation_period is not None:
        period = target.rotation_period.value
    else:
        period = NO_SPIN_PERIOD
        assumed.append('no spin (rotation period unknown)')
    radius = diameter / 2.0
    mass = density * 4.0 / 3.0 * math.pi * radius ** 3
    gm = GRAVITATIONAL_CONSTANT * mass
    entry.update(name=target.name, mass=mass, mean_radius=radius, rotation_period=period,
                 bulk_density=density, surface_gravity=gm / radius ** 2,
                 escape_velocity=math.sqrt(2.0 * gm / radius),
                 semi_major_axis_au=target.elements.a / AU)
    entry.pop('gm', None)
    entry.pop('shape', None)  # a sphere of the mean radius: no shape was measured
    assumed.append('a sphere of the mean radius (no shape model)')
    template_sources = dict(entry.get('sources') or {})
    sources = {name: f'as {template}: {template_sources.get(name, "config/bodies.yaml")}'
               for name in ('regolith', 'strata', 'composition', 'site')}
    sources.update(
        semi_major_axis_au=target.orbit_source,
        mean_radius=target.diameter.source if target.diameter is not None else
        'assumed: from H and albedo, D = 1329 km / sqrt(albedo) 10^(-H/5) (Pravec & Harris 2007)',
        rotation_period=target.rotation_period.source if target.rotation_period is not None
        else 'assumed: no spin (the period is unknown)',
        bulk_density=target.bulk_density.source if target.bulk_density is not None else
        f'assumed: the {family} family density (planning/presets.py TEMPLATES)',
        mass='bulk density times the volume of the sphere of the mean radius')
    entry['sources'] = sources
    return target.key, entry, assumed


def catalogue_body(target, bodies_path):
    """Return the core.models.body.Body for a catalogue Target (see catalogue_entry()).

    Its sources['assumed'] lists what was assumed (empty for a preset of its own).
    """
    key, entry, assumed = catalogue_entry(target, load_yaml(bodies_path))
    body = body_from_config(key, entry, os.path.dirname(os.path.abspath(str(bodies_path))))
    body.sources['assumed'] = list(assumed)
    return body
