"""The terms of the target ranking (planning.ranking), no ROS and no shifts."""

import math

import numpy as np
import pytest

from spacemine_ros.core.models.anchors import AnchorType, load_anchor_types
from spacemine_ros.paths import share_path
from spacemine_ros.planning.catalogue import load_catalogue
from spacemine_ros.planning.orbits import DAY
from spacemine_ros.planning.presets import catalogue_body
from spacemine_ros.planning.ranking import (
    accessibility, anchoring, apply_filters, delivered_per_tonne, Economics, G0,
    product_terms, ranked, Row, YEAR)

BODIES = share_path('config', 'bodies.yaml')


@pytest.fixture(scope='module')
def catalogue():
    return load_catalogue(share_path('config', 'targets.yaml'))


@pytest.fixture(scope='module')
def anchors():
    return load_anchor_types(share_path('config', 'anchors.yaml'))


def test_accessibility_fills_both_estimates_and_keeps_the_grid(catalogue):
    row = Row('bennu', 'Bennu')
    departures = 2462502.5 + np.arange(0, 720, 30)  # 2030-01-01 on
    grid = accessibility(row, catalogue['bennu'], departures, np.arange(100, 500, 40) * DAY)
    assert row.group == 'Apollo'
    assert row.sh_delta_v == pytest.approx(5.1e3, abs=0.1e3)
    assert row.transfer_delta_v == pytest.approx(float(np.nanmin(grid.delta_v)))
    assert row.c3 >= 0.0 and row.arrival_v_inf > 0.0
    assert departures[0] <= row.departure <= departures[-1]


def test_microspines_hold_on_rock_and_nothing_holds_in_loose_rubble_at_micro_g(
        catalogue, anchors):
    row = Row('bennu', 'Bennu')
    anchoring(row, catalogue_body(catalogue['bennu'], BODIES), anchors)
    assert any(name.startswith('microspine') for name in row.anchors_rock)
    assert row.anchors_regolith == []  # cohesionless rubble at 1e-5 g holds no screw
    assert not row.reason
    assert row.gravity > 0.0


def test_on_a_body_spinning_faster_than_it_holds_rubble_only_rock_anchors(catalogue, anchors):
    body = catalogue_body(catalogue['kamooalewa'], BODIES)  # 28 min: spin beats gravity
    row = Row('kamooalewa', 'Kamo')
    anchoring(row, body, anchors)
    assert row.gravity < 0.0  # outward at the equator
    assert row.anchors_regolith == []
    assert row.anchors_rock


def test_a_body_no_anchor_holds_on_scores_zero_and_says_why(catalogue):
    screws_only = {'screw': AnchorType(name='screw', model='screw', embed_depth=0.25,
                                       drive_speed=0.01, diameter=0.1)}
    row = Row('bennu', 'Bennu')
    anchoring(row, catalogue_body(catalogue['bennu'], BODIES), screws_only)
    assert row.anchors_rock == [] and row.anchors_regolith == []
    assert 'no anchor design holds there' in row.reason
    row.delivered_per_tonne = 5.0
    assert row.score == 0.0


def test_yield_per_rig_year_comes_from_the_shift():
    row = Row('x', 'x')
    figures = {'result': 'completed', 'volatiles_kg': 0.06, 'products_kg': 0.0,
               'mass_excavated_kg': 12.0, 'sim_time_s': 2000.0, 'rig_mass_kg': 250.0}
    product_terms(row, figures, 'C')
    assert row.product == 'volatiles'
    assert row.per_rig_year == pytest.approx(0.06 * YEAR / 2000.0)
    assert row.yield_per_kg == pytest.approx(0.06 / 12.0)
    assert row.rig_mass == 250.0
    metal = Row('y', 'y')
    product_terms(metal, {**figures, 'products_kg': 0.2}, 'M')
    assert metal.product == 'metal' and metal.per_rig_year == pytest.approx(0.2 * YEAR / 2000)
    failed = Row('z', 'z')
    product_terms(failed, {'result': 'failed', 'reason': 'anchors would not hold'}, 'S')
    assert 'did not complete: anchors would not hold' in failed.reason
    none = Row('w', 'w')
    product_terms(none, {**figures, 'volatiles_kg': 0.0}, 'C')
    assert 'made no volatiles' in none.reason


