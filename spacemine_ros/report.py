"""spacemine-report RUN.mcap: a self-contained HTML report of a recorded shift.

Reads the recording (no ROS needed: messages are decoded from the schemas in the file)
and writes one HTML file with every plot embedded as a PNG: the drill (depth, thrust
against the anchors' safe capacity and the tools' budget, torque, rate of penetration),
the rig's displacement, the anchors' loads, the scraper's blade force, the hoppers and
the conveyor's flow, the mass ledger as a stacked chart with the losses, the furnace
(temperature against setpoint, heater power), power (supply, draw and each consumer's
share), with the supervisor's steps as bands on every time axis, faults and events on a
timeline, and the shift's summary table (as the shift wrote it into the file).
"""

import argparse
import base64
import html
import io
import json
import math
import os
import sys

SUMMARY_METADATA = 'spacemine_shift_summary'
STATUS = '/supervisor/status'


class Series:
    """Times [s] and values of one quantity."""

    def __init__(self):
        self.times, self.values = [], []

    def add(self, time, value):
        """Append a sample."""
        self.times.append(time)
        self.values.append(value)

    def __bool__(self):
        """Tell whether it holds any sample."""
        return bool(self.times)


class Run:
    """What the report needs from a recording, by quantity."""

    def __init__(self):
        self.series = {}
        self.steps = []  # (start, end, label)
        self.events = []  # (time, kind, text)
        self.summary = {}
        self.topics = {}  # topic -> messages
        self.start = self.end = None

    def of(self, name):
        """Return the Series of a quantity (created empty if new)."""
        return self.series.setdefault(name, Series())


def _topic(namespace, name):
    return f'{namespace}/{name}' if namespace else f'/{name}'


def load_run(path):
    """Read a recording into a Run (ValueError if it is not a readable MCAP file)."""
    from mcap.exceptions import McapError
    from mcap.reader import make_reader
    from mcap_ros2.decoder import DecoderFactory
    run = Run()
    try:
        with open(path, 'rb') as stream:
            reader = make_reader(stream, decoder_factories=[DecoderFactory()])
            for record in reader.iter_metadata():
                if record.name == SUMMARY_METADATA:
                    run.summary = json.loads(record.metadata.get('summary', '{}'))
            stream.seek(0)
            reader = make_reader(stream, decoder_factories=[DecoderFactory()])
            namespace, topics = _namespace(reader)
            wanted = _wanted(namespace, topics)
            step = None
            for schema, channel, message, decoded in reader.iter_decoded_messages(
                    topics=list(wanted)):
                time = message.log_time / 1e9
                run.start = time if run.start is None else min(run.start, time)
                run.end = time if run.end is None else max(run.end, time)
                run.topics[channel.topic] = run.topics.get(channel.topic, 0) + 1
                step = wanted[channel.topic](run, time, decoded, step)
            if step is not None:
                run.steps.append((step[0], run.end, step[1]))
    except (OSError, McapError, ValueError, KeyError) as error:
        raise ValueError(f'{path}: not a readable recording ({error})') from None
    return run


def _namespace(reader):
    """Return (the rig's namespace, the recording's topics)."""
    summary = reader.get_summary()
    topics = {channel.topic for channel in (summary.channels.values() if summary else [])}
    for suffix in ('/rig_state', '/joint_states'):
        for topic in sorted(topics):
            if topic.endswith(suffix):
                return topic[:-len(suffix)], topics
    return '', topics


