"""Code style: flake8 (PEP 8 at 100 columns, single quotes, pep257 docstrings)."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_flake8():
    result = subprocess.run(
        [sys.executable, '-m', 'flake8', 'spacemine_ros', 'launch', 'test', 'bench', 'setup.py'],
        cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
