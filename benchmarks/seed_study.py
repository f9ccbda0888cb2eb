"""Seed study: the paper's Table 3 (OEEM against its ablations) at the scale
of a CPU, with the spread between training runs made visible.

Every run goes through ``tools/run_pipeline.sh`` as a user's would: stages
1-3 (prepare, classifier, pseudo-masks) are made once in WORK and shared, so
every segmentor trains on the same pseudo-masks; then each loss's quick
segmentor is trained with ``randomness.seed=S`` in ``WORK/seeds/LOSS/seedS``
and tested with ``--aug-test`` on Test A. Runs resume; finished ones are read
back. The table covers every finished run in WORK:

* mean ± sd (over seeds) of Test A mIoU, gland IoU and object F1 (percent),
* the paired difference of each loss against CE on the same seed, mean with
  its 95 % t-interval; an interval containing 0 means no difference shown.

    python benchmarks/seed_study.py path/to/glas_subset work_dirs/seeds \
        --losses ce l_norm lc_mix c_max c_diff ohem --seeds 0 1 2 3 4 \
        --jobs 3 --markdown seed_study.md
"""
import argparse
import glob
import json
import os
import os.path as osp
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List, Optional

import numpy as np
from scipy import stats

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CLS_CONFIG = 'configs/oeem/cls_r38_glas_quick.py'
LOSS_CONFIGS = {
    'ce': 'configs/oeem/pspnet_r38_glas_baseline_quick.py',
    'l_norm': 'configs/oeem/pspnet_r38_glas_oeem_quick.py',
    'lc_mix': 'configs/oeem/pspnet_r38_glas_lcmix_quick.py',
    'c_max': 'configs/oeem/pspnet_r38_glas_cmax_quick.py',
    'c_diff': 'configs/oeem/pspnet_r38_glas_cdiff_quick.py',
    'ohem': 'configs/oeem/pspnet_r38_glas_ohem_quick.py',
}
METRICS = {'mIoU': 'mIoU', 'IoU.gland': 'gland IoU', 'objF1': 'object F1'}


def run_dir(work: str, loss: str, seed: int) -> str:
    return osp.join(work, 'seeds', loss, f'seed{seed}')


def run_one(src: str, work: str, loss: str, seed: int,
            threads: Optional[int] = None) -> str:
    """Train and test LOSS's quick segmentor with SEED (resumes; a finished
    run only checks) on THREADS CPU threads; returns a line of its Test A
    metrics."""
    start = time.time()
    env = dict(os.environ, SEG_WORK=run_dir(work, loss, seed),
               SEG_OPTIONS=f'randomness.seed={seed}')
    if threads:
        env['OMP_NUM_THREADS'] = str(threads)
    log = osp.join(work, 'seeds', f'{loss}_seed{seed}.log')
    os.makedirs(osp.dirname(log), exist_ok=True)
    with open(log, 'a') as f:
        result = subprocess.run(
            ['bash', osp.join(REPO, 'tools', 'run_pipeline.sh'), src, work,
             CLS_CONFIG, LOSS_CONFIGS[loss]],
            stdout=f, stderr=subprocess.STDOUT, env=env)
    if result.returncode:
        sys.exit(f'error: {loss} seed {seed} failed (exit '
                 f'{result.returncode}), see {log}')
    metrics = read_result(run_dir(work, loss, seed))
    return (f'{loss} seed {seed}: Test A mIoU {metrics["mIoU"]:.2f}, gland '
            f'IoU {metrics["IoU.gland"]:.2f}, objF1 {metrics["objF1"]:.2f} '
            f'({time.time() - start:.0f} s)')


def read_result(folder: str) -> Optional[Dict[str, float]]:
    """The metrics of the finished test in a run's folder (the newest
    metrics file with object F1), or None."""
    if not osp.isfile(osp.join(folder, 'tested')):
        return None
    files = [p for p in glob.glob(osp.join(folder, '*', '*.json'))
             if 'objF1' in open(p).read()]
    if not files:
        return None
    return json.load(open(max(files, key=osp.getmtime)))


