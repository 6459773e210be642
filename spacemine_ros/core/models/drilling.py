"""Rotary drilling physics: strata, the drag-bit model and the bit-rock process.

Bit-rock interaction follows the cutting regime of Detournay & Defourny (1992), "A
phenomenological model for the drilling action of drag bits", Int. J. Rock Mech. Min.
Sci. 29(1): for a bit of radius a cutting a depth d per revolution in rock of intrinsic
specific energy e (about the rock's uniaxial compressive strength, Richard et al. 2012,
Int. J. Rock Mech. Min. Sci. 49) and cutter force ratio z:

    thrust W = z e a d,        torque T = e a^2 d / 2,        ROP = d w / (2 pi)

so thrust, torque, spindle speed w and rate of penetration are coupled, and the specific
energy of Teale (1965), E = W/A + T w / (A ROP), equals e + W/A.

The depth of cut is bounded by the bit's geometry: each of the n blades cuts d/n per
revolution and no more than its cutters stand out of the bit body (the exposure h), so
d <= n h. Past the thrust that reaches it, W* = z e a n h, the bit body bears on the
rock: the extra thrust buys no penetration, only frictional contact torque
mu gamma a (W - W*) / 2 (Detournay, Richard & Shepherd 2008, "Drilling response of drag
bits: theory and experiment", Int. J. Rock Mech. Min. Sci. 45: the contact term of
their phase II/III response, mu the bit-rock friction coefficient, gamma the bit's
geometry factor, about 1 for a flat-faced bit).
"""

from dataclasses import dataclass, field
import math

from spacemine_ros.core.validation import non_negative, positive


@dataclass(frozen=True)
class Stratum:
    """A layer between two depths below the surface, with its drilling properties."""

    name: str
    top: float  # m below the surface
    bottom: float  # m
    specific_energy: float  # intrinsic specific energy e [Pa = J/m^3]
    cutting_ratio: float  # z, normal to tangential cutter force [-]
    density: float  # bulk density of the layer [kg/m^3]
    wedge_torque: float = 0.0  # extra torque while a clast wedges the bit [N m]
    wedge_clears: bool = True  # a back-off dislodges the clast


class StrataColumn:
    """Contiguous strata from the surface down; looks up the layer at a depth."""

    def __init__(self, strata):
        strata = sorted(strata, key=lambda s: s.top)
        if not strata:
            raise ValueError('at least one stratum is required')
        if strata[0].top != 0.0:
            raise ValueError(f'the first stratum must start at the surface, not {strata[0].top} m')
        for upper, lower in zip(strata, strata[1:]):
            if abs(upper.bottom - lower.top) > 1e-9:
                raise ValueError(
                    f'strata {upper.name!r} and {lower.name!r} leave a gap or overlap '
                    f'({upper.bottom} m vs {lower.top} m)')
        for stratum in strata:
            if stratum.bottom <= stratum.top:
                raise ValueError(f'stratum {stratum.name!r} has bottom above top')
        self.strata = tuple(strata)

    @property
    def depth(self):
        """Depth of the bottom of the deepest stratum [m]."""
        return self.strata[-1].bottom

    def at(self, depth):
        """Return the stratum at depth (the lower one on a boundary)."""
        depth = non_negative('depth', depth, 'm')
        for stratum in self.strata:
            if depth < stratum.bottom:
                return stratum
        raise ValueError(f'depth {depth:.3f} m is below the known strata ({self.depth:.3f} m)')


@dataclass(frozen=True)
class DragBit:
    """Drag bit in the Detournay-Defourny cutting regime, its depth of cut bounded.

    blades and cutter_exposure bound the depth cut per revolution (blades x exposure);
    contact_friction and contact_gamma give the torque of the thrust the bit body bears.
    """

    radius: float  # m
    blades: int = 2
    cutter_exposure: float = 0.003  # m the cutters stand out of the bit body
    contact_friction: float = 0.6  # bit body on rock
    contact_gamma: float = 1.0  # bit geometry factor of the contact torque

    def __post_init__(self):
        positive('radius', self.radius, 'm')
        positive('blades', self.blades)
        positive('cutter_exposure', self.cutter_exposure, 'm')
        non_negative('contact_friction', self.contact_friction)
        positive('contact_gamma', self.contact_gamma)

    @property
    def area(self):
        """Hole cross-section [m^2]."""
        return math.pi * self.radius ** 2

    @property
    def max_depth_of_cut(self):
        """Deepest cut per revolution the cutters can take [m]: blades x exposure."""
        return self.blades * self.cutter_exposure

    def full_cut_thrust(self, stratum):
        """Thrust [N] at which the cutters are fully engaged: W* = z e a n h."""
        return (stratum.cutting_ratio * stratum.specific_energy * self.radius
                * self.max_depth_of_cut)

    def depth_of_cut(self, thrust, stratum):
        """Depth cut per revolution [m] under thrust W [N] (at most blades x exposure)."""
        return min(max(thrust, 0.0) / (stratum.cutting_ratio * stratum.specific_energy
                                       * self.radius), self.max_depth_of_cut)

    def torque(self, thrust, stratum):
        """Rock torque [N m] under thrust W [N]: cutting a W_c / (2 z), plus the contact.

        W_c is the thrust the cutters take (up to W*); the rest bears on the bit body
        and adds mu gamma a (W - W*) / 2.
        """
        thrust = max(thrust, 0.0)
        cutting = min(thrust, self.full_cut_thrust(stratum))
        return (self.radius * cutting / (2.0 * stratum.cutting_ratio)
                + self.contact_friction * self.contact_gamma * self.radius
                * (thrust - cutting) / 2.0)

    def rate_of_penetration(self, thrust, spindle_speed, stratum):
        """Rate of penetration [m/s] at thrust W [N] and spindle speed w [rad/s]."""
        return self.depth_of_cut(thrust, stratum) * max(spindle_speed, 0.0) / (2.0 * math.pi)

    def thrust_for_rate(self, rate, spindle_speed, stratum):
        """Thrust [N] that gives rate of penetration rate [m/s] at spindle speed w.

        inf if the rate needs a deeper cut than the cutters can take at that speed.
        """
        if spindle_speed <= 0.0:
            return math.inf if rate > 0.0 else 0.0
        depth = 2.0 * math.pi * rate / spindle_speed
        if depth > self.max_depth_of_cut * (1.0 + 1e-12):
            return math.inf
        return stratum.cutting_ratio * stratum.specific_energy * self.radius * depth


