"""The rig's field buses: polling, command writes, faults and safe states (no ROS).

A BusWorker owns one serial line and a thread that polls its devices at the bus's
poll_rate, so serial I/O never blocks the caller (the ROS executor). Each cycle it
writes what each actuator should hold (its command, or its safe values) and reads every
device's state registers. Faults are handled per device: a failed poll is retried by the
Modbus client, `fault_after` failed polls in a row make the device FAULT, a faulted
device is probed again with exponential backoff, and a port that disappears is reopened
with the same backoff. An actuator is made safe (its safe values written and read back)
when outputs are disabled, the e-stop is latched, its command is stale or invalid, or a
device it is interlocked with is FAULT.

FieldBus groups the workers of a rig description and maps command JointStates to
devices and device readings back to joint states and sensor outputs.
"""

from collections import deque
from dataclasses import dataclass, field
import math
import os
import threading
import time

from spacemine_ros.hardware.modbus_device import DeviceError, line_for, ModbusDevice
from spacemine_ros.hardware.profiles import BusSettings
from spacemine_ros.hardware.rtu_master import LineError

OK, FAULT = 'OK', 'FAULT'


@dataclass
class DeviceStatus:
    """What the worker knows about one device (a copy is handed out in snapshots)."""

    name: str
    state: str = OK
    failures: int = 0  # failed polls in a row
    errors: int = 0  # failed polls in all
    last_error: str = ''
    safe: bool = True  # the device holds its safe values (not necessarily confirmed)
    safe_confirmed: bool = False  # the safe values were written and read back
    safe_reason: str = 'not enabled'
    readings: dict = field(default_factory=dict)  # register -> engineering value
    joint: dict = field(default_factory=dict)  # joint-state field -> value
    read_time: float = math.nan  # clock time of the last good read


@dataclass
class BusSnapshot:
    """A consistent copy of a bus's state."""

    name: str
    port: str
    port_open: bool
    poll_rate: float  # Hz configured
    achieved_rate: float  # Hz measured over the last cycles
    cycles: int
    devices: dict  # name -> DeviceStatus


def bus_health(snapshot, actuators, slow_share=0.8):
    """Return (level, message, values) of one bus for diagnostics.

    ERROR if its port is lost or a device is FAULT, WARN if polling runs below
    slow_share of the configured rate, else OK; values describe the bus and each device
    (actuators: names of the devices that take commands, whose safe state is shown).
    """
    faults = [n for n, s in snapshot.devices.items() if s.state == FAULT]
    slow = snapshot.achieved_rate < slow_share * snapshot.poll_rate
    if not snapshot.port_open:
        level, message = 'ERROR', 'port lost'
    elif faults:
        level, message = 'ERROR', f'FAULT: {", ".join(faults)}'
    elif slow:
        level, message = 'WARN', f'polling below rate ({snapshot.achieved_rate:.1f} Hz)'
    else:
        level, message = 'OK', 'polling'
    values = {'port': snapshot.port, 'poll_rate_hz': f'{snapshot.poll_rate:g}',
              'achieved_rate_hz': f'{snapshot.achieved_rate:.2f}', 'cycles': snapshot.cycles}
    for device, status in snapshot.devices.items():
        values[device] = (f'{status.state} errors={status.errors}'
                          + (f' safe({status.safe_reason})'
                             if status.safe and device in actuators else '')
                          + (f' last_error={status.last_error}'
                             if status.state == FAULT else ''))
    return level, message, values


class _Device:
    """Worker-side state of one device."""

    def __init__(self, spec, modbus):
        self.spec = spec
        self.modbus = modbus
        self.status = DeviceStatus(spec.name)
        self.written = {}  # register -> value last written
        self.command = {}  # register -> commanded value
        self.command_time = -math.inf
        self.command_error = ''
        self.backoff = 0.0
        self.next_probe = 0.0
        self.integrals = {}  # register -> running integral
        self.previous = {}  # register -> (time, value) for rates
        registers = spec.read_registers or (next(iter(spec.profile.registers)),)
        self.poll_registers = list(registers)

    @property
    def actuator(self):
        return bool(self.spec.command)


