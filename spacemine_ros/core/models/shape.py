"""Body shapes and the gravity at a work site: sphere, triaxial ellipsoid, polyhedron.

Every shape has uniform density (its mass over its volume) and the body spins about its
own +z axis. For a site given by planetocentric latitude and longitude, `site()` returns
the surface point, its outward normal, the attraction of the body there, the centrifugal
acceleration of the spin, the effective gravity and its slope from the surface normal,
the potential (for the escape speed from the site) and the ground's inertial velocity.

- Sphere: g = GM/r^2, U = -GM/r.
- Triaxial ellipsoid: the classical potential of a homogeneous ellipsoid (MacMillan 1930,
  The Theory of the Potential, ch. 2; Chandrasekhar 1969, Ellipsoidal Figures of
  Equilibrium, ch. 3), its integrals written as Carlson's symmetric elliptic integrals R_F
  and R_D (Carlson 1995, Numerical Algorithms 10; scipy.special.elliprf/elliprd). Exact at
  and outside the surface.
- Polyhedron: the constant-density polyhedron of Werner & Scheeres (1997, "Exterior
  gravitation of a polyhedron derived and compared with harmonic and mascon gravitation
  representations of asteroid 4769 Castalia", Celest. Mech. Dyn. Astron. 65): exact for
  the closed triangle mesh, with the sum of the faces' solid angles telling inside
  (4 pi) from outside (0).

Potentials here are negative (U = -GM/r for a sphere); accelerations in m/s^2.
No rclpy, no pybullet.
"""

from dataclasses import dataclass
import math

import numpy as np
from scipy.optimize import brentq
from scipy.special import elliprd, elliprf

from spacemine_ros.core.validation import positive

GRAVITATIONAL_CONSTANT = 6.67430e-11  # m^3 kg^-1 s^-2, CODATA 2018


def direction(latitude, longitude):
    """Return the unit vector of a planetocentric latitude, longitude [rad] (body frame)."""
    return np.array([math.cos(latitude) * math.cos(longitude),
                     math.cos(latitude) * math.sin(longitude), math.sin(latitude)])


class Sphere:
    """A homogeneous sphere."""

    kind = 'sphere'

    def __init__(self, gm, radius):
        self.gm = positive('gm', gm, 'm^3/s^2')
        self.radius = positive('radius', radius, 'm')

    def surface_point(self, unit):
        """Return (surface point along the unit direction, outward normal)."""
        return self.radius * unit, unit

    def potential(self, point):
        """Gravitational potential at a point on or outside the surface [J/kg]."""
        return -self.gm / max(float(np.linalg.norm(point)), self.radius)

    def acceleration(self, point):
        """Attraction at a point on or outside the surface [m/s^2]."""
        r = float(np.linalg.norm(point))
        if r < self.radius:  # inside: linear in r
            return -self.gm * np.asarray(point) / self.radius ** 3
        return -self.gm * np.asarray(point) / r ** 3


class Ellipsoid:
    """A homogeneous triaxial ellipsoid with semi-axes a, b, c along x, y, z [m]."""

    kind = 'ellipsoid'

    def __init__(self, gm, a, b, c):
        self.gm = positive('gm', gm, 'm^3/s^2')
        self.axes = np.array([positive('a', a, 'm'), positive('b', b, 'm'),
                              positive('c', c, 'm')])
        self.squares = self.axes ** 2

    @property
    def volume(self):
        """Volume [m^3]."""
        return 4.0 / 3.0 * math.pi * float(np.prod(self.axes))

    def surface_point(self, unit):
        """Return (surface point along the unit direction, outward normal)."""
        scale = 1.0 / math.sqrt(float(np.sum(unit ** 2 / self.squares)))
        point = scale * unit
        normal = point / self.squares
        return point, normal / np.linalg.norm(normal)

    def _kappa(self, point):
        """Return the ellipsoidal coordinate of a point: 0 on or inside, else the root."""
        squares = self.squares
        x2 = np.asarray(point) ** 2
        if float(np.sum(x2 / squares)) <= 1.0:
            return 0.0
        r2 = float(np.sum(x2))
        return brentq(lambda k: float(np.sum(x2 / (squares + k))) - 1.0, 0.0, r2,
                      xtol=1e-12 * r2, rtol=1e-14)

    def _integrals(self, kappa):
        a2, b2, c2 = self.squares + kappa
        # int_kappa^inf du / Delta(u) and int_kappa^inf du / ((s_i + u) Delta(u)).
        whole = 2.0 * elliprf(a2, b2, c2)
        parts = (2.0 / 3.0) * np.array([elliprd(b2, c2, a2), elliprd(a2, c2, b2),
                                        elliprd(a2, b2, c2)])
        return whole, parts

    def potential(self, point):
        """Gravitational potential at a point on or outside the surface [J/kg]."""
        whole, parts = self._integrals(self._kappa(point))
        x2 = np.asarray(point) ** 2
        # pi G rho abc = 3 GM / 4
        return -0.75 * self.gm * (whole - float(np.sum(x2 * parts)))

    def acceleration(self, point):
        """Attraction at a point on or outside the surface [m/s^2]."""
        _, parts = self._integrals(self._kappa(point))
        return -1.5 * self.gm * np.asarray(point) * parts


