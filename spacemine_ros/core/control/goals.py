"""Checks every action goal of the rig gets before its tool looks at it.

A goal arrives as a message whose fields a client filled in; NaN is never a value, and
infinity only where the action says what it means (docs/interfaces.md). Pure Python: it
reads any object with the rosidl get_fields_and_field_types() of a message.
"""

import math

from spacemine_ros.core.control import states


def goal_problem(goal, may_be_infinite=()):
    """Return why a goal's numbers cannot be used ('' if they can)."""
    for name, kind in goal.get_fields_and_field_types().items():
        if kind not in ('double', 'float'):
            continue
        value = getattr(goal, name)
        if math.isnan(value):
            return f'{name} is NaN'
        if math.isinf(value) and name not in may_be_infinite:
            return f'{name} must be finite, got {value}'
    return ''


def job_outcome(state, working, reason, done):
    """Return how a tool's job stands: None while under way, else (succeeded, message).

    state: the controller's published state; working: the states of a job under way;
    reason: the controller's reason; done(): the message of a finished job (DONE).
    """
    if state in working:
        return None
    if state == states.DONE:
        return True, done()
    return False, reason or f'stopped ({state})'
