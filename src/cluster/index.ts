export { Cluster, startCluster } from './cluster.js';
export type { ClusterOptions } from './cluster.js';
export { ClusterNode } from './node.js';
export type { StopMode } from './node.js';
export { startBlackHole } from './black-hole.js';
export type { BlackHole, BlackHoleOptions } from './black-hole.js';
export { findPgBinDir } from './find-binaries.js';
export { SECURE_PASSWORD, SECURE_ROLE, SUPERUSER } from './server-config.js';