class Polyhedron:
    """A homogeneous closed triangle mesh (Werner & Scheeres 1997).

    vertices: (n, 3) [m] in the body frame, origin at the centre of mass; faces: (m, 3)
    vertex indices, counter-clockwise seen from outside. gm sets the density.
    """

    kind = 'polyhedron'

    def __init__(self, gm, vertices, faces):
        self.gm = positive('gm', gm, 'm^3/s^2')
        vertices = np.asarray(vertices, dtype=float)
        faces = np.asarray(faces, dtype=int)
        if vertices.ndim != 2 or vertices.shape[1] != 3 or faces.ndim != 2 or \
                faces.shape[1] != 3 or len(faces) < 4:
            raise ValueError('a polyhedron needs (n, 3) vertices and at least 4 triangles')
        if faces.min() < 0 or faces.max() >= len(vertices):
            raise ValueError('a face names a vertex that does not exist')
        if not np.all(np.isfinite(vertices)):
            raise ValueError('vertices must be finite numbers')
        self.vertices, self.faces = vertices, faces
        corners = vertices[faces]  # (m, 3, 3)
        volume = float(np.sum(np.einsum('ij,ij->i', corners[:, 0],
                                        np.cross(corners[:, 1], corners[:, 2])))) / 6.0
        if volume <= 0.0:
            raise ValueError('faces must be ordered counter-clockwise seen from outside '
                             f'(signed volume {volume:g} m^3)')
        self.volume = volume
        self.density_g = self.gm / volume  # G rho
        normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
        self.face_normals = normals / np.linalg.norm(normals, axis=1)[:, None]
        self.face_dyads = np.einsum('fi,fj->fij', self.face_normals, self.face_normals)
        # Each edge once, with the dyad E_e = n_A n_A12^T + n_B n_B21^T of its two faces.
        edges = {}
        for face, (i, j, k) in enumerate(faces):
            for start, end in ((i, j), (j, k), (k, i)):
                edges.setdefault((min(start, end), max(start, end)), []).append(
                    (face, start, end))
        if any(len(sides) != 2 for sides in edges.values()):
            raise ValueError('the mesh is not closed: every edge must join exactly two faces')
        starts, ends, dyads = [], [], []
        for (a, b), sides in edges.items():
            dyad = np.zeros((3, 3))
            for face, start, end in sides:
                along = vertices[end] - vertices[start]
                outward = np.cross(along, self.face_normals[face])
                outward /= np.linalg.norm(outward)
                dyad += np.outer(self.face_normals[face], outward)
            starts.append(a)
            ends.append(b)
            dyads.append(dyad)
        self.edge_start = vertices[starts]
        self.edge_end = vertices[ends]
        self.edge_length = np.linalg.norm(self.edge_end - self.edge_start, axis=1)
        self.edge_dyads = np.array(dyads)

    def _terms(self, point):
        point = np.asarray(point, dtype=float)
        # Edges: r_e from the field point to the edge's start; L_e its log factor.
        to_start = self.edge_start - point
        a = np.linalg.norm(to_start, axis=1)
        b = np.linalg.norm(self.edge_end - point, axis=1)
        length = self.edge_length
        log = np.log((a + b + length) / (a + b - length))
        edge_vectors = np.einsum('eij,ej->ei', self.edge_dyads, to_start)
        # Faces: solid angle seen from the point (van Oosterom & Strackee 1983).
        r = self.vertices[self.faces] - point  # (m, 3, 3)
        r1, r2, r3 = r[:, 0], r[:, 1], r[:, 2]
        n1, n2, n3 = (np.linalg.norm(v, axis=1) for v in (r1, r2, r3))
        numerator = np.einsum('ij,ij->i', r1, np.cross(r2, r3))
        denominator = (n1 * n2 * n3 + n1 * np.einsum('ij,ij->i', r2, r3)
                       + n2 * np.einsum('ij,ij->i', r3, r1)
                       + n3 * np.einsum('ij,ij->i', r1, r2))
        omega = 2.0 * np.arctan2(numerator, denominator)
        face_vectors = np.einsum('fij,fj->fi', self.face_dyads, r1)
        return to_start, log, edge_vectors, r1, omega, face_vectors

    def potential(self, point):
        """Gravitational potential at a point [J/kg]."""
        to_start, log, edge_vectors, r1, omega, face_vectors = self._terms(point)
        positive_u = 0.5 * self.density_g * (
            float(np.sum(np.einsum('ei,ei->e', to_start, edge_vectors) * log))
            - float(np.sum(np.einsum('fi,fi->f', r1, face_vectors) * omega)))
        return -positive_u

    def acceleration(self, point):
        """Attraction at a point [m/s^2]."""
        _, log, edge_vectors, _, omega, face_vectors = self._terms(point)
        return self.density_g * (-np.sum(edge_vectors * log[:, None], axis=0)
                                 + np.sum(face_vectors * omega[:, None], axis=0))

    def solid_angle(self, point):
        """Sum of the faces' solid angles seen from the point: 4 pi inside, 0 outside."""
        return float(np.sum(self._terms(point)[4]))

    def surface_point(self, unit):
        """Return (where the ray from the origin along unit leaves the mesh, face normal)."""
        corners = self.vertices[self.faces]
        edge1 = corners[:, 1] - corners[:, 0]
        edge2 = corners[:, 2] - corners[:, 0]
        p = np.cross(unit, edge2)
        det = np.einsum('ij,ij->i', edge1, p)
        ok = np.abs(det) > 1e-15
        inverse = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
        t_vec = -corners[:, 0]
        u = np.einsum('ij,ij->i', t_vec, p) * inverse
        q = np.cross(t_vec, edge1)
        v = (q @ unit) * inverse
        t = np.einsum('ij,ij->i', edge2, q) * inverse
        hit = ok & (u >= -1e-12) & (v >= -1e-12) & (u + v <= 1 + 1e-12) & (t > 0.0)
        if not np.any(hit):
            raise ValueError('the direction does not leave the mesh (is the origin inside?)')
        index = int(np.argmax(np.where(hit, t, -np.inf)))  # the outermost crossing
        return t[index] * unit, self.face_normals[index]


