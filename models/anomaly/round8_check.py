"""Round anomaly8 seen-data check and diagnosis (models/ANOMALY.md "Round anomaly8"; card/round8-check.json,
card/round8-diagnosis.json). Reads the sensor's scored databases of round anomaly6/7's candidate autoencoders (the score
before any port shift) under /work/data/anomaly/build8 and build9 (not in git): nine normal sets not fitted on (the
fitting pool's calibration runs, lab batches 1, 2+3, 4, 5 (runs not fitted on), fresh batches 6, 7, 8, 9), the test
runs, attack labs a1-a8.
- diagnosis: flagged share per set and per class at round anomaly7's method's threshold on all nine sets, and how much
  of the gap between the test runs and fresh batches 6-9 the class mix explains (each set's per-class shares reweighted
  to the other's class mix);
- check: leave one set out (port shifts and threshold from the other eight, calibrate.py port_shifts() and
  calibrate_balanced(); measured on the set left out), fresh batches 6-9 left out together (their pooled share, as the
  sealed rule reads), the test runs and detection at the all-sets calibration, for round anomaly7's method (no shift)
  and for per-port scores: shift (the candidate), location only, division by the port's quantile.
Usage: python3 round8_check.py CHECK.json DIAGNOSIS.json"""
import json
import os
import re
import sqlite3
import sys

import numpy as np
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import calibrate as C  # noqa: E402
import build  # noqa: E402

B8, B9 = '/work/data/anomaly/build8', '/work/data/anomaly/build9'
POOLA = B9 + '/poolA'
FRESH = ('fresh6', 'fresh7', 'fresh8', 'fresh9')
BAND = (0.0067, 0.015)


def cls(p):
    m = re.search(r'/captures/([^/]+)/[^/]+\.pcap$', p or '')
    return m.group(1) if m else '?'


def dbflows(db, where="1", params=()):
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    r = con.execute("SELECT anomaly_score, pcap_filename, server_port FROM flows WHERE end_reason != 'active' AND "
                    f"anomaly_score IS NOT NULL AND {where}", params).fetchall()
    con.close()
    return dict(s=np.array([x[0] for x in r], dtype=np.float64), run=np.array([x[1] or '' for x in r]),
                port=np.array([x[2] for x in r]), cls=np.array([cls(x[1]) for x in r]))


def cat(a, b):
    return {k: np.concatenate([a[k], b[k]]) for k in a}


def load():
    s = np.fromfile(POOLA + '/scores.f64')
    cal = np.load(POOLA + '/cal.npy')
    ports = np.fromfile(POOLA + '/ports.i32', dtype='<i4')
    pc = np.array([ln.rstrip('\n').split('\t')[4] for ln in open(POOLA + '/rows.tsv')])
    roots = {'b1': '/work/data/anomaly/fresh/', 'b23': '/work/data/anomaly/fresh-untouched/',
             'b4': '/work/data/anomaly/fresh4/', 'b5': '/work/data/anomaly/fresh5/'}
    pool = dbflows(B9 + '/cal-runs.db')
    m = np.char.startswith(pool['run'], '/work/data/lab/')
    sets = {'pool': {k: v[m] for k, v in pool.items()}}
    meas = {'pool': sets['pool']}
    for k, r in roots.items():
        b = dbflows(f'{B8}/ev-candA2/eval-B{k}.db')
        m = cal & np.char.startswith(pc, r)
        sets[k] = cat(dict(s=s[m], run=pc[m], port=ports[m], cls=np.array([cls(p) for p in pc[m]])), b)
        meas[k] = b
    for k in ('fresh6', 'fresh7'):
        sets[k] = meas[k] = dbflows(f'{B8}/s6-candidate/eval-{k}.db')
    for k in ('fresh8', 'fresh9'):
        sets[k] = meas[k] = dbflows(f'{B9}/s7-candidate/eval-{k}.db')
    test = dbflows(f'{B8}/ev-candA2/eval-heldout.db')
    att = {}
    labs = [(f'a{i}', f'/work/data/anomaly/lab/a{i}', f'{B8}/ev-candA2') for i in range(1, 7)]
    labs += [('a7', '/work/data/anomaly/sealed6/a7', f'{B8}/s6-candidate'), ('a8', '/work/data/anomaly/sealed7/a8', f'{B9}/s7-candidate')]
    for lab, dd, ev in labs:
        for sc in ('scan', 'synflood', 'bruteforce-ssh', 'bruteforce-http', 'slowloris'):
            cond, params = build.truth_sql(json.load(open(f'{dd}/{sc}.json'))['attack'])
            d = dbflows(f'{ev}/eval-{lab}-{sc}.db', cond, params)
            g = 'a1-a5' if lab <= 'a5' else lab
            att.setdefault(g, {})[sc] = cat(att[g][sc], d) if sc in att.get(g, {}) else d
    return sets, meas, test, att


def ports_of_model():
    import onnx
    m = onnx.load(B9 + '/cand7.onnx')
    return set(C.shift_ports_of(m))


METHODS = {
    # name: (quantile, shrink runs, transform of (score, port quantile shift q_p - q_g, location shift m_p - m_g))
    'no shift (round anomaly7)': None,
    'shift, 0.9 quantile, shrink 30 runs (candidate)': ('shift', 0.9, 30.0),
    'shift, 0.9 quantile, shrink 10 runs': ('shift', 0.9, 10.0),
    'location only (median), shrink 10 runs': ('shift', 0.5, 10.0),
    'divide by the port 0.9 quantile, shrink 20 runs': ('divide', 0.9, 20.0),
}


