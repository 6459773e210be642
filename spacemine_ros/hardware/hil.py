"""Hardware in the loop: every device of a rig description emulated, driven by physics.

HilRig opens one virtual serial line per bus, serves each bus's devices with a
BusEmulator, and bridges their registers and a simulated world each control period:
what the drivers wrote (speed references, force limits, heater power, ...) becomes the
world's commands, and the world's readings become what the devices report. The real
driver stack (FieldBus, pymodbus, pyserial) talks to the driver end of each line, so a
HIL run exercises controllers -> topics -> drivers -> serial -> emulators -> physics.

The world is duck-typed (command_drill, command_anchors, command_scraper,
command_material, command_furnace and readings(), as sim.world.RigWorld has), so this
module does not depend on the simulation package.
"""

import math
import os
import time

from spacemine_ros.hardware.emulator import BusEmulator, EmulatedDevice, VirtualLine
from spacemine_ros.hardware.profiles import RAW_RANGE


def sensor_values(readings, topic):
    """Return the values a sensor topic carries in the world's readings, or None.

    Material gauges and totalizers (material/<name>/<kind>), the base displacement
    (odom) and every subsystem's own sensors (readings.sensors: wrenches as force x, y, z).
    """
    parts = topic.split('/')
    if len(parts) == 3 and parts[0] == 'material':
        table = {'mass': readings.material_masses, 'delivered': readings.delivered,
                 'lost': readings.lost}.get(parts[2], {})
        value = table.get(parts[1])
        return None if value is None else [value]
    if topic == 'odom':
        return list(readings.base_position)
    values = readings.sensors.get(topic)
    if values is None:
        return None
    return list(values[:3]) if len(values) == 6 else list(values)