def load_obj(path):
    """Read the vertices and triangles of a Wavefront OBJ file (v and f lines) [file units]."""
    vertices, faces = [], []
    with open(path, encoding='utf-8') as stream:
        for number, line in enumerate(stream, 1):
            fields = line.split()
            if not fields or fields[0].startswith('#'):
                continue
            try:
                if fields[0] == 'v':
                    vertices.append([float(v) for v in fields[1:4]])
                elif fields[0] == 'f':
                    corners = [int(f.split('/')[0]) for f in fields[1:]]
                    if len(corners) != 3:
                        raise ValueError('only triangles are supported')
                    faces.append([c - 1 if c > 0 else len(vertices) + c for c in corners])
            except (ValueError, IndexError) as error:
                raise ValueError(f'{path}:{number}: {error}') from None
    return np.array(vertices), np.array(faces)


@dataclass(frozen=True)
class SiteGravity:
    """The gravity environment of a surface site (body frame unless said otherwise)."""

    position: np.ndarray  # m, the surface point
    normal: np.ndarray  # outward surface normal
    attraction: np.ndarray  # m/s^2, the body's pull
    centrifugal: np.ndarray  # m/s^2, of the spin
    potential: float  # J/kg, gravitational only (negative)
    spin_rate: float  # rad/s about +z

    @property
    def effective(self):
        """Effective gravity: attraction plus centrifugal [m/s^2]."""
        return self.attraction + self.centrifugal

    @property
    def slope(self):
        """Angle between the surface normal and 'up' (against effective gravity) [rad]."""
        effective = self.effective
        cosine = -float(np.dot(effective, self.normal)) / float(np.linalg.norm(effective))
        return math.acos(min(max(cosine, -1.0), 1.0))

    @property
    def escape_speed(self):
        """Inertial speed that escapes from the site: sqrt(-2 U) [m/s]."""
        return math.sqrt(-2.0 * self.potential)

    @property
    def ground_velocity(self):
        """Inertial velocity of the ground at the site, omega z x r [m/s]."""
        return np.cross([0.0, 0.0, self.spin_rate], self.position)

    def local_frame(self):
        """Rows east, north, up of the ground frame (up: the surface normal)."""
        up = self.normal
        east = np.cross([0.0, 0.0, 1.0], up)
        if np.linalg.norm(east) < 1e-9:  # at a pole: any east will do
            east = np.cross([0.0, 1.0, 0.0], up)
        east /= np.linalg.norm(east)
        north = np.cross(up, east)
        return np.array([east, north, up])

    def in_ground_frame(self, vector):
        """Express a body-frame vector in the ground frame (east, north, up)."""
        return self.local_frame() @ np.asarray(vector)


def site_gravity(shape, spin_rate, latitude, longitude):
    """Return the SiteGravity of the surface point at planetocentric latitude, longitude."""
    position, normal = shape.surface_point(direction(latitude, longitude))
    centrifugal = spin_rate ** 2 * np.array([position[0], position[1], 0.0])
    return SiteGravity(position=position, normal=normal,
                       attraction=np.asarray(shape.acceleration(position)),
                       centrifugal=centrifugal, potential=float(shape.potential(position)),
                       spin_rate=spin_rate)