class BusWorker:
    """One serial line, its devices and the thread that polls them."""

    def __init__(self, spec, devices, port, parity=None, timeout=None, clock=time.monotonic):
        self.spec = spec
        self.port = port
        self.clock = clock
        settings = BusSettings(unit_id=1, baudrate=spec.baudrate, parity=parity or spec.parity,
                               stopbits=spec.stopbits, timeout=timeout or spec.timeout,
                               late_window=spec.late_window)
        self.master = line_for(port, settings, retries=spec.retries)
        self.devices = {d.name: _Device(d, ModbusDevice(d.profile, port, master=self.master,
                                                        unit_id=d.unit_id, name=d.name))
                        for d in devices}
        self._lock = threading.Lock()
        self._thread = None
        self._running = False
        self.outputs_enabled = False
        self.estop = False
        self.port_open = False
        self.port_error = ''
        self._port_backoff = spec.backoff_min
        self._next_reopen = 0.0
        self._cycle_times = deque(maxlen=max(10, int(2 * spec.poll_rate)))
        self.cycles = 0
        self.events = deque(maxlen=100)  # (time, text) of state changes, for the log

    # Life cycle ----------------------------------------------------------------------------
    def open(self):
        """Open the port, check every device answers and write its setup values.

        Returns {device: error text} of the devices that did not answer (empty if all
        did); raises DeviceError if the port itself cannot be opened.
        """
        try:
            self.master.open()
        except LineError as error:
            raise DeviceError(f'{self.spec.name}: {error}') from None
        self.port_open = True
        missing = {}
        for device in self.devices.values():
            try:
                device.modbus.read_many(device.poll_registers)
                for register, value in device.spec.setup.items():
                    device.modbus.write(register, value, confirm=True)
            except (DeviceError, ValueError) as error:
                missing[device.spec.name] = str(error)
        return missing

    def start(self):
        """Start polling in the background."""
        if self._thread is not None:
            return
        self.master.resume()
        self._running = True
        self._thread = threading.Thread(target=self._run, name=f'bus-{self.spec.name}',
                                        daemon=True)
        self._thread.start()

    def stop(self):
        """Stop polling: the transaction under way is cut short, the thread ends."""
        self._running = False
        if self._thread is not None:
            self.master.abort()
            self._thread.join(timeout=5.0)
            self._thread = None

    def close(self):
        """Stop polling and close the port."""
        self.stop()
        self.master.close()
        self.port_open = False

    # Inputs from the caller (any thread) -----------------------------------------------------
    def enable_outputs(self, enabled):
        """Allow (True) or forbid (False) the actuators to follow their commands."""
        with self._lock:
            self.outputs_enabled = bool(enabled)
            if not enabled:
                for device in self.devices.values():
                    device.status.safe_confirmed = False if device.actuator else True

    def set_estop(self, latched):
        """Latch or release the e-stop."""
        with self._lock:
            self.estop = bool(latched)

    def command(self, name, values, now=None):
        """Set a device's commanded register values (engineering units, already mapped).

        A non-finite value makes the device safe until a valid command arrives.
        """
        device = self.devices[name]
        now = self.clock() if now is None else now
        with self._lock:
            bad = [r for r, v in values.items() if not math.isfinite(v)]
            if bad:
                device.command_error = f'non-finite command for {", ".join(bad)}'
                device.command = {}
            else:
                device.command_error = ''
                device.command = {r: device.spec.clamp(r, v) for r, v in values.items()}
            device.command_time = now

    def snapshot(self):
        """Return a BusSnapshot (copies, safe to keep)."""
        with self._lock:
            times = list(self._cycle_times)
            rate = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 2 and \
                times[-1] > times[0] else 0.0
            devices = {name: DeviceStatus(**{**vars(d.status),
                                             'readings': dict(d.status.readings),
                                             'joint': dict(d.status.joint)})
                       for name, d in self.devices.items()}
            return BusSnapshot(self.spec.name, self.port, self.port_open, self.spec.poll_rate,
                               rate, self.cycles, devices)

    def all_safe_confirmed(self):
        """Return whether every actuator's safe values were written and read back."""
        with self._lock:
            return all(d.status.safe_confirmed for d in self.devices.values() if d.actuator)

    # The polling thread -----------------------------------------------------------------------
    def _run(self):
        period = 1.0 / self.spec.poll_rate
        next_time = self.clock()
        while self._running:
            self.poll_once()
            next_time += period
            delay = next_time - self.clock()
            if delay > 0:
                time.sleep(delay)
            else:
                next_time = self.clock()  # overran: no catch-up burst

    def poll_once(self):
        """Run one cycle: reopen a lost port, write and read every device."""
        now = self.clock()
        if not self.port_open:
            if now < self._next_reopen or not self._reopen(now):
                self._record_cycle(now)
                return
        failed = 0
        for device in self.devices.values():
            if device.status.state == FAULT and now < device.next_probe:
                failed += 1
                continue
            try:
                self._write(device, now)
                values = device.modbus.read_many(device.poll_registers)
            except (DeviceError, ValueError) as error:
                failed += 1
                self._failed(device, now, str(error))
                continue
            self._read(device, now, values)
        if failed and self._port_lost():
            self._lose_port(now)
        self._record_cycle(now)

    def _record_cycle(self, now):
        with self._lock:
            self.cycles += 1
            self._cycle_times.append(now)

    def _desired(self, device, now):
        """Return ({register: value}, safe reason or '') for an actuator this cycle."""
        spec = device.spec
        with self._lock:
            reason = ''
            if not self.outputs_enabled:
                reason = 'outputs disabled'
            elif self.estop:
                reason = 'e-stop latched'
            elif device.command_error:
                reason = device.command_error
            elif now - device.command_time > self.spec.command_timeout:
                reason = 'command timeout' if math.isfinite(device.command_time) \
                    else 'no command yet'
            else:
                locked = [n for n in spec.interlocks if n in self.devices and
                          self.devices[n].status.state == FAULT]
                if locked:
                    reason = f'interlocked: {", ".join(locked)} FAULT'
            if reason:
                return {r: v for r, v in spec.safe.items() if v is not None}, reason
            return {**device.command, **spec.enable}, ''

    def _write(self, device, now):
        if not device.actuator:
            return
        values, reason = self._desired(device, now)
        status = device.status
        going_safe = bool(reason)
        if going_safe and status.safe and status.safe_confirmed:
            with self._lock:
                status.safe_reason = reason
            return
        if not going_safe and status.safe:
            with self._lock:  # from the first motion write on, it is no longer safe
                status.safe = status.safe_confirmed = False
                status.safe_reason = ''
                self.events.append((now, f'{device.spec.name}: following commands'))
        for register, value in values.items():
            if device.written.get(register) == value and not (going_safe and not status.safe):
                continue
            # A safe value must not be lost: it is read back (DeviceError if it differs).
            device.modbus.write(register, value, confirm=going_safe)
            device.written[register] = value
        with self._lock:
            if going_safe and (not status.safe or status.safe_reason != reason):
                self.events.append((now, f'{device.spec.name}: safe ({reason})'))
            status.safe = going_safe
            status.safe_confirmed = going_safe
            status.safe_reason = reason

    def _read(self, device, now, values):
        joint = {}
        for binding in device.spec.state:
            value = values[binding.register]
            if binding.how == 'integral':
                last = device.previous.get(binding.register)
                total = device.integrals.get(binding.register, 0.0)
                if last is not None:
                    total += 0.5 * (last[1] + value) * (now - last[0])
                device.integrals[binding.register] = total
                value = total
            elif binding.how == 'rate':
                last = device.previous.get(binding.register)
                value = (value - last[1]) / (now - last[0]) if last and now > last[0] else 0.0
            joint[binding.field] = value
        for register, value in values.items():
            device.previous[register] = (now, value)
        with self._lock:
            status = device.status
            if status.state == FAULT:
                self.events.append((now, f'{device.spec.name}: answering again'))
                device.written.clear()  # it may have restarted: write everything again
                status.safe, status.safe_confirmed = True, False
            status.state, status.failures = OK, 0
            device.backoff = 0.0
            status.readings = values
            status.joint = joint
            status.read_time = now

    def _failed(self, device, now, error):
        with self._lock:
            status = device.status
            status.failures += 1
            status.errors += 1
            status.last_error = error
            if status.state == FAULT:
                device.backoff = min(2.0 * device.backoff, self.spec.backoff_max)
            elif status.failures >= self.spec.fault_after:
                status.state = FAULT
                device.backoff = self.spec.backoff_min
                self.events.append((now, f'{device.spec.name}: FAULT ({error})'))
            else:
                return
            device.next_probe = now + device.backoff
            if device.actuator:
                status.safe_confirmed = False  # we cannot know what it holds now

    def _port_lost(self):
        return not self.master.is_open or not os.path.exists(self.port)

    def _lose_port(self, now):
        self.master.close()
        with self._lock:
            self.port_open = False
            self._next_reopen = now + self._port_backoff
            self.events.append((now, f'{self.spec.name}: port {self.port} lost'))
            for device in self.devices.values():
                if device.status.state != FAULT:
                    device.status.state = FAULT
                    device.status.last_error = f'port {self.port} lost'
                device.status.safe_confirmed = False

    def _reopen(self, now):
        try:
            if os.path.exists(self.port):
                self.master.open()
        except LineError as error:
            with self._lock:
                if str(error) != self.port_error:
                    self.events.append((now, f'{self.spec.name}: {error}'))
                self.port_error = str(error)
        if self.master.is_open:
            with self._lock:
                self.port_open = True
                self.port_error = ''
                self._port_backoff = self.spec.backoff_min
                self.events.append((now, f'{self.spec.name}: port {self.port} reopened'))
                for device in self.devices.values():
                    device.next_probe = now
            return True
        with self._lock:
            self._port_backoff = min(2.0 * self._port_backoff, self.spec.backoff_max)
            self._next_reopen = now + self._port_backoff
        return False


