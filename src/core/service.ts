/** A long-running part of the appliance (TFTP listener, lease intake, region follower…). */
export interface Service {
  readonly name: string;
  start(): Promise<void>;
  /** Stop accepting new work; let running work finish within `graceMs`. */
  stop(graceMs: number): Promise<void>;
  /** Re-read configuration-derived state without dropping running work (SIGHUP). */
  reload?(): Promise<void>;
}
