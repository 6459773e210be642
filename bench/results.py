"""Where benchmarks save their figures: bench/results/<name>.json."""

import json
import os

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'results')


def save(name, figures):
    """Write figures to bench/results/<name>.json; return the path."""
    os.makedirs(RESULTS, exist_ok=True)
    path = os.path.join(RESULTS, f'{name}.json')
    with open(path, 'w', encoding='utf-8') as stream:
        json.dump(figures, stream, indent=2)
    return path
