"""Round anomaly11 seen-data check (models/ANOMALY.md "Round anomaly11"; card/round11-check.json): which way of setting
the one threshold from the sets lands new sets in the band, imitating the sealed rule. Sixteen normal sets: the
fitting pool's calibration runs, lab batches 1, 2+3, 4, 5, fresh batches 6-15, the test runs; scores of round
anomaly7's autoencoders with the 40 s retry hold before any port shift (build12/rs-c10r; fresh14, fresh15 from
build12/s10-candidate with the candidate's port shift undone). For every pair of fresh batches 6-15 left out: port
shifts (0.9 quantile, 30 runs) and the threshold from the other fourteen sets by each method (balanced mean, geometric
mean, median set, extremes), the pair's POOLED flagged share (and the test runs', in sample). Then all sixteen sets
with the chosen method: the threshold at every stated rate, the shifts, detection on a1-a11.
Usage: python3 round11_check.py CHECK.json [CALIBRATION.json]"""
import itertools
import json
import os
import sys

import numpy as np
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import calibrate as C  # noqa: E402
import build  # noqa: E402
from round10_check import dbflows, sub, cat, BAND, SHIFT8, W, EV, LISTS  # noqa: E402

B12 = '/work/data/anomaly/build12'
SHIFT10 = {int(k): v for k, v in json.load(open(f'{B12}/cand10-calibrate.json'))['port_shift']['shifts'].items()}
FRESH = [f'fresh{i}' for i in range(6, 16)]
METHODS = {'balanced': C.calibrate_balanced, 'geometric': C.calibrate_geometric, 'median': C.calibrate_median,
           'extremes': C.calibrate_extremes}
RATES = [0.001, 0.005, 0.01, 0.02, 0.05]


def unshift(d, sh):
    d['s'] = d['s'] + np.array([sh.get(int(p), 0.0) for p in d['port']])
    return d


def load():
    cal = dbflows(W + '/cal-runs.db')
    sets = {}
    for k in ('pool', 'b1', 'b23', 'b4', 'b5'):
        lst = set(x.strip() for x in open(f'{LISTS}/{k}.list') if x.strip())
        part = sub(cal, np.isin(cal['run'], list(lst)))
        sets[k] = part if k == 'pool' else cat(part, dbflows(f'{W}/eval-B{k}.db'))
    for i in range(6, 14):
        sets[f'fresh{i}'] = dbflows(f'{W}/eval-fresh{i}.db')
    for i in (14, 15):
        sets[f'fresh{i}'] = unshift(dbflows(f'{B12}/s10-candidate/eval-fresh{i}.db'), SHIFT10)
    sets['test'] = dbflows(f'{W}/eval-heldout.db')
    att = {}
    labs = [(f'a{i}', f'/work/data/anomaly/lab/a{i}', EV, SHIFT8) for i in range(1, 7)]
    labs += [(f'a{i}', f'/work/data/anomaly/sealed{i - 1}/a{i}', EV, SHIFT8) for i in range(7, 11)]
    labs += [('a11', '/work/data/anomaly/sealed10/a11', f'{B12}/s10-candidate', SHIFT10)]
    for lab, dd, ev, sh in labs:
        for sc in ('scan', 'synflood', 'bruteforce-ssh', 'bruteforce-http', 'slowloris'):
            cond, params = build.truth_sql(json.load(open(f'{dd}/{sc}.json'))['attack'])
            att.setdefault(lab, {})[sc] = unshift(dbflows(f'{ev}/eval-{lab}-{sc}.db', cond, params), sh)
    return sets, att


def fit(names, sets, allowed, method, rates=(0.01,)):
    sc = np.concatenate([sets[n]['s'] for n in names])
    po = np.concatenate([sets[n]['port'] for n in names])
    ru = np.concatenate([sets[n]['run'] for n in names])
    st = np.concatenate([[n] * len(sets[n]['s']) for n in names])
    sh = C.port_shifts(sc, po, st, ru, quantile=0.9, shrink_runs=30.0, allowed=allowed)
    f = lambda d: C.apply_port_shifts(d['s'], d['port'], sh)  # noqa: E731
    ts = METHODS[method](np.concatenate([f(sets[n]) for n in names]), st, ru, list(rates))
    return f, ts, sh


def main():
    import onnx
    allowed = set(C.shift_ports_of(onnx.load(f'{B12}/c10r.onnx')))
    sets, att = load()
    inb = lambda v: BAND[0] <= v <= BAND[1]  # noqa: E731
    out = {'sets': {n: {'flows': int(len(d['s'])), 'runs': int(len(set(d['run'])))} for n, d in sets.items()}, 'methods': {}}
    for m in METHODS:
        pairs = {}
        for a, b in itertools.combinations(FRESH, 2):
            f, ts, _ = fit([n for n in sets if n not in (a, b)], sets, allowed, m)
            t = ts['0.01']
            fl = np.concatenate([f(sets[a]) > t, f(sets[b]) > t])
            pairs[f'{a}+{b}'] = {'threshold': t, 'pooled_share': float(fl.mean()), 'flagged': int(fl.sum()), 'flows': int(len(fl)),
                                 'test_runs': float((f(sets['test']) > t).mean())}
        ps = [v['pooled_share'] for v in pairs.values()]
        tr = [v['test_runs'] for v in pairs.values()]
        r = {'pairs': pairs, 'in_band': sum(inb(v) for v in ps), 'below': sum(v < BAND[0] for v in ps),
             'above': sum(v > BAND[1] for v in ps), 'test_in_band': sum(inb(v) for v in tr),
             'pooled_median': float(np.median(ps)), 'test_median': float(np.median(tr))}
        out['methods'][m] = r
        print(f"{m}: in band {r['in_band']}/45 (below {r['below']}, above {r['above']}); pooled median {100 * r['pooled_median']:.2f}%; "
              f"test in band {r['test_in_band']}/45, median {100 * r['test_median']:.2f}%", flush=True)
    best = max(METHODS, key=lambda m: (out['methods'][m]['in_band'], -abs(out['methods'][m]['test_median'] - 0.01)))
    f, ts, sh = fit(list(sets), sets, allowed, best, RATES)
    t = ts['0.01']
    det = {lab: {sc: {'flows': int(len(d['s'])), 'flagged': int((f(d) > t).sum())} for sc, d in x.items()} for lab, x in att.items()}
    out['chosen'] = {'method': best, 'thresholds': ts, 'shifts': {str(k): v for k, v in sorted(sh.items())},
                     'in_sample': {n: float((f(d) > t).mean()) for n, d in sets.items()}, 'detection': det}
    print(f"chosen {best}: t={t:.4f} " + ' '.join(f"{k}={v:.4f}" for k, v in ts.items()))
    print('  in sample: ' + ' '.join(f"{n} {100 * v:.2f}" for n, v in out['chosen']['in_sample'].items()))
    for sc in ('scan', 'synflood', 'bruteforce-ssh', 'bruteforce-http'):
        print(f'  {sc}: ' + ' '.join(f"{lab} {d[sc]['flagged']}/{d[sc]['flows']}" for lab, d in det.items()))
    json.dump(out, open(sys.argv[1], 'w'), indent=1)
    if len(sys.argv) > 2:
        json.dump({'set_method': best, 'thresholds': ts, 'port_shift': {'quantile': 0.9, 'shrink_runs': 30.0, 'min_runs': 3,
                   'shifts': out['chosen']['shifts']}}, open(sys.argv[2], 'w'), indent=1)


if __name__ == '__main__':
    main()
