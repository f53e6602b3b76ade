import * as path from 'node:path';

import { ConfigError } from '../config/config';
import { writeFileAtomic } from '../sink/atomicWrite';
import { SinkError } from '../sink/sinkError';
import { openReadOnly } from '../sink/sqliteBinding';
import { fitGroups, GroupModelError, type GroupModel } from './behaviourGroups';
import type { ProfileRow } from './hostProfile';

export interface HostsFitOptions {
  /** Databases whose closed profiles are fitted on (together). */
  db: string[];
  out: string;
  k: number | null;
  minK: number;
  maxK: number;
  seed: number;
  since: number | null;
}

/**
 * `sensor hosts-fit`: fits behaviour groups on the closed host profiles of a database (table `hosts`, rows with
 * final = 1) and writes the groups file that config hosts.groups names.
 */
export function hostsFit(o: HostsFitOptions): GroupModel {
  const rows: ProfileRow[] = [];
  for (const path of o.db) rows.push(...readProfiles(path, o.since));
  const names = o.db.map((d) => path.basename(d)).join(', ');
  let model: GroupModel;
  try {
    model = fitGroups(rows, {
      k: o.k,
      minK: o.minK,
      maxK: o.maxK,
      seed: o.seed,
      silhouetteSample: 2000,
      fittedOn: `${rows.length} closed host profiles of ${names}`,
    });
  } catch (e) {
    if (e instanceof GroupModelError) throw new ConfigError(`${names}: ${e.message}`);
    throw e;
  }
  writeFileAtomic(o.out, JSON.stringify(model, null, 1) + '\n');
  return model;
}

/** The closed profiles (final = 1) of one database, oldest first. */
function readProfiles(dbPath: string, since: number | null): ProfileRow[] {
  const db = openReadOnly(dbPath);
  try {
    return db
      .prepare<number[], ProfileRow>(`SELECT * FROM hosts WHERE final = 1${since !== null ? ' AND window_start >= ?' : ''} ORDER BY id`)
      .all(...(since !== null ? [since] : []));
  } catch (e) {
    throw new SinkError(`database ${dbPath} has no host profiles (${(e as Error).message}); run the sensor with hosts.enabled first`);
  } finally {
    db.close();
  }
}
