"""docs/interfaces.md documents the parameters the nodes declare, and no others.

Each node's parameter table names only parameters the node declares (a table that
outlived a parameter misleads an operator), and every parameter a node declares is
named in the document (in its table, its section, or what every controller has).
"""

import os
import re

from spacemine_ros import bringup
from spacemine_ros.launcher import create_nodes
from test.conftest import ROOT

ROS_OWN = {'use_sim_time', 'start_type_description_service'}  # every rclpy node has these


def _names(line):
    """Return the parameter-like names in a line's `code` spans (a, b: both)."""
    return {name.strip() for span in re.findall(r'`([^`]+)`', line)
            for name in span.split(',')}


def _sections(text):
    """Return {heading: its lines} of the document's ## sections ('' before the first)."""
    sections, heading = {'': []}, ''
    fenced = False
    for line in text.splitlines():
        if line.startswith('```'):
            fenced = not fenced
        elif line.startswith('## ') and not fenced:
            heading = line[3:].strip()
            sections[heading] = []
        elif not fenced:
            sections[heading].append(line)
    return sections


def _table_names(lines):
    names, in_table = set(), False
    for line in lines:
        if line.startswith('| parameter'):
            in_table = True
        elif in_table and line.startswith('|'):
            if not line.startswith('| ---'):
                names |= _names(line.split('|')[1])
        else:
            in_table = False
    return names


def test_every_node_s_documented_parameters_are_the_ones_it_declares(ros):
    with open(os.path.join(ROOT, 'docs', 'interfaces.md'), encoding='utf-8') as stream:
        text = stream.read()
    sections = _sections(text)
    mentioned = set().union(*(_names(line) for lines in sections.values() for line in lines))
    nodes = create_nodes(bringup.graph('sim', 'bennu'), '/documented')
    try:
        checked = 0
        for node in nodes:
            name = node.get_name()
            if name not in sections:
                continue  # robot_state_publisher's are upstream's
            declared = set(node.list_parameters([], 0).names) - ROS_OWN
            stale = _table_names(sections[name]) - declared
            assert not stale, f'docs/interfaces.md ## {name} lists {sorted(stale)}: not declared'
            missing = sorted(p for p in declared if p not in mentioned)
            assert not missing, f'{name} declares {missing}: not in docs/interfaces.md'
            checked += 1
        assert checked == 7  # the backend, five controllers and the supervisor
    finally:
        for node in nodes:
            node.destroy_node()
