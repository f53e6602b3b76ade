"""Round anomaly10 seen-data check (models/ANOMALY.md "Round anomaly10"; card/round10-check.json). Reads the sensor's
scored databases of round anomaly7's candidate autoencoders with the 40 s retry hold (the score before any port shift;
/work/data/anomaly/build12/rs-c10r, made by build12/rescore.py, not in git): fourteen normal sets not fitted on (the
fitting pool's calibration runs, lab batches 1, 2+3, 4, 5 (their calibration runs and held-out halves), fresh
batches 6-13, the test runs) and attack labs a1-a10 (build12/ev-c10a: round anomaly8's candidate with the retry hold, its port shift undone).
- leave one set out: port shifts (calibrate.py port_shifts(), 0.9 quantile, 30 runs) and one threshold
  (calibrate_balanced(), sets and runs weighing the same) from the other sets, measured on the set left out;
- fresh batches 10-13 left out together (their pooled share, as the sealed rule reads) and the test runs;
for thirteen sets (the test runs never calibrated on, round anomaly8's way) and for fourteen (the test runs one set).
Usage: python3 round10_check.py CHECK.json"""
import json
import os
import sqlite3
import sys

import numpy as np
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import calibrate as C  # noqa: E402
import build  # noqa: E402

W = '/work/data/anomaly/build12/rs-c10r'
EV = '/work/data/anomaly/build12/ev-c10a'
LISTS = '/work/data/anomaly/build9'
LATE = ('fresh10', 'fresh11', 'fresh12', 'fresh13')
BAND = (0.0067, 0.015)
SHIFT8 = {int(k): v for k, v in json.load(open('/work/data/anomaly/build10/cand8-calibrate.json'))['port_shift']['shifts'].items()}


def dbflows(db, where="1", params=()):
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    r = con.execute("SELECT anomaly_score, pcap_filename, server_port FROM flows WHERE end_reason != 'active' AND "
                    f"anomaly_score IS NOT NULL AND {where}", params).fetchall()
    con.close()
    return dict(s=np.array([x[0] for x in r], dtype=np.float64), run=np.array([x[1] or '' for x in r]),
                port=np.array([x[2] for x in r]))


def sub(d, m):
    return {k: v[m] for k, v in d.items()}


def cat(*ds):
    return {k: np.concatenate([d[k] for d in ds]) for k in ds[0]}


def load():
    cal = dbflows(W + '/cal-runs.db')
    sets, meas = {}, {}
    for k in ('pool', 'b1', 'b23', 'b4', 'b5'):
        lst = set(x.strip() for x in open(f'{LISTS}/{k}.list') if x.strip())
        part = sub(cal, np.isin(cal['run'], list(lst)))
        if k == 'pool':
            sets[k] = meas[k] = part
        else:
            b = dbflows(f'{W}/eval-B{k}.db')
            sets[k] = cat(part, b)
            meas[k] = b
    for i in range(6, 14):
        sets[f'fresh{i}'] = meas[f'fresh{i}'] = dbflows(f'{W}/eval-fresh{i}.db')
    sets['test'] = meas['test'] = dbflows(f'{W}/eval-heldout.db')
    att = {}
    labs = [(f'a{i}', f'/work/data/anomaly/lab/a{i}') for i in range(1, 7)]
    labs += [('a7', '/work/data/anomaly/sealed6/a7'), ('a8', '/work/data/anomaly/sealed7/a8'),
             ('a9', '/work/data/anomaly/sealed8/a9'), ('a10', '/work/data/anomaly/sealed9/a10')]
    for lab, dd in labs:
        for sc in ('scan', 'synflood', 'bruteforce-ssh', 'bruteforce-http', 'slowloris'):
            cond, params = build.truth_sql(json.load(open(f'{dd}/{sc}.json'))['attack'])
            d = dbflows(f'{EV}/eval-{lab}-{sc}.db', cond, params)
            # ev-c10a was scored by round anomaly8's candidate with the retry hold: its port shift undone here.
            d['s'] = d['s'] + np.array([SHIFT8.get(int(p), 0.0) for p in d['port']])
            att.setdefault(lab, {})[sc] = d
    return sets, meas, att


