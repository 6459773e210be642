"""Rank near-Earth asteroids by what a rig would bring back (spacemine-targets).

Each target's terms, every one shown in the table:

- accessibility: the Shoemaker-Helin Δv from LEO, and the best two-body rendezvous of a
  launch window (porkchop(): departure date, time of flight, C3, arrival v_inf, Δv);
- anchoring: which anchor designs of config/anchors.yaml hold on rock and in regolith at
  the body's gravity and spin (core.models.anchors), from its catalogue body preset;
- yield: the product the rig's recipes make from its class of rock (water from C, metal
  from S and M), per kg excavated, and per rig-year: measured by a headless shift on the
  body (its gravity, spin, regolith and its distance from the Sun for the solar power),
  repeated back to back through the year;
- delivered per tonne launched: the product of a rig's service life brought back to
  Earth, per tonne put in LEO to send the rig there (the rocket equation both ways).

A target scores zero, and says why, when no anchor design holds there, when no preset
can be built for it (unknown class or size), or when its shift brings nothing back.
Pure Python (the shifts run in worker processes), no ROS.
"""

from dataclasses import dataclass, field, replace
import hashlib
import json
import math
import os

import numpy as np

from spacemine_ros.core.config import ConfigError
from spacemine_ros.core.models.anchors import site_capacities
from spacemine_ros.planning.accessibility import porkchop, shoemaker_helin
from spacemine_ros.planning.orbits import DAY

G0 = 9.80665  # m/s^2, standard gravity (rocket equation)
PROOF_FRACTION = 0.8  # as choose_anchor(): an anchor is proof-tested at 0.8 x capacity
PRELOAD = 5.0  # N, the anchoring controller's preload (config/rig.yaml)
YEAR = 365.25 * 86400.0  # s


@dataclass(frozen=True)
class Economics:
    """What turns a yield into product delivered per tonne launched (all stated)."""

    isp: float = 320.0  # s: storable bipropellant, both ways (assumed)
    service_years: float = 5.0  # of work at the body (assumed)


@dataclass
class Row:
    """A target's terms (SI; None: not known); reason says why a score is zero."""

    key: str
    name: str
    family: str = None
    spectral_class: str = None
    diameter: float = None  # m
    rotation_h: float = None
    gravity: float = None  # m/s^2, effective at the equator
    sh_delta_v: float = None  # m/s
    group: str = ''
    departure: float = None  # JD of the best transfer
    time_of_flight: float = None  # s
    c3: float = None  # m^2/s^2
    arrival_v_inf: float = None  # m/s
    transfer_delta_v: float = None  # m/s
    anchors_rock: list = field(default_factory=list)
    anchors_regolith: list = field(default_factory=list)
    product: str = ''
    yield_per_kg: float = None  # kg product per kg excavated
    per_rig_year: float = None  # kg
    rig_mass: float = None  # kg, the simulated rig's (its shift's)
    delivered_per_tonne: float = 0.0  # kg per tonne launched to LEO
    assumed: list = field(default_factory=list)
    reason: str = ''

    @property
    def score(self):
        """What the ranking sorts by: kg delivered per tonne launched (0 with a reason)."""
        return self.delivered_per_tonne if not self.reason else 0.0


def accessibility(row, target, departures, times_of_flight):
    """Fill the Shoemaker-Helin and best-rendezvous terms of a row; return the Porkchop."""
    elements = target.elements
    estimate = shoemaker_helin(elements.a, elements.e, elements.i)
    row.sh_delta_v, row.group = estimate.delta_v, estimate.group
    grid = porkchop(elements, departures, times_of_flight)
    best = grid.best()
    if best is not None:
        departure, flight, delta_v = best
        d = int(np.argmin(np.abs(grid.departures - departure)))
        t = int(np.argmin(np.abs(grid.times_of_flight - flight)))
        row.departure, row.time_of_flight, row.transfer_delta_v = departure, flight, delta_v
        row.c3, row.arrival_v_inf = float(grid.c3[d, t]), float(grid.arrival_v_inf[d, t])
    return grid


def anchoring(row, body, anchor_types):
    """Fill the anchor designs that hold on rock and in regolith at the body's equator.

    Where the spin outweighs gravity there, no loose regolith stays on the ground: only
    rock can hold an anchor.
    """
    gravity = body.effective_gravity()
    outward = body.spin_rate ** 2 * body.mean_radius >= body.surface_gravity
    row.gravity = -gravity if outward else gravity
    for substrate, names in (('rock', row.anchors_rock), ('regolith', row.anchors_regolith)):
        if substrate == 'regolith' and outward:
            continue
        probe = replace(body, site=replace(body.site, substrate=substrate))
        for name, capacity in sorted(site_capacities(anchor_types, probe).items()):
            if PROOF_FRACTION * capacity > PRELOAD:
                names.append(f'{name} {capacity:.3g} N')
    if not row.anchors_rock and not row.anchors_regolith:
        row.reason = ('no anchor design holds there (rock or regolith at '
                      f'{abs(row.gravity):.2g} m/s^2)')


def delivered_per_tonne(row, economics):
    """Return the kg brought back per tonne launched to LEO over a rig's service.

    Out: LEO to the body with the best transfer's Δv, the rig's mass grown by
    exp(Δv / (Isp g0)). Back: the product leaves the body with the transfer's arrival
    v_inf (a return symmetric to the outbound arc, captured at Earth by the atmosphere),
    keeping exp(-v_inf / (Isp g0)) of its mass.
    """
    if row.per_rig_year is None or row.transfer_delta_v is None or not row.rig_mass:
        return 0.0
    exhaust = economics.isp * G0
    launched = row.rig_mass * math.exp(row.transfer_delta_v / exhaust) / 1000.0  # t
    returned = row.per_rig_year * economics.service_years * math.exp(
        -row.arrival_v_inf / exhaust)
    return returned / launched


