"""spacemine-targets end to end: a small catalogue ranked with real headless shifts."""

import csv
import os
import shutil

import pytest
import yaml

from spacemine_ros.launcher import check_before_start
from spacemine_ros.paths import share_path
from spacemine_ros.targets import main

SMALL = ('bennu', '2008ev5', '2000sg344')  # a preset, a body built from its class, no class


@pytest.fixture
def small_catalogue(tmp_path):
    with open(share_path('config', 'targets.yaml'), encoding='utf-8') as stream:
        data = yaml.safe_load(stream)
    data['targets'] = {k: v for k, v in data['targets'].items() if k in SMALL}
    # An asteroid only this catalogue knows: its shift must find it here.
    data['targets']['ev5twin'] = {**data['targets']['2008ev5'], 'name': 'EV5 twin (test)'}
    path = tmp_path / 'targets.yaml'
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding='utf-8')
    # The catalogue's bodies come from the bodies file beside it.
    shutil.copy(share_path('config', 'bodies.yaml'), tmp_path / 'bodies.yaml')
    return path


def test_a_small_catalogue_is_ranked_with_every_term_and_reported(small_catalogue, tmp_path,
                                                                  capsys):
    out = tmp_path / 'out'
    args = ['--catalogue', str(small_catalogue), '--window', '2030-01-01:2031-06-30',
            '--departure-step', '30', '--flight', '100:500:50', '--workers', '2',
            '--cache-dir', str(tmp_path / 'cache')]
    assert main(args + ['--output-dir', str(out)]) == 0
    printed = capsys.readouterr()
    assert 'cached' not in printed.err
    with open(out / 'targets.csv', encoding='utf-8') as stream:
        rows = {row['key']: row for row in csv.DictReader(stream)}
    assert set(rows) == set(SMALL) | {'ev5twin'}
    for key in ('bennu', '2008ev5', 'ev5twin'):
        row = rows[key]
        assert not row['reason'], row
        for column in ('sh_delta_v_km_s', 'transfer_delta_v_km_s', 'departure', 'c3_km2_s2',
                       'arrival_v_inf_km_s', 'yield_per_kg', 'product_per_rig_year_kg'):
            assert row[column], (key, column)
        assert 'microspine' in row['anchors_rock']
        assert row['product'] == 'volatiles'
        assert float(row['delivered_per_tonne_kg']) > 0.0
    assert 'bulk density 1190' in rows['2008ev5']['assumed']
    assert rows['bennu']['assumed'] == ''
    # No class, no preset: it scores zero and says why, and ranks last.
    assert 'spectral class is unknown' in rows['2000sg344']['reason']
    assert float(rows['2000sg344']['delivered_per_tonne_kg']) == 0.0
    assert rows['2000sg344']['rank'] == '4'
    assert '2008ev5' in printed.out and 'why zero' in printed.out
    report = (out / 'targets.html').read_text(encoding='utf-8')
    assert 'id="porkchop"' in report and 'id="scatter"' in report
    assert 'data:image/png;base64' in report

    # Again: every yield from the cache, and the very same ranking.
    again = tmp_path / 'again'
    assert main(args + ['--output-dir', str(again)]) == 0
    err = capsys.readouterr().err
    assert err.count('cached completed') == 3 and 'shift 1/' not in err
    assert (again / 'targets.csv').read_text() == (out / 'targets.csv').read_text()

    # A changed entry runs its shift again; the others stay cached.
    data = yaml.safe_load(small_catalogue.read_text(encoding='utf-8'))
    data['targets']['ev5twin']['diameter_m'] = [600.0, 'busch2011']
    small_catalogue.write_text(yaml.safe_dump(data, allow_unicode=True), encoding='utf-8')
    assert main(args + ['--output-dir', str(tmp_path / 'changed')]) == 0
    err = capsys.readouterr().err
    assert 'ev5twin: shift 1/1' in err and err.count('cached completed') == 2


