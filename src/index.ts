export { ConnectError, ConnInfoError, OptionError, PgSplitError } from './errors.js';
export type { AttemptFailure, PgSplitErrorCode } from './errors.js';
export { parseConnInfo } from './conninfo/parse.js';
export type { ConnParams } from './conninfo/params.js';
export { ConnectionTarget, resolveConnInfo } from './conninfo/resolve.js';
export type { LoadBalanceHosts, ResolveContext, ResolvedHost, TargetSessionAttrs } from './conninfo/resolve.js';
export type { HostEntry, HostKind } from './conninfo/host-list.js';
export type { Env } from './conninfo/defaults.js';
