"""A small rig for driver tests: the shipped rig's drill bus alone, polled fast."""

import copy
import os
import time

import yaml

from spacemine_ros.hardware.profiles import load_profiles
from spacemine_ros.hardware.rig_description import description_from
from test.conftest import CONFIG
from test.timing import wall

DRILL_BUS = ('spindle', 'feed', 'anchor_0', 'anchor_1', 'anchor_2', 'anchor_3', 'drill_gauge')


def drill_bus_data(**bus):
    """Return the rig description data of the drill bus, with quick fault detection."""
    with open(os.path.join(CONFIG, 'rig_hardware.yaml')) as stream:
        data = copy.deepcopy(yaml.safe_load(stream))
    data['buses'] = {'drill_bus': {**data['buses']['drill_bus'], 'poll_rate': 50.0,
                                   # A virtual line's latency is this host's
                                   # scheduling: generous for a busy machine.
                                   'command_timeout': 1.0, 'fault_after': 2, 'retries': 1,
                                   'timeout': 0.25, 'late_window': 0.3,
                                   'backoff_min': 0.05, 'backoff_max': 0.2, **bus}}
    data['devices'] = {name: data['devices'][name] for name in DRILL_BUS}
    return data


def drill_bus_description(**bus):
    """Return the drill bus as a validated RigDescription."""
    return description_from(drill_bus_data(**bus), 'test rig',
                            load_profiles(os.path.join(CONFIG, 'devices.yaml')))


def wait_for(predicate, limit=10.0, step=None):
    """Poll predicate (calling step between polls) until true or the limit; return it.

    The limit is scaled for a busy machine (test/timing.py): a safety net, not a timing.
    """
    deadline = time.monotonic() + wall(limit)
    while time.monotonic() < deadline:
        if predicate():
            return True
        if step:
            step()
        else:
            time.sleep(0.01)
    return predicate()