@pytest.mark.parametrize('args, message', [
    (['--window', '2060-01-01:2061-01-01'], 'both in 1800-2050'),
    (['--window', 'soon:later'], "'soon' is not a date"),
    (['--flight', '500:100:10'], '0 < MIN < MAX'),
    (['--catalogue', '/nonexistent/targets.yaml'], 'targets.yaml'),
])
def test_bad_arguments_end_in_one_line(args, message, capsys):
    with pytest.raises(SystemExit) as ended:
        main(args + ['--no-shifts'])
    assert ended.value.code == 2
    error = capsys.readouterr().err
    assert message in error and error.count('\n') == 1


def test_a_shift_on_a_catalogue_asteroid_says_what_its_body_assumes(capsys):
    from spacemine_ros.bringup import graph
    check_before_start(graph('sim', '2008EV5'), share_path('config', 'rig.yaml'), {},
                       '2008EV5')
    err = capsys.readouterr().err
    assert '341843 (2008 EV5), built from the asteroid catalogue' in err
    assert 'assumed: bulk density 1190 kg/m^3 (C family)' in err
    assert os.path.exists(share_path('config', 'targets.yaml'))


def test_ctrl_c_while_shifts_run_stops_every_worker_in_one_line(small_catalogue, tmp_path):
    import queue
    import signal
    import subprocess
    import sys
    import threading
    # Started as a terminal starts it: Ctrl-C neither ignored nor blocked. In the whole
    # suite it once ran to the end through the SIGINT (exit 0) as if it had inherited an
    # ignored SIGINT from the test process, which an interactive shell never passes on.
    as_from_a_terminal = ('import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); '
                          'signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT}); '
                          'os.execv(sys.executable, [sys.executable] + sys.argv[1:])')
    process = subprocess.Popen(
        [sys.executable, '-c', as_from_a_terminal, '-m', 'spacemine_ros.targets',
         '--catalogue', str(small_catalogue), '--window', '2030-01-01:2030-03-01',
         '--departure-step', '30', '--flight', '100:300:100', '--workers', '2', '--no-cache',
         '--output-dir', str(tmp_path)],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, start_new_session=True)
    lines = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in process.stderr],
                              daemon=True)
    reader.start()
    err = []
    # Interrupt once a worker has built its world (PyBullet says so as it loads), that is
    # while the first shift runs: a fixed wait was over before the shifts on a quiet host.
    while not any('pybullet build time' in line for line in err):
        err.append(lines.get(timeout=300))
        assert not any(': shift ' in line for line in err), ''.join(err)
    with open(f'/proc/{process.pid}/status', encoding='utf-8') as stream:
        signals = [line for line in stream if line.startswith(('SigBlk', 'SigIgn', 'SigCgt'))]
    # The pool's workers started with SIGINT blocked (the resource tracker ignores it).
    workers = []
    for child in subprocess.run(['pgrep', '-P', str(process.pid)], capture_output=True,
                                text=True).stdout.split():
        with open(f'/proc/{child}/cmdline', encoding='utf-8') as stream:
            if 'spawn_main' in stream.read():
                workers.append(child)
    assert workers
    for worker in workers:
        with open(f'/proc/{worker}/status', encoding='utf-8') as stream:
            blocked = next(int(line.split()[1], 16) for line in stream
                           if line.startswith('SigBlk'))
        assert blocked & (1 << (signal.SIGINT - 1)), f'worker {worker}: SigBlk {blocked:x}'
    os.killpg(process.pid, signal.SIGINT)  # as a terminal's Ctrl-C: the whole group
    assert process.wait(timeout=120) == 130, ''.join(err + signals)
    reader.join(timeout=30)
    while not lines.empty():
        err.append(lines.get())
    said = [line.rstrip('\n') for line in err if 'pybullet build time' not in line]
    assert said[-1] == ('spacemine-targets: interrupted: the shifts run so far are cached; '
                        'run again to go on'), ''.join(err)
    assert not any('Traceback' in line for line in err), ''.join(err)
    assert not (tmp_path / 'targets.csv').exists()
