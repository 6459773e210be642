"""spacemine-targets: rank near-Earth asteroids by what a rig would bring back.

Reads the catalogue (config/targets.yaml), works out every term of the ranking for each
asteroid (spacemine_ros.planning.ranking: accessibility, anchoring, yield, product per
rig-year, product delivered per tonne launched), and prints the ranked table; writes it
as CSV and an HTML report with the porkchop plot of the leader and a scatter of
accessibility against yield. The headless shifts that measure the yields run in worker
processes, one per core (--workers).
"""

import argparse
import csv
from datetime import datetime
import html
import math
import multiprocessing
from multiprocessing import resource_tracker
import os
import signal
import sys

import numpy as np

from spacemine_ros.core.config import ConfigError
from spacemine_ros.core.models.anchors import load_anchor_types
from spacemine_ros.paths import share_path
from spacemine_ros.planning.catalogue import load_catalogue
from spacemine_ros.planning.orbits import calendar_date, DAY, EARTH_VALID, julian_date
from spacemine_ros.planning.presets import catalogue_body
from spacemine_ros.planning.ranking import (
    accessibility, anchoring, apply_filters, delivered_per_tonne, Economics, model_fingerprint,
    product_terms, ranked, Row, shift_yield, YieldCache)
from spacemine_ros.report import embedded_plot, page_head

COLUMNS = (  # (CSV header, table heading, value of a row)
    ('rank', '#', None),
    ('key', 'target', lambda r: r.key),
    ('class', 'class', lambda r: r.spectral_class or '?'),
    ('family', 'fam', lambda r: r.family or '?'),
    ('diameter_m', 'D [m]', lambda r: r.diameter),
    ('rotation_h', 'P [h]', lambda r: r.rotation_h),
    ('gravity_m_s2', 'g [m/s2]', lambda r: r.gravity),
    ('sh_delta_v_km_s', 'dv SH', lambda r: _km(r.sh_delta_v)),
    ('transfer_delta_v_km_s', 'dv', lambda r: _km(r.transfer_delta_v)),
    ('departure', 'depart', lambda r: _date(r.departure)),
    ('time_of_flight_d', 'TOF [d]', lambda r: r.time_of_flight / DAY
     if r.time_of_flight is not None else None),
    ('c3_km2_s2', 'C3', lambda r: r.c3 / 1e6 if r.c3 is not None else None),
    ('arrival_v_inf_km_s', 'v_inf', lambda r: _km(r.arrival_v_inf)),
    ('anchors_rock', 'anchors rock', lambda r: '; '.join(r.anchors_rock) or '-'),
    ('anchors_regolith', 'anchors regolith', lambda r: '; '.join(r.anchors_regolith) or '-'),
    ('product', 'product', lambda r: r.product or '-'),
    ('yield_per_kg', 'yield', lambda r: r.yield_per_kg),
    ('product_per_rig_year_kg', 'kg/rig-yr', lambda r: r.per_rig_year),
    ('delivered_per_tonne_kg', 'kg/t launched', lambda r: r.delivered_per_tonne),
    ('reason', 'why zero', lambda r: r.reason),
    ('assumed', 'assumed', lambda r: '; '.join(r.assumed)),
)
TABLE_COLUMNS = ('#', 'target', 'class', 'D [m]', 'P [h]', 'dv SH', 'dv', 'depart', 'TOF [d]',
                 'anchors rock', 'anchors regolith', 'yield', 'kg/rig-yr', 'kg/t launched',
                 'why zero')


def default_cache_dir():
    """Return where yields are cached: $XDG_CACHE_HOME (or ~/.cache)/spacemine_ros/targets."""
    return os.path.join(os.environ.get('XDG_CACHE_HOME') or os.path.expanduser('~/.cache'),
                        'spacemine_ros', 'targets')


def _km(value):
    return value / 1e3 if value is not None else None


def _date(jd):
    return calendar_date(jd).strftime('%Y-%m-%d') if jd is not None else None


def _text(value):
    if value is None:
        return '?'
    if isinstance(value, float):
        if not math.isfinite(value):
            return '?'
        return f'{value:.3g}' if abs(value) < 1e4 else f'{value:.0f}'
    return str(value)


def parse_date(text):
    """Return the Julian date of a calendar date YYYY-MM-DD (ValueError naming it)."""
    try:
        return julian_date(datetime.strptime(text, '%Y-%m-%d'))
    except ValueError:
        raise ValueError(f'{text!r} is not a date YYYY-MM-DD') from None