def fit(names, sets, allowed):
    sc = np.concatenate([sets[n]['s'] for n in names])
    po = np.concatenate([sets[n]['port'] for n in names])
    ru = np.concatenate([sets[n]['run'] for n in names])
    st = np.concatenate([[n] * len(sets[n]['s']) for n in names])
    sh = C.port_shifts(sc, po, st, ru, quantile=0.9, shrink_runs=30.0, allowed=allowed)
    f = lambda d: C.apply_port_shifts(d['s'], d['port'], sh)  # noqa: E731
    t = C.calibrate_balanced(np.concatenate([f(sets[n]) for n in names]), st, ru, [0.01])['0.01']
    return f, t, sh


def main():
    import onnx
    allowed = set(C.shift_ports_of(onnx.load('/work/data/anomaly/build12/c10r.onnx')))
    sets, meas, att = load()
    inb = lambda v: BAND[0] <= v <= BAND[1]  # noqa: E731
    out = {'sets': {n: {'calibration_flows': int(len(sets[n]['s'])), 'calibration_runs': int(len(set(sets[n]['run']))),
                        'measured_flows': int(len(meas[n]['s']))} for n in sets}, 'methods': {}}
    for mname, names in (('thirteen sets (test runs not calibrated on)', [n for n in sets if n != 'test']),
                         ('fourteen sets (test runs one of them)', list(sets))):
        loso = {}
        for S in sets:
            tr = [n for n in names if n != S]
            f, t, _ = fit(tr, sets, allowed)
            loso[S] = {'threshold': t, 'share': float((f(meas[S]) > t).mean()), 'flagged': int((f(meas[S]) > t).sum()),
                       'flows': int(len(meas[S]['s']))}
        tr = [n for n in names if n not in LATE and n != 'test']
        f, t, _ = fit(tr, sets, allowed)
        fl = np.concatenate([f(meas[n]) > t for n in LATE])
        late = {'threshold': t, 'pooled_share': float(fl.mean()), 'flagged': int(fl.sum()), 'flows': int(len(fl)),
                'test_runs': float((f(meas['test']) > t).mean())}
        f, t, sh = fit(names, sets, allowed)
        det = {lab: {sc: {'flows': int(len(d['s'])), 'flagged': int((f(d) > t).sum())} for sc, d in x.items()} for lab, x in att.items()}
        m = {'calibrated_on': names, 'loso': loso, 'in_band_loso': sum(inb(v['share']) for v in loso.values()),
             'late_and_test_left_out': late, 'threshold_all': t, 'shifts': {str(k): v for k, v in sh.items()},
             'in_sample': {n: float((f(meas[n]) > t).mean()) for n in sets}, 'detection': det}
        out['methods'][mname] = m
        print(f"{mname}: t={t:.4f} in band {m['in_band_loso']}/{len(sets)}; fresh10-13+test left out: pooled "
              f"{100 * late['pooled_share']:.2f}% test {100 * late['test_runs']:.2f}%; LOSO " +
              ' '.join(f"{n} {100 * v['share']:.2f}" for n, v in loso.items()))
        print('  in sample: ' + ' '.join(f"{n} {100 * v:.2f}" for n, v in m['in_sample'].items()))
        print('  ssh: ' + ' '.join(f"{lab} {d['bruteforce-ssh']['flagged']}/{d['bruteforce-ssh']['flows']}" for lab, d in det.items()))
        print('  http: ' + ' '.join(f"{lab} {d['bruteforce-http']['flagged']}/{d['bruteforce-http']['flows']}" for lab, d in det.items()))
        print('  scan: ' + ' '.join(f"{lab} {d['scan']['flagged']}/{d['scan']['flows']}" for lab, d in det.items()))
    json.dump(out, open(sys.argv[1], 'w'), indent=1)


if __name__ == '__main__':
    main()
