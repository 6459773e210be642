"""A shift's figures, as the operator follows it, and its summary (no rclpy).

ShiftRecord collects what a shift's summary is made of while the shift runs: the peaks
from the backend's streams (every period: joint efforts, blade force, base position), the
controllers' states and figures, the rig's ledger and the furnace's trace. The graph's
operator node (spacemine_ros.shift) feeds it from topics, the headless engine
(spacemine_ros.headless) from the world's readings and the controllers; summary() turns
either into the same figures.
"""

from dataclasses import dataclass, field
import math
import sys

from spacemine_ros.core.control import states
from spacemine_ros.core.models.material_config import IN_TRANSIT

LEDGER_TOTALS = ('excavated', 'balance', 'drill', 'scraper', 'conveyor', 'separator',
                 'hopper_metal', 'hopper_silicate', 'furnace', 'products', 'slag', 'volatiles',
                 'lost')


@dataclass
class ShiftRecord:
    """What a shift's summary is made of, gathered while it runs."""

    anchoring: str  # controllers, by name
    drills: list
    smelter: str
    feed_joints: list  # the drills' feed joints (their effort is thrust)
    anchor_joints: list = field(default_factory=list)  # their effort is the axial load
    states: dict = field(default_factory=dict)  # controller -> its last state
    sim_time: float = 0.0
    max_depth: dict = field(default_factory=dict)  # drill -> deepest [m]
    drill_energy: dict = field(default_factory=dict)  # drill -> J into the rock
    safe_capacity: float = 0.0  # N, the anchors' latest
    batch_energy: float = 0.0  # J, the smelter's batch
    peak_thrust: float = 0.0  # N, all drills together
    peak_anchor_load: float = 0.0  # N, the most any one anchor carried
    capacity_at_peak: float = 0.0
    min_capacity_while_drilling: float = math.inf
    peak_blade_force: float = 0.0
    start_position: tuple = None
    max_displacement: float = 0.0
    ledger: dict = field(default_factory=lambda: dict.fromkeys(LEDGER_TOTALS, 0.0))
    setpoint: float = math.nan
    furnace_trace: list = field(default_factory=list)  # (time, K, setpoint, phase)

    @classmethod
    def for_rig(cls, rig):
        """Return an empty record for a rig (its rig file's controllers)."""
        drills = [s.controller for s in rig.by_kind('drill')]
        return cls(anchoring=rig.anchoring_controller, drills=drills,
                   smelter=rig.by_kind('furnace')[0].controller,
                   feed_joints=[s.joint('feed').name for s in rig.by_kind('drill')],
                   anchor_joints=[j.name for s in rig.by_kind('anchors')
                                  for j in s.role_joints('anchor')],
                   max_depth=dict.fromkeys(drills, 0.0), drill_energy=dict.fromkeys(drills, 0.0),
                   states={s.controller: '' for s in rig.subsystems.values()})

    def state(self, controller):
        """Return the last state a controller reported ('' before the first)."""
        return self.states.get(controller, '')

    def depth(self, drill, depth):
        """Note a drill's depth [m]."""
        self.max_depth[drill] = max(self.max_depth.get(drill, 0.0), depth)

    def joint_efforts(self, efforts):
        """Note one period's joint efforts {joint: N or N m}: thrust and anchor load peaks."""
        self.peak_anchor_load = max([self.peak_anchor_load] + [
            efforts[name] for name in self.anchor_joints
            if name in efforts and math.isfinite(efforts[name])])
        if not all(name in efforts for name in self.feed_joints):
            return
        thrust = sum(max(efforts[name], 0.0) for name in self.feed_joints)
        if thrust > self.peak_thrust:
            self.peak_thrust, self.capacity_at_peak = thrust, self.safe_capacity
        if any(self.state(d) == states.DRILLING for d in self.drills):
            self.min_capacity_while_drilling = min(self.min_capacity_while_drilling,
                                                   self.safe_capacity)

    def blade(self, force):
        """Note the soil's force on a blade [N] (x, y, z)."""
        self.peak_blade_force = max(self.peak_blade_force, math.sqrt(sum(f * f for f in force)))

    def base(self, time, position):
        """Note the rig base's position [m] at a period of the rig's clock [s]."""
        self.sim_time = time
        if self.start_position is None:
            self.start_position = tuple(position)
        self.max_displacement = max(self.max_displacement,
                                    math.dist(position, self.start_position))

    def furnace(self, time, temperature):
        """Note the furnace temperature [K] and the setpoint of the time, if a charge heats."""
        phase = self.state(self.smelter)
        if phase in states.FURNACE_HEATED:
            self.furnace_trace.append((time, temperature, self.setpoint, phase))