def build_rows(catalogue, anchor_types, bodies_file, departures, flights):
    """Rows with the catalogue's facts, accessibility and anchoring; {key: Porkchop}."""
    rows, grids = [], {}
    for key, target in catalogue.items():
        row = Row(key=key, name=target.name, family=target.family,
                  spectral_class=target.spectral_class.value if target.spectral_class else None,
                  diameter=target.diameter.value if target.diameter else None,
                  rotation_h=target.rotation_period.value / 3600.0
                  if target.rotation_period else None)
        grids[key] = accessibility(row, target, departures, flights)
        try:
            body = catalogue_body(target, bodies_file)
        except ConfigError as error:
            row.reason = str(error).split(': ', 1)[-1]
        else:
            row.assumed = list(body.sources.get('assumed') or [])
            if row.diameter is None:
                row.diameter = 2.0 * body.mean_radius
            anchoring(row, body, anchor_types)
        rows.append(row)
    return rows, grids


def measure_yields(rows, catalogue, plan, workers, wall_limit, bodies_file=None, cache=None,
                   progress=None):
    """Fill the yields of every row that can be ranked: from the cache, or by its shift.

    The shifts not cached run as headless shifts in worker processes; their figures are
    cached (cache: a YieldCache, None for none).
    """
    todo = [row for row in rows if not row.reason]
    found = {row.key: cache.get(catalogue[row.key], plan) if cache else None for row in todo}
    run = [row for row in todo if found[row.key] is None]

    def done(row, figures, how):
        product_terms(row, figures, row.family)
        if progress:
            progress(f'{row.key}: {how} {figures.get("result")}, {row.per_rig_year or 0.0:.3g} '
                     f'kg {row.product or "?"} per rig-year')
    for row in todo:
        if found[row.key] is not None:
            done(row, found[row.key], 'cached')
    if not run:
        return
    # Spawned, not forked: a fork of a process with threads (rclpy's, a test runner's)
    # and PyBullet in it crashed a worker. The workers ignore Ctrl-C: this process stops
    # them (the pool's exit terminates them) and says so in one line. They start with it
    # blocked (a mask outlives exec), so a Ctrl-C before their initializer has run cannot
    # break their start-up; this process gets its own when it unblocks. The resource
    # tracker starts first: starting it unblocks SIGINT on its way out (multiprocessing's
    # own block around its spawn), which left every worker spawned after it unblocked.
    context = multiprocessing.get_context('spawn')
    resource_tracker.ensure_running()
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        with context.Pool(max(1, workers), initializer=_ignore_interrupts) as pool:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
            pending = [(pool.apply_async(shift_yield, (row.key, plan, wall_limit,
                                                       bodies_file)), row) for row in run]
            for count, (result, row) in enumerate(pending, 1):
                figures = result.get()
                if cache:
                    cache.put(catalogue[row.key], plan, figures)
                done(row, figures, f'shift {count}/{len(run)}:')
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def _ignore_interrupts():
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def write_csv(rows, path):
    """Write the ranked rows as CSV (SI, every term)."""
    with open(path, 'w', newline='', encoding='utf-8') as stream:
        writer = csv.writer(stream)
        writer.writerow([name for name, _, _ in COLUMNS])
        for rank, row in enumerate(rows, 1):
            writer.writerow([rank if value is None else _csv(value(row))
                             for _, _, value in COLUMNS])


def _csv(value):
    if value is None:
        return ''
    if isinstance(value, float):
        return f'{value:.6g}'
    return value


def table(rows):
    """Return the ranked table as text (the terminal's)."""
    headings = [h for _, h, _ in COLUMNS if h in TABLE_COLUMNS]
    values = [[str(rank) if getter is None else _text(getter(row))
               for _, heading, getter in COLUMNS if heading in TABLE_COLUMNS]
              for rank, row in enumerate(rows, 1)]
    widths = [max(len(h), *(len(v[i]) for v in values)) if values else len(h)
              for i, h in enumerate(headings)]
    lines = ['  '.join(h.ljust(w) for h, w in zip(headings, widths))]
    lines += ['  '.join(v.ljust(w) for v, w in zip(line, widths)) for line in values]
    return '\n'.join(lines)


