"""A Modbus RTU master on one serial line: one transaction at a time, never a stale answer.

SerialLink moves bytes (pyserial); RtuMaster runs transactions on a link:

- before a request, whatever is waiting in the input buffer is discarded, and the RTU
  inter-frame silence (t3.5) after the previous frame is kept;
- the answer is searched for with hardware/rtu.find_answer (expected unit and function,
  CRC, contents checked against the request);
- after a timeout or a bad answer the line is resynchronised before anything else is
  sent: the master discards whatever arrives until the failed request's late window has
  passed (4 request timeouts by default) and the line has been silent for t3.5. A late
  answer to the failed request lands in that window and is thrown away (and reported),
  never matched to a later request. An answer later than the window is
  indistinguishable from the next request's answer if the two requests have the same
  unit, function and count; set the window to the slowest the device may be;
- every failure is a LineError whose text says precisely what happened.

pymodbus' own serial client does none of the matching or resynchronisation: it hunts
for any frame that parses, from any unit and with any function code, and returns it.
"""

import select
import time

import serial

from spacemine_ros.hardware.rtu import AnswerError, character_time, diagnose, find_answer, \
    frame_gap

PARITY = {'none': serial.PARITY_NONE, 'even': serial.PARITY_EVEN, 'odd': serial.PARITY_ODD}
LATE_WINDOW = 4.0  # default late window, in request timeouts
SLICE = 0.05  # s: the longest a wait goes without looking whether the line is closing
FLOOD = 4 * 256  # bytes without an answer after which the line is not worth reading on


class LineError(RuntimeError):
    """A transaction or the line failed; str() is the precise cause."""

    def __init__(self, cause, exception_code=None):
        super().__init__(cause)
        self.cause = cause
        self.exception_code = exception_code


class LinkLost(LineError):
    """The port is gone or cannot be opened."""


class SerialLink:
    """A serial port as a byte pipe with timed reads (pyserial underneath)."""

    def __init__(self, port, baudrate=115200, parity='even', stopbits=1):
        if parity not in PARITY:
            raise ValueError(f'parity {parity!r}: expected none, even or odd')
        self.port = port
        self.baudrate = baudrate
        self.parity = parity
        self.stopbits = stopbits
        self._serial = None

    @property
    def is_open(self):
        """True while the port is open."""
        return self._serial is not None

    def open(self):
        """Open the port; LinkLost with the OS's reason if it cannot be opened."""
        if self._serial is not None:
            return
        try:
            # timeout=0: reads never block in pyserial; waiting is done in read() below.
            self._serial = serial.Serial(
                self.port, baudrate=self.baudrate, parity=PARITY[self.parity],
                stopbits=self.stopbits, bytesize=serial.EIGHTBITS, timeout=0,
                write_timeout=1.0, exclusive=True)
        except (serial.SerialException, OSError, ValueError) as error:
            raise LinkLost(f'cannot open {self.port}: {error}') from None

    def close(self):
        """Close the port (idempotent)."""
        if self._serial is not None:
            try:
                self._serial.close()
            except (serial.SerialException, OSError):
                pass
            self._serial = None

    def _lost(self, error):
        self.close()
        raise LinkLost(f'{self.port} lost: {error}') from None

    def write(self, data):
        """Send bytes and wait until the OS has passed them to the line."""
        port = self._serial
        if port is None:
            raise LinkLost(f'{self.port} is not open')
        try:
            port.write(data)
            port.flush()
        except (serial.SerialException, OSError, ValueError) as error:
            self._lost(error)

    def read(self, timeout):
        """Return the bytes that arrive within timeout s (b'' if none).

        As soon as anything arrives, all that is there is returned.
        """
        port = self._serial  # another thread may close the link meanwhile
        if port is None:
            raise LinkLost(f'{self.port} is not open')
        try:
            if not self._wait(port, max(timeout, 0.0)):
                return b''
            return port.read(max(port.in_waiting, 1))
        except (serial.SerialException, OSError, ValueError) as error:
            self._lost(error)

    @staticmethod
    def _wait(port, timeout):
        try:
            fd = port.fileno()
        except (AttributeError, OSError, serial.SerialException):
            fd = None
        if fd is not None:
            ready, _, _ = select.select([fd], [], [], timeout)
            return bool(ready)
        deadline = time.monotonic() + timeout  # ports without a descriptor: poll
        while not port.in_waiting:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.0005)
        return True

    def discard(self):
        """Return and drop whatever is waiting, without waiting."""
        return self.read(0.0)


