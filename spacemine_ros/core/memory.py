"""What a node must remember across a restart of its own process, on disk.

Most of a rig's state is physical and is read back from the rig after a restart (anchor
embeds, furnace charge, hopper masses, totalizers). What is not (where the drill met the
surface, which the feed encoder cannot tell once the bit is in the hole) a node keeps in
a small JSON file in the rig's data directory, written atomically (temporary file, fsync,
rename) so a kill at any instant leaves the old or the new record, never half of one.

A record belongs to one start of the rig (its session, see bringup). A node respawned
within that start, or started with resume, takes the record up; a fresh start of the rig
ignores it (the rig may have moved). Values come back only through the caller's checks:
a record is data from disk, not trusted until checked. No rclpy.
"""

import json
import math
import os


class NodeMemory:
    """One node's record: <data_dir>/memory/<name>.json."""

    def __init__(self, data_dir, name, session='', take_up=False):
        self.path = os.path.join(data_dir, 'memory', f'{name}.json')
        self.session = session
        self.take_up = take_up
        self.written = None
        self.problem = ''  # why a record found was not taken up ('' if none or taken)

    def recall(self):
        """Return the stored values ({} if none, another start's, or unreadable)."""
        try:
            with open(self.path, encoding='utf-8') as stream:
                record = json.load(stream)
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as error:
            self.problem = f'{self.path} unreadable ({error}): starting afresh'
            return {}
        if not isinstance(record, dict) or not isinstance(record.get('values'), dict):
            self.problem = f'{self.path} is not a node record: starting afresh'
            return {}
        if not self.take_up and (not self.session or record.get('session') != self.session):
            return {}  # another start of the rig (or one with no name): it may have moved
        self.written = record['values']
        return dict(record['values'])

    def remember(self, **values):
        """Store values (JSON types) if they changed since the last write.

        Returns '' or why they could not be stored (a full disk must not stop the rig:
        the record is then one write behind, and the next change tries again).
        """
        if values == self.written:
            return ''
        temporary = f'{self.path}.{os.getpid()}.tmp'
        try:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            with open(temporary, 'w', encoding='utf-8') as stream:
                json.dump({'session': self.session, 'values': values}, stream)
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temporary, self.path)
        except OSError as error:
            return f'{self.path}: not written ({error.strerror or error})'
        self.written = dict(values)
        return ''


def checked_float(values, name, low, high):
    """Return values[name] if it is a finite number within [low, high], else None."""
    value = values.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) and low <= value <= high else None


class RecordTimeline:
    """A node's record as it stood over the last `horizon` seconds of the rig's clock.

    A simulated world restored from its checkpoint (rig_sim after a restart) is up to one
    checkpoint period behind what a controller saw. What the controller keeps of its own
    (a scraper's pass and the radius cut to) must then go back with the world, or the
    work done in that lost time is skipped: `at(time)` gives the record of that instant.
    Entries are added only when the record changes; the oldest one kept is the last one
    before the horizon, so any instant within it has its record. JSON-safe both ways.
    """

    def __init__(self, horizon=60.0):
        self.horizon = horizon
        self.entries = []  # [[time, record]], oldest first
        self.restored_at = None  # the world restore last handled (its checkpoint time)

    def note(self, time, record):
        """Add the record of `time` if it differs from the latest; return whether it did."""
        if self.entries and self.entries[-1][1] == record:
            return False
        self.entries.append([float(time), record])
        cut = time - self.horizon
        while len(self.entries) > 1 and self.entries[1][0] <= cut:
            del self.entries[0]
        return True

    def at(self, time):
        """Return the record as it stood at `time` (None if that is before every entry)."""
        found = None
        for stamp, record in self.entries:
            if stamp > time + 1e-9:
                break
            found = record
        return found

    def rewind(self, time):
        """Forget what came after `time` (a timeline the world left); return at(time)."""
        record = self.at(time)
        self.entries = [entry for entry in self.entries if entry[0] <= time + 1e-9]
        return record

    def to_json(self):
        """Return the timeline as JSON types."""
        return {'restored_at': self.restored_at, 'entries': self.entries}

    def take_up(self, values):
        """Take up a timeline from to_json() read back from disk; anything odd: ignored."""
        try:
            entries = values['entries']
            restored_at = values['restored_at']
            if restored_at is not None:
                restored_at = float(restored_at)
            checked = []
            for stamp, record in entries:
                if isinstance(stamp, bool) or not isinstance(stamp, (int, float)) or \
                        not math.isfinite(stamp) or not isinstance(record, dict) or \
                        (checked and stamp < checked[-1][0]):
                    raise ValueError('entry')
                checked.append([float(stamp), record])
        except (KeyError, TypeError, ValueError):
            return False
        self.entries, self.restored_at = checked, restored_at
        return True
