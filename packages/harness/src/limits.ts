/** Upper bounds of every harness wait, in milliseconds. Generous: a 2-core CI box under load is slow, a hang is slower. */
export const LIMITS = {
  initdb: 60_000,
  baseBackup: 60_000,
  start: 30_000,
  stop: 30_000,
  kill: 10_000,
  freeze: 5_000,
  promote: 30_000,
  streaming: 30_000,
  replication: 15_000,
  replayPause: 10_000,
} as const;