def _wanted(namespace, topics=()):
    """Return {topic: handler(run, time, message, step) -> step} of what is plotted.

    From the typed messages (rig_state, the status messages) and, for a recording made
    before they existed, from the loose topics they replaced.
    """
    t = lambda name: _topic(namespace, name)  # noqa: E731 - a local shorthand

    def value(name):
        def handle(run, time, message, step):
            run.of(name).add(time, float(message.data))
            return step
        return handle

    def joints(run, time, message, step):
        for name, position, effort in zip(message.name, message.position, message.effort):
            if name == 'drill_feed':
                run.of('thrust').add(time, effort)
            elif name == 'drill_spindle':
                run.of('torque').add(time, effort)
            elif name.startswith('anchor_'):
                run.of(f'load {name[:-len("_joint")]}').add(time, effort)
        return step

    def base(run, time, p):
        origin = run.series.get('_origin')
        if origin is None:
            run.series['_origin'] = origin = (p.x, p.y, p.z)
        run.of('displacement').add(time, 1000.0 * math.dist((p.x, p.y, p.z), origin))

    def odom(run, time, message, step):
        base(run, time, message.pose.pose.position)
        return step

    def blade(run, time, message, step):
        f = message.wrench.force
        run.of('blade force').add(time, math.hypot(f.x, f.y, f.z))
        return step

    def temperature(name):
        def handle(run, time, message, step):
            run.of(name).add(time, float(message.temperature))
            return step
        return handle

    def status(run, time, message, step):
        values = {v.key: v.value for v in message.values}
        label = (f'{values.get("step")}: {values.get("step_type")}'
                 if values.get('mode') == 'running' and values.get('step') else
                 values.get('mode', ''))
        return _step_label(run, time, label, step)

    def mode(run, time, text, step):
        run.events.append((time, 'mode', text))
        return step

    def diagnostics(run, time, message, step):
        for entry in message.status:
            values = {v.key: v.value for v in entry.values}
            if entry.name.endswith('supervisor'):
                # Its grants by consumer, once a second: the shares of a recording made
                # before power/shares existed.
                for key, text in values.items():
                    if key.startswith('power_') and key.endswith('_W'):
                        run.of(f'granted {key[6:-2]}').add(time, float(text))
            if entry.level >= 1:
                key = (entry.name, entry.message)
                if run.series.get('_last_fault') != key:
                    run.series['_last_fault'] = key
                    run.events.append((time, 'fault' if entry.level >= 2 else 'warning',
                                       f'{entry.name}: {entry.message}'))
        return step

    def shares(run, time, message, step):
        # The supervisor's table each time a share changed (spacemine_interfaces).
        for share in message.shares:
            budget = share.budget.removesuffix('power_budget').rstrip('_')
            run.of(f'share {share.controller} {budget}'.rstrip()).add(time, share.power)
        return step

    def state(name):
        def handle(run, time, message, step):
            # spacemine_interfaces/ControllerState; std_msgs/String in older recordings.
            label = getattr(message, 'label', None)
            run.events.append((time, name, message.data if label is None else label))
            return step
        return handle

    def rig_state(run, time, message, step):
        # spacemine_interfaces/RigState: the rig's measured state at each instant.
        joints(run, time, message.joints, step)
        base(run, time, message.base_pose.position)
        for wrench in message.wrenches:
            if wrench.name.endswith('blade_wrench'):
                blade(run, time, wrench, step)
        for gauge in message.gauges:
            name = GAUGES.get(gauge.name)
            if name is not None:
                run.of(name).add(time, gauge.value)
        return step

    def anchoring(run, time, message, step):
        run.of('safe capacity').add(time, message.safe_capacity)
        run.of('tool budget').add(time, message.tool_budget)
        return step

    def furnace(run, time, message, step):
        run.of('furnace temperature').add(time, message.temperature)
        run.of('furnace setpoint').add(time, message.setpoint)
        return step

    def power(run, time, message, step):
        for name in ('generation', 'available', 'draw'):
            run.of(name).add(time, getattr(message, name))
        return step

    def ledger(run, time, message, step):
        for account, mass in zip(message.accounts, message.masses):
            run.of(f'ledger {account}').add(time, mass)
        run.of('ledger excavated').add(time, message.excavated)
        return step

    def mission(run, time, message, step):
        if not hasattr(message, 'mode'):  # diagnostic_msgs/DiagnosticStatus: older
            return status(run, time, message, step)
        if run.series.get('_mode') != message.mode:
            run.series['_mode'] = message.mode
            mode(run, time, message.mode, step)
        label = (f'{message.step}: {message.step_type}'
                 if message.mode == 'running' and message.step else message.mode)
        return _step_label(run, time, label, step)

    typed = t('rig_state') in topics
    wanted = {
        t('rig_state'): rig_state, t('anchoring/status'): anchoring,
        t('smelter/status'): furnace, t('power/status'): power, t('material/ledger'): ledger,
        t('power/shares'): shares, t('supervisor/status'): mission,
        '/diagnostics': diagnostics,
    }
    if not typed:  # an older recording: the loose topics
        wanted.update({
            t('joint_states'): joints, t('odom'): odom, t('scraper/blade_wrench'): blade,
            t('anchoring/safe_capacity'): value('safe capacity'),
            t('anchoring/budget'): value('tool budget'),
            t('smelter/temperature'): temperature('furnace temperature'),
            t('smelter/setpoint'): temperature('furnace setpoint'),
            t('furnace/heater_power'): value('heater power'),
            t('power/generation'): value('generation'),
            t('power/available'): value('available'), t('power/draw'): value('draw'),
            t('supervisor/mode'): lambda run, time, message, step: mode(
                run, time, message.data, step)})
        for name in ('hopper_metal', 'hopper_silicate'):
            wanted[t(f'material/{name}/mass')] = value(f'mass {name}')
        for account in LEDGER_ACCOUNTS + ('excavated',):
            wanted[t(f'material/ledger/{account}')] = value(f'ledger {account}')
    wanted.update({
        t('drill/depth'): value('depth'), t('drill/rate_of_penetration'): value('rop'),
        t('material_handling/conveyor_flow'): value('conveyor flow')})
    for controller in ('anchoring', 'drill', 'scraper', 'material_handling', 'smelter'):
        wanted[t(f'{controller}/state')] = state(controller)
    return wanted


