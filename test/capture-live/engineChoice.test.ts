import { describe, expect, it, vi } from 'vitest';
import { CaptureError } from '../../src/capture/captureError';
import { interfaceList } from '../../src/capture/interfaces';
import { openLive } from '../../src/capture/liveSource';
import { thrown } from './helpers/thrown';

// The addon "failed to load" in this file: the loader returns the real not-built error.
vi.mock('../../src/capture/liveBinding', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/capture/liveBinding')>();
  return { ...real, liveBinding: () => real.loadLiveBinding('/nonexistent/sensor_pcap.node') };
});

describe('live capture without the addon', () => {
  it('openLive() names the missing addon and what to run', () => {
    const err = thrown(() => openLive({ interface: 'lo' }));
    expect(err).toBeInstanceOf(CaptureError);
    expect(err.message).toBe('Live capture addon is not built (/nonexistent/sensor_pcap.node is missing): apt-get install libpcap-dev, then npm run build:native');
  });

  it('interfaceList() says the same', () => {
    expect(thrown(() => interfaceList()).message).toBe('Cannot list interfaces: the capture addon is not available: apt-get install libpcap-dev, then npm run build:native');
  });

  it('bad options fail before the addon is looked for', () => {
    expect(thrown(() => openLive({ interface: 'lo', engine: 'pcap' as 'addon' })).message).toBe(
      `Invalid live capture option engine: expected 'auto' or 'addon', got "pcap"`,
    );
  });
});
