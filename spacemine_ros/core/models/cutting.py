"""Cutting force on a flat scraper blade: the fundamental earth-moving equation.

Two-dimensional limit equilibrium of the soil wedge ahead of a wide blade (Reece 1964,
Proc. Inst. Mech. Eng. 179; McKyes 1985, "Soil Cutting and Tillage", Elsevier, ch. 4).
The wedge between the blade (rake angle alpha from the horizontal) and a planar failure
surface (angle beta) is held by: its weight, cohesion c along the failure plane,
adhesion c_a along the blade, soil friction (phi) on the failure plane, soil-tool
friction (delta) on the blade, and the inertial force of accelerating the soil that
crosses the failure plane to the blade's speed v. Solving the two force balances for
the blade force P and minimising over beta gives McKyes' form

    P = w (gamma d^2 N_gamma + c d N_c + c_a d N_ca + rho v^2 d N_a),

with gamma = rho g the unit weight, so the gravity term scales with the body's gravity and
vanishes as g -> 0; in micro-gravity cohesion and inertia dominate. The horizontal
(draught) force is P sin(alpha + delta) + c_a w d cot(alpha) and the vertical force on
the blade is P cos(alpha + delta) - c_a w d (pushing the blade down when positive).
"""

from dataclasses import dataclass
import functools
import math

import numpy as np

from spacemine_ros.core.validation import in_range, non_negative, positive

_BETAS = np.radians(np.linspace(1.0, 89.0, 881))  # failure-plane angles searched


@dataclass(frozen=True)
class Blade:
    """Flat blade geometry and soil-tool interface."""

    width: float = 0.4  # m
    rake_angle: float = math.radians(45.0)  # alpha, from the horizontal
    interface_friction_angle: float = math.radians(25.0)  # delta, soil on steel
    adhesion: float = 0.0  # c_a [Pa]

    def validate(self):
        """Raise ValueError if the geometry makes no sense."""
        positive('blade width', self.width, 'm')
        in_range('rake_angle', self.rake_angle, math.radians(5.0), math.radians(90.0), 'rad')
        in_range('interface_friction_angle', self.interface_friction_angle, 0.0,
                 math.radians(45.0), 'rad')
        non_negative('adhesion', self.adhesion, 'Pa')
        return self


@dataclass(frozen=True)
class CuttingForce:
    """Soil forces on the blade for one cut."""

    draught: float  # N, horizontal, opposing the blade's motion
    vertical: float  # N, downward on the blade when positive
    failure_angle: float  # rad, critical beta

    @property
    def magnitude(self):
        """Magnitude of the soil force on the blade [N]."""
        return math.hypot(self.draught, self.vertical)


def _wedge_factors(beta, alpha, delta, phi):
    """Return the blade force's factors per unit load on the wedge, for each beta.

    The wedge's two force balances are linear in its loads, so
    P = adhesion_force k_a + cohesion_force sin(beta) k_c + inertia sin(alpha + beta) k_i
    + weight_factor k_w, with the k depending on the angles only (see wedge_blade_force).
    """
    beta = np.asarray(beta, dtype=float)
    # Unit directions. Blade face from the tip upward, leaning back; its normal points
    # into the soil. Failure plane from the tip forward and up; its normal points into
    # the wedge. The soil slides up the blade and up the failure plane.
    blade_up = (-math.cos(alpha), math.sin(alpha))
    blade_normal = (math.sin(alpha), math.cos(alpha))
    p_dir = [math.cos(delta) * n - math.sin(delta) * u for n, u in zip(blade_normal, blade_up)]
    plane_up = (np.cos(beta), np.sin(beta))
    plane_normal = (-np.sin(beta), np.cos(beta))
    r_dir = [math.cos(phi) * n - math.sin(phi) * u for n, u in zip(plane_normal, plane_up)]
    # P p_dir + R r_dir + known = 0 (known: the loads' sum), solved for P by Cramer's rule:
    # P = (-known_x r_z + known_z r_x) / det; each load enters known along its direction.
    with np.errstate(divide='ignore', invalid='ignore'):  # degenerate wedges -> inf/nan
        det = p_dir[0] * r_dir[1] - p_dir[1] * r_dir[0]
        along_blade = (blade_up[0] * r_dir[1] - blade_up[1] * r_dir[0]) / det
        along_plane = (plane_up[0] * r_dir[1] - plane_up[1] * r_dir[0]) / det
        k_a = along_blade
        k_c = along_plane / np.sin(beta)
        k_i = along_plane * math.sin(alpha) / np.sin(alpha + beta)
        k_w = -r_dir[0] * (1.0 / math.tan(alpha) + 1.0 / np.tan(beta)) / 2.0 / det
    return k_a, k_c, k_i, k_w


