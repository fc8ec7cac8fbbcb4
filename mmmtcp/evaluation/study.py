"""Statistics of a seeded comparison of multi-task models.

A *study* trains and tests several methods (configs) with the same list of
seeds. Its results are ``{method: {seed: metrics}}`` where ``metrics`` is
the dict :class:`MultiTaskMetric` returns (``'semseg.mIoU'``,
``'depth.rmse'``, ``'coherence.edge_seg_F'``, ...). This module turns them
into what a comparison needs:

- :func:`summarize`: mean and sample standard deviation (``ddof=1``; 0 for
  a single seed) of every metric over the seeds of each method;
- :func:`paired_delta_m`: the multi-task gain ``delta_m`` (Maninis et al.,
  CVPR 2019) of each method against a reference method, computed *per
  seed* against the reference run with the same seed, then averaged; the
  spread of these paired values is what a claim "A beats B" must exceed;
- :func:`verdict`: one sentence saying whether a paired gain is larger than
  its seed-to-seed spread;
- :func:`format_table` / :func:`plot_study`: a Markdown table and a bar
  chart with error bars.
"""
import math
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from mmmtcp.tasks import TASKS, metric_names
from mmmtcp.tasks import lower_is_better as _task_lower_is_better
from .metrics.multi_task_metric import multi_task_gain

Results = Mapping[str, Mapping[int, Mapping[str, float]]]

#: Metrics of other groups where lower is better.
_LOWER_EXTRA = {'coherence.normal_depth_angle',
                'coherence_gt.normal_depth_angle', 'train_time', 'test_time'}


def lower_is_better(key: str) -> bool:
    """Whether a smaller value of metric ``key`` is better.

    Args:
        key (str): ``'<task>.<metric>'``, a coherence key, or a timing key.

    Returns:
        bool: True for errors, angles and times.
    """
    if key in _LOWER_EXTRA:
        return True
    if '.' in key:
        task, name = key.split('.', 1)
        return _task_lower_is_better(task, name)
    return False


def primary_keys(metrics: Mapping[str, float]) -> Dict[str, str]:
    """The primary metric of every task present in a metrics dict.

    Args:
        metrics (Mapping[str, float]): Metric values of one run.

    Returns:
        dict[str, str]: Task to its primary key (the first metric of its
        kind), in the order of :data:`mmmtcp.utils.TASKS`.
    """
    keys = {}
    for task in TASKS:
        names = metric_names(task)
        if not names:
            continue
        key = f'{task}.{names[0]}'
        if key in metrics:
            keys[task] = key
    return keys


def _mean_std(values: Sequence[float]) -> Tuple[float, float]:
    arr = np.asarray(values, dtype=np.float64)
    if arr.size == 0:
        return math.nan, math.nan
    std = float(arr.std(ddof=1)) if arr.size > 1 else 0.0
    return float(arr.mean()), std


def summarize(results: Results) -> Dict[str, Dict[str, dict]]:
    """Mean and standard deviation of every metric over the seeds.

    Args:
        results (Mapping): ``{method: {seed: {metric: value}}}``.

    Returns:
        dict: ``{method: {metric: dict(mean, std, n, values)}}``; a metric
        missing or non-finite in some runs is summarized over the others.
    """
    summary: Dict[str, Dict[str, dict]] = {}
    for method, runs in results.items():
        keys: List[str] = []
        for metrics in runs.values():
            keys += [k for k in metrics if k not in keys]
        summary[method] = {}
        for key in keys:
            values = [
                float(m[key]) for m in runs.values()
                if isinstance(m.get(key), (int, float))
                and math.isfinite(float(m[key]))
            ]
            mean, std = _mean_std(values)
            summary[method][key] = dict(
                mean=mean, std=std, n=len(values), values=values)
    return summary


