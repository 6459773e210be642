"""Body presets (config/bodies.yaml) and effective gravity."""

import dataclasses
import math

import pytest
import yaml

from spacemine_ros.core.models.body import body_from_config, load_bodies, load_body
from spacemine_ros.core.config import ConfigError

from test.conftest import CONFIG


def test_presets_cover_the_required_bodies(bodies):
    assert {'bennu', 'ryugu', 'itokawa', 'eros', 'psyche'} <= set(bodies)


@pytest.mark.parametrize('key', ['bennu', 'ryugu', 'itokawa', 'eros', 'psyche'])
def test_stored_gravity_and_escape_speed_follow_from_gm_and_radius(bodies, key):
    body = bodies[key]
    assert body.surface_gravity == pytest.approx(body.gm / body.mean_radius ** 2, rel=0.02)
    assert body.escape_velocity == pytest.approx(
        math.sqrt(2 * body.gm / body.mean_radius), rel=0.02)
    assert sum(body.composition.values()) == pytest.approx(1.0)


def sphere(body):
    """Return the body as a sphere of its mean radius (the laws below are a sphere's)."""
    return dataclasses.replace(body, shape=None)


def test_spin_roughly_halves_gravity_at_bennus_equator(bodies):
    bennu = sphere(bodies['bennu'])
    ratio = bennu.effective_gravity(0.0) / bennu.surface_gravity
    assert 0.4 < ratio < 0.6
    assert bennu.effective_gravity(math.pi / 2) == pytest.approx(bennu.gm / 245.0 ** 2)


def test_centrifugal_term_tilts_gravity_toward_the_equator_at_mid_latitude(bodies):
    g = sphere(bodies['bennu']).gravity_vector(math.radians(45))
    assert g[2] < 0 and g[1] < 0 and g[0] == pytest.approx(0.0, abs=1e-15)


def test_the_ground_moves_east_at_omega_r_cos_latitude(bodies):
    bennu = sphere(bodies['bennu'])
    site = bennu.launch_site()
    assert site.ground_velocity[0] == pytest.approx(bennu.spin_rate * 245.0)
    assert site.escape_speed == pytest.approx(math.sqrt(2 * bennu.gm / 245.0))


def test_psyche_gravity_is_about_0_13(bodies):
    assert bodies['psyche'].surface_gravity == pytest.approx(0.13, rel=0.02)


def _bennu_entry():
    with open(f'{CONFIG}/bodies.yaml') as stream:
        return yaml.safe_load(stream)['bodies']['bennu']


@pytest.mark.parametrize('mutate, message', [
    (lambda e: e.update(surface_gravity=1.0), 'disagrees'),
    (lambda e: e.update(mean_radius=float('nan')), 'out of range'),
    (lambda e: e['sources'].pop('mass'), 'no source'),
    (lambda e: e['composition'].update(water=0.5), 'sum to'),
    (lambda e: e['strata'][1].update(top=0.01), 'gap or overlap'),
    (lambda e: e['site'].update(substrate='cheese'), 'rock or regolith'),
    (lambda e: e.pop('regolith'), "missing required key 'regolith'"),
])
def test_bad_presets_are_rejected_with_the_reason(mutate, message):
    entry = _bennu_entry()
    mutate(entry)
    with pytest.raises(ConfigError, match=message):
        body_from_config('bennu', entry)


def test_unknown_body_and_bad_files_give_clear_errors(tmp_path):
    with pytest.raises(ConfigError, match='known bodies'):
        load_body(f'{CONFIG}/bodies.yaml', 'pluto')
    with pytest.raises(ConfigError, match='cannot read'):
        load_bodies(tmp_path / 'missing.yaml')
    bad = tmp_path / 'bad.yaml'
    bad.write_text('bodies: [unclosed')
    with pytest.raises(ConfigError, match='malformed YAML'):
        load_bodies(bad)
