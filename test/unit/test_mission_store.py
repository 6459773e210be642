"""The supervisor's crash-safe record (core.mission.mission_store): SQLite in WAL mode."""

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap

from spacemine_ros.core.mission.mission_store import MissionStore, TransferLog
from test.conftest import ROOT


def test_plan_snapshot_events_and_ledger_survive_a_reopen(tmp_path):
    path = str(tmp_path / 'data' / 'mission.sqlite')
    store = MissionStore(path)
    assert store.db.execute('PRAGMA journal_mode').fetchone()[0] == 'wal'
    assert store.mission() is None
    store.save_plan('bennu_shift', '/plans/b.yaml', 'plan: {name: b}', {'mode': 'ready'})
    store.log(12.5, 'step', 'step 3/8 drill', {'mode': 'running', 'step_index': 2},
              {'excavated': 1.25, 'lost': 0.01})
    store.log(13.0, 'fault', 'no snapshot with this one', totals={'excavated': 1.5})
    store.close()
    again = MissionStore(path)
    assert again.mission() == ('bennu_shift', '/plans/b.yaml', 'plan: {name: b}',
                               {'mode': 'running', 'step_index': 2})
    assert [row[2:] for row in again.events()] == [
        ('step', 'step 3/8 drill'), ('fault', 'no snapshot with this one')]
    assert again.ledger() == {'excavated': 1.5, 'lost': 0.01}


def test_a_writer_killed_mid_stream_leaves_every_committed_event(tmp_path):
    path = str(tmp_path / 'mission.sqlite')
    # A process logs events as fast as it can and reports each commit; SIGKILL it.
    script = textwrap.dedent(f"""
        import sys
        from spacemine_ros.core.mission.mission_store import MissionStore
        store = MissionStore({path!r})
        store.save_plan('p', 'p.yaml', 'text', {{'mode': 'ready'}})
        for number in range(1000000):
            store.log(number, 'event', f'event {{number}}',
                      {{'mode': 'running', 'step_index': number}})
            print(number, flush=True)
        """)
    process = subprocess.Popen([sys.executable, '-c', script], cwd=ROOT,
                               stdout=subprocess.PIPE, text=True)
    committed = -1
    for line in process.stdout:
        committed = int(line)
        if committed >= 200:
            break
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    store = MissionStore(path)
    events = store.events()
    assert len(events) >= committed + 1  # nothing reported as written is lost
    assert [text for _, _, _, text in events] == [f'event {n}' for n in range(len(events))]
    snapshot = store.mission()[3]
    assert snapshot['step_index'] == len(events) - 1  # an event and its snapshot: both or none
    assert store.db.execute('PRAGMA integrity_check').fetchone()[0] == 'ok'


def test_the_record_can_be_read_with_plain_sqlite(tmp_path):
    path = str(tmp_path / 'mission.sqlite')
    store = MissionStore(path)
    store.save_plan('p', 'p.yaml', 'text', {'mode': 'ready'})
    store.log(1.0, 'mode', 'ready')
    reader = sqlite3.connect(path)
    assert reader.execute('SELECT kind, text FROM events').fetchall() == [('mode', 'ready')]


def test_the_ledger_s_transfers_are_written_as_they_happen_and_survive_a_reopen(tmp_path):
    from spacemine_ros.core.models.material_config import load_material_config
    from spacemine_ros.core.control.material_handling import TotalizerBooks
    from test.conftest import CONFIG
    path = str(tmp_path / 'ledger.sqlite')
    log = TransferLog(path)
    log.open_books('start')
    books = TotalizerBooks(load_material_config(os.path.join(CONFIG, 'material.yaml')),
                           on_transfer=log.add)
    books.totals.update({('drill_cut', 'delivered'): 0.5, ('drill_discharge', 'delivered'): 0.4})
    assert books.update(1.0, {}, 0.01) == ''
    log.flush()
    log.open_books('the world restored from its checkpoint at 0.50 s')
    books.rebuild()
    books.totals.update({('drill_cut', 'delivered'): 0.3})
    assert books.update(2.0, {}, 0.01) == ''
    log.close()
    again = TransferLog(path)
    rows = again.transfers()
    assert [(r[0], r[3], r[4], round(r[5], 6)) for r in rows] == [
        (1, 'ground', 'drill', 0.5), (1, 'drill', 'conveyor', 0.4), (2, 'ground', 'drill', 0.3)]
    assert again.transfers(books=2)[0][6] == 'drill_cut delivered'
    again.close()
