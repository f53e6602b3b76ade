import type { ScoredFlow } from '../anomaly/scoredFlow';
import type { GroupModel } from './behaviourGroups';
import type { HostStats } from './hostProfiles';

/** What the CLI and the daemon ask of the host profiles, wherever they run (this thread or the database thread). */
export interface HostProfilesView {
  readonly stats: HostStats;
  /** Hosts in the open windows (for the stats line). */
  readonly openHosts: number;
  /** Swaps the behaviour groups (SIGHUP reload); windows closed from now on use them. */
  setGroups(groups: GroupModel | null): void;
  /** Closes the windows that ended more than lateSeconds before `now` (Unix seconds; the daemon's wall clock). */
  advance(now: number): void;
}

/** What the database thread sends about its host profiles (SqliteThreadSink passes it on). */
export type HostsReport =
  | { kind: 'hostsStats'; stats: HostStats; openHosts: number }
  | { kind: 'hostsFailed'; message: string };

/** What this side asks of the profiles in the database thread. */
export type HostsRequest = { kind: 'hostsAdvance'; now: number } | { kind: 'hostsGroups'; groups: GroupModel | null };

/**
 * Host profiles kept by the database thread (SqliteThreadSink with `hosts`): the profiles are updated there from the
 * same batches it writes to `flows`, and written through its own connection, so they neither take time from the
 * capture thread nor contend with the flow writes for the database's write lock. This is their face on the capture
 * thread: it sits in the pipeline's sink list where HostProfiles would (so a failure of theirs is reported with the
 * `host profiles:` prefix, see guardSinks), but write() only surfaces such a failure; the flows reach the profiles
 * through the database sink. Statistics arrive with every batch the thread has written.
 */
export class HostProfilesThread implements HostProfilesView {
  stats: HostStats = { hosts_over_cap: 0, hosts_late_flows: 0, hosts_windows_closed: 0, host_events: 0 };
  openHosts = 0;
  private failure: Error | null = null;
  private closed = false;
  /** A failure the thread reported after close() (closing the open windows): the database sink's close throws it. */
  lateFailure: Error | null = null;

  constructor(private readonly send: (req: HostsRequest) => void) {}

  /** A report of the database thread (called by SqliteThreadSink). */
  onReport(r: HostsReport): void {
    if (r.kind === 'hostsStats') {
      this.stats = r.stats;
      this.openHosts = r.openHosts;
    } else if (this.failure === null) {
      this.failure = new Error(r.message);
      if (this.closed) this.lateFailure = this.failure;
    }
  }

  /** The profiles' failure, if the thread reported one. */
  get failed(): Error | null {
    return this.failure;
  }

  write(_batch: readonly ScoredFlow[]): void {
    if (this.failure !== null) throw this.failure;
  }

  mustDrain(): boolean {
    return this.failure !== null;
  }

  async drained(): Promise<void> {
    if (this.failure !== null) throw this.failure;
  }

  /** The database thread closes the profiles (writing their open windows) before it closes the database. */
  close(): void {
    this.closed = true;
    if (this.failure !== null) throw this.failure;
  }

  setGroups(groups: GroupModel | null): void {
    this.send({ kind: 'hostsGroups', groups });
  }

  advance(now: number): void {
    this.send({ kind: 'hostsAdvance', now });
  }
}
