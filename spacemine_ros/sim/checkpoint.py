"""Checkpoints of a RigWorld: the physical situation, so a restarted simulation goes on.

A checkpoint holds the rig multibody's state (base pose and velocity, every joint's
position and velocity), what the world and each subsystem plugin keep (anchors and their
engagement, the drills' holes, the scraper's arm and bucket, the material on every
tool, conveyor and hopper with the totalizers, the terrain that was cut, the furnace's
heat and charge, the power supply, whether the rigid body was asleep) and whatever the
caller adds. It is written atomically (temporary file, fsync, rename): a kill at any
instant leaves the previous checkpoint or the new one.

The file is pickled (zlib-compressed), but it is read back with an unpickler that builds
only what a world's state is made of: the data classes of its models and plugins named in
STATE_CLASSES, plain containers and numpy arrays: a checkpoint is data from disk, not
code (any other class of the project, one that opens a file or a thread when built, say,
is refused). A checkpoint is refused (CheckpointError, with
the reason) if it is of another format, or was written by a world of another body, anchor
design, rig or time step. Engaged anchors are held again where the checkpoint has them.
"""

import hashlib
import io
import math
import os
import pickle
import struct
import threading
import zlib

import pybullet

FORMAT = 3  # 3: the multi-rate world (its clock in physics steps, the power supply in it)
MAGIC = b'SPACEMINE-WORLD\n'
# What the world itself keeps that changes as it runs (the rest is built from config).
WORLD_FIELDS = ('steps', 'idle_since', 'max_displacement', 'initial_position',
                '_previous_velocity', '_acceleration', 'material', 'terrain', 'furnace_sim',
                'power', 'brownout_state', 'brownout', 'awake', 'quiet_for', 'physics_steps')
PLUGIN_SKIP = ('world', 'spec')  # references, rebuilt by the world itself
SAFE_BUILTINS = {'dict', 'list', 'tuple', 'set', 'frozenset', 'complex', 'float', 'int',
                 'str', 'bytes', 'bytearray', 'bool', 'slice', 'range'}
SAFE_GLOBALS = {
    ('collections', 'deque'), ('collections', 'OrderedDict'), ('copyreg', '_reconstructor'),
    ('numpy', 'ndarray'), ('numpy', 'dtype'), ('numpy.core.multiarray', '_reconstruct'),
    ('numpy._core.multiarray', '_reconstruct'), ('numpy.core.multiarray', 'scalar'),
    ('numpy._core.multiarray', 'scalar'), ('numpy._core.numeric', '_frombuffer'),
    ('numpy.core.numeric', '_frombuffer'),
}

# Every class a world's state holds, and nothing else of the project: each builds data
# only. A state that needs another fails its save-and-load tests (test_checkpoint.py).
STATE_CLASSES = {
    'spacemine_ros.core.control.scraper': ('ArmGeometry',),
    'spacemine_ros.core.ledger': ('Ledger', 'Transfer'),
    'spacemine_ros.core.models.anchors': ('AnchorType',),
    'spacemine_ros.core.models.body': ('Body', 'Regolith', 'Site'),
    'spacemine_ros.core.models.conveying': ('BeltConveyor', 'LaunchPattern', 'LaunchSite',
                                            'MagneticProperties', 'MagneticSeparator',
                                            'ScrewConveyor'),
    'spacemine_ros.core.models.cutting': ('Blade', 'CuttingForce'),
    'spacemine_ros.core.models.drilling': ('BitLoad', 'DragBit', 'DrillingProcess',
                                           'StrataColumn', 'Stratum'),
    'spacemine_ros.core.models.material_config': ('DriveLimits', 'MaterialConfig',
                                                  'TransferPoint'),
    'spacemine_ros.core.models.power': ('Brownout', 'PowerConfig', 'PowerSystem'),
    'spacemine_ros.core.models.shape': ('Ellipsoid', 'Polyhedron', 'SiteGravity', 'Sphere'),
    'spacemine_ros.core.models.thermal': ('Eutectic', 'FurnaceDesign', 'FurnaceThermal',
                                          'HeatCapacity', 'SpeciesThermal'),
    'spacemine_ros.core.rig_interface': ('CommandInterface', 'Joint'),
    'spacemine_ros.sim.anchors': ('AnchorSim',),
    'spacemine_ros.sim.furnace': ('FurnaceSim',),
    'spacemine_ros.sim.material': ('MaterialSystem',),
    'spacemine_ros.sim.terrain': ('Terrain',),
}