def summary(record, wall_seconds, goal_depth, result, reason):
    """Return the end-of-shift figures (result: completed, failed or interrupted)."""
    sim_time = record.sim_time
    ledger = record.ledger
    return {
        'result': result,
        'reason': reason,
        'goal_depth_m': goal_depth,
        'depth_reached_m': round(min(record.max_depth.values(), default=0.0), 4),
        'depth_reached_by_drill_m': {d: round(v, 4) for d, v in record.max_depth.items()},
        'sim_time_s': round(sim_time, 2),
        'wall_time_s': round(wall_seconds, 2),
        'real_time_factor': round(sim_time / wall_seconds, 2) if wall_seconds > 0 else None,
        'drill_energy_J': round(sum(record.drill_energy.values()), 1),
        'peak_thrust_N': round(record.peak_thrust, 1),
        'safe_capacity_at_peak_N': round(record.capacity_at_peak, 1),
        'peak_anchor_load_N': round(record.peak_anchor_load, 2),
        'peak_thrust_share_of_capacity': (round(record.peak_thrust / record.capacity_at_peak, 3)
                                          if record.capacity_at_peak > 0 else None),
        'max_rig_displacement_m': record.max_displacement,
        'anchoring_state': record.state(record.anchoring),
        'peak_blade_force_N': round(record.peak_blade_force, 2),
        'mass_excavated_kg': round(ledger['excavated'], 4),
        'mass_in_hoppers_kg': {name: round(ledger[name], 4)
                               for name in ('hopper_metal', 'hopper_silicate')},
        'mass_in_transit_kg': round(sum(ledger[name] for name in IN_TRANSIT), 4),
        'mass_lost_kg': round(ledger['lost'], 5),
        'ledger_balance_kg': ledger['balance'],
        **furnace_figures(record),
    }


def step_timeline(steps, sim_end, wall_end):
    """Return [{step, type, start_s, sim_s, wall_s}] of (number, type, sim, wall) starts.

    How long each step of the plan took on the rig's clock and on the wall's.
    """
    timeline = []
    for index, (number, kind, sim, wall) in enumerate(steps):
        next_sim, next_wall = (steps[index + 1][2:] if index + 1 < len(steps)
                               else (sim_end, wall_end))
        timeline.append({'step': number, 'type': kind, 'start_s': round(sim, 2),
                         'sim_s': round(next_sim - sim, 2), 'wall_s': round(next_wall - wall, 3)})
    return timeline


def site_figures(body, site=''):
    """Return the work site's gravity, slope, escape speed and ground speed (its shape).

    body: a core.models.body.Body, or the key of a body of the package's presets (or its
    asteroid catalogue), at site ('LAT,LON', '' the preset's).
    """
    if isinstance(body, str):
        from spacemine_ros.core.models.body import load_body
        from spacemine_ros.paths import share_path
        body = load_body(share_path('config', 'bodies.yaml'), body, site)
    where = body.site_gravity()
    return {'site_deg': [round(math.degrees(body.site.latitude), 3),
                         round(math.degrees(body.site.longitude), 3)],
            'site_gravity_m_s2': float(f'{body.effective_gravity():.4g}'),
            'site_slope_deg': round(math.degrees(where.slope), 2),
            'site_escape_speed_m_s': float(f'{where.escape_speed:.4g}'),
            'site_ground_speed_m_s': float(f'{float(math.hypot(*where.ground_velocity)):.4g}')}


