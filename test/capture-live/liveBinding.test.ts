import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CaptureError } from '../../src/capture/captureError';
import { listInterfaces } from '../../src/capture/interfaces';
import { ADDON_PATH, LiveBinding, loadLiveBinding } from '../../src/capture/liveBinding';
import { until } from '../helpers/until';
import { thrown } from './helpers/thrown';

const tmp = mkdtempSync(path.join(tmpdir(), 'sensor-binding-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('loadLiveBinding()', () => {
  it('says what to install when the addon was never built', () => {
    const missing = path.join(tmp, 'nope.node');
    const err = loadLiveBinding(missing);
    expect(err).toBeInstanceOf(CaptureError);
    expect((err as Error).message).toBe(
      `Live capture addon is not built (${missing} is missing): apt-get install libpcap-dev, then npm run build:native`,
    );
  });

  it('says what to do, in one line, when the file is not a loadable addon', () => {
    const junk = path.join(tmp, 'junk.node');
    writeFileSync(junk, 'not an ELF file');
    const err = loadLiveBinding(junk) as Error;
    expect(err).toBeInstanceOf(CaptureError);
    expect(err.message).toMatch(/^Live capture addon failed to load \(.*\): apt-get install libpcap-dev, then npm run build:native$/);
    expect(err.message).not.toContain('\n');
  });
});

const built = existsSync(ADDON_PATH);
const addonReason = built ? '' : ` (skipped: addon not built, ${ADDON_PATH} missing: run npm run build:native)`;

describe.skipIf(!built)(`the addon's JS module${addonReason}`, () => {
  const binding = loadLiveBinding() as LiveBinding;
  const noop = (): void => undefined;

  it('lists interfaces with flags and addresses (pcap_findalldevs)', () => {
    const lo = binding.listInterfaces().find((i) => i.name === 'lo');
    expect(lo).toMatchObject({ loopback: true, up: true });
    expect(lo?.addresses).toContain('127.0.0.1');
    const text = listInterfaces();
    expect(text.split('\n')[0]).toMatch(/^NAME +STATE +ADDRESSES +DESCRIPTION$/);
    expect(text).toMatch(/^lo +up +127\.0\.0\.1/m);
  });

  it('checks options in JS before calling native code', () => {
    const err = thrown(() => binding.open({ interface: 'lo', snaplen: 10 }, noop, noop));
    expect(err.message).toBe('Invalid live capture option snaplen: expected an integer from 64 to 262144, got 10');
    const cb = thrown(() => binding.open({ interface: 'lo' }, 'nope' as never, noop));
    expect(cb).toBeInstanceOf(TypeError);
    expect(cb.message).toBe('Invalid live capture callback onBatch: expected a function, got string');
  });

  it('checks argument types again on the native side', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const native = require(ADDON_PATH) as { LiveCapture: new (...a: unknown[]) => unknown };
    const err = thrown(() => new native.LiveCapture(42, {}, Buffer.alloc(1024), noop, noop));
    expect(err).toBeInstanceOf(TypeError);
    expect(err.message).toBe('LiveCapture(iface: string, options: object, batch: Buffer, onBatch: function, onError: function)');
    const range = thrown(
      () =>
        new native.LiveCapture(
          'lo',
          { snaplen: 128, bufferSize: 1 << 20, timeoutMs: 0, promisc: true, immediate: false, filter: 'tcp', fanoutGroup: -1 },
          Buffer.alloc(1 << 16),
          noop,
          noop,
        ),
    );
    expect(range.message).toBe('LiveCapture: option timeoutMs is out of range');
  });

  it('names a missing interface and points at `sensor interfaces`', () => {
    const err = thrown(() => binding.open({ interface: 'snsrnope0' }, noop, noop));
    expect(err).toBeInstanceOf(CaptureError);
    expect(err.message).toBe("Cannot open capture: interface snsrnope0 does not exist (see 'sensor interfaces')");
  });

  it('rejects a filter that does not compile, quoting it', () => {
    const err = thrown(() => binding.open({ interface: 'lo', filter: 'tcp port' }, noop, noop));
    expect(err.message).toBe(
      "Cannot open capture on lo: invalid filter 'tcp port': can't parse filter expression: syntax error (see man 7 pcap-filter)",
    );
  });

  it('delivers loopback TCP in batches of [tsSec, tsUsec, capLen, wireLen, bytes] records', async () => {
    const batches: { count: number; used: number; records: { capLen: number; wireLen: number; ts: number }[] }[] = [];
    const before = Date.now() / 1000;
    // The filter names this test's own server port: other test files run loopback TCP at the same time.
    const server = createServer((s) => s.end(Buffer.alloc(3000, 0x61)));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    const cap = binding.open(
      { interface: 'lo', snaplen: 64, filter: `tcp and host 127.0.0.1 and port ${port}` },
      (count, used) => {
        const w = new Uint32Array(cap.batch.buffer, cap.batch.byteOffset, used >>> 2);
        const records = [];
        let off = 0;
        for (let i = 0; i < count; i++) {
          const q = off >>> 2;
          records.push({ ts: w[q]! + w[q + 1]! / 1e6, capLen: w[q + 2]!, wireLen: w[q + 3]! });
          off += 16 + ((w[q + 2]! + 3) & ~3);
        }
        expect(off).toBe(used);
        batches.push({ count, used, records });
      },
      (message) => {
        throw new Error(message);
      },
    );
    expect(cap.linkType).toBe(1);
    expect(cap.snaplen).toBe(64);
    cap.start();
    // A payload larger than the snaplen: records must be cut to 64 bytes while wireLen stays true.
    await new Promise<void>((resolve) => {
      createConnection(port, '127.0.0.1')
        .on('data', noop)
        .on('close', () => server.close(() => resolve()));
    });
    await until(() => batches.length > 0, 2500);
    const stats = cap.stats();
    cap.close();
    cap.close();
    const records = batches.flatMap((b) => b.records);
    expect(records.length).toBeGreaterThanOrEqual(6);
    expect(stats.delivered).toBe(records.length);
    expect(stats.batches).toBe(batches.length);
    expect(stats.received).toBeGreaterThanOrEqual(stats.delivered);
    expect(stats.dropped).toBe(0);
    for (const r of records) {
      expect(r.capLen).toBeLessThanOrEqual(64);
      expect(r.wireLen).toBeGreaterThanOrEqual(r.capLen);
      expect(r.ts).toBeGreaterThanOrEqual(Math.floor(before));
    }
    expect(Math.max(...records.map((r) => r.wireLen))).toBeGreaterThan(64);
    expect(cap.stats().delivered).toBe(stats.delivered);
    expect(thrown(() => cap.start()).message).toBe('Capture on lo is closed; open a new one');
  });
});

