"""Controller states: one definition each, used by name everywhere (core.control.states)."""

import ast
import os

from spacemine_ros.core.control import states

PACKAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), 'spacemine_ros')
# The modules that define the enums, and the field bus (its devices report their own
# status words, which are not controller states).
DEFINING = {os.path.join('core', 'control', name) for name in (
    'anchoring.py', 'drill.py', 'scraper.py', 'material_handling.py', 'smelter.py',
    'propellant.py')}
OTHERS = {os.path.join('hardware', 'field_bus.py'), os.path.join('nodes', 'field_bus.py')}


def test_every_controller_has_a_fault_state_and_the_job_tools_idle_and_done():
    for kind, enum in states.STATE_ENUMS.items():
        values = {member.value for member in enum}
        assert states.FAULT in values, kind
        if kind in ('drill', 'scraper', 'furnace'):
            assert {states.IDLE, states.DONE} <= values, kind


def test_the_groups_name_states_that_exist():
    every = {member.value for enum in states.STATE_ENUMS.values() for member in enum}
    for name in dir(states):
        value = getattr(states, name)
        if name.isupper() and isinstance(value, tuple):
            assert value and set(value) <= every, name
        elif name.isupper() and isinstance(value, str):
            assert value in every, name


def test_no_module_spells_a_state_name_of_its_own():
    # A state compared as text would silently stop matching when the state is renamed.
    every = {member.value for enum in states.STATE_ENUMS.values() for member in enum}
    found = []
    for directory, _, files in os.walk(PACKAGE):
        for file in files:
            path = os.path.join(directory, file)
            relative = os.path.relpath(path, PACKAGE)
            if not file.endswith('.py') or relative in DEFINING | OTHERS:
                continue
            with open(path, encoding='utf-8') as stream:
                tree = ast.parse(stream.read(), path)
            for node in ast.walk(tree):
                if isinstance(node, ast.Constant) and node.value in every:
                    found.append(f'{relative}:{node.lineno} {node.value!r}')
    assert not found, 'state names spelt as text: ' + ', '.join(found)
