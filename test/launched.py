"""spacemine-rig in a subprocess as an operator runs it, its output collected by a thread."""

import os
import signal
import subprocess
import sys
import threading
import time

from test.conftest import ROOT


class LaunchedRig:
    """`python -m spacemine_ros.launcher ARGS`; .text is everything it printed so far."""

    def __init__(self, args, log=None):
        """log: a file to copy every line to as it comes (kept when a test fails)."""
        env = dict(os.environ, PYTHONUNBUFFERED='1', RCUTILS_COLORIZED_OUTPUT='0')
        # Its own session: kill() takes down every process it started, so a node that
        # outlives a failed test cannot answer the next test's calls.
        self.process = subprocess.Popen(
            [sys.executable, '-m', 'spacemine_ros.launcher', *args], cwd=ROOT, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True)
        self.lines = []
        self.log = log
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        log = open(self.log, 'a', encoding='utf-8') if self.log else None
        try:
            for line in self.process.stdout:
                self.lines.append(line)
                if log:
                    log.write(line)
                    log.flush()
        finally:
            if log:
                log.close()

    @property
    def text(self):
        return ''.join(self.lines)

    def wait_for(self, predicate, limit):
        """Wait until predicate(output) holds, the process ends or limit s pass."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline and not predicate(self.text):
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        return predicate(self.text)

    def kill(self):
        """SIGKILL the launcher and every process it started; wait for the launcher."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass  # all gone already
        self.process.wait()

    def pid(self, node):
        """Return the process id --processes printed for a node, or None."""
        for line in self.lines:
            if line.startswith(f'spacemine-rig: {node} pid '):
                return int(line.split()[-1])
        return None
