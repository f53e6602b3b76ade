import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

import { PYTHON, trainingPythonMissing } from '../helpers/trainingPython';

const ROOT = path.resolve(__dirname, '../..');
const missing = trainingPythonMissing();

/** Runs a Python snippet with models/anomaly on the path; returns its JSON output. */
function py(code: string): any {
  const r = spawnSync(PYTHON, ['-c', `import sys, json\nsys.path.insert(0, ${JSON.stringify(path.join(ROOT, 'models/anomaly'))})\n${code}`], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

/**
 * fit.py --augment (models/ANOMALY.md "Round anomaly9"): rows added to the fitting rows with the run-level conditions
 * varied (duration, the closing connection state); the attack signatures (unanswered or refused handshakes) untouched.
 */
describe('fit.py augment_conditions', () => {
  it.skipIf(missing !== null)(`adds copies with duration scaled and the closing state redrawn, nothing else changed${missing ? ` (skipped: ${missing})` : ''}`, () => {
    const r = py(`
import numpy as np
import fit as F
L = 3
counters = ["duration", "c2s_bytes", "conn_state=S0", "conn_state=SF", "conn_state=S1", "conn_state=S2", "conn_state=S3",
            "conn_state=RSTR", "conn_state=REJ", "ctx_pair_flows"]
rng = np.random.default_rng(0)
n = 1000
x = np.zeros((n, L + len(counters)))
x[:, :L] = rng.integers(-1500, 1500, (n, L))
x[:, L] = rng.uniform(0.01, 10, n)
x[:, L + 1] = rng.integers(40, 5000, n)
state = rng.choice([2, 3, 4, 8], n, p=[0.1, 0.7, 0.1, 0.1])  # S0, SF, S1, REJ
x[np.arange(n), L + state] = 1
x[:, -1] = rng.uniform(0, 5, n)
a = F.augment_conditions(x, L, counters, 0.3, seed=1)
b = F.augment_conditions(x, L, counters, 0.3, seed=1)
# Each added row is a copy of one original row: find it by its untouched columns (sequence, bytes, context).
keep = list(range(L)) + [L + 1, L + len(counters) - 1]
index = {tuple(row[keep]): i for i, row in enumerate(x)}
src = np.array([index[tuple(row[keep])] for row in a])
closing = [L + 3, L + 4, L + 5, L + 6, L + 7]
was_closing = x[src][:, closing].sum(axis=1) > 0
ratio = a[:, L] / x[src, L]
print(json.dumps({
  "rows": len(a), "distinct_sources": int(len(set(src.tolist()))), "same_again": bool(np.array_equal(a, b)),
  "ratio_min": float(ratio.min()), "ratio_max": float(ratio.max()), "ratio_moved": float((np.abs(np.log(ratio)) > 0.05).mean()),
  "closing_one_state": bool((a[was_closing][:, closing].sum(axis=1) == 1).all()),
  "closing_states_drawn": int((a[was_closing][:, closing].sum(axis=0) > 0).sum()),
  "others_unchanged": bool(np.array_equal(a[~was_closing][:, L + 2:], x[src][~was_closing][:, L + 2:])),
  "s0_rej_kept": bool(np.array_equal(a[:, [L + 2, L + 8]], x[src][:, [L + 2, L + 8]])),
}))
`);
    expect(r.rows).toBe(300);
    expect(r.distinct_sources).toBe(300);
    expect(r.same_again).toBe(true);
    // Duration scaled by e^u, u in -1.5..1.5.
    expect(r.ratio_min).toBeGreaterThanOrEqual(Math.exp(-1.5) - 1e-9);
    expect(r.ratio_max).toBeLessThanOrEqual(Math.exp(1.5) + 1e-9);
    expect(r.ratio_moved).toBeGreaterThan(0.9);
    // A closing state stays one closing state, drawn among all five; unanswered and refused handshakes are kept.
    expect(r.closing_one_state).toBe(true);
    expect(r.closing_states_drawn).toBe(5);
    expect(r.others_unchanged).toBe(true);
    expect(r.s0_rej_kept).toBe(true);
  });
});
