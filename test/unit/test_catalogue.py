"""The NEA catalogue (config/targets.yaml) and the body presets built from it, no ROS."""

import copy
import math

import pytest
import yaml

from spacemine_ros.core.config import ConfigError
from spacemine_ros.core.models.body import GRAVITATIONAL_CONSTANT, load_body
from spacemine_ros.paths import share_path
from spacemine_ros.planning.catalogue import (
    catalogue_from, CLASSES, find_target, load_catalogue, NEO_PERIHELION)
from spacemine_ros.planning.orbits import AU
from spacemine_ros.planning.presets import catalogue_body, diameter_from_magnitude

CATALOGUE = share_path('config', 'targets.yaml')
BODIES = share_path('config', 'bodies.yaml')


@pytest.fixture(scope='module')
def catalogue():
    return load_catalogue(CATALOGUE)


@pytest.fixture(scope='module')
def raw():
    with open(CATALOGUE, encoding='utf-8') as stream:
        return yaml.safe_load(stream)


def test_the_shipped_catalogue_names_the_mission_targets_each_figure_sourced(catalogue, raw):
    assert len(catalogue) >= 30
    for key in ('bennu', 'ryugu', 'itokawa', 'eros', '2008ev5', '1999ao10', '2000sg344',
                '1996fg3', 'didymos', 'nereus'):
        assert key in catalogue
    for key, target in catalogue.items():
        assert target.perihelion_au < NEO_PERIHELION
        assert target.orbit_source
        for figure in (target.absolute_magnitude, target.diameter, target.albedo,
                       target.spectral_class, target.rotation_period, target.bulk_density):
            assert figure is None or figure.source in target.sources.values()
        # Unknown stays unknown: what the file leaves out is None, never a default.
        entry = raw['targets'][key]
        assert (target.diameter is None) == ('diameter_m' not in entry)
        assert (target.albedo is None) == ('albedo' not in entry)


def test_the_presets_of_the_catalogue_are_the_body_presets(catalogue):
    for key in ('bennu', 'ryugu', 'itokawa', 'eros'):
        assert catalogue[key].preset == key
        assert load_body(BODIES, key).name == catalogue_body(catalogue[key], BODIES).name


def test_targets_are_found_by_key_number_name_or_designation(catalogue):
    for name in ('2008EV5', '2008 EV5', '341843', 'Didymos', '1996 GT', 'bennu', 'Bennu',
                 '1999 RQ36', '2001 CC21', 'Torifune'):
        assert find_target(catalogue, name).key in ('2008ev5', 'didymos', 'bennu', 'torifune')
    with pytest.raises(KeyError, match='not in the catalogue'):
        find_target(catalogue, 'Vesta')


def test_classes_map_to_families_and_x_types_split_by_albedo(catalogue):
    assert catalogue['bennu'].family == 'C'
    assert catalogue['itokawa'].family == 'S'
    assert catalogue['1986da'].family == 'M'
    assert catalogue['nereus'].family == 'E'
    assert catalogue['2000sg344'].family is None  # no class measured
    assert CLASSES['Xk'] == 'X'


def _one(entry, key='x'):
    return catalogue_from({'targets': {key: entry}})[key]


GOOD = {'name': 'test body', 'orbit': {'epoch_jd': 2458000.5, 'a_au': 1.1, 'e': 0.2,
                                       'i_deg': 3.0, 'node_deg': 10.0, 'peri_deg': 20.0,
                                       'M_deg': 30.0, 'source': 'sbdb'},
        'diameter_m': [500.0, 'sbdb'], 'spectral_class': ['C', 'sbdb'],
        'sources': {'sbdb': 'a citation'}}


def _changed(path, value):
    entry = copy.deepcopy(GOOD)
    *parents, last = path
    place = entry
    for name in parents:
        place = place[name]
    if value is KeyError:
        del place[last]
    else:
        place[last] = value
    return entry


