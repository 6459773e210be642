"""Body shapes and site gravity (core.models.shape): the laws of the potential, not numbers."""

import math

import numpy as np
import pytest

from spacemine_ros.core.models.body import body_from_config
from spacemine_ros.core.config import ConfigError
from spacemine_ros.core.models.shape import (
    direction, Ellipsoid, load_obj, Polyhedron, site_gravity, Sphere)
from test.unit.test_body import _bennu_entry

GM = 4.9  # m^3/s^2, about Bennu's


def icosphere(subdivisions):
    """Return (vertices, faces) of a unit icosphere, faces counter-clockwise from outside."""
    t = (1.0 + math.sqrt(5.0)) / 2.0
    vertices = [np.array(v, float) / math.hypot(*v) for v in (
        (-1, t, 0), (1, t, 0), (-1, -t, 0), (1, -t, 0), (0, -1, t), (0, 1, t), (0, -1, -t),
        (0, 1, -t), (t, 0, -1), (t, 0, 1), (-t, 0, -1), (-t, 0, 1))]
    faces = [(0, 11, 5), (0, 5, 1), (0, 1, 7), (0, 7, 10), (0, 10, 11), (1, 5, 9), (5, 11, 4),
             (11, 10, 2), (10, 7, 6), (7, 1, 8), (3, 9, 4), (3, 4, 2), (3, 2, 6), (3, 6, 8),
             (3, 8, 9), (4, 9, 5), (2, 4, 11), (6, 2, 10), (8, 6, 7), (9, 8, 1)]
    for _ in range(subdivisions):
        middles, finer = {}, []

        def middle(a, b):
            key = (min(a, b), max(a, b))
            if key not in middles:
                point = vertices[a] + vertices[b]
                vertices.append(point / np.linalg.norm(point))
                middles[key] = len(vertices) - 1
            return middles[key]
        for a, b, c in faces:
            ab, bc, ca = middle(a, b), middle(b, c), middle(c, a)
            finer += [(a, ab, ca), (b, bc, ab), (c, ca, bc), (ab, bc, ca)]
        faces = finer
    return np.array(vertices), np.array(faces)


AXES = np.array([280.0, 260.0, 240.0])


@pytest.fixture(scope='module')
def tessellated():
    vertices, faces = icosphere(4)  # 5120 triangles
    return Polyhedron(GM, vertices * AXES, faces), Ellipsoid(GM, *AXES)


def numerical_gradient(potential, point, step=1e-3):
    return np.array([(potential(point + step * e) - potential(point - step * e)) / (2 * step)
                     for e in np.eye(3)])


def test_an_ellipsoid_with_equal_axes_is_a_sphere():
    ball, sphere = Ellipsoid(GM, 250.0, 250.0, 250.0), Sphere(GM, 250.0)
    for point in ([250.0, 0.0, 0.0], [100.0, 150.0, 170.0], [0.0, 0.0, 900.0]):
        point = np.array(point) * (250.0 / np.linalg.norm(point) if
                                   np.linalg.norm(point) < 250.0 else 1.0)
        assert ball.potential(point) == pytest.approx(sphere.potential(point), rel=1e-12)
        assert ball.acceleration(point) == pytest.approx(sphere.acceleration(point), rel=1e-12)


@pytest.mark.parametrize('shape', [Ellipsoid(GM, *AXES), Ellipsoid(GM, 17749.0, 5779.0, 5779.0)])
def test_the_attraction_is_minus_the_gradient_of_the_potential_on_and_off_the_body(shape):
    for unit in (direction(0.3, 0.7), direction(-1.0, 2.0), direction(0.0, 0.0)):
        surface, _ = shape.surface_point(unit)
        for point in (surface, 1.7 * surface):
            step = 1e-6 * float(np.max(shape.axes))
            gradient = numerical_gradient(shape.potential, point, step)
            assert -gradient == pytest.approx(shape.acceleration(point), rel=1e-5)


def test_far_away_every_shape_pulls_like_a_point_mass(tessellated):
    polyhedron, ellipsoid = tessellated
    point = np.array([3e4, 2e4, -1e4])
    point_mass = -polyhedron.gm * point / np.linalg.norm(point) ** 3
    assert ellipsoid.acceleration(point) == pytest.approx(point_mass, rel=1e-4)
    # The mesh is slightly smaller than the ellipsoid it approximates; same mass.
    assert polyhedron.acceleration(point) == pytest.approx(point_mass, rel=1e-4)


