"""Shift plans: validated at load, errors naming the step and the field (core.mission.plan)."""

import glob
import os

import pytest

from spacemine_ros.core.mission.plan import check_against_rig, load_plan, plan_from, PlanError
from test.conftest import CONFIG
from test.unit.mission_fakes import rig_interface


@pytest.mark.parametrize('path', sorted(glob.glob(os.path.join(CONFIG, 'plans', '*.yaml'))))
def test_every_shipped_plan_loads_and_fits_both_rigs(path):
    plan = load_plan(path)
    for rig in ('default', 'twin_drill'):
        check_against_rig(plan, rig_interface(rig), 'bennu')


@pytest.mark.parametrize('steps, message', [
    ([{'type': 'drill', 'depth': -1}], 'step 1 (drill): depth: Input should be greater than 0'),
    ([{'type': 'drill'}], 'step 1 (drill): depth: Field required'),
    ([{'type': 'dril', 'depth': 1}], 'step 1 (dril): type: unknown step type; one of'),
    ([{'depth': 1}], 'step 1: type: missing; one of'),
    ([{'type': 'deploy_anchors'}, {'type': 'scrape', 'passes': 3, 'speed': 2}],
     'step 2 (scrape): speed: unknown field'),
    ([{'type': 'wait'}], 'step 1 (wait): a wait needs seconds, power or battery'),
    ([{'type': 'smelt', 'on_failure': 'ignore'}], 'step 1 (smelt): on_failure: Input should be '
     "'abort', 'skip' or 'hold'"),
    ([{'type': 'scrape', 'passes': 3, 'retries': 99}], 'step 1 (scrape): retries: Input '
     'should be less than or equal to 10'),
    ([{'type': 'deploy_anchors', 'timeout': float('nan')}], 'step 1 (deploy_anchors): timeout'),
    ([{'type': 'material_line', 'until': 'empty'}], 'step 1 (material_line): until:'),
    ([{'type': 'scrape'}], 'step 1 (scrape): a scrape needs passes or area (m^2), one of them'),
    ([{'type': 'scrape', 'passes': 2, 'area': 1.0}], 'step 1 (scrape): a scrape needs passes'),
    ([{'type': 'scrape', 'area': -1.0}], 'step 1 (scrape): area: Input should be greater'),
])
def test_errors_name_the_step_and_the_field(steps, message):
    with pytest.raises(PlanError) as error:
        plan_from({'name': 'p', 'steps': steps}, 'p.yaml')
    assert message in str(error.value)
    assert str(error.value).startswith('p.yaml: ')


def test_every_error_of_a_plan_is_reported_at_once():
    with pytest.raises(PlanError) as error:
        plan_from({'name': 'p', 'steps': [{'type': 'drill', 'depth': 0},
                                          {'type': 'scrape', 'passes': 0}]})
    assert 'step 1 (drill): depth' in str(error.value)
    assert 'step 2 (scrape): passes' in str(error.value)


def test_a_plan_needs_a_name_and_steps(tmp_path):
    with pytest.raises(PlanError, match='steps: List should have at least 1 item'):
        plan_from({'name': 'p', 'steps': []})
    with pytest.raises(PlanError, match='name: Field required'):
        plan_from({'steps': [{'type': 'deploy_anchors'}]})
    path = tmp_path / 'bad.yaml'
    path.write_text('steps: []\n')
    with pytest.raises(PlanError, match='no top-level "plan:" mapping'):
        load_plan(str(path))


def test_what_only_the_rig_knows_is_checked_against_it():
    rig = rig_interface()
    drill = {'type': 'drill', 'depth': 0.1, 'position': [0.2, 0.0]}
    plan = plan_from({'name': 'p', 'steps': [drill]})
    with pytest.raises(PlanError, match='step 1 \\(drill\\): position: this rig cannot move'):
        check_against_rig(plan, rig)
    drill = {'type': 'drill', 'depth': 0.1, 'drills': ['drill_b']}
    plan = plan_from({'name': 'p', 'steps': [drill]})
    with pytest.raises(PlanError, match='drills: drill_b not on the rig'):
        check_against_rig(plan, rig)
    check_against_rig(plan, rig_interface('twin_drill'))
    plan = plan_from({'name': 'p', 'body': 'psyche', 'steps': [{'type': 'deploy_anchors'}]})
    with pytest.raises(PlanError, match='is for psyche, the rig is on bennu'):
        check_against_rig(plan, rig, 'bennu')


def test_a_scrape_by_area_covers_it_with_whole_passes():
    from spacemine_ros.core.control.scraper import ScrapeRequest
    request = ScrapeRequest(pass_length=0.5, pass_spacing=0.4)  # 0.2 m^2 a pass
    assert request.covering(0.6).passes == 3
    assert request.covering(0.61).passes == 4
    assert request.covering(0.05).passes == 1
    plan = plan_from({'name': 'p', 'steps': [{'type': 'scrape', 'area': 0.6}]})
    assert plan.steps[0].area == 0.6 and plan.steps[0].passes is None
