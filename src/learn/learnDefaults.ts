import * as path from 'node:path';

/**
 * The learn mode's defaults that the command line shows and applies. A module of their own so that parsing the
 * arguments of every run does not load learn mode (the labeller, tldts, the CSV writer): main loads it only for
 * `sensor learn`.
 */

/** Live learn's snaplen when none is given: whole packets, offloaded (GRO) segments included. */
export const LEARN_SNAPLEN = 65535;

/** Payload segments of each flow read for its handshake (enough for a STARTTLS / FTP AUTH TLS exchange to reach its ClientHello). */
export const DEFAULT_INSPECT_PACKETS = 24;

/** The rules file shipped with the sensor. */
export const DEFAULT_RULES = path.resolve(__dirname, '..', '..', 'config', 'learn-rules.json');
