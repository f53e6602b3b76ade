import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

import { PYTHON } from '../helpers/trainingPython';

// models/anomaly/calibrate.py calibrate_median() (models/ANOMALY.md "Round anomaly11"): one threshold where the median
// set's flagged share is the rate, where calibrate_balanced() puts the sets' mean there; sets flag in blocks, so one
// set with a block of high scores moves the mean and not the median.
const ROOT = path.resolve(__dirname, '../..');
const missing = ((): string | null => {
  const r = spawnSync(PYTHON, ['-c', 'import numpy'], { encoding: 'utf8' });
  return r.status === 0 ? null : `${PYTHON} with numpy is needed (apt install python3-numpy)`;
})();
if (missing !== null) console.warn(`skipping anomaly set method tests: ${missing}`);

describe.skipIf(missing !== null)('anomaly set methods (calibrate.py)', () => {
  it('calibrate_median(): the median set lands on the rate while one set flags a block; calibrate_balanced() lets that block hold every other set near zero', () => {
    const r = spawnSync(PYTHON, ['-c', `
import json, numpy as np
from calibrate import calibrate_median, calibrate_balanced, set_rates, SET_METHODS
# five sets of 10 runs x 100 flows, scores evenly spread over [0, 1); set "e" has 300 flows (3 runs) at 2.0.
sc, st, gr = [], [], []
for s in "abcde":
    # float32 values, as the sensor's scores (thresholds are stored as float32)
    x = ((np.arange(1000) + 0.5) / 1000).astype(np.float32).astype(np.float64)
    if s == "e":
        x[:300] = 2.0
    sc += list(x); st += [s] * 1000; gr += [f"{s}{i // 100}" for i in range(1000)]
sc, st, gr = np.array(sc), np.array(st), np.array(gr)
tm = calibrate_median(sc, st, gr, [0.01])["0.01"]
tb = calibrate_balanced(sc, st, gr, [0.01])["0.01"]
print(json.dumps({"median": tm, "balanced": tb, "rates": set_rates(sc, st, gr, tm),
                  "below": set_rates(sc, st, gr, tm - 0.002), "methods": sorted(SET_METHODS)}))
`], { encoding: 'utf8', cwd: path.join(ROOT, 'models/anomaly') });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { median: number; balanced: number; rates: Record<string, number>; below: Record<string, number>; methods: string[] };
    const median = (o: Record<string, number>): number => Object.values(o).sort((a, b) => a - b)[2]!;
    // The median set flags the rate (within the bisection's step) and 0.002 lower it flags more.
    expect(median(out.rates)).toBeLessThanOrEqual(0.01);
    expect(median(out.rates)).toBeGreaterThan(0.008);
    expect(median(out.below)).toBeGreaterThan(0.01);
    expect(out.median).toBeGreaterThan(0.98);
    expect(out.median).toBeLessThan(0.992);
    expect(out.rates.e).toBeGreaterThan(0.3);
    // The sets' mean cannot come down to 1% below the block (set e alone gives 6%): the balanced threshold is the top score.
    expect(out.balanced).toBe(2);
    expect(out.methods).toEqual(['balanced', 'extremes', 'geometric', 'median']);
  });
});
