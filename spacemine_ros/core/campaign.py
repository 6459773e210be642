"""Campaigns: many seeded shifts of one rig, what is uncertain drawn for each (no rclpy).

A campaign file (config/campaigns/*.yaml) names a base shift (body, site, rig, anchor
type, plan), the inputs that vary and how (distributions), how many samples and a seed:

    campaign:
      name: bennu_anchor_spread
      seed: 20261207
      samples: 200
      base: {body: bennu, plan: bennu_shift}
      vary:
        rig_sim.capacity_spread: {uniform: [0.0, 0.2]}
        regolith.cohesion: {lognormal: {median: 100.0, sigma: 0.5}}
        site.latitude: {uniform: [-60.0, 60.0]}

Sample i's inputs follow from the seed and i alone (numpy's SeedSequence of both), so any
sample can be drawn again, in any order, on any worker. What can vary (INPUTS):

- `site`: a work site 'LAT,LON' [deg] (choice or grid); or `site.latitude` and
  `site.longitude` [deg] drawn apart (the other from the base's site, else 0);
- `regolith.density`, `regolith.cohesion`, `regolith.friction_angle`: the site's bulk
  regolith [kg/m^3, Pa, rad];
- `<node>.<parameter>`: a parameter of a node as in config/rig.yaml, e.g.
  `rig_sim.capacity_spread` (the anchors' capacity spread), `rig_sim.seed`,
  `anchoring.safety_factor`; checked against the nodes' parameters when the campaign is
  set up (headless.Shift refuses one it does not know).

Distributions: `uniform: [low, high]`, `normal: {mean, sd}`, `lognormal: {median,
sigma}` (sigma of the log), `choice: [values]` (equally likely), `grid: [values]`
(sample i takes value i mod len, for sweeps). A bad file is refused in one line naming
the entry, before anything runs.

Faults (`faults:`, a list) are drawn per sample from their own streams: each entry has a
kind, a probability that the sample gets it (default 1), an instant `at` [sim s from the
shift's start] and what its kind needs, each a number or a distribution:

- `estop`: the operator latches the e-stop at `at` and, `duration` [s] later, resets it
  and resumes the plan;
- `brownout`: the power bus gives nothing for `duration` [s] (a supply fault);
- `anchor_slip`: anchor `anchor` (its index) keeps only `fraction` of its holding
  capacity from `at` on (the regolith around it gave way);
- `sensor_silent`: the measurements of controller `node` stop coming for `duration` [s];
- `device_silent`: the field-bus devices of controller `node` stop answering for
  `duration` [s]: its measurements stop and its commands no longer reach the drives,
  which stop on their own command timeout, as a drive does when its bus goes quiet;
- `node_restart`: controller `node` dies at `at` and is back `duration` [s] later,
  taking up what it keeps across a restart.

    faults:
      - {kind: estop, probability: 0.5, at: {uniform: [10, 300]}, duration: 5}
      - {kind: node_restart, node: {choice: [drill, scraper]}, at: {uniform: [10, 300]},
         duration: {uniform: [1, 20]}}
"""

import hashlib
import json
import math
import os
from typing import Annotated, Any, Dict, List, Literal, Union

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator, \
    ValidationError

from spacemine_ros.core.config import ConfigError
from spacemine_ros.core.models.body import parse_site

REGOLITH_FIELDS = ('density', 'cohesion', 'friction_angle')
SITE_FIELDS = {'latitude': (-90.0, 90.0), 'longitude': (-360.0, 360.0)}  # deg
MAX_SAMPLES = 10_000_000


class _Strict(BaseModel):
    model_config = ConfigDict(extra='forbid', frozen=True)


class Uniform(_Strict):
    """Uniform between low and high (low < high)."""

    uniform: Annotated[List[float], Field(min_length=2, max_length=2)]

    @field_validator('uniform')
    @classmethod
    def _ordered(cls, bounds):
        low, high = bounds
        if not (math.isfinite(low) and math.isfinite(high) and low < high):
            raise ValueError(f'uniform needs finite low < high, got {low}, {high}')
        return bounds

    def draw(self, rng, index):
        return float(rng.uniform(*self.uniform))


