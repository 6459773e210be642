"""Code style (flake8: PEP 8 at 100 columns, single quotes, pep257) and the layers' imports."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_flake8():
    # Under colcon test the tests may run from a build copy holding only some of these.
    paths = [p for p in ('spacemine_ros', 'launch', 'test', 'bench', 'setup.py')
             if os.path.exists(os.path.join(ROOT, p))]
    result = subprocess.run([sys.executable, '-m', 'flake8', *paths], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_layers_import_only_downwards():
    # .importlinter: core imports neither rclpy nor pybullet, nothing below the nodes
    # imports rclpy, the simulation and the hardware drivers stay apart.
    if not os.path.exists(os.path.join(ROOT, '.importlinter')):
        return  # a build copy without the contracts (colcon test)
    linter = os.path.join(os.path.dirname(sys.executable), 'lint-imports')
    result = subprocess.run([linter, '--no-cache'], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
