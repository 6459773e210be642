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
