"""spacemine-campaign-report RUN: a self-contained HTML report of a campaign's results.

    spacemine-campaign-report ~/.local/share/spacemine_ros/campaigns/bennu_anchor_spread

Reads the results directory (campaign.json and the samples' Parquet rows) and writes one
HTML file (RUN/report.html unless -o) with every plot embedded as a PNG:

- the outcomes, and how many samples violated an invariant;
- the distributions of product mass, energy per kg of product, sim time per plan step,
  and the anchors' peak load against the safe capacity (the drills' thrust against the
  anchors' budget);
- which inputs drive failure: every drawn input, and each kind of fault a sample got,
  ranked by Spearman's rank correlation with failing (scipy.stats.spearmanr; the same for
  violating an invariant and for product mass), with the failure rate per value of an
  input drawn from a few values;
- every violation with its sample, the seed and the commands that replay it (on the
  node graph, recorded; and headless).

spacemine-campaign writes it when a run ends. No ROS needed.
"""

import argparse
import html
import json
import math
import os
import sys
from collections import Counter, defaultdict

from spacemine_ros.core.config import ConfigError
from spacemine_ros.report import embedded_plot, page_head

# A sample's outcome as the ranking reads it.
FAILED = ('failed', 'error')
FEW_VALUES = 12  # an input drawn from at most this many values also gets a rate per value


def load_results(directory):
    """Return (campaign, rows as dicts by sample) of a results directory."""
    from spacemine_ros.campaign import Results
    campaign = Results.campaign_of(directory)
    table = Results(directory, campaign).table()
    if table is None:
        raise ConfigError(f'{directory} holds no finished sample yet')
    rows = table.to_pylist()
    for row in rows:
        for key in ('inputs', 'faults', 'struck', 'violations', 'summary'):
            text = row.get(key)
            row[key] = json.loads(text) if isinstance(text, str) and text else (
                {} if key in ('inputs', 'summary') else [])
    return campaign, rows


def features(rows):
    """Return {feature: [value per row]}: each drawn input, and each fault kind (0/1).

    A fault on a node (node_restart, sensor_silent, device_silent) counts per node (e.g.
    fault node_restart drill); each kind's instant, duration and fraction are features of
    their own, NaN where a sample has no such fault (those samples are left out of its
    correlation).
    """
    names = sorted({key for row in rows for key in row['inputs']})
    table = {name: [row['inputs'].get(name) for row in rows] for name in names}
    kinds = sorted({_fault_name(fault) for row in rows for fault in row['faults']})
    for kind in kinds:
        table[f'fault {kind}'] = [float(any(_fault_name(f) == kind for f in row['faults']))
                                  for row in rows]
        # Its numbers too (NaN in a sample without it): when, how long, how much.
        for argument in ('at', 'duration', 'fraction'):
            values = [next((f[argument] for f in row['faults'] if _fault_name(f) == kind
                            and argument in f), math.nan) for row in rows]
            if not all(math.isnan(v) for v in values):
                table[f'fault {kind} {argument}'] = values
    return table


def _fault_name(fault):
    return f'{fault["kind"]} {fault["node"]}' if 'node' in fault else fault['kind']


def product_kg(row):
    """Return a sample's product (refined products and volatiles) [kg], NaN if unknown."""
    summary = row['summary']
    if 'products_kg' not in summary:
        return math.nan
    return float(summary['products_kg']) + float(summary.get('volatiles_kg') or 0.0)


def ranking(rows):
    """Return [(feature, rho_fail, p_fail, rho_violation, rho_product, rates)] by |rho_fail|.

    rho: Spearman's rank correlation of the feature with failing (1 if the sample failed
    or could not run), with violating an invariant, with product mass; NaN where either
    side is constant. rates: {value: (samples, failure rate)} for a feature of few values.
    """
    from scipy.stats import spearmanr
    failed = [float(row['outcome'] in FAILED) for row in rows]
    violated = [float(row['violation_count'] > 0) for row in rows]
    product = [product_kg(row) for row in rows]
    result = []
    for name, values in features(rows).items():
        numeric = [float(v) if isinstance(v, (int, float)) and not isinstance(v, bool)
                   else math.nan for v in values]
        rates = {}
        distinct = sorted({v for v in values if v is not None}, key=str)
        if len(distinct) <= FEW_VALUES and len(values) >= 2 * len(distinct) and not any(
                isinstance(v, float) and math.isnan(v) for v in distinct):
            for value in distinct:
                picked = [f for v, f in zip(values, failed) if v == value]
                rates[value] = (len(picked), sum(picked) / len(picked))
        if all(math.isnan(v) for v in numeric):  # a string input: codes in sorted order
            numeric = [float(distinct.index(v)) if v is not None else math.nan for v in values]
        rho_fail, p_fail = _spearman(spearmanr, numeric, failed)
        rho_violation, _ = _spearman(spearmanr, numeric, violated)
        rho_product, _ = _spearman(spearmanr, numeric, product)
        result.append((name, rho_fail, p_fail, rho_violation, rho_product, rates))
    return sorted(result, key=lambda r: (-abs(r[1]) if not math.isnan(r[1]) else 0.0, r[0]))


