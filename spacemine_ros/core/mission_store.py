"""The supervisor's crash-safe record: SQLite in WAL mode in the rig's data directory.

Written as things happen, each in its own transaction (synchronous=FULL, so a committed
row survives a power cut as well as a killed process): the plan (its YAML as loaded), the
mission's snapshot (mode, step, attempt; see Mission.snapshot()), and the event log (mode
changes, steps, faults, operator commands with their outcome). The ledger's totals are
recorded with each event and on every step change. No rclpy.
"""

import json
import os
import sqlite3
import time

SCHEMA = """
CREATE TABLE IF NOT EXISTS plans (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL, source TEXT NOT NULL, text TEXT NOT NULL,
    loaded_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS mission (
    id INTEGER PRIMARY KEY CHECK (id = 1), plan_id INTEGER REFERENCES plans(id),
    snapshot TEXT NOT NULL, updated_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY, rig_time REAL NOT NULL, wall_time REAL NOT NULL,
    kind TEXT NOT NULL, text TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ledger (
    name TEXT PRIMARY KEY, kg REAL NOT NULL, rig_time REAL NOT NULL);
"""


class MissionStore:
    """One rig's mission record (see the module's docstring)."""

    def __init__(self, path):
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        self.path = path
        # autocommit off: each write below is one explicit transaction
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute('PRAGMA journal_mode=WAL')
        self.db.execute('PRAGMA synchronous=FULL')
        self.db.executescript(SCHEMA)

    def close(self):
        """Close the database (everything is already committed)."""
        self.db.close()

    def _write(self, statements):
        with self.db:  # pragma: no branch - sqlite3's context manager commits or rolls back
            self.db.execute('BEGIN')
            for sql, args in statements:
                self.db.execute(sql, args)

    def save_plan(self, name, source, text, snapshot):
        """Record a newly loaded plan and make it the mission's; return its id."""
        cursor = self.db.execute('BEGIN')
        try:
            cursor = self.db.execute(
                'INSERT INTO plans (name, source, text, loaded_at) VALUES (?, ?, ?, ?)',
                (name, source, text, time.time()))
            plan_id = cursor.lastrowid
            self.db.execute(
                'INSERT INTO mission (id, plan_id, snapshot, updated_at) VALUES (1, ?, ?, ?) '
                'ON CONFLICT(id) DO UPDATE SET plan_id = excluded.plan_id, '
                'snapshot = excluded.snapshot, updated_at = excluded.updated_at',
                (plan_id, json.dumps(snapshot), time.time()))
            self.db.execute('COMMIT')
        except BaseException:
            self.db.execute('ROLLBACK')
            raise
        return plan_id

    def save_snapshot(self, snapshot):
        """Record the mission's snapshot (after every change of mode or step)."""
        self._write([('UPDATE mission SET snapshot = ?, updated_at = ? WHERE id = 1',
                      (json.dumps(snapshot), time.time()))])

    def log(self, rig_time, kind, text):
        """Append an event."""
        self._write([('INSERT INTO events (rig_time, wall_time, kind, text) VALUES (?, ?, ?, ?)',
                      (float(rig_time), time.time(), kind, text))])

    def save_ledger(self, totals, rig_time):
        """Record the ledger's totals {account: kg} as they stand."""
        self._write([('INSERT INTO ledger (name, kg, rig_time) VALUES (?, ?, ?) '
                      'ON CONFLICT(name) DO UPDATE SET kg = excluded.kg, '
                      'rig_time = excluded.rig_time', (name, float(kg), float(rig_time)))
                     for name, kg in totals.items()])

    def mission(self):
        """Return (plan name, plan source, plan YAML text, snapshot) or None if none stored."""
        row = self.db.execute(
            'SELECT plans.name, plans.source, plans.text, mission.snapshot FROM mission '
            'JOIN plans ON plans.id = mission.plan_id WHERE mission.id = 1').fetchone()
        if row is None:
            return None
        return row[0], row[1], row[2], json.loads(row[3])

    def events(self, limit=None):
        """Return the event log [(rig_time, wall_time, kind, text)], oldest first."""
        rows = self.db.execute('SELECT rig_time, wall_time, kind, text FROM events '
                               'ORDER BY id').fetchall()
        return rows[-limit:] if limit else rows

    def ledger(self):
        """Return the ledger's totals as last recorded {account: kg}."""
        return dict(self.db.execute('SELECT name, kg FROM ledger').fetchall())
