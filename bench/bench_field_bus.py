"""Field-bus cycle rate of the shipped rig over virtual serial lines, vs the line limit.

Prints and saves bench/results/field_bus.json (`make bench`). The buses of
config/rig_hardware.yaml are emulated (HilRig) and polled by the real driver threads
(FieldBus) as fast as they can go (poll_rate raised to 1000 Hz, actuators held safe, so
a cycle is one read per device and register kind), each bus alone and then all at once.
The achieved cycles per second are set against what RTU framing allows for the same
requests at 115200 and 1 000 000 baud.
"""

import dataclasses
import os
import platform
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))


def line_limited_cycle_rate(devices, baudrate):
    """Cycles per second the line allows for one read per device and register kind."""
    from spacemine_ros.hardware.line_rate import poll_time, read_registers_bytes

    seconds = 0.0
    for device in devices:
        registers = [device.profile.register(name) for name in
                     (device.read_registers or (next(iter(device.profile.registers)),))]
        for kind in ('input', 'holding'):
            group = [r for r in registers if r.kind == kind]
            if group:
                span = (max(r.address + r.width for r in group)
                        - min(r.address for r in group))
                seconds += poll_time(baudrate, *read_registers_bytes(span))
    return 1.0 / seconds


def measure(description, duration):
    """Poll every bus of a description at full speed; return {bus: (cycles/s, errors)}."""
    from spacemine_ros.hardware.emulator import VirtualLine
    from spacemine_ros.hardware.field_bus import FieldBus
    from spacemine_ros.hardware.hil import HilRig

    hil = HilRig(description)
    bus = FieldBus(description, hil.ports, parity=VirtualLine.PARITY, timeout=0.5)
    try:
        missing = bus.open()
        if missing:  # an emulator the loaded host did not start in time
            raise SystemExit(f'devices did not answer at open: {", ".join(missing)}')
        bus.start()
        time.sleep(0.5)
        start = {name: s.cycles for name, s in bus.snapshots().items()}
        began = time.monotonic()
        time.sleep(duration)
        elapsed = time.monotonic() - began
        return {name: ((snapshot.cycles - start[name]) / elapsed,
                       sum(s.errors for s in snapshot.devices.values()))
                for name, snapshot in bus.snapshots().items()}
    finally:
        bus.close()
        hil.close()


def main(duration=3.0):
    from results import save

    from spacemine_ros.hardware.rig_description import load_rig_description
    from spacemine_ros.paths import share_path

    description = load_rig_description(share_path('config', 'rig_hardware.yaml'),
                                       share_path('config', 'devices.yaml'))
    configured = {name: bus.poll_rate for name, bus in description.buses.items()}
    description = dataclasses.replace(description, buses={
        name: dataclasses.replace(bus, poll_rate=1000.0)
        for name, bus in description.buses.items()})
    # Alone: one bus and its emulators in this process. Together: every bus at once, as
    # in a HIL run, where the drivers and all the emulators share one interpreter.
    alone = {}
    for name in description.buses:
        only = dataclasses.replace(description, buses={name: description.buses[name]},
                                   devices={n: d for n, d in description.devices.items()
                                            if d.bus == name})
        alone.update(measure(only, duration))
    together = measure(description, duration)
    results = []
    for name in description.buses:
        devices = description.on_bus(name)
        figures = {'bus': name, 'devices': len(devices),
                   'cycle_rate_alone_hz': round(alone[name][0], 1),
                   'cycle_rate_together_hz': round(together[name][0], 1),
                   'configured_hz': configured[name],
                   'errors': alone[name][1] + together[name][1]}
        for baud in (115200, 1_000_000):
            limit = line_limited_cycle_rate(devices, baud)
            figures[f'line_limit_hz_{baud}'] = round(limit, 1)
            figures[f'alone_share_of_line_limit_{baud}'] = round(alone[name][0] / limit, 2)
        results.append(figures)
        print(f'{name}: {len(devices)} devices, {figures["cycle_rate_alone_hz"]} cycles/s '
              f'alone, {figures["cycle_rate_together_hz"]} with every bus at once (over ptys; '
              f'configured {configured[name]:g} Hz); the line allows '
              f'{figures["line_limit_hz_115200"]}/s at 115200 baud, '
              f'{figures["line_limit_hz_1000000"]}/s at 1 Mbaud; {figures["errors"]} errors')
    path = save('field_bus', {'machine': platform.platform(), 'cpus': os.cpu_count(),
                              'results': results})
    print(f'saved {path}')


if __name__ == '__main__':
    main()
