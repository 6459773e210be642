"""One rig per data directory: each node holds a lock on its name there while it lives.

A node takes an exclusive advisory lock (flock) on `<data_dir>/locks/<node>.lock` when it
starts and keeps it until it is destroyed or its process ends, however it ends: the kernel
drops the lock of a killed process. A second rig started on the same data directory
finds its nodes' names taken and refuses to start, saying which process holds them,
while the parts of one rig started apart (spacemine-rig --nodes) hold different names
and share the directory. A node started again in the same process (a restart in place)
takes up the lock its process already holds. No rclpy.
"""

import fcntl
import os
import socket

LOCKS = 'locks'
_HELD = {}  # (directory, node): the open lock file of this process


class DataDirInUse(RuntimeError):
    """Another live process holds a node's lock on the data directory."""


def _path(data_dir, name):
    return os.path.join(os.path.realpath(data_dir), LOCKS, f'{name}.lock')


def _who(stream):
    stream.seek(0)
    return stream.read().strip() or 'a process that did not say who it is'


def hold(data_dir, name, session=''):
    """Take the lock of node `name` on the data directory (DataDirInUse if taken)."""
    path = _path(data_dir, name)
    if path in _HELD:
        return path
    os.makedirs(os.path.dirname(path), exist_ok=True)
    stream = open(path, 'a+', encoding='utf-8')  # noqa: SIM115 - held while the node lives
    try:
        fcntl.flock(stream.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _who(stream)
        stream.close()
        raise DataDirInUse(f'data directory {data_dir} is in use: its {name} is held by '
                           f'{holder}; stop that rig first (or give this one another '
                           '--data-dir)') from None
    stream.seek(0)
    stream.truncate()
    stream.write(f'pid {os.getpid()} on {socket.gethostname()}'
                 + (f', session {session}' if session else '') + '\n')
    stream.flush()
    _HELD[path] = stream
    return path


def release(data_dir, name):
    """Give up the lock of node `name` (nothing if this process does not hold it)."""
    stream = _HELD.pop(_path(data_dir, name), None)
    if stream is not None:
        stream.close()  # closing the file drops the flock


def holders(data_dir, names):
    """Return {name: who} of the names another live process holds on the data directory."""
    taken = {}
    for name in names:
        path = _path(data_dir, name)
        if path in _HELD or not os.path.exists(path):
            continue
        with open(path, 'a+', encoding='utf-8') as stream:
            try:
                fcntl.flock(stream.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                taken[name] = _who(stream)
            else:
                fcntl.flock(stream.fileno(), fcntl.LOCK_UN)
    return taken