@pytest.mark.parametrize('path, value, message', [
    (('diameter_m',), [-5.0, 'sbdb'], 'diameter_m: -5.0 is not a diameter'),
    (('orbit', 'e'), 1.0, 'not an elliptic orbit'),
    (('orbit', 'e'), 1.4, 'not an elliptic orbit'),
    (('orbit', 'a_au'), 3.0, 'not a near-Earth object'),
    (('orbit', 'a_au'), -1.0, 'a_au: -1 must be > 0'),
    (('orbit', 'i_deg'), 190.0, 'i_deg: 190 is not in'),
    (('orbit', 'M_deg'), float('nan'), 'M_deg: expected a finite number'),
    (('orbit', 'epoch_jd'), 12.5, 'not a Julian date'),
    (('orbit', 'node_deg'), KeyError, 'orbit: missing node_deg'),
    (('spectral_class',), ['Zz', 'sbdb'], "unknown class 'Zz'"),
    (('diameter_m',), [500.0, 'nowhere'], "source 'nowhere' is not one of"),
    (('diameter_m',), 500.0, r'expected \[value, source\]'),
    (('orbit', 'source'), 'nowhere', 'orbit.source: source'),
    (('albedo',), [1.5, 'sbdb'], 'albedo: 1.5 is not a geometric albedo'),
    (('colour',), 'red', "unknown key 'colour'"),
    (('sources',), {'sbdb': ''}, 'expected a mapping of name: citation'),
])
def test_a_bad_entry_is_refused_in_one_line(path, value, message):
    with pytest.raises(ConfigError, match=message) as refused:
        _one(_changed(path, value))
    assert '\n' not in str(refused.value)
    assert 'targets.x' in str(refused.value)


def test_a_good_entry_loads_in_si():
    target = _one(GOOD)
    assert target.diameter.value == 500.0
    assert target.elements.a == pytest.approx(1.1 * AU)
    assert target.elements.i == pytest.approx(math.radians(3.0))
    assert target.diameter.source == 'a citation'


def test_a_body_built_from_the_catalogue_has_its_size_spin_and_says_what_it_assumes(catalogue):
    target = catalogue['2008ev5']
    body = catalogue_body(target, BODIES)
    radius = target.diameter.value / 2
    mass = 1190.0 * 4 / 3 * math.pi * radius ** 3  # the C family's density: assumed
    assert body.mean_radius == pytest.approx(radius)
    assert body.gm == pytest.approx(GRAVITATIONAL_CONSTANT * mass, rel=1e-9)
    assert body.surface_gravity == pytest.approx(GRAVITATIONAL_CONSTANT * mass / radius ** 2)
    assert body.rotation_period == pytest.approx(target.rotation_period.value)
    assert body.semi_major_axis == pytest.approx(target.elements.a / AU)
    assert body.composition_class == 'C'
    assert body.composition == load_body(BODIES, 'bennu').composition
    assumed = ' | '.join(body.sources['assumed'])
    assert 'bulk density 1190' in assumed and 'of bennu' in assumed
    assert 'assumed' in body.sources['bulk_density']
    assert body.sources['mean_radius'] == target.diameter.source
    # A measured density is used as it is, and not called an assumption.
    didymos = catalogue_body(catalogue['didymos'], BODIES)
    assert didymos.bulk_density == 2400.0
    assert not any('density' in line for line in didymos.sources['assumed'])


def test_an_unmeasured_size_comes_from_h_and_the_albedo(catalogue):
    target = catalogue['kamooalewa']  # H 24.33, no diameter, no albedo: S family's 0.26
    body = catalogue_body(target, BODIES)
    expected = 1329e3 / math.sqrt(0.26) * 10 ** (-24.33 / 5)
    assert 2 * body.mean_radius == pytest.approx(expected)
    assert 2 * body.mean_radius == pytest.approx(35.5, abs=0.5)
    assert diameter_from_magnitude(15.0, 0.25) == pytest.approx(2658.0, rel=1e-3)
    assert any('from H 24.33' in line for line in body.sources['assumed'])


@pytest.mark.parametrize('key, why', [
    ('2000sg344', 'its spectral class is unknown'),
    ('nereus', 'no recipe models Xe-type regolith'),
])
def test_no_preset_is_built_where_the_regolith_would_be_a_guess(catalogue, key, why):
    with pytest.raises(ConfigError, match=why):
        catalogue_body(catalogue[key], BODIES)


def test_load_body_finds_a_catalogue_asteroid_by_designation():
    assert load_body(BODIES, '2008EV5').name == '341843 (2008 EV5)'
    assert load_body(BODIES, '2008 EV5', '10,20').site.latitude == pytest.approx(
        math.radians(10))
    with pytest.raises(ConfigError, match='known bodies: .*bennu.*or an asteroid of'):
        load_body(BODIES, 'vesta')