def test_delivered_per_tonne_is_the_rocket_equation_both_ways():
    row = Row('x', 'x', per_rig_year=1000.0, rig_mass=500.0, transfer_delta_v=5000.0,
              arrival_v_inf=1500.0)
    economics = Economics(isp=320.0, service_years=5.0)
    exhaust = 320.0 * G0
    launched_tonnes = 0.5 * math.exp(5000.0 / exhaust)
    returned = 1000.0 * 5.0 * math.exp(-1500.0 / exhaust)
    assert delivered_per_tonne(row, economics) == pytest.approx(returned / launched_tonnes)
    # More Δv, less delivered.
    costly = Row('y', 'y', per_rig_year=1000.0, rig_mass=500.0, transfer_delta_v=9000.0,
                 arrival_v_inf=1500.0)
    assert delivered_per_tonne(costly, economics) < delivered_per_tonne(row, economics)
    assert delivered_per_tonne(Row('z', 'z'), economics) == 0.0


def test_filters_and_order():
    rows = [Row('a', 'a', family='C', spectral_class='B', diameter=500.0, rotation_h=4.0,
                transfer_delta_v=5e3, delivered_per_tonne=10.0),
            Row('b', 'b', family='S', spectral_class='Sq', diameter=3000.0, rotation_h=2.0,
                transfer_delta_v=7e3, delivered_per_tonne=30.0),
            Row('c', 'c', family=None, diameter=None, transfer_delta_v=4e3,
                delivered_per_tonne=50.0, reason='its spectral class is unknown')]
    assert [r.key for r in ranked(rows)] == ['b', 'a', 'c']
    assert [r.key for r in apply_filters(rows, classes=('C',))] == ['a']
    assert [r.key for r in apply_filters(rows, classes=('Sq',))] == ['b']
    assert [r.key for r in apply_filters(rows, min_diameter=1000.0)] == ['b']
    assert [r.key for r in apply_filters(rows, max_diameter=1000.0)] == ['a']
    assert [r.key for r in apply_filters(rows, min_period_h=3.0)] == ['a']
    assert [r.key for r in apply_filters(rows, max_delta_v=6e3)] == ['a', 'c']


def test_each_term_moves_the_rank_the_way_it_should():
    economics = Economics()
    base = dict(per_rig_year=2000.0, rig_mass=300.0, transfer_delta_v=6000.0,
                arrival_v_inf=1500.0)

    def rank_of(changed):
        rows = [Row('base', 'base', **base), Row('changed', 'changed', **{**base, **changed})]
        for row in rows:
            row.delivered_per_tonne = delivered_per_tonne(row, economics)
        return [r.key for r in ranked(rows)].index('changed')
    assert rank_of({'transfer_delta_v': 5000.0}) == 0  # cheaper to reach: ahead
    assert rank_of({'transfer_delta_v': 7000.0}) == 1
    assert rank_of({'per_rig_year': 3000.0}) == 0  # more product: ahead
    assert rank_of({'per_rig_year': 1000.0}) == 1
    assert rank_of({'arrival_v_inf': 800.0}) == 0  # cheaper to bring back: ahead
    assert rank_of({'arrival_v_inf': 2500.0}) == 1
    assert rank_of({'rig_mass': 200.0}) == 0  # lighter rig: ahead
    # A reason (no anchor holds, no preset, a failed shift) puts it behind, whatever else.
    rows = [Row('base', 'base', **base), Row('held', 'held', **{**base, 'per_rig_year': 1e6},
                                             reason='no anchor design holds there')]
    for row in rows:
        row.delivered_per_tonne = delivered_per_tonne(row, economics)
    assert [r.key for r in ranked(rows)] == ['base', 'held']
    assert ranked(rows) == ranked(list(reversed(rows)))  # the same order from any order
