"""The supervisor's crash-safe record: SQLite in WAL mode in the rig's data directory.

Written as things happen, each in its own transaction (synchronous=FULL, so a committed
row survives a power cut as well as a killed process): the plan (its YAML as loaded) and
the event log (mode changes, steps, faults, operator commands with their outcome); with
every change of mode or step, in the event's own transaction, the mission's snapshot
(mode, step, attempt; see Mission.snapshot()) and the ledger's totals. No rclpy.
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
CREATE TABLE IF NOT EXISTS nonces (
    nonce TEXT PRIMARY KEY, expires REAL NOT NULL, wall_time REAL NOT NULL);
"""
# How long the nonce of an operator's command is remembered [wall s]. A replay must also
# be fresh on the rig's clock; a sim rig's clock starts again at zero with each fresh start,
# so the nonce, not the clock, is what refuses a copy of a command of an earlier run.
NONCE_MEMORY = 30 * 86400.0


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

    def log(self, rig_time, kind, text, snapshot=None, totals=None):
        """Append an event; with it, in the same transaction, the snapshot and the ledger.

        One transaction: a process killed between an event and the snapshot it goes with
        would otherwise leave a record that says a step finished and a snapshot that
        brings a restarted supervisor back to it.
        """
        statements = [('INSERT INTO events (rig_time, wall_time, kind, text) '
                       'VALUES (?, ?, ?, ?)', (float(rig_time), time.time(), kind, text))]
        if snapshot is not None:
            statements.append(('UPDATE mission SET snapshot = ?, updated_at = ? WHERE id = 1',
                               (json.dumps(snapshot), time.time())))
        statements += [('INSERT INTO ledger (name, kg, rig_time) VALUES (?, ?, ?) '
                        'ON CONFLICT(name) DO UPDATE SET kg = excluded.kg, '
                        'rig_time = excluded.rig_time', (name, float(kg), float(rig_time)))
                       for name, kg in (totals or {}).items()]
        self._write(statements)

    def claim_nonce(self, nonce, expires):
        """Record an operator command's nonce; return False if it was recorded already.

        expires: when the command stops being valid on the rig's clock (kept for the
        record). Nonces older than NONCE_MEMORY wall seconds are forgotten.
        """
        now = time.time()
        with self.db:  # pragma: no branch - commits or rolls back
            self.db.execute('BEGIN')
            self.db.execute('DELETE FROM nonces WHERE wall_time < ?', (now - NONCE_MEMORY,))
            cursor = self.db.execute('INSERT OR IGNORE INTO nonces (nonce, expires, wall_time) '
                                     'VALUES (?, ?, ?)', (str(nonce), float(expires), now))
        return cursor.rowcount == 1

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


TRANSFER_SCHEMA = """
CREATE TABLE IF NOT EXISTS transfers (
    id INTEGER PRIMARY KEY, books INTEGER NOT NULL, sequence INTEGER NOT NULL,
    rig_time REAL NOT NULL, source TEXT NOT NULL, destination TEXT NOT NULL,
    kg REAL NOT NULL, masses TEXT NOT NULL, note TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS books (
    id INTEGER PRIMARY KEY, opened_at REAL NOT NULL, reason TEXT NOT NULL);
"""


class TransferLog:
    """The ledger's transfers as they happen: <data_dir>/ledger.sqlite (WAL).

    Each start of the books (a node's start, a rebuild after the world was restored)
    opens a new `books` row; its transfers follow, committed in one transaction per
    update (synchronous=NORMAL: with WAL a killed process loses nothing committed; the
    totals, from which the books can always be rebuilt, are the rig's own totalizers).
    """

    def __init__(self, path):
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute('PRAGMA journal_mode=WAL')
        self.db.execute('PRAGMA synchronous=NORMAL')
        self.db.executescript(TRANSFER_SCHEMA)
        self.pending = []
        self.books = None

    def open_books(self, reason):
        """Start a new set of books (their transfers come after this)."""
        self.flush()
        with self.db:
            self.books = self.db.execute('INSERT INTO books (opened_at, reason) VALUES (?, ?)',
                                         (time.time(), reason)).lastrowid

    def add(self, entry):
        """Queue a core.ledger.Transfer (written by the next flush())."""
        self.pending.append((self.books, entry.sequence, entry.time, entry.source,
                             entry.destination, sum(m for _, m in entry.masses),
                             json.dumps(dict(entry.masses)), entry.note))

    def flush(self):
        """Write the queued transfers in one transaction."""
        if not self.pending:
            return
        rows, self.pending = self.pending, []
        with self.db:
            self.db.execute('BEGIN')
            self.db.executemany(
                'INSERT INTO transfers (books, sequence, rig_time, source, destination, kg, '
                'masses, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?)', rows)

    def transfers(self, books=None):
        """Return [(books, sequence, rig_time, source, destination, kg, note)], in order."""
        sql = ('SELECT books, sequence, rig_time, source, destination, kg, note FROM transfers'
               + (' WHERE books = ?' if books is not None else '') + ' ORDER BY id')
        return self.db.execute(sql, () if books is None else (books,)).fetchall()

    def close(self):
        """Write what is queued and close."""
        self.flush()
        self.db.close()
