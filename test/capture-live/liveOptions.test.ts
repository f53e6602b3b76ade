import { describe, expect, it } from 'vitest';
import { CaptureError } from '../../src/capture/captureError';
import { LIVE_DEFAULTS, minBatchBytes, resolveLiveOptions } from '../../src/capture/liveOptions';
import { thrown } from './helpers/thrown';

describe('resolveLiveOptions()', () => {
  it('fills in the defaults: headers-only snaplen, tcp filter, promiscuous, engine auto', () => {
    expect(resolveLiveOptions({ interface: 'eth1' })).toEqual({
      interface: 'eth1',
      snaplen: 128,
      promisc: true,
      bufferSize: 64 * 1024 * 1024,
      filter: 'tcp',
      timeoutMs: 100,
      immediate: false,
      batchBytes: 1024 * 1024,
      fanoutGroup: null,
      engine: 'auto',
    });
    expect(LIVE_DEFAULTS.snaplen).toBe(128);
  });

  it('keeps given values, including an empty filter (all packets)', () => {
    const o = resolveLiveOptions({ interface: 'eth1', snaplen: 96, promisc: false, filter: '', engine: 'addon', immediate: true });
    expect(o).toMatchObject({ snaplen: 96, promisc: false, filter: '', engine: 'addon', immediate: true });
  });

  const bad: [string, unknown, string][] = [
    ['not an object', 'eth1', 'Live capture options must be an object, got "eth1"'],
    ['null', null, 'Live capture options must be an object, got null'],
    ['missing interface', {}, "Invalid live capture option interface: expected an interface name (see 'sensor interfaces'), got undefined"],
    ['empty interface', { interface: '' }, `Invalid live capture option interface: expected an interface name (see 'sensor interfaces'), got ""`],
    ['NUL in interface', { interface: 'eth\u00001' }, `Invalid live capture option interface: expected an interface name (see 'sensor interfaces'), got "eth\\u00001"`],
    ['snaplen too small', { interface: 'eth1', snaplen: 0 }, 'Invalid live capture option snaplen: expected an integer from 64 to 262144, got 0'],
    ['snaplen fraction', { interface: 'eth1', snaplen: 128.5 }, 'Invalid live capture option snaplen: expected an integer from 64 to 262144, got 128.5'],
    ['snaplen string', { interface: 'eth1', snaplen: '128' }, 'Invalid live capture option snaplen: expected an integer from 64 to 262144, got "128"'],
    ['snaplen null', { interface: 'eth1', snaplen: null }, 'Invalid live capture option snaplen: expected an integer from 64 to 262144, got null'],
    ['bufferSize too large', { interface: 'eth1', bufferSize: 2 ** 31 }, 'Invalid live capture option bufferSize: expected an integer from 65536 to 2147483647, got 2147483648'],
    ['promisc as string', { interface: 'eth1', promisc: 'yes' }, 'Invalid live capture option promisc: expected true or false, got "yes"'],
    ['filter not a string', { interface: 'eth1', filter: 6 }, "Invalid live capture option filter: expected a BPF filter string (man 7 pcap-filter; '' for all packets), got 6"],
    ['timeoutMs zero', { interface: 'eth1', timeoutMs: 0 }, 'Invalid live capture option timeoutMs: expected an integer from 1 to 60000, got 0'],
    ['unknown engine', { interface: 'eth1', engine: 'pcap' }, `Invalid live capture option engine: expected 'auto' or 'addon', got "pcap"`],
    ['removed engine', { interface: 'eth1', engine: 'cap' }, `Invalid live capture option engine: expected 'auto' or 'addon' (the cap engine was removed: see the README's design notes), got "cap"`],
    ['fanoutGroup out of range', { interface: 'eth1', fanoutGroup: 70000 }, 'Invalid live capture option fanoutGroup: expected null or an integer from 0 to 65535, got 70000'],
    ['misspelled key', { interface: 'eth1', snapLen: 128 }, 'Unknown live capture option "snapLen" (did you mean "snaplen"?)'],
    [
      'unknown key',
      { interface: 'eth1', ring: 4 },
      'Unknown live capture option "ring" (known: interface, snaplen, promisc, bufferSize, filter, timeoutMs, immediate, batchBytes, fanoutGroup, engine)',
    ],
    [
      'batch smaller than one record',
      { interface: 'eth1', snaplen: 262144, batchBytes: 65536 },
      'Invalid live capture option batchBytes: expected at least 262160 (one packet of snaplen 262144 and its header), got 65536',
    ],
  ];
  for (const [what, input, message] of bad) {
    it(`rejects ${what} with one line that names the option`, () => {
      const err = thrown(() => resolveLiveOptions(input));
      expect(err).toBeInstanceOf(CaptureError);
      expect(err.message).toBe(message);
    });
  }

  it('minBatchBytes() is the 16-byte record header plus the snaplen rounded up to 4', () => {
    expect(minBatchBytes(128)).toBe(144);
    expect(minBatchBytes(65)).toBe(16 + 68);
  });
});