def render(rows, grids, economics, window):
    """Return the HTML report: the leader's porkchop, accessibility against yield, the table."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    parts = [page_head('Targets: near-Earth asteroids ranked by what a rig brings back'),
             f'<p id="method">Launch window {html.escape(window)}; Isp {economics.isp:g} s both '
             f'ways, {economics.service_years:g} years of work per rig; product per rig-year '
             'from a headless shift on each body; see docs/targets.md.</p>']
    leader = next((r for r in rows if r.score > 0), None)
    if leader is not None:
        parts.append(embedded_plot(plt, _porkchop(plt, leader, grids[leader.key]),
                                   'porkchop', f'Porkchop: {html.escape(leader.name)}'))
    figure = _scatter(plt, rows)
    if figure is not None:
        parts.append(embedded_plot(plt, figure, 'scatter', 'Accessibility against yield'))
    headings = [h for _, h, _ in COLUMNS]
    cells = ''.join(f'<th>{html.escape(h)}</th>' for h in headings)
    parts.append(f'<table id="ranking"><tr>{cells}</tr>')
    for rank, row in enumerate(rows, 1):
        cells = [str(rank) if getter is None else _text(getter(row))
                 for _, _, getter in COLUMNS]
        parts.append('<tr>' + ''.join(f'<td>{html.escape(c)}</td>' for c in cells) + '</tr>')
    parts.append('</table></body></html>')
    return '\n'.join(parts)


def _porkchop(plt, row, grid):
    figure, axes = plt.subplots(figsize=(6.5, 4.2))
    days = (grid.departures - grid.departures[0])
    flights = grid.times_of_flight / DAY
    values = np.ma.masked_invalid(grid.delta_v.T / 1e3)
    ceiling = min(float(np.nanmin(grid.delta_v)) / 1e3 + 6.0, float(np.nanmax(grid.delta_v)) / 1e3)
    levels = np.linspace(float(np.nanmin(grid.delta_v)) / 1e3, ceiling, 13)
    shown = axes.contourf(days, flights, np.ma.masked_greater(values, ceiling), levels=levels)
    figure.colorbar(shown, ax=axes, label='Δv from LEO [km/s]')
    axes.plot((row.departure - grid.departures[0]), row.time_of_flight / DAY, 'w*', ms=12)
    axes.set_xlabel(f'departure [days after {_date(grid.departures[0])}]')
    axes.set_ylabel('time of flight [days]')
    axes.set_title(f'{row.name}: best {row.transfer_delta_v / 1e3:.2f} km/s, '
                   f'departing {_date(row.departure)}')
    figure.tight_layout()
    return figure


def _scatter(plt, rows):
    points = [(r.transfer_delta_v / 1e3, r.per_rig_year, r.key) for r in rows
              if r.transfer_delta_v is not None and r.per_rig_year]
    if not points:
        return None
    figure, axes = plt.subplots(figsize=(6.5, 4.2))
    axes.scatter([p[0] for p in points], [p[1] for p in points])
    for x, y, key in points:
        axes.annotate(key, (x, y), fontsize=7, xytext=(3, 3), textcoords='offset points')
    axes.set_yscale('log')
    axes.set_xlabel('best rendezvous Δv from LEO [km/s]')
    axes.set_ylabel('product per rig-year [kg]')
    figure.tight_layout()
    return figure


def main(argv=None):
    """Entry point of spacemine-targets (Ctrl-C: one line, exit 130)."""
    try:
        return _main(argv)
    except KeyboardInterrupt:
        print('spacemine-targets: interrupted: the shifts run so far are cached; run again '
              'to go on', file=sys.stderr)
        return 130


def _main(argv):
    parser = argparse.ArgumentParser(
        prog='spacemine-targets', description=__doc__.splitlines()[0])
    parser.add_argument('--catalogue', default=share_path('config', 'targets.yaml'),
                        help='the asteroid catalogue (default: config/targets.yaml)')
    parser.add_argument('--window', default='2030-01-01:2035-12-31',
                        help='launch window FIRST:LAST, dates YYYY-MM-DD (default: %(default)s)')
    parser.add_argument('--departure-step', type=float, default=10.0,
                        help='days between departures tried (default: %(default)s)')
    parser.add_argument('--flight', default='60:540:20',
                        help='times of flight MIN:MAX:STEP in days (default: %(default)s)')
    parser.add_argument('--class', dest='classes', default='',
                        help='keep only these families or classes, e.g. C,M or Sq')
    parser.add_argument('--min-diameter', type=float, help='keep D >= this [m]')
    parser.add_argument('--max-diameter', type=float, help='keep D <= this [m]')
    parser.add_argument('--min-period', type=float, help='keep rotation periods >= this [h]')
    parser.add_argument('--max-delta-v', type=float, help='keep Δv from LEO <= this [km/s]')
    parser.add_argument('--no-shifts', action='store_true',
                        help='skip the headless shifts (no yields: nothing scores)')
    parser.add_argument('--plan', default='bennu_shift',
                        help='the plan each headless shift runs (default: %(default)s)')
    parser.add_argument('--workers', type=int, default=os.cpu_count() or 1,
                        help='processes running shifts (default: one per core)')
    parser.add_argument('--isp', type=float, default=Economics.isp,
                        help='specific impulse both ways [s] (default: %(default)s)')
    parser.add_argument('--service-years', type=float, default=Economics.service_years,
                        help='years of work per rig (default: %(default)s)')
    parser.add_argument('--output-dir', default='.',
                        help='where targets.csv and targets.html go (default: here)')
    parser.add_argument('--cache-dir', default=default_cache_dir(),
                        help="where each body's shift figures are kept, for as long as the "
                        'catalogue entry, the plan, the code and the config are the same '
                        '(default: %(default)s)')
    parser.add_argument('--no-cache', action='store_true', help='run every shift again')
    args = parser.parse_args(argv)
    try:
        first, last = (parse_date(part) for part in args.window.split(':'))
        low, high, step = (float(part) for part in args.flight.split(':'))
        if not (EARTH_VALID[0] <= first < last <= EARTH_VALID[1]):
            raise ValueError(f'window {args.window}: first before last, both in 1800-2050')
        if not (0.0 < low < high and step > 0.0 and args.departure_step > 0.0):
            raise ValueError(f'flight {args.flight}: 0 < MIN < MAX and STEP > 0 days')
        if not (args.isp > 0.0 and args.service_years > 0.0 and args.workers > 0):
            raise ValueError('--isp, --service-years and --workers must be > 0')
        catalogue = load_catalogue(args.catalogue)
        anchor_types = load_anchor_types(share_path('config', 'anchors.yaml'))
    except (ValueError, ConfigError) as error:
        parser.exit(2, f'spacemine-targets: {error}\n')
    departures = np.arange(first, last + 1e-9, args.departure_step)
    flights = np.arange(low, high + 1e-9, step) * DAY
    economics = Economics(isp=args.isp, service_years=args.service_years)
    bodies_file = os.path.join(os.path.dirname(os.path.abspath(args.catalogue)), 'bodies.yaml')
    if not os.path.exists(bodies_file):
        bodies_file = share_path('config', 'bodies.yaml')
    print(f'{len(catalogue)} asteroids; launch window {args.window}, {len(departures)} '
          f'departures x {len(flights)} times of flight', file=sys.stderr)
    rows, grids = build_rows(catalogue, anchor_types, bodies_file, departures, flights)
    if args.no_shifts:
        for row in rows:
            row.reason = row.reason or 'no shift run (--no-shifts): yield unknown'
    else:
        cache = None if args.no_cache else YieldCache(
            args.cache_dir, model_fingerprint([bodies_file]))
        measure_yields(rows, catalogue, args.plan, args.workers, 1800.0, bodies_file, cache,
                       lambda line: print(line, file=sys.stderr))
    for row in rows:
        row.delivered_per_tonne = delivered_per_tonne(row, economics)
        if not row.reason and row.delivered_per_tonne <= 0.0:
            row.reason = 'nothing delivered (no transfer in the window)'
    classes = tuple(c.strip() for c in args.classes.split(',') if c.strip())
    rows = ranked(apply_filters(rows, classes, args.min_diameter, args.max_diameter,
                                args.min_period, args.max_delta_v * 1e3
                                if args.max_delta_v is not None else None))
    print(table(rows))
    os.makedirs(args.output_dir, exist_ok=True)
    csv_path = os.path.join(args.output_dir, 'targets.csv')
    report_path = os.path.join(args.output_dir, 'targets.html')
    write_csv(rows, csv_path)
    with open(report_path, 'w', encoding='utf-8') as stream:
        stream.write(render(rows, grids, economics, args.window))
    print(f'table: {csv_path}; report: {report_path}', file=sys.stderr)
    return 0


if __name__ == '__main__':
    sys.exit(main())