class HilRig:
    """Emulated devices of a rig description on virtual serial lines."""

    def __init__(self, description, port_dir=None, seed=0):
        self.description = description
        self.lines, self.emulators, self.ports = {}, {}, {}
        self.devices = {}
        self._started = False
        self._made_dir = None  # the port directory, if this rig made it
        try:
            for bus_name, bus in description.buses.items():
                specs = description.on_bus(bus_name)
                if not specs:
                    continue
                line = VirtualLine(seed=seed)
                self.lines[bus_name] = line
                emulated = []
                for spec in specs:
                    device = EmulatedDevice(spec.profile, spec.unit_id)
                    self.devices[spec.name] = device
                    emulated.append(device)
                self.emulators[bus_name] = BusEmulator(
                    emulated, line.device_port, baudrate=bus.baudrate,
                    parity=VirtualLine.PARITY, stopbits=bus.stopbits)
                self.ports[bus_name] = self._link(port_dir, bus_name, line.driver_port)
        except Exception:
            self.close()
            raise

    def _link(self, port_dir, bus_name, target):
        # A stable name per bus (like /dev/serial/by-id/...), so the drivers can be told
        # where to look before the lines exist.
        if not port_dir:
            return target
        if not os.path.isdir(port_dir):
            os.makedirs(port_dir)
            self._made_dir = port_dir
        link = os.path.join(port_dir, bus_name)
        if os.path.lexists(link):
            os.remove(link)
        os.symlink(target, link)
        return link

    # Registers -> world ------------------------------------------------------------------------
    def _enabled(self, spec, device):
        return all(abs(device.get(r) - v) < 1e-9 for r, v in spec.enable.items())

    def joint_commands(self):
        """Return {topic: {joint: {field: value}}} of what the drivers last wrote.

        A drive that is not enabled (its enable registers do not hold their enable
        values) acts on its safe values, as a real drive ignores its references then.
        """
        commands = {}
        for spec in self.description.devices.values():
            if not spec.command:
                continue
            device = self.devices[spec.name]
            enabled = self._enabled(spec, device)
            fields = {}
            for binding in spec.command:
                value = device.get(binding.register)
                if not enabled and spec.safe.get(binding.register) is not None:
                    value = spec.safe[binding.register]
                fields[binding.field] = value / binding.gain if binding.gain else 0.0
            commands.setdefault(spec.command_topic, {})[spec.joint] = fields
        return commands

    def apply(self, world):
        """Pass what the drivers wrote to the world; return the topics it refused.

        Each topic's joints go through the rig file's codec (RigWorld.command_arrays), as
        rig_sim's own command topics do: one decoding for every backend.
        """
        refused = []
        for topic, joints in self.joint_commands().items():
            spec = world.rig_interface.by_topic(topic)
            try:
                world.command_arrays(topic, *spec.encode(joints))
            except (AttributeError, KeyError, ValueError) as error:
                refused.append(f'{topic}: {error}')
        return refused

    # World -> registers ------------------------------------------------------------------------
    def update(self, readings):
        """Make every device report the world's readings."""
        table = {name: (p, v, e) for name, p, v, e in zip(
            readings.joint_names, readings.joint_positions, readings.joint_velocities,
            readings.joint_efforts)}
        if not self._started:
            # A position drive powers up with its reference at its actual position.
            self._started = True
            for spec in self.description.devices.values():
                for binding in spec.command:
                    if binding.field == 'position' and spec.joint in table:
                        self.devices[spec.name].set(binding.register, table[spec.joint][0])
        for spec in self.description.devices.values():
            device = self.devices[spec.name]
            if spec.joint in table:
                position, velocity, effort = table[spec.joint]
                joint = {'position': position, 'velocity': velocity, 'effort': effort}
                for binding in spec.state:
                    if binding.how == 'value':
                        value = joint[binding.field]
                    elif binding.how == 'integral':  # the device reports the rate
                        value = velocity if binding.field == 'position' else effort
                    else:  # rate_of: the device reports the quantity itself
                        value = position if binding.field == 'velocity' else velocity
                    self._report(device, binding.register, value)
            for output in spec.outputs:
                values = sensor_values(readings, output.topic)
                valid = values is not None and all(math.isfinite(v) for v in values)
                for register, value in zip(output.registers, values or []):
                    if math.isfinite(value):
                        self._report(device, register, value)
                for register, bits in output.invalid_mask.items():
                    status = int(device.get(register))
                    device.set(register, (status | bits) if not valid else (status & ~bits))
            if 'status' in spec.profile.registers and spec.command:
                device.set('status', 1 if self._enabled(spec, device) else 0)

    @staticmethod
    def _report(device, name, value):
        register = device.profile.register(name)
        if register.data_type != 'float32':
            low, high = RAW_RANGE[register.data_type]
            ends = sorted((low * register.scale + register.offset,
                           high * register.scale + register.offset))
            value = min(max(value, ends[0]), ends[1])  # a real gauge saturates too
        device.set(name, value)

    def wait_quiet(self, quiet=1.0, limit=10.0, clock=time.monotonic, sleep=time.sleep):
        """Keep serving until no byte crossed any line for `quiet` s (at most `limit` s).

        On a stop the drivers (another process) write and read back their safe values:
        the emulated devices must still be there to take them.
        """
        deadline = clock() + limit
        carried = sum(line.bytes_carried for line in self.lines.values())
        since = clock()
        while clock() < deadline:
            sleep(0.05)
            now_carried = sum(line.bytes_carried for line in self.lines.values())
            if now_carried != carried:
                carried, since = now_carried, clock()
            elif clock() - since >= quiet:
                return True
        return False

    def close(self):
        """Stop the emulators and the lines; remove the port links."""
        for emulator in self.emulators.values():
            emulator.close()
        for line in self.lines.values():
            line.close()
        for port in self.ports.values():
            if os.path.islink(port):
                os.remove(port)
        if self._made_dir:
            try:
                os.rmdir(self._made_dir)
            except OSError:
                pass  # not empty: something else put files there