class RtuMaster:
    """Modbus RTU transactions on a link, each answer matched to its own request."""

    def __init__(self, link, timeout=0.05, retries=1, late_window=None, clock=time.monotonic):
        self.link = link
        self.timeout = float(timeout)
        self.retries = int(retries)
        self.clock = clock
        parity = getattr(link, 'parity', 'none')
        stopbits = getattr(link, 'stopbits', 1)
        self.char_time = character_time(link.baudrate, parity, stopbits)
        self.gap = frame_gap(link.baudrate, parity, stopbits)
        # After a failure nothing is sent until the failed request's late window has
        # passed (and the line is silent): an answer later than the timeout but inside
        # the window is thrown away, never taken for the next request's answer.
        self.late_window = max(self.timeout + self.gap, LATE_WINDOW * self.timeout
                               if late_window is None else late_window)
        self._quiet_from = -float('inf')  # end of the last frame seen on the line
        self.discarded = 0  # bytes thrown away (stale, late or trailing), for diagnostics
        self.late_answers = 0
        self._aborted = False

    @property
    def port(self):
        """The link's port."""
        return self.link.port

    @property
    def is_open(self):
        """True while the link is open."""
        return self.link.is_open

    def open(self):
        """Open the link (LinkLost with the reason if it cannot be)."""
        self._aborted = False
        self.link.open()
        self._quiet_from = self.clock()

    def close(self):
        """Close the link."""
        self.link.close()

    def abort(self):
        """Cut the transaction under way (in another thread) short: the line is closing.

        It and every later one fail with a LineError until open() or resume().
        """
        self._aborted = True

    def resume(self):
        """Accept transactions again after abort()."""
        self._aborted = False

    def _read(self, timeout):
        if self._aborted:
            raise LineError('aborted: the line is closing')
        return self.link.read(min(timeout, SLICE))

    def execute(self, request):
        """Send request, return its Answer; LineError with the precise cause otherwise.

        A missing or malformed answer is retried (after resynchronisation) up to
        `retries` times; an exception response is the device's answer and is not.
        """
        causes = []
        for _ in range(1 + self.retries):
            sent = self._send(request)
            try:
                return self._receive(request, sent)
            except AnswerError as error:
                if error.exception_code is not None:
                    # The device's own answer: the line is in step, nothing to resync.
                    self._quiet_from = self.clock()
                    raise LineError(error.cause, error.exception_code) from None
                cause = error.cause
            except _NoAnswer as error:
                cause = error.cause
            causes.append(cause + self._resync(request, sent))
        attempts = len(causes)
        distinct = list(dict.fromkeys(causes))
        text = '; '.join(distinct)
        raise LineError(text + (f' ({attempts} attempts)' if attempts > 1 else ''))

    # Steps ------------------------------------------------------------------------------------
    def _send(self, request):
        # Keep the inter-frame silence after the last frame, and take what came in it as
        # stale: nothing may be waiting when a request goes out.
        remaining = self._quiet_from + self.gap - self.clock()
        stale = self._read(remaining) if remaining > 0 else b''
        stale += self._read(0.0)
        if stale:
            self.discarded += len(stale)
        self.link.write(request.frame())
        return self.clock()

    def _receive(self, request, sent):
        # The answer's own transmission time is not the device's delay: allow for it.
        waited_for = self.timeout + request.answer_length * self.char_time
        deadline = sent + waited_for
        data = bytearray()
        while True:
            answer = find_answer(request, data)  # AnswerError propagates
            if answer is not None:
                self._quiet_from = self.clock()
                trailing = len(data) - answer.end
                if trailing or answer.start:
                    self.discarded += trailing + answer.start
                return answer
            remaining = deadline - self.clock()
            if remaining <= 0 or len(data) > FLOOD:
                self._quiet_from = self.clock()
                raise _NoAnswer(diagnose(request, bytes(data), waited_for))
            data += self._read(remaining)

    def _resync(self, request, sent):
        """Discard what arrives until the failed request's late window is over.

        The window ends when it has passed and the line has been silent for t3.5;
        returns the words that describe a late answer among what was discarded.
        """
        data = bytearray()
        first = None
        until = sent + self.late_window
        give_up = until + max(10 * self.late_window, 1.0)
        last = self.clock()  # the line's last activity
        while True:
            end = max(until, last + self.gap)
            now = self.clock()
            if now >= end:
                break
            chunk = self._read(end - now)
            if chunk:
                last = self.clock()
                if first is None:
                    first = last
                data += chunk
                if last > give_up:
                    self._quiet_from = last
                    self.discarded += len(data)
                    raise LineError(f'the line never fell silent: {len(data)} bytes in '
                                    f'{last - first:.1f} s (another master on the bus?)')
        self._quiet_from = self.clock()
        if not data:
            return ''
        self.discarded += len(data)
        try:
            late = find_answer(request, data)
        except AnswerError:
            late = None
        if late is None:
            return f'; then {len(data)} more bytes, discarded'
        self.late_answers += 1
        return (f'; its answer came {(first - sent) * 1000:.0f} ms after the request and was '
                f'discarded (the device is slower than the {self.timeout * 1000:.0f} ms '
                f'timeout)')


class _NoAnswer(Exception):
    def __init__(self, cause):
        super().__init__(cause)
        self.cause = cause


def open_master(port, baudrate, parity, stopbits, timeout, retries, late_window=None):
    """Return an RtuMaster on a pyserial link (not opened yet)."""
    return RtuMaster(SerialLink(port, baudrate, parity, stopbits), timeout=timeout,
                     retries=retries, late_window=late_window)
