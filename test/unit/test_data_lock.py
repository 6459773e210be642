"""One rig per data directory (spacemine_ros.data_lock), without ROS."""

import subprocess
import sys

import pytest

from spacemine_ros import data_lock
from test.conftest import ROOT

HOLDER = ('import sys, time; from spacemine_ros import data_lock; '
          'data_lock.hold(sys.argv[1], "supervisor", "s1"); print("held", flush=True); '
          'time.sleep(600)')


def test_a_name_held_by_a_live_process_is_refused_and_freed_when_it_dies(tmp_path):
    data_dir = str(tmp_path)
    holder = subprocess.Popen([sys.executable, '-c', HOLDER, data_dir], cwd=ROOT,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == 'held'
        taken = data_lock.holders(data_dir, ['supervisor', 'drill'])
        assert list(taken) == ['supervisor'] and f'pid {holder.pid}' in taken['supervisor']
        with pytest.raises(data_lock.DataDirInUse, match=f'pid {holder.pid}.*session s1'):
            data_lock.hold(data_dir, 'supervisor')
        data_lock.hold(data_dir, 'drill')  # another part of the rig: its own name
    finally:
        holder.kill()  # SIGKILL: the kernel drops its lock
        holder.wait()
        data_lock.release(data_dir, 'drill')
    assert data_lock.holders(data_dir, ['supervisor']) == {}
    data_lock.hold(data_dir, 'supervisor')
    data_lock.hold(data_dir, 'supervisor')  # started again in this process: its own
    data_lock.release(data_dir, 'supervisor')
    assert data_lock.holders(data_dir, ['supervisor']) == {}
