"""Modbus RTU poll rate and round-trip latency over a virtual serial line.

Prints the figures and saves them to bench/results/modbus.json (`make bench`). The
driver (the project's RTU master) reads registers from an emulated spindle VFD (pymodbus
server) through a pty pair. A pty carries bytes as fast as the processes move them, so
the achieved rate is what driver and emulator can do (the master keeps the RTU t3.5
silence between frames); it is set against the rate the RTU framing allows on
a real line at 115200 and 1 000 000 baud (hardware/line_rate.py).
"""

import os
import platform
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))


def measure(registers, polls=400):
    from spacemine_ros.hardware.emulator import DeviceEmulator, VirtualLine
    from spacemine_ros.hardware.modbus_device import ModbusDevice
    from spacemine_ros.hardware.profiles import load_profiles
    from spacemine_ros.hardware.rtu import Request
    from spacemine_ros.paths import share_path

    profile = load_profiles(share_path('config', 'devices.yaml'))['spindle_vfd']
    line = VirtualLine()
    emulator = DeviceEmulator(profile, line.device_port, parity=VirtualLine.PARITY)
    # A loaded host can be slow to run the emulator: allow it, and count what failed.
    device = ModbusDevice(profile, line.driver_port, parity=VirtualLine.PARITY, timeout=0.5)
    device.open()
    request = Request.read(profile.bus.unit_id, 'input', 0, registers)
    failed = 0
    try:
        latencies = []
        for _ in range(polls):
            start = time.perf_counter()
            try:
                device.master.execute(request)
            except RuntimeError:
                failed += 1
                continue
            latencies.append(time.perf_counter() - start)
    finally:
        device.close()
        emulator.close()
        line.close()
    if not latencies:
        raise SystemExit(f'no poll of {registers} register(s) succeeded ({failed} failed)')
    total = sum(latencies)
    # Percentiles of the polls that succeeded: on a loaded host some may not.
    return {'registers': registers, 'polls': polls, 'failed': failed,
            'rate_hz': round(len(latencies) / total, 1),
            'latency_median_ms': round(statistics.median(latencies) * 1e3, 3),
            'latency_p99_ms': round(sorted(latencies)[int(0.99 * (len(latencies) - 1))] * 1e3,
                                    3)}


def main():
    from results import save

    from spacemine_ros.hardware.line_rate import max_poll_rate

    results = []
    for registers in (1, 3):
        figures = measure(registers)
        for baud in (115200, 1_000_000):
            limit = max_poll_rate(baud, registers)
            figures[f'line_limit_hz_{baud}'] = round(limit, 1)
            figures[f'share_of_line_limit_{baud}'] = round(figures['rate_hz'] / limit, 2)
        results.append(figures)
        print(f'{registers} register(s): {figures["rate_hz"]} polls/s over a pty, median '
              f'{figures["latency_median_ms"]} ms, p99 {figures["latency_p99_ms"]} ms; line '
              f'allows {figures["line_limit_hz_115200"]}/s at 115200 baud, '
              f'{figures["line_limit_hz_1000000"]}/s at 1 Mbaud')
    path = save('modbus', {'machine': platform.platform(), 'results': results})
    print(f'saved {path}')


if __name__ == '__main__':
    main()
