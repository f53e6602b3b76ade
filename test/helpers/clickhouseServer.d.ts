/** Types of clickhouseServer.js (plain JS so that bench/ can use it too). */
export interface ClickHouseServer {
  readonly url: string;
  readonly http: number;
  readonly tcp: number;
  readonly dir: string;
  start(): Promise<void>;
  kill(): Promise<void>;
  stop(): Promise<void>;
}

export interface ClickHouseCluster {
  servers: ClickHouseServer[];
  bin: string;
  cluster: string;
  version: string;
  stop(): Promise<unknown>;
}

export function findClickHouse(): string | null;
export function whyMissing(): string;
export function serverVersion(url: string): Promise<string>;
export function startCluster(o: { root: string; shards?: number; cluster?: string; cpus?: string | null }): Promise<ClickHouseCluster>;
export function query(url: string, sql: string): Promise<string>;
export function rows<T = Record<string, unknown>>(url: string, sql: string): Promise<T[]>;
export function freePort(): Promise<number>;