def _step_label(run, time, label, step):
    """Close the step band under way if the label changed; return the one under way."""
    if step is None or step[1] != label:
        if step is not None:
            run.steps.append((step[0], time, step[1]))
        step = (time, label)
    return step


# RigState gauges plotted, by the series they go to
GAUGES = {'furnace/heater_power': 'heater power', 'material/hopper_metal/mass':
          'mass hopper_metal', 'material/hopper_silicate/mass': 'mass hopper_silicate'}
LEDGER_ACCOUNTS = ('drill', 'scraper', 'conveyor', 'separator', 'hopper_metal',
                   'hopper_silicate', 'furnace', 'products', 'slag', 'volatiles', 'lost')


# Plots -----------------------------------------------------------------------------------
PLOTS = ('drill', 'displacement', 'anchors', 'blade', 'hoppers', 'ledger', 'furnace',
         'power', 'timeline')


STEP_COLOURS = ('#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b',
                '#e377c2', '#7f7f7f', '#bcbd22', '#17becf')


def _bands(axes, run, labelled):
    """Shade the supervisor's steps behind a time axis, one colour each, with a label."""
    low, high = axes.get_xlim()
    span = max(high - low, 1e-9)
    for index, (start, end, label) in enumerate(run.steps):
        if end < low or start > high:
            continue
        axes.axvspan(start, end, color=STEP_COLOURS[index % len(STEP_COLOURS)], alpha=0.10,
                     zorder=0, linewidth=0)
        axes.axvline(start, color='0.6', linewidth=0.5, zorder=1)
        if labelled and (min(end, high) - max(start, low)) / span > 0.04:
            axes.text((max(start, low) + min(end, high)) / 2, 0.97, label,
                      transform=axes.get_xaxis_transform(), ha='center', va='top',
                      fontsize=7, color='0.25', clip_on=True)


