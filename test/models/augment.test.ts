import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

const REPO = path.resolve(__dirname, '../..');
const PYTHON = '/usr/bin/python3';

function numpyMissing(): string | null {
  if (!existsSync(PYTHON)) return `${PYTHON} not found`;
  const r = spawnSync(PYTHON, ['-c', 'import numpy'], { encoding: 'utf8' });
  if (r.status !== 0) return `${PYTHON} lacks numpy (apt install python3-numpy)`;
  return null;
}

/** Runs a Python snippet with models/train on the path; its last stdout line is JSON. */
function py(code: string): Record<string, unknown> {
  const r = spawnSync(PYTHON, ['-c', `import sys, json\nsys.path.insert(0, ${JSON.stringify(path.join(REPO, 'models/train'))})\n${code}`],
    { encoding: 'utf8', timeout: 60_000 });
  expect(r.status, `python failed:\n${r.stdout}\n${r.stderr}`).toBe(0);
  return JSON.parse(r.stdout.trim().split('\n').pop() as string) as Record<string, unknown>;
}

const missing = numpyMissing();

describe.skipIf(missing !== null)(`models/train/augment.py content mechanisms${missing ? ` (skipped: ${missing})` : ''}`, () => {
  it('http-headers grows every request by one per-flow amount, cuts it at an MSS and leaves the server side alone', () => {
    const res = py(`
import numpy as np, augment
rng = np.random.default_rng(1)
seq = [304, -407, 310, -1448, -1448, -120, 298, -66]
outs = [augment.http_headers(seq, rng) for _ in range(200)]
server_same = all([v for v in o if v < 0] == [v for v in seq if v < 0] for o in outs)
grew = all(sum(v for v in o if v > 0) >= sum(v for v in seq if v > 0) for o in outs)
max_seg = max(max(o) for o in outs)
cut = any(len([v for v in o if v > 0]) > 3 for o in outs)
print(json.dumps({"server_same": server_same, "grew": grew, "max_seg": int(max_seg), "cut": cut}))`);
    expect(res.server_same).toBe(true);
    expect(res.grew).toBe(true);
    expect(res.max_seg as number).toBeLessThanOrEqual(1460); // a grown request is cut at an MSS
    expect(res.cut).toBe(true); // some requests grew past one segment
  });

  it('content mechanisms act on their class only, dns-reuse takes exchanges from donor rows only, defaults unchanged', () => {
    const res = py(`
import numpy as np, augment
pad = lambda s: s + [0] * (30 - len(s))
X = np.array([pad([33, -141]), pad([36, -290]), pad([77, -500]), pad([100, -50])] * 50)
labels = ["dns", "dns", "dns", "smtp"] * 50
donors = np.array([i % 4 == 0 for i in range(len(X))])  # only [33, -141] may be appended
A = augment.augment_rows(X, np.random.default_rng(0), 1.0, ("dns-reuse",), labels=labels, donors=donors)
appended = [list(map(int, r[2:])) for r in A if r[2] != 0]
only_donor = all(all(v in (0, 33, -141) for v in a) for a in appended)
smtp_same = bool((A[3::4] == X[3::4]).all())
reused = len(appended)
# without content mechanisms the copies are what they were before labels existed
Y = np.random.default_rng(3).integers(-1500, 1500, (100, 30))
a = augment.augment_rows(Y, np.random.default_rng(5), 0.7, ("mss-ts", "coalesce", "split", "midstream", "oneway-seen"))
b = augment.augment_rows(Y, np.random.default_rng(5), 0.7, ("mss-ts", "coalesce", "split", "midstream", "oneway-seen"),
                         labels=["dns"] * 100)
print(json.dumps({"only_donor": only_donor, "smtp_same": smtp_same, "reused": reused, "same": bool((a == b).all())}))`);
    expect(res.only_donor).toBe(true);
    expect(res.smtp_same).toBe(true);
    expect(res.reused as number).toBeGreaterThan(30); // about half of the 150 dns rows
    expect(res.same).toBe(true);
  });
});
