import * as path from 'node:path';

import type { ClickHouseConfig } from '../../config/clickhouseConfig';
import type { SensorConfig } from '../../config/config';
import { clickHousePassword, openEndpoint } from './client';
import { ClickHouseSink, type SinkLog } from './clickhouseSink';
import { Spool } from './spool';

/** output.clickhouse.spoolDir, else `<database>.clickhouse-spool` beside the SQLite file, else ./clickhouse-spool. */
export function spoolDirFor(cfg: SensorConfig, ch: ClickHouseConfig): string {
  if (ch.spoolDir !== null) return path.resolve(ch.spoolDir);
  if (cfg.output.db !== null) return path.resolve(cfg.output.db + '.clickhouse-spool');
  return path.resolve('clickhouse-spool');
}

/** Opens the ClickHouse output the config asks for (spool locked and indexed, one client per URL). */
export function openClickHouseSink(cfg: SensorConfig, ch: ClickHouseConfig, log: SinkLog): ClickHouseSink {
  const password = clickHousePassword(ch);
  const spool = Spool.open(spoolDirFor(cfg, ch), ch.spoolMaxBytes);
  try {
    const endpoints = ch.url.map((u) => openEndpoint(u, ch, password));
    return new ClickHouseSink({ config: ch, spool, endpoints, log });
  } catch (e) {
    spool.close();
    throw e;
  }
}