def delta_m(metrics: Mapping[str, float],
            reference: Mapping[str, float]) -> float:
    """Multi-task gain of one run against another, in percent.

    ``100 / T * sum_t (-1)^{l_t} (M_t - R_t) / R_t`` over the primary
    metrics, ``l_t = 1`` where lower is better (the formula of
    :func:`multi_task_gain`, with the reference run as the baseline).

    Args:
        metrics (Mapping[str, float]): The run's metrics.
        reference (Mapping[str, float]): The reference run's metrics.

    Returns:
        float: delta_m in percent.
    """
    keys = [k for k in primary_keys(reference).values() if k in metrics]
    if not keys:
        raise ValueError('delta_m: no primary task metric in common between '
                         'the run and its reference')
    per_task: Dict[str, Dict[str, float]] = {}
    baselines: Dict[str, Dict[str, float]] = {}
    for key in keys:
        task, name = key.split('.', 1)
        per_task.setdefault(task, {})[name] = float(metrics[key])
        baselines.setdefault(task, {})[name] = float(reference[key])
    return multi_task_gain(per_task, baselines)


def paired_delta_m(results: Results, reference: str) -> Dict[str, dict]:
    """delta_m of every method against ``reference``, paired by seed.

    Args:
        results (Mapping): ``{method: {seed: {metric: value}}}``.
        reference (str): The reference method.

    Returns:
        dict: ``{method: dict(mean, std, n, per_seed={seed: value})}`` over
        the seeds both methods have (the reference itself is 0 for every
        seed).
    """
    if reference not in results:
        raise KeyError(f'reference method {reference!r} is not in the study '
                       f'({list(results)})')
    ref_runs = results[reference]
    out = {}
    for method, runs in results.items():
        per_seed = {
            seed: delta_m(metrics, ref_runs[seed])
            for seed, metrics in runs.items() if seed in ref_runs
        }
        mean, std = _mean_std(list(per_seed.values()))
        out[method] = dict(
            mean=mean, std=std, n=len(per_seed), per_seed=per_seed)
    return out


def verdict(method: str, reference: str, paired: Mapping[str, float]) -> str:
    """One line saying whether a paired gain exceeds the seed spread.

    Args:
        method (str): The method's name.
        reference (str): The reference's name.
        paired (Mapping): One entry of :func:`paired_delta_m`.

    Returns:
        str: The sentence.
    """
    mean, std, n = paired['mean'], paired['std'], paired['n']
    stat = (f'delta_m {mean:+.2f} +- {std:.2f} % over {n} paired seed'
            f'{"s" if n != 1 else ""}')
    if n < 2:
        return (f'{method} vs {reference}: {stat}; one seed cannot tell a '
                'gain from seed noise.')
    if mean - std > 0:
        return (f'{method} vs {reference}: {stat}: the gain is larger than '
                'the seed-to-seed spread.')
    if mean + std < 0:
        return (f'{method} vs {reference}: {stat}: the loss is larger than '
                'the seed-to-seed spread.')
    return (f'{method} vs {reference}: {stat}: the difference is within the '
            'seed-to-seed spread (no conclusion).')


def ordered_keys(summary: Mapping[str, Mapping[str, dict]]) -> List[str]:
    """Metric keys of a summary in reading order: per task (primary
    first), then coherence, then anything else.

    Args:
        summary (Mapping): Output of :func:`summarize`.

    Returns:
        list[str]: The keys.
    """
    present: List[str] = []
    for per_method in summary.values():
        present += [k for k in per_method if k not in present]
    keys = []
    for task in TASKS:
        keys += [
            f'{task}.{n}' for n in metric_names(task)
            if f'{task}.{n}' in present
        ]
        keys += sorted(k for k in present
                       if k.startswith(f'{task}.') and k not in keys)
    keys += [k for k in present if k.startswith('coherence.')]
    keys += [k for k in present if k.startswith('coherence_gt.')]
    keys += [k for k in present if k not in keys]
    return keys


def _cell(entry: Optional[dict], digits: int) -> str:
    if not entry or entry['n'] == 0:
        return '-'
    return f'{entry["mean"]:.{digits}f} ± {entry["std"]:.{digits}f}'