def furnace_figures(record):
    """Products, energy per kg of product and the furnace temperature trace statistics."""
    ledger = record.ledger
    energy = record.batch_energy
    product = ledger['products'] + ledger['volatiles']
    trace = record.furnace_trace
    soak = [(t, temp, sp) for t, temp, sp, phase in trace if phase == states.FURNACE_SOAKING]
    ramp = [(t, temp, sp) for t, temp, sp, phase in trace if phase == states.FURNACE_HEATING]
    soak_setpoint = soak[0][2] if soak else math.nan
    return {
        'products_kg': round(ledger['products'], 4),
        'volatiles_kg': round(ledger['volatiles'], 4),
        'slag_kg': round(ledger['slag'], 4),
        'smelter_energy_J': round(energy, 0),
        'energy_per_kg_product_J': round(energy / product, 0) if product > 0 else None,
        'furnace_peak_K': round(max((temp for _, temp, _, _ in trace), default=math.nan), 1),
        'furnace_soak_setpoint_K': soak_setpoint,
        'furnace_soak_overshoot_K': round(max(temp - sp for _, temp, sp in soak), 2)
        if soak else None,
        'furnace_soak_mean_abs_error_K': round(sum(abs(temp - sp) for _, temp, sp in soak)
                                               / len(soak), 2) if soak else None,
        'furnace_ramp_max_lag_K': round(max(sp - temp for _, temp, sp in ramp), 1)
        if ramp else None,
        'furnace_trace_samples': len(trace),
    }


def print_summary(figures, stream=sys.stdout):
    """Print the summary as a short table."""
    rows = [
        ('result', figures['result'] + (f' ({figures["reason"]})' if figures['reason'] else '')),
    ]
    if 'site_deg' in figures:
        latitude, longitude = figures['site_deg']
        rows.append(('site', f'{latitude:g} deg, {longitude:g} deg: gravity '
                             f'{figures["site_gravity_m_s2"]:.3g} m/s^2 at a '
                             f'{figures["site_slope_deg"]:.1f} deg slope, escape speed '
                             f'{figures["site_escape_speed_m_s"]:.3g} m/s, ground moving at '
                             f'{figures["site_ground_speed_m_s"]:.3g} m/s'))
    rows += [
        ('depth reached', ', '.join(f'{drill} {depth:.3f} m' for drill, depth in
                                    figures['depth_reached_by_drill_m'].items())
         + f' of {figures["goal_depth_m"]:.3f} m'),
        ('sim time', f'{figures["sim_time_s"]:.1f} s'),
        ('wall time', f'{figures["wall_time_s"]:.1f} s (real-time factor '
                      f'{figures["real_time_factor"]})'),
        ('energy used by the drill', f'{figures["drill_energy_J"] / 1000:.2f} kJ'),
        ('peak thrust', f'{figures["peak_thrust_N"]:.1f} N vs safe anchor capacity '
                        f'{figures["safe_capacity_at_peak_N"]:.1f} N'),
        ('max rig displacement', f'{figures["max_rig_displacement_m"] * 1000:.3f} mm'),
        ('anchoring', figures['anchoring_state']),
        ('peak blade force', f'{figures["peak_blade_force_N"]:.2f} N'),
        ('mass excavated', f'{figures["mass_excavated_kg"]:.3f} kg'),
        ('mass in hoppers', ', '.join(f'{name} {mass:.3f} kg' for name, mass in
                                      figures['mass_in_hoppers_kg'].items())),
        ('mass still in transit', f'{figures["mass_in_transit_kg"]:.4f} kg'),
        ('mass lost to space', f'{figures["mass_lost_kg"]:.4f} kg'),
        ('ledger balance', f'{figures["ledger_balance_kg"]:.3g} kg (excavated minus every '
                           'account)'),
    ]
    if figures['furnace_trace_samples']:
        rows += [
            ('smelter products', f'metal {figures["products_kg"]:.3f} kg, volatiles '
                                 f'{figures["volatiles_kg"]:.3f} kg, slag '
                                 f'{figures["slag_kg"]:.3f} kg'),
            ('smelter energy', f'{figures["smelter_energy_J"] / 1e6:.2f} MJ'
                               + (f' ({figures["energy_per_kg_product_J"] / 1e6:.1f} MJ per kg of '
                                  'product)' if figures['energy_per_kg_product_J'] else '')),
            ('furnace', f'peak {figures["furnace_peak_K"]} K; soak at '
                        f'{figures["furnace_soak_setpoint_K"]} K: overshoot '
                        f'{figures["furnace_soak_overshoot_K"]} K, mean |error| '
                        f'{figures["furnace_soak_mean_abs_error_K"]} K; largest ramp lag '
                        f'{figures["furnace_ramp_max_lag_K"]} K'),
        ]
    width = max(len(name) for name, _ in rows)
    print('\nshift summary', file=stream)
    for name, value in rows:
        print(f'  {name:<{width}}  {value}', file=stream)
