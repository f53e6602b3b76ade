import { describe, expect, it } from 'vitest';
import winston from 'winston';
import type { ModelInfo } from '../../src/classify/modelContract';
import { Verdict } from '../../src/classify/verdict';
import { FlowRecord } from '../../src/flow/flowRecord';
import { Monitor } from '../../src/monitor/monitor';

/**
 * The monitor's window clock follows flow end times, so one damaged or hostile capture record must not move it:
 * a far-future end (1.8e13 s) is a counted outlier that joins the window in progress, while a real jump (several
 * flows in a row, weeks later) still moves the clock.
 */

const info: ModelInfo = { path: 'm.onnx', version: 'v-test', classes: ['ssh', 'tls'], sequenceLength: 30, device: 'cpu', trainingData: 'test', inputReference: null, backgroundClasses: [], unknownThreshold: null };
/** A window boundary (multiple of 3600). */
const T0 = 1750003200;
const HOUR = 3600;
const BOGUS = 1.8e13;

const verdict = new Verdict('ssh', 0.9, [{ label: 'ssh', p: 0.9 }], 'v-test', 'classified');
const ended = (ts: number) => ({ flow: new FlowRecord('t', ts - 1, ts, 4, '10.0.0.1', 1, '10.0.0.2', 22, 0, 1, 1, 1, 1, 1, 1, 2, 0, false, 'SF', 'ShADadFf', '', 'fin', [10, -10]), verdict });

function monitor(): Monitor {
  return new Monitor(info, { groundTruth: false, windowSeconds: HOUR, minFlows: 1, driftThreshold: 0.25, unknownSurge: 0.2 }, null, winston.createLogger({ silent: true }));
}

describe('Monitor window clock', () => {
  it('write() with a far-future flow end: counted as a time outlier, the windows go on with traffic time', async () => {
    const m = monitor();
    m.write([ended(T0 + 1), ended(T0 + 2), ended(BOGUS), ended(T0 + 3)]);
    expect(m.report()).toMatchObject({ window_start: T0, window_flows: 4, windows_written: 0, time_outliers: 1 });
    // The next hour's flows close the first window, as if the bad record had not been there.
    m.write([ended(T0 + HOUR + 5), ended(T0 + HOUR + 6)]);
    let r = m.report();
    expect(r).toMatchObject({ window_start: T0 + HOUR, window_flows: 2, windows_written: 1, time_outliers: 1 });
    expect(r.last).toMatchObject({ window_start: T0, flows: 4 });
    // Live: the wall clock still closes the window.
    m.tick(T0 + 2 * HOUR);
    r = m.report();
    expect(r).toMatchObject({ window_start: T0 + 2 * HOUR, window_flows: 0, windows_written: 2 });
    expect(r.last).toMatchObject({ window_start: T0 + HOUR, flows: 2 });
    expect(await m.registry.getSingleMetricAsString('sensor_monitor_time_outliers_total')).toContain('sensor_monitor_time_outliers_total 1');
  });

  it('write() with ends that are not positive numbers (0, NaN, Infinity): outliers, never a window at 1970 or NaN', () => {
    const m = monitor();
    // Before any clock: counted, not placed in a window.
    m.write([ended(0), ended(Number.NaN)]);
    expect(m.report()).toMatchObject({ window_start: null, window_flows: 0, time_outliers: 2 });
    m.write([ended(T0 + 10), ended(Number.POSITIVE_INFINITY), ended(-5)]);
    expect(m.report()).toMatchObject({ window_start: T0, window_flows: 3, time_outliers: 4 });
  });

  it('write() with two outliers in a row, then traffic time again: both counted, the clock never moved', () => {
    const m = monitor();
    m.write([ended(T0 + 1), ended(BOGUS), ended(BOGUS + 10), ended(T0 + 2)]);
    expect(m.report()).toMatchObject({ window_start: T0, window_flows: 4, windows_written: 0, time_outliers: 2 });
  });

  it('write() with a real jump (three flows in a row 30 days later, the next file of a run): the clock moves', () => {
    const m = monitor();
    const later = T0 + 30 * 86400;
    m.write([ended(T0 + 1), ended(T0 + 2), ended(later + 1), ended(later + 2)]);
    // Two flows are not enough to move it yet: they join the window in progress.
    expect(m.report()).toMatchObject({ window_start: T0, window_flows: 4, windows_written: 0 });
    m.write([ended(later + 3), ended(later + 4)]);
    const r = m.report();
    // The third flow in a row confirms the jump and is the first of the new window.
    expect(r).toMatchObject({ window_start: later, window_flows: 2, windows_written: 1, time_outliers: 0 });
    expect(r.last).toMatchObject({ window_start: T0, flows: 4 });
  });

  it('write() after a first flow with a far-future end: three flows of traffic time take the clock back', () => {
    const m = monitor();
    m.write([ended(BOGUS), ended(T0 + 1), ended(T0 + 2)]);
    expect(m.report().window_start).toBe(Math.floor(BOGUS / HOUR) * HOUR);
    m.write([ended(T0 + 3), ended(T0 + 4)]);
    const r = m.report();
    expect(r).toMatchObject({ window_start: T0, window_flows: 2, windows_written: 1 });
    m.tick(T0 + HOUR);
    expect(m.report()).toMatchObject({ window_start: T0 + HOUR, window_flows: 0, windows_written: 2 });
  });
});