def collect(work: str) -> Dict[str, Dict[int, Dict[str, float]]]:
    """{loss: {seed: metrics}} of every finished run in WORK."""
    results = {}
    for loss in LOSS_CONFIGS:
        for folder in sorted(glob.glob(osp.join(work, 'seeds', loss,
                                                'seed*'))):
            metrics = read_result(folder)
            if metrics is not None:
                seed = int(osp.basename(folder)[len('seed'):])
                results.setdefault(loss, {})[seed] = metrics
    return results


def interval(values: List[float]) -> str:
    """'mean [low, high]' with the 95 % t-interval of the mean."""
    values = np.asarray(values, dtype=float)
    mean = values.mean()
    if len(values) < 2:
        return f'{mean:+.2f} (1 seed)'
    half = stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / np.sqrt(
        len(values))
    return f'{mean:+.2f} [{mean - half:+.2f}, {mean + half:+.2f}]'


def table(results: Dict[str, Dict[int, Dict[str, float]]]) -> str:
    """Markdown: mean ± sd per loss, and the paired difference to CE."""
    lines = ['| loss | seeds | ' + ' | '.join(
        f'{name} mean ± sd' for name in METRICS.values()) + ' | ' +
        ' | '.join(f'Δ {name} vs CE [95 % CI]' for name in METRICS.values())
        + ' |', '|---' * (2 + 2 * len(METRICS)) + '|']
    ce = results.get('ce', {})
    for loss, runs in results.items():
        seeds = sorted(runs)
        cells = []
        for key in METRICS:
            values = np.array([runs[s][key] for s in seeds])
            sd = values.std(ddof=1) if len(values) > 1 else float('nan')
            cells.append(f'{values.mean():.2f} ± {sd:.2f}')
        paired = [s for s in seeds if s in ce]
        for key in METRICS:
            if loss == 'ce' or not paired:
                cells.append('–')
            else:
                cells.append(interval([runs[s][key] - ce[s][key]
                                       for s in paired]))
        lines.append(f'| {loss} | {",".join(map(str, seeds))} | ' +
                     ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def per_seed(results: Dict[str, Dict[int, Dict[str, float]]]) -> str:
    """Markdown: every run's Test A mIoU, a row per seed."""
    losses = list(results)
    seeds = sorted({s for runs in results.values() for s in runs})
    lines = ['| seed | ' + ' | '.join(losses) + ' |',
             '|---' * (1 + len(losses)) + '|']
    for seed in seeds:
        lines.append(f'| {seed} | ' + ' | '.join(
            f'{results[loss][seed]["mIoU"]:.2f}' if seed in results[loss]
            else '–' for loss in losses) + ' |')
    return '\n'.join(lines)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('src', help='GlaS folder (e.g. glas_subset)')
    parser.add_argument('work', help='work folder (shared stages 1-3, runs)')
    parser.add_argument('--losses', nargs='+', choices=list(LOSS_CONFIGS),
                        default=list(LOSS_CONFIGS))
    parser.add_argument('--seeds', nargs='+', type=int,
                        default=[0, 1, 2, 3, 4])
    parser.add_argument(
        '--jobs', type=int, default=1,
        help='runs at once, each on cpu_count / jobs threads (on 2 CPU '
        'cores, 2 single-threaded runs finish sooner than 1 on both)')
    parser.add_argument('--markdown', help='also write the tables here')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    src, work = osp.abspath(args.src), osp.abspath(args.work)
    runs = [(loss, seed) for seed in args.seeds for loss in args.losses]
    threads = max(1, (os.cpu_count() or 1) // args.jobs)
    print(f'{len(runs)} runs, {args.jobs} at once on {threads} thread(s) '
          'each', flush=True)
    # the first run alone: it makes the shared stages 1-3
    print(f'[1/{len(runs)}] {run_one(src, work, *runs[0])}', flush=True)
    with ThreadPoolExecutor(args.jobs) as pool:
        done = pool.map(lambda run: run_one(src, work, *run, threads),
                        runs[1:])
        for i, line in enumerate(done, 2):
            print(f'[{i}/{len(runs)}] {line}', flush=True)
    results = collect(work)
    text = (table(results) + '\n\nTest A `--aug-test` mIoU of each run:\n\n'
            + per_seed(results) + '\n')
    print(text)
    json.dump(results, open(osp.join(work, 'seed_study.json'), 'w'),
              indent=1)
    if args.markdown:
        with open(args.markdown, 'w') as f:
            f.write(text)


if __name__ == '__main__':
    main()