class FieldBus:
    """Every bus of a rig description, mapped to joints and sensor outputs."""

    def __init__(self, description, ports, parity=None, timeout=None, clock=time.monotonic):
        self.description = description
        self.workers = {name: BusWorker(spec, description.on_bus(name), ports[name],
                                        parity=parity, timeout=timeout, clock=clock)
                        for name, spec in description.buses.items()
                        if description.on_bus(name)}
        self._where = {d.name: self.workers[d.bus] for d in description.devices.values()}
        self.by_topic = {}  # command topic -> {joint: DeviceSpec}
        for device in description.devices.values():
            if device.command:
                self.by_topic.setdefault(device.command_topic, {})[device.joint] = device

    def open(self):
        """Open every bus; return {device: error} of every device that did not answer.

        A port that cannot be opened fails every device on it (the other buses are
        still opened and checked, so one attempt names everything that is wrong).
        """
        missing = {}
        for worker in self.workers.values():
            try:
                missing.update(worker.open())
            except DeviceError as error:
                missing.update({name: str(error) for name in worker.devices})
        return missing

    def start(self):
        """Start polling every bus."""
        for worker in self.workers.values():
            worker.start()

    def close(self):
        """Stop polling and close every port."""
        for worker in self.workers.values():
            worker.close()

    def enable_outputs(self, enabled):
        """Let the actuators follow their commands, or hold them safe."""
        for worker in self.workers.values():
            worker.enable_outputs(enabled)

    def set_estop(self, latched):
        """Latch or release the e-stop on every bus."""
        for worker in self.workers.values():
            worker.set_estop(latched)

    def all_safe_confirmed(self):
        """Return whether every actuator on every bus is confirmed safe."""
        return all(w.all_safe_confirmed() for w in self.workers.values())

    def command(self, topic, names, positions, velocities, efforts, now=None):
        """Pass one command JointState to its devices; return [(joint, reason)] refused.

        A joint whose needed field is missing or non-finite is refused, and its device
        made safe until a good command arrives.
        """
        devices = self.by_topic.get(topic, {})
        columns = {'position': positions, 'velocity': velocities, 'effort': efforts}
        refused = []
        for row, joint in enumerate(names):
            device = devices.get(joint)
            if device is None:
                continue  # a joint this rig does not drive from this topic
            values = {}
            for binding in device.command:
                column = columns[binding.field]
                value = column[row] if row < len(column) else math.nan
                values[binding.register] = value * binding.gain
            bad = [r for r, v in values.items() if not math.isfinite(v)]
            if bad:
                refused.append((joint, f'missing or non-finite {", ".join(bad)}'))
            self._where[device.name].command(device.name, values, now)
        return refused

    def snapshots(self):
        """Return {bus: BusSnapshot}."""
        return {name: worker.snapshot() for name, worker in self.workers.items()}

    def joint_states(self, snapshots):
        """Return [(joint, position, velocity, effort)] of every joint, or None.

        A faulted device's joint is reported with NaN values, so a controller that reads
        it stops rather than acting on stale numbers. None until every answering device
        has been read once: no reading yet is not a fault.
        """
        rows = []
        for device in self.description.devices.values():
            if not device.state:
                continue
            status = snapshots[device.bus].devices[device.name]
            if status.state == OK and not status.joint:
                return None
            if status.state != OK:
                rows.append((device.joint, math.nan, math.nan, math.nan))
                continue
            rows.append((device.joint, status.joint.get('position', 0.0),
                         status.joint.get('velocity', 0.0), status.joint.get('effort', 0.0)))
        return rows

    def outputs(self, snapshots):
        """Return [(Output, values or None)]: None when the device is faulted or invalid.

        Outputs of a device not read yet are left out.
        """
        result = []
        for device in self.description.devices.values():
            status = snapshots[device.bus].devices[device.name]
            if status.state == OK and not status.readings:
                continue
            for output in device.outputs:
                values = None
                if status.state == OK and all(r in status.readings for r in output.registers):
                    invalid = any(int(status.readings.get(r, 0)) & bits
                                  for r, bits in output.invalid_mask.items())
                    if not invalid:
                        values = [status.readings[r] for r in output.registers]
                result.append((output, values))
        return result

    def events(self):
        """Drain the state-change events of every bus: [(time, text)]."""
        drained = []
        for worker in self.workers.values():
            while worker.events:
                drained.append(worker.events.popleft())
        return sorted(drained)