def _spearman(spearmanr, x, y):
    pairs = [(a, b) for a, b in zip(x, y) if not (math.isnan(a) or math.isnan(b))]
    if len(pairs) < 3 or len({a for a, _ in pairs}) < 2 or len({b for _, b in pairs}) < 2:
        return math.nan, math.nan
    statistic = spearmanr([a for a, _ in pairs], [b for _, b in pairs])
    return float(statistic.statistic), float(statistic.pvalue)


def replay_commands(directory, sample):
    """Return the commands that run one sample again, with its faults and checks.

    On the node graph, recorded (for Foxglove and the shift report), and headless (the
    campaign's engine, compared exactly with the row).
    """
    return (f'spacemine-shift --replay {directory} {sample}',
            f'spacemine-shift --replay {directory} {sample} --headless')


def render(campaign, rows, directory):
    """Return the report's HTML."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    title = f'Campaign report: {campaign.name}'
    outcomes = Counter(row['outcome'] for row in rows)
    violating = sum(row['violation_count'] > 0 for row in rows)
    parts = [page_head(title),
             f'<p id="overview">{len(rows)} of {campaign.samples} samples (seed '
             f'{campaign.seed}, base {html.escape(json.dumps(campaign.base.model_dump()))}): '
             + ', '.join(f'{html.escape(k)} {v}' for k, v in sorted(outcomes.items()))
             + f'; <span id="violating">{violating}</span> violating an invariant.</p>']
    for name, heading, draw in PLOTS:
        figure = draw(plt, rows)
        if figure is not None:
            figure.tight_layout()
            parts.append(embedded_plot(plt, figure, name, heading))
    parts.append(_ranking_table(rows))
    parts.append(_reasons_table(rows))
    parts.append(_violations_table(rows, directory, campaign))
    parts.append('</body></html>')
    return '\n'.join(parts)


def _figure(plt, columns=1):
    figure, axes = plt.subplots(1, columns, figsize=(5.5 * columns, 3.6))
    return figure, axes


def _finite(values):
    return [v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]


def _plot_outcomes(plt, rows):
    figure, axes = _figure(plt)
    counts = Counter(row['outcome'] for row in rows)
    names = sorted(counts)
    axes.bar(names, [counts[n] for n in names], color='#4c78a8')
    axes.bar(['violating'], [sum(row['violation_count'] > 0 for row in rows)],
             color='#e45756')
    axes.set_ylabel('samples')
    return figure


def _plot_product(plt, rows):
    product = _finite([product_kg(row) for row in rows])
    energy = _finite([row['summary'].get('energy_per_kg_product_J') for row in rows])
    excavated = _finite([row.get('mass_excavated_kg') for row in rows])
    if not (product or excavated):
        return None
    figure, (left, right) = _figure(plt, 2)
    if product and any(product):
        left.hist(product, bins=20, color='#54a24b')
        left.set_xlabel('product (refined and volatiles) [kg]')
    else:
        left.hist(excavated, bins=20, color='#54a24b')
        left.set_xlabel('mass excavated [kg] (no product in these shifts)')
    left.set_ylabel('samples')
    if energy:
        right.hist([e / 1e6 for e in energy], bins=20, color='#f58518')
        right.set_xlabel('smelter energy per kg of product [MJ/kg]')
    else:
        right.text(0.5, 0.5, 'no product smelted', ha='center', transform=right.transAxes)
    return figure


def _plot_steps(plt, rows):
    durations = defaultdict(list)
    for row in rows:
        for step in row['summary'].get('steps', []):
            durations[f'{step["step"]} {step["type"]}'].append(step['sim_s'])
    if not durations:
        return None
    names = sorted(durations, key=lambda n: int(n.split()[0]))
    figure, axes = _figure(plt)
    axes.boxplot([durations[n] for n in names], orientation='horizontal')
    axes.set_yticks(range(1, len(names) + 1), names)
    axes.set_xlabel('sim time per step [s]')
    return figure


def _plot_anchor_load(plt, rows):
    load = [(row.get('safe_capacity_at_peak_N'), row.get('peak_anchor_load_N'),
             row.get('peak_thrust_share_of_budget'), row['outcome']) for row in rows]
    load = [x for x in load if _finite(x[:2]) and len(_finite(x[:2])) == 2]
    if not load:
        return None
    figure, (left, right) = _figure(plt, 2)
    for outcome, colour in (('completed', '#4c78a8'), ('failed', '#e45756'),
                            ('error', '#000000')):
        picked = [x for x in load if x[3] == outcome]
        if picked:
            left.scatter([x[0] for x in picked], [x[1] for x in picked], s=12, color=colour,
                         label=outcome)
    left.set_xlabel('anchors safe capacity at peak thrust [N]')
    left.set_ylabel('peak load on one anchor [N]')
    left.legend(fontsize=8)
    shares = [min(x[2], 3.0) for x in load if _finite([x[2]])]
    right.hist(shares, bins=20, color='#72b7b2')
    right.axvline(1.0, color='#e45756', linestyle='--')
    right.set_xlabel("drills' peak thrust / anchors' budget (capped at 3)")
    return figure


def _plot_drivers(plt, rows):
    ranked = [r for r in ranking(rows) if not math.isnan(r[1])][:6]
    if not ranked:
        return None
    figure, axes = _figure(plt)
    names = [r[0] for r in ranked][::-1]
    axes.barh(names, [r[1] for r in ranked][::-1], color='#e45756')
    axes.axvline(0.0, color='#222', linewidth=0.8)
    axes.set_xlabel("Spearman's rho with failing")
    return figure


PLOTS = [('outcomes', 'Outcomes', _plot_outcomes),
         ('product', 'Product and energy per kg', _plot_product),
         ('steps', 'Time per plan step', _plot_steps),
         ('anchor-load', 'Anchor load against capacity', _plot_anchor_load),
         ('drivers', 'What drives failure', _plot_drivers)]


def _number(value, digits=3):
    return '' if value is None or (isinstance(value, float) and math.isnan(value)) else \
        f'{value:.{digits}g}'


def _ranking_table(rows):
    lines = []
    for name, rho_fail, p_fail, rho_violation, rho_product, rates in ranking(rows):
        rate_text = '; '.join(f'{html.escape(str(value))}: {share:.0%} of {count}'
                              for value, (count, share) in rates.items())
        lines.append(f'<tr><td class="feature">{html.escape(name)}</td>'
                     f'<td class="rho">{_number(rho_fail)}</td><td>{_number(p_fail, 2)}</td>'
                     f'<td>{_number(rho_violation)}</td><td>{_number(rho_product)}</td>'
                     f'<td>{rate_text}</td></tr>')
    return ('<h2 id="sensitivity">Sensitivity: what drives failure</h2><p>Each input and '
            "fault ranked by Spearman's rank correlation with failing (a sample that failed "
            'or could not run), with its p-value, and the same for violating an invariant '
            'and for product mass; an input drawn from a few values shows the failure rate '
            'per value.</p><table id="ranking"><tr><th>input</th><th>rho (failing)</th>'
            '<th>p</th><th>rho (violating)</th><th>rho (product)</th><th>failure rate by '
            f'value</th></tr>{"".join(lines)}</table>')


def _reasons_table(rows):
    reasons = Counter(row['reason'] for row in rows if row['outcome'] != 'completed')
    if not reasons:
        return '<h2 id="reasons">Why shifts failed</h2><p>None failed.</p>'
    lines = ''.join(f'<tr><td>{count}</td><td>{html.escape(reason)}</td></tr>'
                    for reason, count in reasons.most_common(40))
    return (f'<h2 id="reasons">Why shifts failed</h2><table><tr><th>samples</th>'
            f'<th>reason</th></tr>{lines}</table>')


def _violations_table(rows, directory, campaign):
    lines = []
    for row in rows:
        for violation in row['violations']:
            lines.append(
                f'<tr class="violation"><td>{row["sample"]}</td><td>{campaign.seed}</td>'
                f'<td>{html.escape(violation["invariant"])}</td>'
                f'<td>{_number(violation["at"], 6)}</td>'
                f'<td>{html.escape(violation["detail"])}</td>'
                '<td>' + '<br>'.join(f'<code>{html.escape(command)}</code>' for command in
                                     replay_commands(directory, row['sample'])) +
                '</td></tr>')
    if not lines:
        return '<h2 id="violations">Violations</h2><p>No invariant was violated.</p>'
    return ('<h2 id="violations">Violations</h2><table id="violation-table"><tr>'
            '<th>sample</th><th>seed</th><th>invariant</th><th>at [s]</th><th>what</th>'
            f'<th>replay</th></tr>{"".join(lines)}</table>')


def write_report(directory, output=None):
    """Write the HTML report of a campaign's results; return its path."""
    campaign, rows = load_results(directory)
    output = output or os.path.join(directory, 'report.html')
    text = render(campaign, rows, directory)
    partial = output + '.partial'
    with open(partial, 'w', encoding='utf-8') as stream:
        stream.write(text)
    os.replace(partial, output)
    return output


def main(argv=None):
    """Entry point of spacemine-campaign-report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('results', help="a campaign's results directory")
    parser.add_argument('-o', '--output', default=None,
                        help='the HTML file to write (default: report.html in RUN)')
    args = parser.parse_args(argv)
    try:
        path = write_report(args.results, args.output)
    except (ConfigError, OSError) as error:
        parser.exit(2, f'spacemine-campaign-report: error: {error}\n')
    print(path)
    return 0


if __name__ == '__main__':
    sys.exit(main())
