"""Anchor designs and their holding capacity.

Capacity models (uplift, per anchor):
- microspine gripper: holds on rock asperities only; on rock its capacity is the
  gripper's tested capacity (150-180 N per gripper on rock, Parness et al. 2013, J. Field
  Robotics 30(6)); loose regolith has no asperities to grip.
- screw (helical) anchor: breakout of the soil above the helix, Q = A (c Fc + s_v Fq),
  with s_v = rho g H the overburden at the helix, Fc the cohesion breakout factor (<= 9)
  and Fq the overburden factor (Das & Shukla 2013, Earth Anchors, 2nd ed., ch. 3). In
  micro-gravity s_v vanishes and cohesion carries the load; on Bennu (cohesion near 0,
  Walsh et al. 2022) a screw holds almost nothing. A screw cannot enter rock.
- harpoon: shaft friction, Q = pi d L (c + K s_v tan(d_f)) in regolith (Das & Shukla 2013,
  pile uplift), or its tested rock capacity when fired into rock.
"""

from dataclasses import dataclass
import math

from spacemine_ros.core.config import ConfigError, load_yaml, require
from spacemine_ros.core.validation import in_range, non_negative, positive


@dataclass(frozen=True)
class AnchorType:
    """An anchor design and the parameters of its capacity model."""

    name: str
    model: str  # 'microspine', 'screw' or 'harpoon'
    embed_depth: float  # m the anchor drive moves it into the ground (or spines engage)
    drive_speed: float  # m/s of the anchor drive
    rock_capacity: float = 0.0  # N, tested capacity on rock
    diameter: float = 0.0  # m, helix (screw) or shaft (harpoon)
    breakout_factor_cohesion: float = 9.0  # Fc, screw
    earth_pressure_coefficient: float = 1.0  # K, harpoon shaft

    def __post_init__(self):
        """Reject models and dimensions that make no sense."""
        if self.model not in ('microspine', 'screw', 'harpoon'):
            raise ValueError(f'anchor {self.name}: unknown model {self.model!r}')
        positive(f'anchor {self.name} embed_depth', self.embed_depth, 'm')
        positive(f'anchor {self.name} drive_speed', self.drive_speed, 'm/s')
        non_negative(f'anchor {self.name} rock_capacity', self.rock_capacity, 'N')
        non_negative(f'anchor {self.name} diameter', self.diameter, 'm')
        if self.model in ('screw', 'harpoon') and self.diameter <= 0.0:
            raise ValueError(f'anchor {self.name}: a {self.model} needs a diameter > 0')


def _overburden_factor(friction_angle, relative_depth):
    # Meyerhof-Adams type breakout factor, growing with depth/diameter and friction.
    return 1.0 + 2.0 * relative_depth * math.tan(friction_angle)


def anchor_capacity(anchor, substrate, regolith, gravity, embed_depth):
    """Uplift capacity of one anchor [N] at embed_depth [m] in the given substrate.

    regolith is a core.models.body.Regolith, gravity the magnitude of effective gravity [m/s^2].
    """
    gravity = non_negative('gravity', gravity, 'm/s^2')
    depth = in_range('embed_depth', embed_depth, 0.0, anchor.embed_depth * 1.0001, 'm')
    engaged = depth / anchor.embed_depth
    if substrate == 'rock':
        if anchor.model == 'screw':
            return 0.0
        return anchor.rock_capacity * engaged
    if substrate != 'regolith':
        raise ValueError(f'unknown substrate {substrate!r}')
    overburden = regolith.density * gravity * depth
    if anchor.model == 'microspine':
        return 0.0
    if anchor.model == 'screw':
        area = math.pi * anchor.diameter ** 2 / 4.0
        breakout = _overburden_factor(regolith.friction_angle, depth / anchor.diameter)
        return area * (regolith.cohesion * anchor.breakout_factor_cohesion
                       + overburden * breakout)
    shaft = math.pi * anchor.diameter * depth
    mean_overburden = overburden / 2.0
    return shaft * (regolith.cohesion + anchor.earth_pressure_coefficient * mean_overburden
                    * math.tan(regolith.friction_angle))


def site_capacities(anchor_types, body):
    """Return {design: nominal capacity of one fully embedded anchor [N]} at the body's site."""
    return {name: anchor_capacity(design, body.site.substrate, body.regolith,
                                  body.effective_gravity(), design.embed_depth)
            for name, design in anchor_types.items()}


def choose_anchor(anchor_types, body, requested='', proof_fraction=0.8, preload=5.0):
    """Return (name, design, nominal capacity [N]) of the anchors for the body's site.

    requested '' means the site's own design (body.site.anchor_type). ConfigError if the
    design is unknown, or cannot be proof-tested above the preload there; the message
    names the designs that would hold.
    """
    name = requested or body.site.anchor_type
    if name not in anchor_types:
        raise ConfigError(f'unknown anchor_type {name!r}; known: '
                          f'{", ".join(sorted(anchor_types))}')
    capacities = site_capacities(anchor_types, body)
    if proof_fraction * capacities[name] > preload:
        return name, anchor_types[name], capacities[name]
    holding = sorted(((c, n) for n, c in capacities.items()
                      if proof_fraction * c > preload), reverse=True)
    would = ('; ' + ', '.join(f'{n} ({c:.3g} N)' for c, n in holding) + ' would hold'
             if holding else '; no anchor design of config/anchors.yaml holds here')
    raise ConfigError(f'{name} anchors hold only {capacities[name]:.3g} N each in '
                      f'{body.site.substrate} on {body.name}, not enough to proof-test '
                      f'({proof_fraction:g} x capacity must exceed the {preload:g} N preload): '
                      f'the rig cannot be anchored here{would}')


def load_anchor_types(path):
    """Load the anchor designs of an anchors.yaml file, keyed by name."""
    entries = require(load_yaml(path), 'anchor_types', str(path))
    if not isinstance(entries, dict) or not entries:
        raise ConfigError(f'{path}: anchor_types must be a non-empty mapping')
    types = {}
    for name, entry in entries.items():
        if not isinstance(entry, dict):
            raise ConfigError(f'{path}: anchor_types.{name} must be a mapping')
        try:
            types[name] = AnchorType(name=name, **entry)
        except TypeError as error:
            raise ConfigError(f'{path}: anchor_types.{name}: {error}') from None
        except ValueError as error:
            raise ConfigError(f'{path}: {error}') from None
    return types