@functools.lru_cache(maxsize=64)
def _searched_factors(alpha, delta, phi):
    """_wedge_factors over the searched failure planes (a blade and a soil: fixed)."""
    return _wedge_factors(_BETAS, alpha, delta, phi)


def _blade_force(factors, depth, speed, gravity, density, cohesion, blade):
    k_a, k_c, k_i, k_w = factors
    w, d = blade.width, depth
    with np.errstate(invalid='ignore'):  # inf factors of degenerate wedges times 0
        return (blade.adhesion * w * d / math.sin(blade.rake_angle) * k_a
                + cohesion * w * d * k_c + density * speed ** 2 * w * d * k_i
                + density * gravity * w * d * d * k_w)


def wedge_blade_force(beta, depth, speed, gravity, density, cohesion, friction_angle, blade):
    """Blade force P on the soil wedge for a failure-plane angle beta (vectorised) [N].

    Solves the horizontal and vertical balance of the wedge for P and R (the resultant on
    the failure plane). Frame: x along the blade's travel, z up. The wedge's loads: its
    weight rho g w d^2 (cot alpha + cot beta) / 2, cohesion c w d / sin(beta) along the
    failure plane, adhesion c_a w d / sin(alpha) along the blade, and the inertia of the
    soil crossing the failure plane brought to the blade's speed (McKyes 1985),
    rho v^2 w d sin(alpha) / sin(alpha + beta), along the plane too.
    """
    factors = _wedge_factors(beta, blade.rake_angle, blade.interface_friction_angle,
                             friction_angle)
    return _blade_force(factors, depth, speed, gravity, density, cohesion, blade)


def cutting_force(depth, speed, gravity, density, cohesion, friction_angle, blade):
    """Soil force on a blade cutting at depth [m] and speed [m/s] (critical failure plane).

    gravity [m/s^2] is the body's effective gravity, density [kg/m^3] the regolith bulk
    density, cohesion [Pa], friction_angle [rad].
    """
    non_negative('cut depth', depth, 'm')
    non_negative('blade speed', speed, 'm/s')
    non_negative('gravity', gravity, 'm/s^2')
    positive('density', density, 'kg/m^3')
    non_negative('cohesion', cohesion, 'Pa')
    in_range('friction_angle', friction_angle, 0.0, math.radians(70.0), 'rad')
    if depth == 0.0:
        return CuttingForce(0.0, 0.0, math.nan)
    alpha, delta = blade.rake_angle, blade.interface_friction_angle
    # The factors depend on the angles only: computed once per blade and soil.
    forces = _blade_force(_searched_factors(alpha, delta, float(friction_angle)), depth,
                          speed, gravity, density, cohesion, blade)
    # Only geometrically possible wedges (a blade force >= 0) count; the soil fails
    # on the plane that needs the least force.
    forces = np.where(np.isfinite(forces) & (forces >= 0.0), forces, np.inf)
    index = int(np.argmin(forces))
    blade_force = float(forces[index])
    adhesion = blade.adhesion * blade.width * depth
    draught = blade_force * math.sin(alpha + delta) + adhesion / math.tan(alpha)
    vertical = blade_force * math.cos(alpha + delta) - adhesion
    return CuttingForce(draught, vertical, float(_BETAS[index]))


def mckyes_factors(alpha, beta, phi, delta):
    """Return McKyes' closed-form N factors (N_gamma, N_c, N_ca, N_a) for a given beta.

    Used by the tests to check the wedge solution; the model minimises over beta itself.
    """
    denominator = math.cos(alpha + delta) + math.sin(alpha + delta) / math.tan(beta + phi)
    cot_a, cot_b, cot_bp = 1 / math.tan(alpha), 1 / math.tan(beta), 1 / math.tan(beta + phi)
    n_gamma = (cot_a + cot_b) / (2.0 * denominator)
    n_c = (1.0 + cot_b * cot_bp) / denominator
    n_ca = (1.0 - cot_a * cot_bp) / denominator
    n_a = (math.tan(beta) + cot_bp) / (denominator * (1.0 + math.tan(beta) * cot_a))
    return n_gamma, n_c, n_ca, n_a