class NormalSpec(_Strict):
    mean: float = Field(allow_inf_nan=False)
    sd: float = Field(gt=0.0, allow_inf_nan=False)


class Normal(_Strict):
    """Normal with a mean and a standard deviation (> 0)."""

    normal: NormalSpec

    def draw(self, rng, index):
        return float(rng.normal(self.normal.mean, self.normal.sd))


class LogNormalSpec(_Strict):
    median: float = Field(gt=0.0, allow_inf_nan=False)
    sigma: float = Field(gt=0.0, le=5.0, allow_inf_nan=False)


class LogNormal(_Strict):
    """Log-normal by its median (> 0) and the standard deviation of its log (> 0)."""

    lognormal: LogNormalSpec

    def draw(self, rng, index):
        return float(self.lognormal.median * math.exp(rng.normal(0.0, self.lognormal.sigma)))


Value = Union[float, str, bool]


class Choice(_Strict):
    """One of the values, equally likely."""

    choice: Annotated[List[Value], Field(min_length=1)]

    def draw(self, rng, index):
        return self.choice[int(rng.integers(len(self.choice)))]


class Grid(_Strict):
    """Sample i takes value i mod len (a sweep)."""

    grid: Annotated[List[Value], Field(min_length=1)]

    def draw(self, rng, index):
        return self.grid[index % len(self.grid)]


KINDS = {'uniform': Uniform, 'normal': Normal, 'lognormal': LogNormal, 'choice': Choice,
         'grid': Grid}


def distribution_from(key, entry):
    """Return the distribution an entry of vary names ({kind: its arguments})."""
    if not isinstance(entry, dict) or len(entry) != 1 or next(iter(entry)) not in KINDS:
        raise ValueError(f'{key}: a distribution is one of {", ".join(KINDS)} '
                         f'(e.g. {{uniform: [0.0, 1.0]}}), got {entry!r}')
    if isinstance(entry, BaseModel):
        return entry
    kind = next(iter(entry))
    try:
        return KINDS[kind](**entry)
    except ValidationError as error:
        first = error.errors()[0]
        where = '.'.join(str(p) for p in first['loc'])
        raise ValueError(f'{key}.{where}: {first["msg"].removeprefix("Value error, ")}') \
            from None


FAULT_ARGUMENTS = {  # kind: what it needs besides at (and probability)
    'estop': ('duration',), 'brownout': ('duration',), 'anchor_slip': ('anchor', 'fraction'),
    'sensor_silent': ('node', 'duration'), 'device_silent': ('node', 'duration'),
    'node_restart': ('node', 'duration')}
MAX_FAULT_TIME = 1e7  # s: later than any shift


def _fixed_or_drawn(key, value):
    """Return a distribution for a fault's argument: a number or string stands for itself."""
    if isinstance(value, (int, float, str)) and not isinstance(value, bool):
        return Choice(choice=[value])
    return distribution_from(key, value)


class FaultSpec(_Strict):
    """One fault a sample may get: its kind, chance, instant and arguments."""

    kind: Literal['estop', 'brownout', 'anchor_slip', 'sensor_silent', 'device_silent',
                  'node_restart']
    probability: float = Field(default=1.0, ge=0.0, le=1.0, allow_inf_nan=False)
    at: Any
    duration: Any = None
    node: Any = None
    anchor: Any = None
    fraction: Any = None

    @model_validator(mode='after')
    def _arguments(self):
        needed = FAULT_ARGUMENTS[self.kind]
        for name in ('duration', 'node', 'anchor', 'fraction'):
            given = getattr(self, name) is not None
            if given != (name in needed):
                raise ValueError(f'the {self.kind} fault {"takes no" if given else "needs"} '
                                 f'{name} (it takes at{"".join(", " + n for n in needed)})')
        for name in ('at', *needed):
            object.__setattr__(self, name, _fixed_or_drawn(f'{self.kind}.{name}',
                                                           getattr(self, name)))
        return self


class Base(_Strict):
    """The shift every sample starts from (spacemine-shift's options)."""

    body: str = 'bennu'
    site: str = ''
    rig: str = ''
    anchor_type: str = ''
    plan: str = 'bennu_shift'

    @field_validator('site')
    @classmethod
    def _a_site(cls, site):
        if site:
            parse_site(site)  # ConfigError is a ValueError: pydantic reports it
        return site


