"""Modbus device profiles: validation at load, scaling round trips, line-rate model."""

import math
import os

from hypothesis import given, settings, strategies as st
import pytest
import yaml

from spacemine_ros.core.config import ConfigError
from spacemine_ros.hardware.line_rate import max_poll_rate, read_registers_bytes
from spacemine_ros.hardware.profiles import load_profiles, profile_from, RAW_RANGE
from test.conftest import CONFIG

DEVICES_FILE = os.path.join(CONFIG, 'devices.yaml')
REQUIRED = ('spindle_vfd', 'feed_drive', 'anchor_drive', 'scraper_joint_drive',
            'conveyor_drive', 'load_cell_amplifier', 'furnace_power_controller',
            'thermocouple_input')


@pytest.fixture(scope='module')
def profiles():
    return load_profiles(DEVICES_FILE)


def test_every_device_type_has_a_profile(profiles):
    assert set(REQUIRED) <= set(profiles)
    assert profiles['spindle_vfd'].bus.unit_id == 1
    assert profiles['thermocouple_input'].register('temperature').unit == 'K'


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_engineering_values_round_trip_through_registers(profiles, data):
    profile = profiles[data.draw(st.sampled_from(sorted(profiles)))]
    register = profile.registers[data.draw(st.sampled_from(sorted(profile.registers)))]
    # The register's limits, or what its data type can represent at its scale.
    raw_low, raw_high = RAW_RANGE[register.data_type]
    span = sorted((raw_low * register.scale + register.offset,
                   raw_high * register.scale + register.offset))
    low = max(register.minimum, span[0], -1e6)
    high = min(register.maximum, span[1], 1e6)
    value = data.draw(st.floats(low, high))
    order = profile.bus.word_order
    raw = register.encode(value, order)
    assert len(raw) == register.width and all(0 <= r <= 0xFFFF for r in raw)
    back = register.decode(raw, order)
    tolerance = abs(register.scale) / 2 if register.data_type != 'float32' else \
        abs(value) * 1e-6 + 1e-30
    assert back == pytest.approx(value, abs=tolerance + 1e-12)


def test_writes_outside_the_limits_are_refused(profiles):
    speed = profiles['spindle_vfd'].register('speed_ref')
    with pytest.raises(ValueError, match=r'outside \[-30, 30\] rad/s'):
        speed.encode(31.0)
    with pytest.raises(ValueError, match='finite'):
        speed.encode(math.nan)
    with pytest.raises(KeyError, match='registers:'):
        profiles['spindle_vfd'].register('warp_drive')


@pytest.mark.parametrize('edit, reason', [
    (lambda p: p['registers']['speed'].update(kind='coil'), 'kind'),
    (lambda p: p['registers']['speed'].update(type='int8'), 'type'),
    (lambda p: p['registers']['speed'].update(access='rw'), 'only holding registers'),
    (lambda p: p['registers']['speed_ref'].pop('max'), 'needs min and max'),
    (lambda p: p['registers']['torque'].update(address=0), 'overlaps'),
    (lambda p: p['bus'].update(unit_id=300), 'unit_id'),
    (lambda p: p['bus'].update(baudrate=12345), 'standard rate'),
    (lambda p: p['bus'].update(parity='X'), 'parity'),
    (lambda p: p['registers']['speed'].update(address='zero'), 'expected a number'),
])
def test_bad_profiles_are_refused_with_the_entry_named(edit, reason):
    data = yaml.safe_load(open(DEVICES_FILE))
    entry = data['profiles']['spindle_vfd']
    edit(entry)
    with pytest.raises(ConfigError, match=reason):
        profile_from('spindle_vfd', entry, 'profiles.spindle_vfd')


def test_line_rate_follows_the_rtu_framing():
    assert read_registers_bytes(4) == (8, 13)
    # 115200 baud, 4 registers: (8 + 13) bytes x 11 bits + 2 x 1.75 ms.
    expected = 1.0 / ((8 + 13) * 11 / 115200 + 2 * 1.75e-3)
    assert max_poll_rate(115200, 4) == pytest.approx(expected)
    assert max_poll_rate(1_000_000, 4) > max_poll_rate(115200, 4)
    # At 9600 baud the gap is 3.5 characters.
    assert max_poll_rate(9600, 4) == pytest.approx(1.0 / ((21 + 7) * 11 / 9600))
