"""The rig description: the shipped file loads, and every kind of mistake is named."""

import copy
import os
from types import SimpleNamespace

import pytest
import yaml

from spacemine_ros.core.config import ConfigError
from spacemine_ros.hardware.field_bus import (
    bus_health, BusSnapshot, DeviceStatus, FAULT, OK)
from spacemine_ros.hardware.modbus_device import DeviceError
from spacemine_ros.hardware.ports import find_port, parse_ports, resolve_ports
from spacemine_ros.hardware.profiles import load_profiles
from spacemine_ros.hardware.rig_description import description_from, load_rig_description
from test.conftest import CONFIG

RIG = os.path.join(CONFIG, 'rig_hardware.yaml')
DEVICES = os.path.join(CONFIG, 'devices.yaml')


@pytest.fixture(scope='module')
def profiles():
    return load_profiles(DEVICES)


@pytest.fixture(scope='module')
def raw():
    with open(RIG) as stream:
        return yaml.safe_load(stream)


def test_the_shipped_rig_describes_every_joint_and_sensor_the_controllers_use():
    rig = load_rig_description(RIG, DEVICES)
    joints = {d.joint for d in rig.devices.values() if d.joint}
    assert {'drill_feed', 'drill_spindle', 'conveyor_screw', 'separator_drum',
            'furnace_heater', 'furnace_door', 'furnace_tap'} <= joints
    assert {f'anchor_{i}_joint' for i in range(4)} <= joints
    assert {'scraper_slew', 'scraper_shoulder', 'scraper_elbow', 'scraper_wrist'} <= joints
    topics = {o.topic for d in rig.devices.values() for o in d.outputs}
    assert {'scraper/blade_wrench', 'furnace/temperature', 'furnace/heater_power',
            'furnace/melt_fraction', 'odom', 'material/hopper_metal/mass'} <= topics
    # Every transfer-point totalizer the material ledger books from is on the bus.
    with open(os.path.join(CONFIG, 'material.yaml')) as stream:
        points = yaml.safe_load(stream)['transfer_points']
    for point in points:
        assert {f'material/{point}/delivered', f'material/{point}/lost'} <= topics
    # Every profile of the list drives something on the rig.
    used = {d.profile.name for d in rig.devices.values()}
    assert {'spindle_vfd', 'feed_drive', 'anchor_drive', 'scraper_joint_drive',
            'conveyor_drive', 'load_cell_amplifier', 'furnace_power_controller',
            'thermocouple_input'} <= used


def test_limits_feed_the_simulation(profiles, raw):
    rig = description_from(raw, 'rig', profiles)
    assert rig.joint_limit('drill_feed', 'force_limit', 1.0) == 500.0
    assert rig.joint_limit('drill_spindle', 'speed_ref', 1.0) == 30.0
    assert rig.joint_limit('no_such_joint', 'speed_ref', 7.0) == 7.0
    data = copy.deepcopy(raw)
    data['devices']['spindle']['limits']['speed_ref'] = [0.0, 12.0]
    assert description_from(data, 'rig', profiles).joint_limit(
        'drill_spindle', 'speed_ref', 1.0) == 12.0


def test_commands_are_clamped_to_the_rig_limits(profiles, raw):
    rig = description_from(raw, 'rig', profiles)
    spindle = rig.devices['spindle']
    assert spindle.clamp('speed_ref', 99.0) == 30.0 and spindle.clamp('speed_ref', -5.0) == 0.0


def mutate(raw, path, value):
    data = copy.deepcopy(raw)
    node = data
    for key in path[:-1]:
        node = node[key]
    if value is KeyError:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return data


@pytest.mark.parametrize('path, value, message', [
    (('devices', 'spindle', 'profile'), 'warp_core', 'unknown profile'),
    (('devices', 'spindle', 'bus'), 'can_bus', 'unknown bus'),
    (('devices', 'feed', 'unit_id'), 1, 'unit id 1 on drill_bus is also spindle'),
    (('devices', 'feed', 'unit_id'), 300, r'outside 1\.\.247'),
    (('devices', 'spindle', 'limits', 'speed_ref'), [0.0, 99.0], 'inside the profile'),
    (('devices', 'spindle', 'limits', 'speed_ref'), [5.0, 1.0], 'ordered range'),
    (('devices', 'spindle', 'safe', 'speed_ref'), KeyError, 'need a safe value'),
    (('devices', 'spindle', 'command'), {'speed': 'velocity'}, 'read-only'),
    (('devices', 'spindle', 'command'), {'speed_ref': 'spin'}, 'expected one of'),
    (('devices', 'spindle', 'joint'), 'warp_drive', 'has no joint'),
    (('devices', 'spindle', 'command'), {'speed_ref': 'effort'}, 'takes no effort command'),
    (('devices', 'spindle', 'limits', 'speed_ref'), [-5.0, 20.0],
     r'lies outside drill_spindle.s velocity limits \[0, 30\] in the rig file'),
    (('devices', 'spindle', 'state'), {'position': {'double_of': 'speed'}}, 'integral_of'),
    (('devices', 'spindle', 'enable', 'control'), 9, 'outside its limits'),
    (('devices', 'spindle', 'interlocks'), ['ghost'], 'not another device'),
    (('devices', 'anchor_1', 'joint'), 'anchor_0_joint', 'also served by anchor_0'),
    (('devices', 'bucket_gauge', 'outputs'), [{'topic': 'material/drill/mass',
                                               'type': 'float64', 'register': 'mass'}],
     'also published by drill_gauge'),
    (('devices', 'blade_force', 'outputs'), [{'topic': 'x', 'type': 'wrench',
                                              'register': 'force_x'}], r'registers: \[x'),
    (('devices', 'base_displacement', 'outputs'), [{'topic': 'odom', 'type': 'odometry',
                                                    'registers': ['x', 'y']}], r'\[x, y, z\]'),
    (('devices', 'base_displacement', 'outputs'), [{'topic': 'odom', 'type': 'pose',
                                                    'register': 'x'}], 'expected one of'),
    (('buses', 'drill_bus', 'match'), {}, 'port auto needs a match'),
    (('buses', 'drill_bus', 'poll_rate'), 'fast', 'expected a number'),
    (('buses', 'drill_bus', 'parity'), 'E', 'expected none, even or odd'),
    (('buses', 'drill_bus', 'backoff_max'), 0.01, 'backoff_max is below backoff_min'),
    (('buses',), KeyError, 'buses'),
])
def test_mistakes_are_refused_with_the_place_and_the_reason(profiles, raw, path, value,
                                                            message):
    with pytest.raises(ConfigError, match=message):
        description_from(mutate(raw, path, value), 'rig', profiles)


