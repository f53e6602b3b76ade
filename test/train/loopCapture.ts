import { clientHello, serverBytes, session, writePcap, type Message } from '../learn/handshakes';

/**
 * A small generated network for the learn -> train -> score loop: five TLS services with their own server names
 * (so `sensor learn` names them from the SNI) and their own behaviour after the same TLS handshake (so a model
 * can tell them apart from the lengths alone, with no name on the wire):
 *
 *   pagesite.com   a page, then many resources on the same connection
 *   jsonapi.net    API calls: small JSON requests and answers
 *   bigfiles.org   one request, a large download
 *   streamvid.io   streaming-like range requests of ~16 KB
 *   talkapp.com    a long-lived chat: small messages both ways, server pushes
 *
 * Seeded; each session comes from its own client address (one group per session for the held-out split).
 */
export const LOOP_SERVICES = [
  { label: 'pagesite.com', sni: 'www.pagesite.com', server: '198.51.100.10' },
  { label: 'jsonapi.net', sni: 'api.jsonapi.net', server: '198.51.100.20' },
  { label: 'bigfiles.org', sni: 'dl.bigfiles.org', server: '198.51.100.30' },
  { label: 'streamvid.io', sni: 'media.streamvid.io', server: '198.51.100.40' },
  { label: 'talkapp.com', sni: 'chat.talkapp.com', server: '198.51.100.50' },
] as const;

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const between = (r: () => number, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
const app = (n: number): Buffer => serverBytes(n, 0x17);

function behaviour(i: number, r: () => number): Message[] {
  const m: Message[] = [];
  switch (i) {
    case 0: // page and resources
      m.push(['c', app(between(r, 420, 560))], ['s', app(1448 * between(r, 3, 6) + between(r, 100, 1300))]);
      for (let k = between(r, 8, 14); k > 0; k--) m.push(['c', app(between(r, 330, 450))], ['s', app(between(r, 900, 5000))]);
      break;
    case 1: // API calls
      for (let k = between(r, 10, 16); k > 0; k--) m.push(['c', app(between(r, 180, 300))], ['s', app(between(r, 120, 700))]);
      break;
    case 2: // download
      m.push(['c', app(between(r, 240, 280))], ['s', app(1448 * between(r, 40, 60))]);
      break;
    case 3: // range requests
      for (let k = between(r, 3, 5); k > 0; k--) m.push(['c', app(between(r, 300, 340))], ['s', app(between(r, 15000, 17500))]);
      break;
    default: // chat
      for (let k = between(r, 14, 22); k > 0; k--) {
        if (r() < 0.5) m.push(['c', app(between(r, 40, 160))]);
        m.push(['s', app(between(r, 40, 220))]);
      }
  }
  return m;
}

/** The frames of `perService` sessions of every service, clients 10.<base>.<service>.<n>, sessions `gap` s apart. */
export function loopFrames(perService: number, seed: number, base: number, t0: number): { ts: number; data: Buffer }[] {
  const r = lcg(seed);
  const frames: { ts: number; data: Buffer }[] = [];
  LOOP_SERVICES.forEach((svc, i) => {
    for (let n = 0; n < perService; n++) {
      const messages: Message[] = [
        ['c', clientHello(svc.sni, ['h2', 'http/1.1'], between(r, 0, 1) * 40)],
        ['s', serverBytes(1448)],
        ['s', serverBytes(between(r, 1100, 1300))],
        ['c', app(80)],
        ...behaviour(i, r),
      ];
      frames.push(...session({ t0: t0 + n * 5 + i * 0.5, client: `10.${base}.${i}.${n + 1}`, server: svc.server, cport: 40000 + n, sport: 443, messages }));
    }
  });
  return frames;
}

/** Writes the learning capture (whole packets) and the scoring capture (new sessions, headers only). */
export function writeLoopCaptures(full: string, headers: string, opts: { train: number; score: number; snaplen: number }): void {
  writePcap(full, loopFrames(opts.train, 1, 1, 1750000000));
  writePcap(headers, loopFrames(opts.score, 2, 2, 1760000000), opts.snaplen);
}
