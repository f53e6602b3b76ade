import { Verdict, type ClassifiedFlow } from '../../src/classify/verdict';
import { makeFlow } from '../classify/makeFlow';

/** A classified flow with distinct, checkable values; `i` varies the timestamps, ports and label. */
export function classified(i: number, label = i % 2 === 0 ? 'tls-web' : 'ssh', lengths = [517, -1448, -1448, 80, -310]): ClassifiedFlow {
  const flow = makeFlow(lengths, {
    first_ts: 1700000000 + i,
    last_ts: 1700000000 + i + 2.5,
    client_port: 40000 + (i % 20000),
    midstream: i % 3 === 0,
  });
  const verdict = new Verdict(label, 0.91, [{ label, p: 0.91 }, { label: 'other', p: 0.09 }], 'm-7', 'classified');
  flow.sensor = 'test-sensor';
  flow.uid = `Ctest${i}`;
  return { flow, verdict };
}