def port(device, serial_number=None, vid=None, pid=None, description=''):
    return SimpleNamespace(device=device, serial_number=serial_number, vid=vid, pid=pid,
                           description=description, manufacturer=None, product=None,
                           location=None, hwid='')


def test_a_bus_finds_its_adapter_by_serial_number_or_ids():
    ports = [port('/dev/ttyUSB0', 'SM-ARM', 0x0403, 0x6001, 'FT232R'),
             port('/dev/ttyUSB1', 'SM-DRILL', 0x0403, 0x6001, 'FT232R'),
             port('/dev/ttyS0')]
    assert find_port({'serial_number': 'SM-DRILL'}, ports) == '/dev/ttyUSB1'
    assert find_port({'vid': '0x0403', 'serial_number': 'sm-arm'}, ports) == '/dev/ttyUSB0'
    with pytest.raises(DeviceError, match='2 serial ports match'):
        find_port({'vid': 0x0403}, ports)
    with pytest.raises(DeviceError, match='no serial port matches.*ttyUSB0'):
        find_port({'serial_number': 'SM-PROCESS'}, ports)
    with pytest.raises(DeviceError, match='unknown port match field'):
        find_port({'colour': 'blue'}, ports)


def test_port_overrides_are_parsed_or_refused():
    assert parse_ports(['drill_bus=/dev/ttyUSB3', ' arm_bus = /dev/x ']) == {
        'drill_bus': '/dev/ttyUSB3', 'arm_bus': '/dev/x'}
    with pytest.raises(ValueError, match='expected bus=/dev/path'):
        parse_ports(['/dev/ttyUSB3'])


def test_ports_resolve_by_override_then_port_dir_then_description(profiles, raw):
    buses = description_from(raw, 'rig', profiles).buses
    found = lambda match: f'/dev/by-match/{match["serial_number"]}'  # noqa: E731
    ports = resolve_ports(buses, {'arm_bus': '/dev/ttyUSB7'}, finder=found)
    assert ports['arm_bus'] == '/dev/ttyUSB7' and ports['drill_bus'] == '/dev/by-match/SM-DRILL'
    ports = resolve_ports(buses, {'arm_bus': '/dev/ttyUSB7'}, '/tmp/hil', finder=found)
    assert ports['arm_bus'] == '/dev/ttyUSB7' and ports['drill_bus'] == '/tmp/hil/drill_bus'
    with pytest.raises(ValueError, match='unknown buses: can_bus'):
        resolve_ports(buses, {'can_bus': '/dev/x'}, finder=found)


def snapshot(port_open=True, rate=20.0, states=None):
    devices = {name: DeviceStatus(name, state=state, safe=True, safe_reason='e-stop latched',
                                  last_error='timeout' if state == FAULT else '')
               for name, state in (states or {'spindle': OK, 'drill_gauge': OK}).items()}
    return BusSnapshot('drill_bus', '/dev/x', port_open, 20.0, rate, 100, devices)


def test_bus_health_levels_and_values():
    level, message, values = bus_health(snapshot(), {'spindle'})
    assert (level, message) == ('OK', 'polling')
    assert values['spindle'] == 'OK errors=0 safe(e-stop latched)'
    assert values['drill_gauge'] == 'OK errors=0' and values['achieved_rate_hz'] == '20.00'
    slow = bus_health(snapshot(rate=10.0), set())[:2]
    assert slow == ('WARN', 'polling below rate (10.0 Hz)')
    level, message, values = bus_health(snapshot(states={'spindle': FAULT}), {'spindle'})
    assert (level, message) == ('ERROR', 'FAULT: spindle')
    assert values['spindle'].endswith('last_error=timeout')
    assert bus_health(snapshot(port_open=False), set())[:2] == ('ERROR', 'port lost')