def transform(method, names, sets, allowed):
    if method is None:
        return lambda d: d['s']
    kind, q, k = method
    sc = np.concatenate([sets[n]['s'] for n in names])
    po = np.concatenate([sets[n]['port'] for n in names])
    ru = np.concatenate([sets[n]['run'] for n in names])
    st = np.concatenate([[n] * len(sets[n]['s']) for n in names])
    sh = C.port_shifts(sc, po, st, ru, quantile=q, shrink_runs=k, allowed=allowed)
    if kind == 'shift':
        return lambda d: C.apply_port_shifts(d['s'], d['port'], sh)
    g = C.weighted_quantile(sc, C.balanced_weights(st.astype(str), ru.astype(str)), q)
    return lambda d: d['s'] * g / (g + np.array([sh.get(int(p), 0.0) for p in d['port']]))


def threshold(names, sets, f):
    sc = np.concatenate([f(sets[n]) for n in names])
    ru = np.concatenate([sets[n]['run'] for n in names])
    st = np.concatenate([[n] * len(sets[n]['s']) for n in names])
    return C.calibrate_balanced(sc, st, ru, [0.01])['0.01']


def main():
    sets, meas, test, att = load()
    allowed = ports_of_model()
    names = list(sets)
    inb = lambda v: BAND[0] <= v <= BAND[1]  # noqa: E731
    check = {'sets': {n: {'calibration_flows': int(len(sets[n]['s'])), 'calibration_runs': int(len(set(sets[n]['run']))),
                          'measured_flows': int(len(meas[n]['s']))} for n in names}, 'methods': {}}
    for name, method in METHODS.items():
        loso = {}
        for S in names:
            tr = [n for n in names if n != S]
            f = transform(method, tr, sets, allowed)
            t = threshold(tr, sets, f)
            loso[S] = {'threshold': t, 'share': float((f(meas[S]) > t).mean()), 'flagged': int((f(meas[S]) > t).sum())}
        tr = [n for n in names if n not in FRESH]
        f = transform(method, tr, sets, allowed)
        t = threshold(tr, sets, f)
        fl = np.concatenate([f(meas[n]) > t for n in FRESH])
        fresh_out = {'threshold': t, 'pooled_share': float(fl.mean()), 'flagged': int(fl.sum()), 'flows': int(len(fl)),
                     'each': {n: float((f(meas[n]) > t).mean()) for n in FRESH}, 'test_runs': float((f(test) > t).mean())}
        f = transform(method, names, sets, allowed)
        t = threshold(names, sets, f)
        det = {g: {sc: {'flows': int(len(d['s'])), 'detection': round(float((f(d) > t).mean()), 4)} for sc, d in x.items()}
               for g, x in att.items()}
        check['methods'][name] = {'loso': loso, 'in_band_loso': sum(inb(v['share']) for v in loso.values()),
                                  'fresh6_9_left_out': fresh_out, 'threshold_all_sets': t,
                                  'test_runs': {'flows': int(len(test['s'])), 'flagged': int((f(test) > t).sum()), 'share': float((f(test) > t).mean())},
                                  'in_sample': {n: float((f(meas[n]) > t).mean()) for n in names}, 'detection': det}
        print(f"{name}: in band {check['methods'][name]['in_band_loso']}/{len(names)}; test {100 * (f(test) > t).mean():.2f}%; "
              f"fresh6-9 left out pooled {100 * fresh_out['pooled_share']:.2f}% (test then {100 * fresh_out['test_runs']:.2f}%); "
              + ' '.join(f"{n} {100 * v['share']:.2f}" for n, v in loso.items()))
    json.dump(check, open(sys.argv[1], 'w'), indent=1)
    # Diagnosis: round anomaly7's method (no shift), threshold from all nine sets.
    t = check['methods']['no shift (round anomaly7)']['threshold_all_sets']
    kinds = {'test runs': test, 'fresh batches 6-9': {k: np.concatenate([meas[n][k] for n in FRESH]) for k in test},
             'pool calibration runs': meas['pool'],
             'batches 1-5 (runs not fitted on)': {k: np.concatenate([meas[n][k] for n in ('b1', 'b23', 'b4', 'b5')]) for k in test}}

    def by_class(d):
        return {c: [int((d['cls'] == c).sum()), int((d['s'][d['cls'] == c] > t).sum())] for c in np.unique(d['cls'])}

    def reweighted(rates_of, mix_of):
        n = sum(v[0] for v in mix_of.values())
        return float(sum(v[0] / n * rates_of[c][1] / rates_of[c][0] for c, v in mix_of.items() if c in rates_of and rates_of[c][0]))
    bc = {k: by_class(d) for k, d in kinds.items()}
    diag = {'threshold': t, 'kinds': {k: {'flows': int(len(d['s'])), 'runs': int(len(set(d['run']))), 'flagged': int((d['s'] > t).sum()),
                                          'share': float((d['s'] > t).mean())} for k, d in kinds.items()},
            'by_class': bc,
            'test_runs_at_fresh_class_mix': reweighted(bc['test runs'], bc['fresh batches 6-9']),
            'fresh_at_test_class_mix': reweighted(bc['fresh batches 6-9'], bc['test runs']),
            'test_runs_by_run_flagged': {r: int((test['s'][test['run'] == r] > t).sum()) for r in np.unique(test['run'])
                                         if (test['s'][test['run'] == r] > t).sum() >= 3}}
    json.dump(diag, open(sys.argv[2], 'w'), indent=1)
    print(json.dumps({k: v for k, v in diag.items() if k != 'by_class'}, indent=1))


if __name__ == '__main__':
    main()