def _draw(run, name, plt):
    """Return (figure, title) of one plot (None if the run has nothing for it)."""
    s = run.series
    if name == 'drill':
        if not s.get('depth') and not s.get('thrust'):
            return None
        figure, axes = plt.subplots(4, 1, figsize=(10, 9), sharex=True)
        _line(axes[0], s.get('depth'), 'bit below the surface', scale=100.0)
        axes[0].set_ylabel('depth [cm]')
        _line(axes[1], s.get('thrust'), 'thrust')
        _line(axes[1], s.get('safe capacity'), "anchors' safe capacity", step=True)
        _line(axes[1], s.get('tool budget'), "tools' budget", step=True)
        axes[1].set_ylabel('force [N]')
        _line(axes[2], s.get('torque'), 'spindle torque')
        axes[2].set_ylabel('torque [N m]')
        _line(axes[3], s.get('rop'), 'rate of penetration', scale=1000.0)
        axes[3].set_ylabel('ROP [mm/s]')
        title = 'Drill: depth, thrust against the anchors, torque, rate of penetration'
    elif name == 'displacement':
        if not s.get('displacement'):
            return None
        figure, axes = plt.subplots(figsize=(10, 3))
        _line(axes, s['displacement'], 'base from where it started')
        axes.set_ylabel('displacement [mm]')
        axes = [axes]
        title = "Rig displacement (the base's odometry)"
    elif name == 'anchors':
        loads = sorted(k for k in s if k.startswith('load anchor'))
        if not loads:
            return None
        figure, axes = plt.subplots(figsize=(10, 3.5))
        for key in loads:
            _line(axes, s[key], key[len('load '):])
        _line(axes, s.get('safe capacity'), 'safe capacity', step=True)
        axes.set_ylabel('axial load [N]')
        axes = [axes]
        title = "Anchor loads against the anchors' safe capacity"
    elif name == 'blade':
        if not s.get('blade force'):
            return None
        figure, axes = plt.subplots(figsize=(10, 3))
        _line(axes, s['blade force'], 'soil force on the blade')
        axes.set_ylabel('force [N]')
        axes = [axes]
        title = 'Scraper blade force'
    elif name == 'hoppers':
        keys = [k for k in ('mass hopper_metal', 'mass hopper_silicate') if s.get(k)]
        if not keys:
            return None
        figure, axes = plt.subplots(2, 1, figsize=(10, 5), sharex=True)
        for key in keys:
            _line(axes[0], s[key], key[len('mass '):], step=True)
        axes[0].set_ylabel('mass [kg]')
        _line(axes[1], _mean(s.get('conveyor flow'), 20.0), 'conveyor discharge (20 s mean)',
              scale=3600.0)
        axes[1].set_ylabel('flow [kg/h]')
        title = 'Hopper levels and the conveyor flow'
    elif name == 'ledger':
        accounts = [a for a in ('drill', 'scraper', 'conveyor', 'separator', 'hopper_metal',
                                'hopper_silicate', 'furnace', 'products', 'slag',
                                'volatiles', 'lost') if s.get(f'ledger {a}')]
        if not accounts:
            return None
        times = sorted({t for a in accounts for t in s[f'ledger {a}'].times} | {run.end})
        stacks = [_hold(s[f'ledger {a}'], times) for a in accounts]
        figure, axes = plt.subplots(figsize=(10, 4.5))
        axes.stackplot(times, stacks, labels=accounts, step='post', alpha=0.85)
        if s.get('ledger excavated'):
            _line(axes, s['ledger excavated'], 'excavated', step=True, color='k')
        axes.set_ylabel('mass [kg]')
        axes = [axes]
        title = 'Mass ledger: where every kilogram excavated is (lost to space included)'
    elif name == 'furnace':
        if not s.get('furnace temperature'):
            return None
        figure, axes = plt.subplots(2, 1, figsize=(10, 5), sharex=True)
        _line(axes[0], s['furnace temperature'], 'thermocouple')
        _line(axes[0], s.get('furnace setpoint'), 'setpoint', step=True)
        axes[0].set_ylabel('temperature [K]')
        _line(axes[1], s.get('heater power'), 'heater power', scale=1e-3)
        axes[1].set_ylabel('power [kW]')
        title = 'Furnace: temperature against setpoint, heater power'
    elif name == 'power':
        if not s.get('available'):
            return None
        figure, axes = plt.subplots(2, 1, figsize=(10, 5.5), sharex=True)
        for key, label in (('generation', 'solar generation'),
                           ('available', 'available (array and battery)'),
                           ('draw', 'drawn')):
            _line(axes[0], s.get(key), label)
        axes[0].set_ylabel('power [W]')
        prefix = 'share ' if any(k.startswith('share ') for k in s) else 'granted '
        for key in sorted(k for k in s if k.startswith(prefix)):
            _line(axes[1], s[key], key[len(prefix):], step=True)
        axes[1].set_ylabel("supervisor's share [W]")
        title = "Power: supply, draw and each consumer's share"
    elif name == 'timeline':
        if not run.events and not run.steps:
            return None
        kinds = sorted({kind for _, kind, _ in run.events})
        figure, axes = plt.subplots(figsize=(10, 0.6 * max(len(kinds), 2) + 1.2))
        for row, kind in enumerate(kinds):
            times = [t for t, k, _ in run.events if k == kind]
            color = 'tab:red' if kind == 'fault' else 'tab:orange' if kind == 'warning' \
                else 'tab:blue'
            axes.scatter(times, [row] * len(times), s=14, color=color, zorder=3)
        axes.set_yticks(range(len(kinds)), kinds)
        axes.set_ylim(-0.7, max(len(kinds), 1) - 0.3)
        axes = [axes]
        title = 'Faults and events (state changes of every controller and the supervisor)'
    else:
        return None
    if name == 'drill':  # the drilling itself, not the whole shift
        busy = [t for series, floor in ((s.get('thrust'), 1.0), (s.get('rop'), 1e-5))
                if series for t, v in zip(series.times, series.values) if abs(v) > floor]
        if busy:
            margin = 0.15 * max(max(busy) - min(busy), 1.0)
            axes[-1].set_xlim(min(busy) - margin, max(busy) + margin)
    for index, each in enumerate(axes):
        _bands(each, run, labelled=index == 0)
        each.grid(True, alpha=0.3)
        if each.get_legend_handles_labels()[0]:
            each.legend(fontsize=7, loc='upper right', ncol=3, framealpha=0.9)
    axes[-1].set_xlabel("time on the rig's clock [s]")
    figure.tight_layout()
    return figure, title


