"""A ROS domain of its own for each run, so runs on one host never see each other.

Two shifts, a bench and the tests on one machine must not share a DDS domain: a rig
would read another rig's totalizers and clock. Every entry point of the project calls
claim_domain() before rclpy starts. Unless ROS_DOMAIN_ID is set (the operator's choice,
e.g. to watch the rig with ros2 topic echo), it takes a domain that no other process
of this project on the host holds: an exclusive lock on a file per domain, held for
the life of the process and released by the OS even if the process is killed. The
processes it starts inherit the domain through the environment. Discovery is kept to
this host (ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST) unless set otherwise.

The rig's processes talk over UDP on the host, not Fast DDS's shared memory, unless the
operator chose a transport (FASTDDS_BUILTIN_TRANSPORTS): a process killed while it used
a shared-memory port can leave the others deaf to it and to each other for good
(eProsima/Fast-DDS#5469, open for 3.x; seen here as a supervisor that stopped hearing
the clock after the line's node was killed), and a rig must outlive a crashed node.
"""

import fcntl
import os
import random
import tempfile

DOMAINS = range(1, 102)  # 0..101 map to free UDP ports on Linux; 0 is the usual default
LOCK_DIR = os.path.join(tempfile.gettempdir(), 'spacemine_domains')
_held = {}  # domain -> open lock file of this process
TRANSPORTS = 'FASTDDS_BUILTIN_TRANSPORTS'
DEFAULT_TRANSPORTS = 'UDPv4'


class DomainError(RuntimeError):
    """No domain could be claimed; the message says why."""


def _try_lock(domain):
    os.makedirs(LOCK_DIR, exist_ok=True)
    stream = open(os.path.join(LOCK_DIR, f'{domain}.lock'), 'a+')
    try:
        fcntl.flock(stream, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        stream.close()
        return None
    return stream


def claim_domain(environ=os.environ, rng=random):
    """Set ROS_DOMAIN_ID (if unset) to a domain no other run on this host holds.

    Returns (domain, chosen): chosen is False when the environment already named one.
    Raises DomainError if every domain is taken.
    """
    environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    environ.update(dds_environment(environ))
    given = environ.get('ROS_DOMAIN_ID', '').strip()
    if given:
        try:
            domain = int(given)
        except ValueError:
            raise DomainError(f'ROS_DOMAIN_ID={given!r} is not a number') from None
        if domain in DOMAINS and domain not in _held:
            lock = _try_lock(domain)
            if lock is not None:
                _held[domain] = lock  # so the next run does not choose it
        return domain, False
    candidates = list(DOMAINS)
    rng.shuffle(candidates)
    for domain in candidates:
        if domain in _held:
            continue
        lock = _try_lock(domain)
        if lock is not None:
            _held[domain] = lock
            environ['ROS_DOMAIN_ID'] = str(domain)
            return domain, True
    raise DomainError(f'every ROS domain 1..101 is held by another run on this host '
                      f'(locks in {LOCK_DIR})')


def dds_environment(environ=os.environ):
    """Return the DDS transport settings the rig's processes run with (see above)."""
    return {TRANSPORTS: environ.get(TRANSPORTS, '').strip() or DEFAULT_TRANSPORTS}


def release_domains():
    """Give back every domain this process holds (tests; the OS does it at exit)."""
    for stream in _held.values():
        stream.close()
    _held.clear()