def test_the_polyhedron_converges_on_the_analytic_ellipsoid(tessellated):
    polyhedron, ellipsoid = tessellated
    for point in ([400.0, 0.0, 0.0], [0.0, 0.0, 300.0], [200.0, 200.0, 200.0]):
        point = np.array(point)
        assert polyhedron.acceleration(point) == pytest.approx(ellipsoid.acceleration(point),
                                                               rel=2e-3)
        assert polyhedron.potential(point) == pytest.approx(ellipsoid.potential(point),
                                                            rel=2e-3)
    point = np.array([150.0, -120.0, 330.0])
    assert -numerical_gradient(polyhedron.potential, point) == pytest.approx(
        polyhedron.acceleration(point), rel=1e-6)


def test_the_solid_angles_tell_inside_from_outside(tessellated):
    polyhedron, _ = tessellated
    # The Laplacian of the potential is -4 pi G rho inside and 0 outside (Werner &
    # Scheeres 1997): the faces' solid angles sum to 4 pi and 0.
    assert polyhedron.solid_angle([10.0, -20.0, 5.0]) == pytest.approx(4 * math.pi)
    assert polyhedron.solid_angle([500.0, 0.0, 0.0]) == pytest.approx(0.0, abs=1e-9)


def test_a_mesh_that_is_open_or_inside_out_is_refused_with_the_reason():
    vertices, faces = icosphere(1)
    with pytest.raises(ValueError, match='not closed'):
        Polyhedron(GM, vertices, faces[1:])
    with pytest.raises(ValueError, match='counter-clockwise'):
        Polyhedron(GM, vertices, faces[:, ::-1])
    with pytest.raises(ValueError, match='does not exist'):
        Polyhedron(GM, vertices, faces + len(vertices))


def test_an_obj_shape_file_is_read_and_named_in_its_errors(tmp_path):
    vertices, faces = icosphere(1)
    path = tmp_path / 'body.obj'
    path.write_text('# a shape\n' + ''.join(f'v {x} {y} {z}\n' for x, y, z in vertices)
                    + ''.join(f'f {a + 1} {b + 1} {c + 1}\n' for a, b, c in faces))
    read_vertices, read_faces = load_obj(str(path))
    assert read_vertices == pytest.approx(vertices) and (read_faces == faces).all()
    path.write_text('v 1 2\nf 1 2 3 4\n')
    with pytest.raises(ValueError, match='body.obj:2'):
        load_obj(str(path))


def test_gravity_on_an_elongated_body_varies_more_than_twofold_across_its_surface():
    # Eros' 34 x 11 x 11 km figure, its spin: weakest at the ends of the long axis.
    eros = Ellipsoid(4.463e5, 17749.0, 5779.0, 5779.0)
    spin = 2 * math.pi / 18972.0
    magnitudes = [float(np.linalg.norm(site_gravity(eros, spin, math.radians(lat),
                                                    math.radians(lon)).effective))
                  for lat in range(-80, 81, 20) for lon in range(0, 360, 30)]
    assert max(magnitudes) > 2.0 * min(magnitudes)
    end = site_gravity(eros, spin, 0.0, 0.0)
    waist = site_gravity(eros, spin, 0.0, math.pi / 2)
    assert end.escape_speed < waist.escape_speed  # the ends sit higher in the potential


def test_a_sphere_is_level_everywhere_and_an_ellipsoid_slopes_between_its_axes():
    spin = 2 * math.pi / 15000.0
    for lat, lon in ((0.3, 0.2), (-0.9, 2.0)):
        assert site_gravity(Sphere(GM, 250.0), 0.0, lat, lon).slope == pytest.approx(
            0.0, abs=1e-9)
    squat = Ellipsoid(GM, 300.0, 220.0, 200.0)
    assert site_gravity(squat, 0.0, 0.0, 0.0).slope == pytest.approx(0.0, abs=1e-9)  # on an axis
    assert site_gravity(squat, spin, 0.0, math.radians(45)).slope > math.radians(1)


def test_a_shape_entry_is_checked_with_the_key():
    entry = _bennu_entry()
    entry['shape'] = {'model': 'ellipsoid', 'dimensions': [500.0, 535.0, 508.0]}
    with pytest.raises(ConfigError, match=r'bennu.shape.dimensions: give the long axis first'):
        body_from_config('bennu', entry)
    entry['shape'] = {'model': 'blob'}
    with pytest.raises(ConfigError, match='expected ellipsoid or polyhedron'):
        body_from_config('bennu', entry)
    entry['shape'] = {'model': 'polyhedron', 'file': 'missing.obj'}
    with pytest.raises(ConfigError, match='bennu.shape: .*missing.obj'):
        body_from_config('bennu', entry)


def test_an_ellipsoid_preset_keeps_the_body_s_volume():
    entry = _bennu_entry()
    body = body_from_config('bennu', entry)
    assert body.figure.volume == pytest.approx(4 / 3 * math.pi * body.mean_radius ** 3)
    a, b, c = body.figure.axes
    assert (a / c, b / c) == pytest.approx((565 / 508, 535 / 508))