def _line(axes, series, label, scale=1.0, step=False, color=None):
    if not series:
        return
    values = [v * scale for v in series.values]
    if step:
        axes.step(series.times, values, where='post', label=label, color=color)
    else:
        axes.plot(series.times, values, label=label, linewidth=1.0, color=color)


def _mean(series, window):
    """Return the series averaged over the last `window` seconds at each sample."""
    if not series:
        return series
    out, start, total = Series(), 0, 0.0
    for index, (time, value) in enumerate(zip(series.times, series.values)):
        total += value
        while series.times[start] < time - window:
            total -= series.values[start]
            start += 1
        out.add(time, total / (index - start + 1))
    return out


def _hold(series, times):
    """Return the series' last value at each of times (0 before its first)."""
    out, index, current = [], 0, 0.0
    for time in times:
        while index < len(series.times) and series.times[index] <= time:
            current = series.values[index]
            index += 1
        out.append(current)
    return out


def page_head(title):
    """Return the start of a self-contained report page (its style) and its title."""
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f'<title>{html.escape(title)}</title><style>'
            'body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}'
            'table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;'
            'text-align:left;font-size:13px}img{max-width:100%}h2{margin-top:1.6em}'
            f'code{{font-size:12px}}</style></head><body>\n<h1>{html.escape(title)}</h1>')


def embedded_plot(plt, figure, name, heading):
    """Return a heading and the figure as an embedded PNG (id plot-<name>); close it."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format='png', dpi=90)
    plt.close(figure)
    encoded = base64.b64encode(buffer.getvalue()).decode()
    return (f'<h2 id="{name}">{html.escape(heading)}</h2>\n<img id="plot-{name}" '
            f'alt="{html.escape(name)}" src="data:image/png;base64,{encoded}">')


def render(run, title):
    """Return the report's HTML with every plot embedded."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    parts = [page_head(title)]
    parts.append(_summary_table(run))
    for name in PLOTS:
        drawn = _draw(run, name, plt)
        if drawn is None:
            continue
        figure, heading = drawn
        parts.append(embedded_plot(plt, figure, name, heading))
    parts.append(_events_table(run))
    parts.append('</body></html>')
    return '\n'.join(parts)


def _summary_table(run):
    rows = ''.join(f'<tr><th>{html.escape(str(k))}</th><td class="value" data-key='
                   f'"{html.escape(str(k))}">{html.escape(json.dumps(v))}</td></tr>'
                   for k, v in run.summary.items())
    if not rows:
        return '<p>No shift summary in this recording.</p>'
    return f'<h2 id="summary">Shift summary</h2><table id="summary-table">{rows}</table>'


def _events_table(run):
    if not run.events:
        return ''
    rows = ''.join(f'<tr><td>{t:.2f}</td><td>{html.escape(k)}</td><td>{html.escape(x)}</td>'
                   f'</tr>' for t, k, x in sorted(run.events)[:400])
    return (f'<h2 id="events">Events</h2><table><tr><th>time [s]</th><th>kind</th>'
            f'<th>what</th></tr>{rows}</table>')


def write_report(recording, output=None):
    """Write the HTML report of a recording; return its path."""
    run = load_run(recording)
    output = output or os.path.splitext(recording)[0] + '.html'
    title = f'Shift report: {os.path.basename(recording)}'
    with open(output, 'w', encoding='utf-8') as stream:
        stream.write(render(run, title))
    return output


def main(argv=None):
    """Entry point of spacemine-report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('recording', help='the MCAP file of a shift (spacemine-shift --record)')
    parser.add_argument('-o', '--output', default=None,
                        help='the HTML file to write (default: next to the recording)')
    args = parser.parse_args(argv)
    try:
        path = write_report(args.recording, args.output)
    except ValueError as error:
        parser.exit(2, f'spacemine-report: error: {error}\n')
    print(path)
    return 0


if __name__ == '__main__':
    sys.exit(main())