/** Runs the raw addon as user nobody with the given ambient capabilities; prints a JSON result line. */
function asNobody(ambient: string): { ok?: number; promisc?: boolean; error?: string } {
  const script = `
    const b = require(${JSON.stringify(ADDON_PATH)});
    try {
      const c = new b.LiveCapture('lo', { snaplen: 128, bufferSize: 1 << 20, timeoutMs: 50, promisc: true, immediate: false, filter: 'tcp', fanoutGroup: -1 },
        Buffer.allocUnsafeSlow(1 << 16), () => {}, () => {});
      const promisc = (Number(require('fs').readFileSync('/sys/class/net/lo/flags', 'utf8')) & 0x100) !== 0;
      c.start();
      const srv = require('net').createServer((s) => s.end('x')).listen(0, '127.0.0.1', () => {
        require('net').connect(srv.address().port, '127.0.0.1').on('data', () => {}).on('close', () => setTimeout(() => {
          console.log(JSON.stringify({ ok: c.stats().delivered, promisc })); c.close(); srv.close();
        }, 300));
      });
    } catch (e) { console.log(JSON.stringify({ error: e.message })); }`;
  const caps = ambient === '' ? ['--inh-caps=-all'] : [`--inh-caps=+${ambient}`, `--ambient-caps=+${ambient}`];
  const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', ...caps, process.execPath, '-e', script], {
    encoding: 'utf8',
    timeout: 20000,
  });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  if (!line.startsWith('{')) throw new Error(`child failed: ${r.stderr || r.stdout || String(r.error)}`);
  return JSON.parse(line) as { ok?: number; promisc?: boolean; error?: string };
}

const setprivOk = built && process.getuid?.() === 0 && spawnSync('setpriv', ['--version']).status === 0;
const privReason = setprivOk ? '' : ' (skipped: needs root, setpriv and the built addon)';

describe.skipIf(!setprivOk)(`least privilege${privReason}`, () => {
  it('without CAP_NET_RAW the error says what to do', () => {
    expect(asNobody('')).toEqual({
      error: 'Cannot open capture on lo: permission denied (run as root or give the binary CAP_NET_RAW, see README)',
    });
  });

  it('CAP_NET_RAW alone is enough, promiscuous mode included (what the systemd unit grants)', () => {
    const r = asNobody('net_raw');
    expect(r.error).toBeUndefined();
    expect(r.ok).toBeGreaterThan(0);
    // IFF_PROMISC was set on the device while the capture was open: no CAP_NET_ADMIN needed.
    expect(r.promisc).toBe(true);
  });
});
