import { beforeEach, describe, expect, it, vi } from 'vitest';
import { loadCap } from '../../src/capture/capSource';
import { CaptureError } from '../../src/capture/captureError';
import { interfaceList } from '../../src/capture/interfaces';
import { LiveSource, openLive } from '../../src/capture/liveSource';
import { thrown } from './helpers/thrown';

// Which engines "failed to load" in this test; the loaders below then return the real not-installed errors.
const state = vi.hoisted(() => ({ addonMissing: false, capMissing: false }));

vi.mock('../../src/capture/liveBinding', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/capture/liveBinding')>();
  return { ...real, liveBinding: () => (state.addonMissing ? real.loadLiveBinding('/nonexistent/sensor_pcap.node') : real.liveBinding()) };
});
vi.mock('../../src/capture/capSource', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/capture/capSource')>();
  const { CaptureError: E } = await vi.importActual<typeof import('../../src/capture/captureError')>('../../src/capture/captureError');
  return {
    ...real,
    loadCap: () => (state.capMissing ? new E(`Capture engine 'cap' is not available (Cannot find module 'cap'): ${real.CAP_FIX}`) : real.loadCap()),
  };
});

beforeEach(() => {
  state.addonMissing = false;
  state.capMissing = false;
});

describe('openLive() engine choice', () => {
  it('says exactly what to install when neither engine can load', () => {
    state.addonMissing = true;
    state.capMissing = true;
    const err = thrown(() => openLive({ interface: 'eth1' }));
    expect(err).toBeInstanceOf(CaptureError);
    expect(err.message).toBe(
      "Cannot capture on eth1: no capture engine is available (the native addon is not built and the 'cap' package did not load): " +
        'apt-get install libpcap-dev, then npm run build:native; or apt-get install libpcap-dev, then npm rebuild cap',
    );
    expect(thrown(() => interfaceList()).message).toBe(
      'Cannot list interfaces: no capture engine is available: apt-get install libpcap-dev, then npm run build:native',
    );
  });

  it("engine 'addon' names the missing addon and what to run", () => {
    state.addonMissing = true;
    expect(thrown(() => openLive({ interface: 'lo', engine: 'addon' })).message).toBe(
      'Live capture addon is not built (/nonexistent/sensor_pcap.node is missing): apt-get install libpcap-dev, then npm run build:native',
    );
  });

  it("engine 'cap' names the missing package and what to run", () => {
    state.capMissing = true;
    expect(thrown(() => openLive({ interface: 'lo', engine: 'cap' })).message).toBe(
      "Capture engine 'cap' is not available (Cannot find module 'cap'): apt-get install libpcap-dev, then npm rebuild cap",
    );
  });

  it("LiveSource itself needs a concrete engine, not 'auto'", () => {
    expect(thrown(() => new LiveSource({ interface: 'lo', engine: 'auto' as 'addon' })).message).toBe(
      "LiveSource needs engine 'addon' or 'cap'; openLive() picks one for 'auto'",
    );
  });

  it('bad options fail before any engine is chosen', () => {
    state.addonMissing = true;
    state.capMissing = true;
    expect(thrown(() => openLive({ interface: 'lo', engine: 'pcap' as 'cap' })).message).toBe(
      `Invalid live capture option engine: expected 'auto', 'addon' or 'cap', got "pcap"`,
    );
  });

  const capLoads = !(loadCap() instanceof Error);
  it.skipIf(!capLoads)(`'auto' falls back to cap when the addon is missing, and says so${capLoads ? '' : ' (skipped: cap did not load)'}`, () => {
    state.addonMissing = true;
    const src = openLive({ interface: 'lo' });
    try {
      expect(src.engine).toBe('cap');
      expect(src.warning).toContain("using engine 'cap' because the addon is unavailable (apt-get install libpcap-dev, then npm run build:native)");
      expect(src.stats()).toEqual({ received: 0, dropped: -1, ifDropped: -1, delivered: 0, batches: 0, linkDowns: -1 });
    } finally {
      src.stop();
    }
  });
});
