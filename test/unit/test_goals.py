"""The checks every action goal gets before its tool sees it (core.control.goals)."""

import math

import pytest

from spacemine_ros.core.control.goals import goal_problem, job_outcome


class Goal:
    """A stand-in for a rosidl goal message: its fields and their types."""

    def __init__(self, **fields):
        self.types = {name: type(value).__name__ for name, value in fields.items()}
        self.__dict__.update(fields)

    def get_fields_and_field_types(self):
        kinds = {'float': 'double', 'int': 'uint32', 'str': 'string'}
        return {name: kinds[kind] for name, kind in self.types.items()}


@pytest.mark.parametrize('fields, allowed, problem', [
    ({'depth': 0.2}, (), ''),
    ({'depth': math.nan}, (), 'depth is NaN'),
    ({'depth': math.inf}, (), 'depth must be finite, got inf'),
    ({'depth': -math.inf}, (), 'depth must be finite, got -inf'),
    ({'drained_below': math.inf}, ('drained_below',), ''),
    ({'drained_below': math.nan}, ('drained_below',), 'drained_below is NaN'),
    ({'recipe': 'nan', 'charge_mass': 0.5, 'passes': 3}, (), ''),
    ({'area': 1.0, 'pass_length': math.nan}, (), 'pass_length is NaN'),
])
def test_a_goal_s_numbers_must_be_numbers(fields, allowed, problem):
    assert goal_problem(Goal(**fields), allowed) == problem


def test_a_job_stands_by_its_controller_s_state():
    working = ('DRILLING', 'RETRACTING')
    assert job_outcome('DRILLING', working, '', lambda: 'done') is None
    assert job_outcome('DONE', working, '', lambda: 'drilled') == (True, 'drilled')
    assert job_outcome('FAULT', working, 'bit jammed', lambda: '') == (False, 'bit jammed')
    assert job_outcome('IDLE', working, '', lambda: '') == (False, 'stopped (IDLE)')