def teale_specific_energy(thrust, torque, spindle_speed, rate, area):
    """Mechanical specific energy (Teale 1965) [J/m^3]; None when not penetrating."""
    if rate <= 0.0 or area <= 0.0:
        return None
    return thrust / area + torque * spindle_speed / (area * rate)


@dataclass
class BitLoad:
    """What the bit-rock contact did during one step."""

    thrust: float = 0.0  # N, compressive force of the rock on the bit
    torque: float = 0.0  # N m, rock's resisting torque
    spindle_speed: float = 0.0  # rad/s actually turned
    rate_of_penetration: float = 0.0  # m/s
    feed_advance: float = 0.0  # m the feed moved this step (negative: retract)
    in_contact: bool = False
    stalled: bool = False
    wedged: bool = False


@dataclass
class DrillingProcess:
    """The hole and the bit in it: turns drive commands and bit position into loads.

    The feed drive is a force-limited velocity drive: it moves at the commanded feed
    speed unless the rock resists with more than the thrust limit. The spindle motor
    turns at the commanded speed unless the rock's torque exceeds its limit, when it
    stalls. A stratum with a wedge torque models a clast that jams the bit until it is
    backed off by clear_distance.
    """

    strata: StrataColumn
    bit: DragBit
    clear_distance: float = 0.005  # m of back-off that dislodges a wedged clast
    hole_depth: float = 0.0  # m, deepest point cut
    excavated_volume: float = 0.0  # m^3
    excavated_mass: float = 0.0  # kg
    wedged: bool = False
    _cleared: set = field(default_factory=set)

    def step(self, dt, tip_depth, feed_speed, thrust_limit, spindle_speed, torque_limit,
             feed_travel_left=math.inf):
        """Advance the process by dt and return the BitLoad.

        tip_depth is the bit tip's depth below the surface [m] at the start of the step
        (it changes with the rig's own motion), feed_speed the commanded feed speed
        [m/s, positive advances], thrust_limit the feed drive's force limit [N],
        spindle_speed the commanded speed [rad/s], torque_limit the motor's torque limit
        [N m], feed_travel_left how far the feed can still extend [m].
        """
        dt = positive('dt', dt, 's')
        thrust_limit = non_negative('thrust_limit', thrust_limit, 'N')
        torque_limit = non_negative('torque_limit', torque_limit, 'N m')
        gap = self.hole_depth - tip_depth  # > 0: bit above the hole bottom
        load = BitLoad()
        if gap >= self.clear_distance and self.wedged:
            stratum = self.strata.at(self.hole_depth)
            self.wedged = False
            if stratum.wedge_clears:
                self._cleared.add(stratum.name)
        if feed_speed <= 0.0 or gap > feed_speed * dt or feed_travel_left <= max(gap, 0.0):
            # Free travel (or retracting): no rock contact this step.
            load.feed_advance = min(feed_speed * dt, feed_travel_left)
            load.spindle_speed = max(spindle_speed, 0.0)
            load.wedged = self.wedged
            return load

        stratum = self.strata.at(self.hole_depth)
        if stratum.wedge_torque > 0.0 and stratum.name not in self._cleared:
            self.wedged = True
        thrust = thrust_limit
        speed = max(spindle_speed, 0.0)
        rate = self.bit.rate_of_penetration(thrust, speed, stratum)
        if rate > feed_speed:
            rate = feed_speed
            thrust = self.bit.thrust_for_rate(rate, speed, stratum)
        torque = self.bit.torque(thrust, stratum) + (stratum.wedge_torque if self.wedged else 0.0)
        stalled = False
        if speed > 0.0 and torque > torque_limit:
            stalled, speed, rate, torque = True, 0.0, 0.0, torque_limit
        elif speed == 0.0:
            rate, torque = 0.0, 0.0
        # The feed keeps the tip on the hole bottom: close the gap, then follow the cut.
        travel = gap + rate * dt
        if travel > feed_travel_left:
            rate = max((feed_travel_left - gap) / dt, 0.0)
            travel = feed_travel_left
        cut = rate * dt
        self.hole_depth += cut
        self.excavated_volume += self.bit.area * cut
        self.excavated_mass += self.bit.area * cut * stratum.density
        load.thrust, load.torque, load.spindle_speed = thrust, torque, speed
        load.rate_of_penetration, load.feed_advance = rate, travel
        load.in_contact, load.stalled, load.wedged = True, stalled, self.wedged
        return load
