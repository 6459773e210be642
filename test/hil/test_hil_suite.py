"""The HIL device suite can fail: against devices built with the other word order it must.

A suite that only checks that values are numbers passes a device whose 32-bit registers
have their words swapped (a 12.3 mm position read as 806 m). This runs the device suite
in a subprocess with the emulators built with the other word order and checks that the
exact-value test fails for precisely the profiles that have 32-bit registers.
"""

import os
import re
import subprocess
import sys

import pytest

from spacemine_ros.hardware.profiles import load_profiles
from test.conftest import CONFIG, ROOT

pytestmark = pytest.mark.hil


def test_the_device_suite_catches_a_swapped_word_order(request):
    if request.config.getoption('--hil-port'):
        pytest.skip('runs the suite against the emulators')
    profiles = load_profiles(os.path.join(CONFIG, 'devices.yaml'))
    wide = {name for name, profile in profiles.items()
            if any(r.width == 2 for r in profile.registers.values())}
    assert wide, 'no profile has 32-bit registers'
    result = subprocess.run(
        [sys.executable, '-m', 'pytest', 'test/hil/test_modbus_devices.py', '-q',
         '-k', 'exact_value', '--hil-emulate-word-order', 'little', '-p', 'no:cacheprovider'],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
    failed = set(re.findall(r'FAILED \S+exact_value\S*\[(\w+)\]', result.stdout))
    assert failed == wide, result.stdout[-3000:]