def shift_yield(body_key, plan, wall_limit, bodies_file=None):
    """Run a headless shift on a body (preset or catalogue asteroid); return its figures.

    A worker process's job. bodies_file: the presets (the catalogue beside it names the
    asteroids; None: the package's). rig_mass_kg: the simulated rig's mass (the tonne
    launched is counted from it).
    """
    from spacemine_ros.headless import Shift
    overrides = {'rig_sim': {'bodies_file': str(bodies_file)}} if bodies_file else None
    try:
        with Shift(body=body_key, plan=plan, overrides=overrides) as shift:
            figures = shift.run(wall_limit=wall_limit)
            figures['rig_mass_kg'] = float(shift.world.momentum()[0])
    except (ConfigError, ValueError) as error:
        return {'result': 'failed', 'reason': str(error)}
    return figures


# The shift figures the ranking keeps (and caches).
SHIFT_FIGURES = ('result', 'reason', 'volatiles_kg', 'products_kg', 'mass_excavated_kg',
                 'sim_time_s', 'rig_mass_kg')


def model_fingerprint(extra_files=()):
    """Return a digest of what a shift's yield depends on besides its body.

    The package's Python sources and its config files (the models, the rig, the recipes,
    the plans) and any extra files (the bodies file the presets come from): a change to
    any of them makes every cached yield stale. A target's own entry is the cache's key.
    """
    import spacemine_ros
    from spacemine_ros.paths import share_path
    digest = hashlib.sha256()
    roots = (os.path.dirname(spacemine_ros.__file__), share_path('config'))
    files = sorted(os.path.join(folder, name) for root in roots
                   for folder, _, names in os.walk(root) for name in names
                   if name.endswith(('.py', '.yaml', '.obj')))
    for path in [*files, *extra_files]:
        digest.update(path.encode())
        with open(path, 'rb') as stream:
            digest.update(stream.read())
    return digest.hexdigest()


class YieldCache:
    """Shift figures per body, kept as JSON files in a directory.

    A body's entry is found again only for the same target (every figure of its catalogue
    entry), plan and model fingerprint; anything else runs its shift again.
    """

    def __init__(self, directory, fingerprint):
        self.directory, self.fingerprint = directory, fingerprint

    def _path(self, target, plan):
        key = hashlib.sha256(f'{self.fingerprint}|{plan}|{target!r}'.encode()).hexdigest()
        return os.path.join(self.directory, f'{target.key}-{key[:24]}.json')

    def get(self, target, plan):
        """Return the cached figures of a target's shift, or None."""
        try:
            with open(self._path(target, plan), encoding='utf-8') as stream:
                figures = json.load(stream)
        except (OSError, ValueError):
            return None
        return figures if isinstance(figures, dict) else None

    def put(self, target, plan, figures):
        """Keep a shift's figures (written atomically; a failed write is no error)."""
        path = self._path(target, plan)
        kept = {name: figures.get(name) for name in SHIFT_FIGURES}
        try:
            os.makedirs(self.directory, exist_ok=True)
            temporary = f'{path}.{os.getpid()}.tmp'
            with open(temporary, 'w', encoding='utf-8') as stream:
                json.dump(kept, stream)
            os.replace(temporary, path)
        except OSError:
            pass


def product_terms(row, figures, family):
    """Fill the yield terms from a headless shift's figures."""
    # The smelter's books: metal tapped (products) and volatiles released (the water of
    # hydrated C-type minerals with their organics: the condenser's charge).
    wanted = 'volatiles' if family == 'C' else 'metal'
    made = float(figures.get('volatiles_kg' if family == 'C' else 'products_kg') or 0.0)
    row.product = wanted
    excavated = float(figures.get('mass_excavated_kg') or 0.0)
    sim_time = float(figures.get('sim_time_s') or 0.0)
    if figures.get('result') != 'completed':
        row.reason = f'its shift did not complete: {figures.get("reason") or "no reason"}'
        return
    if made <= 0.0 or sim_time <= 0.0:
        row.reason = f'its shift made no {wanted}'
        return
    row.yield_per_kg = made / excavated if excavated > 0.0 else None
    row.per_rig_year = made * YEAR / sim_time
    row.rig_mass = figures.get('rig_mass_kg')


def apply_filters(rows, classes=(), min_diameter=None, max_diameter=None, min_period_h=None,
                  max_delta_v=None):
    """Keep the rows that pass every filter given (classes: family or class labels)."""
    kept = []
    for row in rows:
        if classes and row.family not in classes and row.spectral_class not in classes:
            continue
        if min_diameter is not None and (row.diameter is None or row.diameter < min_diameter):
            continue
        if max_diameter is not None and (row.diameter is None or row.diameter > max_diameter):
            continue
        if min_period_h is not None and (row.rotation_h is None or row.rotation_h < min_period_h):
            continue
        cost = row.transfer_delta_v if row.transfer_delta_v is not None else row.sh_delta_v
        if max_delta_v is not None and (cost is None or cost > max_delta_v):
            continue
        kept.append(row)
    return kept


def ranked(rows):
    """Rows best first: score, then the cheaper transfer."""
    return sorted(rows, key=lambda r: (-r.score, r.transfer_delta_v if r.transfer_delta_v
                                       is not None else math.inf))


__all__ = ['accessibility', 'anchoring', 'apply_filters', 'ConfigError', 'DAY',
           'delivered_per_tonne', 'Economics', 'model_fingerprint', 'product_terms', 'ranked',
           'Row', 'shift_yield', 'YieldCache']