class Campaign(_Strict):
    """A campaign: a base shift, what varies, how many samples, the seed."""

    name: str = Field(min_length=1, pattern=r'^[A-Za-z0-9_.-]+$')
    seed: int = Field(ge=0)
    samples: int = Field(gt=0, le=MAX_SAMPLES)
    base: Base = Base()
    vary: Dict[str, Any] = {}
    faults: List[FaultSpec] = []
    wall_limit: float = Field(default=600.0, gt=0.0, allow_inf_nan=False)

    @field_validator('vary')
    @classmethod
    def _known_inputs(cls, vary):
        vary = {key: distribution_from(key, entry) for key, entry in vary.items()}
        for key in vary:
            if key == 'site':
                continue
            part, _, name = key.partition('.')
            if not part or not name or '.' in name:
                raise ValueError(f'{key!r}: an input is site, regolith.<field> or '
                                 '<node>.<parameter>')
            if part == 'regolith' and name not in REGOLITH_FIELDS:
                raise ValueError(f'{key!r}: regolith has {", ".join(REGOLITH_FIELDS)}')
            if part == 'site' and name not in SITE_FIELDS:
                raise ValueError(f'{key!r}: a site has {", ".join(SITE_FIELDS)}')
        if 'site' in vary and any(key.startswith('site.') for key in vary):
            raise ValueError('site and site.<field> cannot both vary')
        return vary

    @model_validator(mode='after')
    def _draws_are_values(self):
        for key, distribution in self.vary.items():
            numeric = isinstance(distribution, (Uniform, Normal, LogNormal))
            if key == 'site':
                if numeric:
                    raise ValueError("site: a site is drawn by choice or grid of 'LAT,LON'")
                for value in distribution.choice if isinstance(distribution, Choice) \
                        else distribution.grid:
                    parse_site(value)
            if key.startswith('regolith.'):
                values = distribution.choice if isinstance(distribution, Choice) else \
                    distribution.grid if isinstance(distribution, Grid) else []
                if any(isinstance(v, (str, bool)) or not v > 0.0 for v in values):
                    raise ValueError(f'{key}: regolith values must be numbers above 0')
        return self

    def fingerprint(self):
        """Return a digest of what decides the samples (a resume must match it)."""
        text = json.dumps(self.model_dump(mode='json', exclude={'samples', 'wall_limit'}),
                          sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def load_campaign(path):
    """Load and check a campaign file; ConfigError in one line naming the entry."""
    try:
        with open(path, encoding='utf-8') as stream:
            data = yaml.safe_load(stream)
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f'{path}: {error}'.splitlines()[0]) from None
    return campaign_from(data, path)


def campaign_from(data, where='campaign'):
    """Return the Campaign of a parsed file's contents; ConfigError if it is not one."""
    if not isinstance(data, dict) or not isinstance(data.get('campaign'), dict):
        raise ConfigError(f'{where}: expected a mapping with a campaign: section')
    try:
        return Campaign(**data['campaign'])
    except ValidationError as error:
        first = error.errors()[0]
        location = ''.join(f'.{p}' for p in first['loc'][:1])  # vary's own say the key
        message = first['msg'].removeprefix('Value error, ')
        raise ConfigError(f'{where}: campaign{location}: {message}') from None
    except TypeError as error:
        raise ConfigError(f'{where}: campaign: {error}') from None


def draw(campaign, index):
    """Return sample `index`'s inputs {key: value}, in the campaign's order of keys.

    Each input has its own stream (the key's position), so adding an input to the end
    of vary leaves the others' draws as they were.
    """
    if not 0 <= index < campaign.samples:
        raise ValueError(f'sample {index} is not within 0..{campaign.samples - 1}')
    values = {}
    for position, (key, distribution) in enumerate(campaign.vary.items()):
        rng = np.random.default_rng(np.random.SeedSequence([campaign.seed, index, position]))
        value = distribution.draw(rng, index)
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f'campaign.vary.{key}: sample {index} drew {value}')
        if key.startswith('regolith.') and not value > 0.0:
            raise ConfigError(f'campaign.vary.{key}: sample {index} drew {value:g}; a '
                              'regolith property must stay above 0 (narrow the spread)')
        if key.startswith('site.'):
            low, high = SITE_FIELDS[key.split('.', 1)[1]]
            if isinstance(value, (str, bool)) or not low <= value <= high:
                raise ConfigError(f'campaign.vary.{key}: sample {index} drew {value}; '
                                  f'it must be within {low:g}..{high:g} deg')
        values[key] = value
    return values