def format_table(summary: Mapping[str, Mapping[str, dict]],
                 paired: Optional[Mapping[str, dict]] = None,
                 reference: Optional[str] = None,
                 keys: Optional[Sequence[str]] = None,
                 digits: int = 3) -> str:
    """Markdown table, one row per metric, one column per method.

    Args:
        summary (Mapping): Output of :func:`summarize`.
        paired (Mapping, optional): Output of :func:`paired_delta_m`; adds
            a ``delta_m`` row.
        reference (str, optional): Name of the delta_m reference.
        keys (Sequence[str], optional): Rows. Defaults to
            :func:`ordered_keys`.
        digits (int): Decimals. Defaults to 3.

    Returns:
        str: The table (cells are ``mean ± std``).
    """
    methods = list(summary)
    keys = list(keys) if keys is not None else ordered_keys(summary)
    rows = []
    for key in keys:
        arrow = '↓' if lower_is_better(key) else '↑'
        rows.append([f'{key} {arrow}'] +
                    [_cell(summary[m].get(key), digits) for m in methods])
    if paired is not None:
        label = 'delta_m (%) ↑' + (f' vs {reference}' if reference else '')
        rows.append([label] +
                    [_cell(paired.get(m), digits) for m in methods])
    header = ['metric'] + methods
    widths = [
        max(len(str(r[i])) for r in rows + [header])
        for i in range(len(header))
    ]
    lines = [
        '| ' + ' | '.join(h.ljust(w) for h, w in zip(header, widths)) + ' |',
        '|' + '|'.join('-' * (w + 2) for w in widths) + '|'
    ]
    for row in rows:
        lines.append('| ' + ' | '.join(
            str(c).ljust(w) for c, w in zip(row, widths)) + ' |')
    return '\n'.join(lines)


def plot_study(summary: Mapping[str, Mapping[str, dict]],
               out_file: str,
               keys: Sequence[str],
               paired: Optional[Mapping[str, dict]] = None,
               reference: Optional[str] = None,
               title: Optional[str] = None) -> None:
    """Bar chart with error bars (one standard deviation), one panel per
    metric and one bar per method, written as PNG.

    Args:
        summary (Mapping): Output of :func:`summarize`.
        out_file (str): PNG path.
        keys (Sequence[str]): Metrics to draw.
        paired (Mapping, optional): Output of :func:`paired_delta_m`; adds
            a delta_m panel.
        reference (str, optional): Name of the delta_m reference.
        title (str, optional): Figure title.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    methods = list(summary)
    panels = [(k, {m: summary[m].get(k) for m in methods}) for k in keys]
    if paired is not None:
        label = 'delta_m (%)' + (f' vs {reference}' if reference else '')
        panels.append((label, {m: paired.get(m) for m in methods}))
    cols = min(4, len(panels))
    rows = int(math.ceil(len(panels) / cols))
    fig, axes = plt.subplots(
        rows, cols, figsize=(3.2 * cols, 2.8 * rows), squeeze=False)
    colors = plt.get_cmap('tab10').colors
    for ax, (key, entries) in zip(axes.flat, panels):
        means = [entries[m]['mean'] if entries[m] else np.nan
                 for m in methods]
        stds = [entries[m]['std'] if entries[m] else 0.0 for m in methods]
        ax.bar(range(len(methods)), means, yerr=stds, capsize=4,
               color=[colors[i % len(colors)] for i in range(len(methods))])
        ax.set_xticks(range(len(methods)))
        ax.set_xticklabels(methods, rotation=30, ha='right', fontsize=8)
        arrow = '' if key.startswith('delta_m') else (
            ' ↓' if lower_is_better(key) else ' ↑')
        ax.set_title(key + arrow, fontsize=9)
        ax.tick_params(axis='y', labelsize=8)
        finite = [m for m in means if math.isfinite(m)]
        if finite and not key.startswith('delta_m'):
            lo = min(m - s for m, s in zip(means, stds) if math.isfinite(m))
            hi = max(m + s for m, s in zip(means, stds) if math.isfinite(m))
            pad = 0.15 * (hi - lo) or 0.05 * abs(hi) or 1.0
            ax.set_ylim(lo - pad, hi + pad)
        if key.startswith('delta_m'):
            ax.axhline(0.0, color='black', linewidth=0.8)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis('off')
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(out_file, dpi=100)
    plt.close(fig)