class CheckpointError(Exception):
    """A checkpoint that cannot be taken up; the message says why."""


class _SafeUnpickler(pickle.Unpickler):
    """Builds only a world state's classes (STATE_CLASSES), plain containers and numpy values."""

    def find_class(self, module, name):
        """Refuse any global that is not data."""
        if module == 'builtins' and name in SAFE_BUILTINS or (module, name) in SAFE_GLOBALS \
                or name in STATE_CLASSES.get(module, ()):
            return super().find_class(module, name)
        raise CheckpointError(f'a checkpoint may not build {module}.{name}')


def _canonical(value, depth=0):
    """Return value as plain, ordered data (the same in every process, unlike repr)."""
    if depth > 20:
        raise CheckpointError('configuration nested too deep to fingerprint')
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dict):
        return tuple(sorted((str(k), _canonical(v, depth + 1)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(_canonical(v, depth + 1) for v in value)
    if isinstance(value, (set, frozenset)):
        return tuple(sorted(repr(_canonical(v, depth + 1)) for v in value))
    if hasattr(value, 'tolist'):  # numpy arrays and scalars
        return _canonical(value.tolist(), depth + 1)
    if hasattr(value, '__dict__'):
        return (type(value).__qualname__, _canonical(vars(value), depth + 1))
    if hasattr(value, '__slots__'):
        return (type(value).__qualname__, _canonical(
            {name: getattr(value, name) for name in value.__slots__}, depth + 1))
    return repr(value)


def fingerprint(world):
    """Return what a checkpoint must have been written by: body, anchors, rig, time step."""
    text = repr(_canonical((world.body, world.anchor_type, world.rig_interface,
                            world.physics_dt, world.material_config)))
    return hashlib.sha256(text.encode()).hexdigest()


def _multibody(world):
    cid = world.client
    position, orientation = pybullet.getBasePositionAndOrientation(world.rig,
                                                                   physicsClientId=cid)
    linear, angular = pybullet.getBaseVelocity(world.rig, physicsClientId=cid)
    joints = [tuple(pybullet.getJointState(world.rig, index, physicsClientId=cid)[:2])
              for index in range(pybullet.getNumJoints(world.rig, physicsClientId=cid))]
    return {'base': (tuple(position), tuple(orientation), tuple(linear), tuple(angular)),
            'joints': joints}


def world_state(world, extra=None):
    """Return the state of a world (and extra, picklable) as one picklable mapping."""
    return {
        'multibody': _multibody(world),
        'world': {name: getattr(world, name) for name in WORLD_FIELDS},
        'rng': world.rng.bit_generator.state,  # plain numbers: the seeded scatter goes on
        'plugins': {name: {key: value for key, value in vars(plugin).items()
                           if key not in PLUGIN_SKIP}
                    for name, plugin in world.plugins.items()},
        'extra': extra,
    }


def restore_world_state(world, state):
    """Put a state from world_state() into a world built from the same config."""
    cid = world.client
    if set(state['plugins']) != set(world.plugins):
        raise CheckpointError(f'the checkpoint has subsystems {sorted(state["plugins"])}, '
                              f'this rig {sorted(world.plugins)}')
    base = state['multibody']['base']
    joints = state['multibody']['joints']
    if len(joints) != pybullet.getNumJoints(world.rig, physicsClientId=cid):
        raise CheckpointError('the checkpoint is of a rig with another number of joints')
    for plugin in world.plugins.values():
        plugin.before_restore()  # e.g. anchors let go of the ground
    pybullet.resetBasePositionAndOrientation(world.rig, base[0], base[1], physicsClientId=cid)
    pybullet.resetBaseVelocity(world.rig, base[2], base[3], physicsClientId=cid)
    for index, (position, velocity) in enumerate(joints):
        pybullet.resetJointState(world.rig, index, position, velocity, physicsClientId=cid)
    for name, value in state['world'].items():
        setattr(world, name, value)
    world.rng.bit_generator.state = state['rng']
    for name, values in state['plugins'].items():
        vars(world.plugins[name]).update(values)
    for plugin in world.plugins.values():
        plugin.after_restore()  # e.g. engaged anchors hold the ground again
    return state['extra']


def save_checkpoint(world, path, session='', extra=None):
    """Write the world's checkpoint to path atomically."""
    _write(path, *_snapshot(world, session, extra, fingerprint(world)))


def _snapshot(world, session, extra, known_fingerprint):
    """Return (header, pickled state) of a world now: the part that must be taken at once."""
    state = pickle.dumps(world_state(world, extra), protocol=pickle.HIGHEST_PROTOCOL)
    header = pickle.dumps({'format': FORMAT, 'fingerprint': known_fingerprint,
                           'session': session,
                           'time': world.time}, protocol=4)
    return header, state


def _write(path, header, state):
    """Compress and write a snapshot to path atomically (temporary file, fsync, rename)."""
    payload = zlib.compress(state, 1)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    temporary = f'{path}.{os.getpid()}.tmp'
    with open(temporary, 'wb') as stream:
        stream.write(MAGIC + len(header).to_bytes(4, 'big') + header + payload)
        stream.flush()
        os.fsync(stream.fileno())
    os.replace(temporary, path)


def read_header(path):
    """Return the header of a checkpoint file (format, fingerprint, session, time)."""
    with open(path, 'rb') as stream:
        data = stream.read()
    return _split(path, data)[0]


def _split(path, data):
    if not data.startswith(MAGIC) or len(data) < len(MAGIC) + 4:
        raise CheckpointError(f'{path} is not a world checkpoint')
    start = len(MAGIC) + 4
    size = int.from_bytes(data[len(MAGIC):start], 'big')
    try:
        header = _SafeUnpickler(io.BytesIO(data[start:start + size])).load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as error:
        raise CheckpointError(f'{path}: unreadable header ({error})') from None
    if not isinstance(header, dict) or header.get('format') != FORMAT:
        raise CheckpointError(f'{path}: checkpoint format {header!r:.60} is not {FORMAT}')
    return header, data[start + size:]


def load_checkpoint(world, path):
    """Restore a world from its checkpoint file; return (header, extra).

    CheckpointError (the world unchanged) if the file is not a checkpoint of this world.
    """
    try:
        with open(path, 'rb') as stream:
            data = stream.read()
    except OSError as error:
        raise CheckpointError(f'{path}: {error.strerror or error}') from None
    header, payload = _split(path, data)
    if header.get('fingerprint') != fingerprint(world):
        raise CheckpointError(f'{path} was written by a world of another body, anchor design, '
                              'rig, material path or time step')
    try:
        state = _SafeUnpickler(io.BytesIO(zlib.decompress(payload))).load()
    except (pickle.UnpicklingError, zlib.error, EOFError, ValueError, TypeError,
            AttributeError, ImportError) as error:
        raise CheckpointError(f'{path}: unreadable state ({error})') from None
    if not isinstance(state, dict) or not {'multibody', 'world', 'plugins'} <= set(state):
        raise CheckpointError(f'{path}: not a world state')
    return header, restore_world_state(world, state)


def take_up_checkpoint(world, checkpoints, control_period, session='', resume=False):
    """Restore a world from a rig's checkpoint if this start takes it up.

    resume takes up whatever start wrote it; otherwise only a checkpoint of this start
    (a respawn: same session). The clock goes on from the last period anyone saw, one
    control period on: controllers ignore a period they have answered, so time must not
    run backwards. Returns the checkpoint's time, or None if there is none to take up.
    CheckpointError or OSError if it cannot be read (the world unchanged).
    """
    if not os.path.exists(checkpoints.path):
        return None
    header = read_header(checkpoints.path)
    if not (resume or (session and header['session'] == session)):
        return None
    load_checkpoint(world, checkpoints.path)
    checkpointed = world.time
    world.time = max(checkpointed, checkpoints.last_time()) + control_period
    if world.power is not None:
        world.power.time = world.time
    return checkpointed


class WorldCheckpoints:
    """A rig's world checkpoint and its clock, in the rig's data directory.

    The checkpoint is written every so often: the world's state is taken at once (a
    pickle, about a millisecond) and compressed, written and synced by a writer thread,
    off the simulation's path (the newest snapshot wins if the disk is slower than the
    simulation). The time of every period is written in place to a small clock file (no
    fsync: what a killed process wrote is the kernel's and survives it), so a restored
    world's clock goes on from the last period rather than from the checkpoint's.
    """

    CLOCK = struct.Struct('<d')

    def __init__(self, data_dir, session=''):
        self.path = os.path.join(data_dir, 'world.checkpoint')
        self.clock_path = os.path.join(data_dir, 'world.clock')
        self.session = session
        self._clock = None  # file descriptor
        self._fingerprint = None  # the world's: its configuration does not change
        self._pending = None  # the snapshot the writer is to write next
        self._error = None  # what the writer could not write (raised at the next save)
        self._wake = threading.Condition()
        self._writer = None

    def save(self, world, extra=None, wait=False):
        """Checkpoint the world now (extra: what else to restore with it).

        The snapshot is taken here; the writer thread writes it. wait: return once it is
        on disk (a stop). OSError: what the writer could not write last time (or now).
        """
        if self._fingerprint is None:
            self._fingerprint = fingerprint(world)
        snapshot = _snapshot(world, self.session, extra, self._fingerprint)
        error, self._error = self._error, None
        if wait:
            self._flush()
            _write(self.path, *snapshot)
        else:
            with self._wake:
                self._pending = snapshot
                if self._writer is None:
                    self._writer = threading.Thread(target=self._write_loop, daemon=True,
                                                    name='world-checkpoints')
                    self._writer.start()
                self._wake.notify()
        if error is not None:
            raise error

    def _write_loop(self):
        while True:
            with self._wake:
                while self._pending is None:
                    self._wake.wait()
                snapshot = self._pending
                if snapshot == 'stop':
                    self._pending = None
                    self._wake.notify_all()
                    return
            try:
                _write(self.path, *snapshot)
            except OSError as error:
                self._error = error
            with self._wake:
                if self._pending is snapshot:
                    self._pending = None
                self._wake.notify_all()

    def _flush(self):
        """Wait until the writer has written what it was given."""
        with self._wake:
            while self._pending is not None and self._writer is not None and \
                    self._writer.is_alive():
                self._wake.wait(1.0)

    def note_time(self, time):
        """Record the time of the period just published."""
        if self._clock is None:
            os.makedirs(os.path.dirname(self.clock_path), exist_ok=True)
            self._clock = os.open(self.clock_path, os.O_RDWR | os.O_CREAT, 0o644)
        os.pwrite(self._clock, self.CLOCK.pack(time), 0)

    def last_time(self):
        """Return the last time noted (by this process or one before it; 0 if none)."""
        try:
            with open(self.clock_path, 'rb') as stream:
                (time,) = self.CLOCK.unpack(stream.read(self.CLOCK.size))
        except (OSError, struct.error):
            return 0.0
        return time if math.isfinite(time) else 0.0

    def close(self):
        """Write what is pending, stop the writer, close the clock file."""
        self._flush()
        if self._writer is not None:
            with self._wake:
                self._pending = 'stop'
                self._wake.notify_all()
            self._writer.join(timeout=10.0)
            self._writer = None
        if self._clock is not None:
            os.close(self._clock)
            self._clock = None