FAULT_STREAM = 1_000_000  # fault streams are apart from the inputs' (key positions)


def draw_faults(campaign, index):
    """Return sample `index`'s faults [{kind, at, ...}] by instant (ConfigError if bad).

    Each entry of faults has its own stream, so whether and when one strikes does not
    depend on the others.
    """
    faults = []
    for position, spec in enumerate(campaign.faults):
        rng = np.random.default_rng(np.random.SeedSequence(
            [campaign.seed, index, FAULT_STREAM + position]))
        if rng.random() >= spec.probability:
            continue
        fault = {'kind': spec.kind}
        for name in ('at', *FAULT_ARGUMENTS[spec.kind]):
            fault[name] = _checked_fault_value(spec.kind, name, getattr(spec, name).draw(
                rng, index), index)
        faults.append(fault)
    return sorted(faults, key=lambda f: f['at'])


def _checked_fault_value(kind, name, value, index):
    where = f'campaign.faults.{kind}.{name}: sample {index} drew {value!r}'
    if name == 'node':
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{where}; a node is a controller's name")
        return value
    if isinstance(value, (str, bool)) or not math.isfinite(value):
        raise ConfigError(f'{where}; it must be a number')
    if name == 'anchor':
        if value != int(value) or value < 0:
            raise ConfigError(f'{where}; an anchor is an index from 0')
        return int(value)
    if name == 'fraction' and not 0.0 <= value <= 1.0:
        raise ConfigError(f'{where}; a fraction is within 0..1')
    if name in ('at', 'duration') and not 0.0 <= value <= MAX_FAULT_TIME:
        raise ConfigError(f'{where}; it must be within 0..{MAX_FAULT_TIME:g} s')
    return float(value)


def draw_all(campaign):
    """Return every sample's inputs, or ConfigError for the first a run could not take.

    The faults are drawn too, so a bad one is refused before anything runs.
    """
    drawn = []
    for index in range(campaign.samples):
        drawn.append(draw(campaign, index))
        draw_faults(campaign, index)
    return drawn


class ShiftInputs(_Strict):
    """What a headless shift takes for one sample: headless.Shift(**inputs.model_dump())."""

    body: str
    site: str
    rig: str
    anchor_type: str
    plan: str
    regolith: Dict[str, float]
    overrides: Dict[str, Dict[str, Any]]


def shift_inputs(campaign, values):
    """Return the ShiftInputs of a sample's drawn values on the campaign's base."""
    base = campaign.base
    regolith, overrides, site = {}, {}, base.site
    latitude, longitude = parse_site(base.site) if base.site else (0.0, 0.0)
    for key, value in values.items():
        if key == 'site':
            site = str(value)
        elif key == 'site.latitude':
            latitude, site = float(value), None
        elif key == 'site.longitude':
            longitude, site = float(value), None
        elif key.startswith('regolith.'):
            regolith[key.split('.', 1)[1]] = float(value)
        else:
            node, name = key.split('.', 1)
            if node == 'rig_sim' and name == 'seed':
                value = int(value)
            overrides.setdefault(node, {})[name] = value
    if site is None:
        site = f'{latitude:.6f},{longitude:.6f}'
    return ShiftInputs(body=base.body, site=site, rig=base.rig,
                       anchor_type=base.anchor_type, plan=resolve_plan(base.plan),
                       regolith=regolith, overrides=overrides)


def resolve_plan(plan):
    """Return the plan as the shift takes it: a path as given, else a name."""
    return os.path.abspath(plan) if os.sep in plan or plan.endswith(('.yaml', '.yml')) \
        else plan


__all__ = ['Campaign', 'campaign_from', 'draw', 'draw_all', 'draw_faults', 'FaultSpec',
           'load_campaign', 'shift_inputs', 'ShiftInputs']
