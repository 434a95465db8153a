import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import type { ConnectionTarget } from '../conninfo/resolve.js';

/** Whether each try on one address uses TLS, in libpq's order for the sslmode. */
export function encryptionOrder(sslmode: string): readonly boolean[] {
  switch (sslmode) {
    case 'disable':
      return [false];
    case 'allow':
      return [false, true];
    case 'prefer':
      return [true, false];
    default:
      return [true];
  }
}

function readIfExists(path: string | undefined, fallback: string | null): Buffer | undefined {
  const file = path || fallback;
  if (!file || !existsSync(file)) return undefined;
  return readFileSync(file);
}

function postgresqlDir(): string {
  return join(homedir(), '.postgresql');
}

/**
 * Node TLS options for one host, from sslmode, sslrootcert, sslcert, sslkey,
 * sslpassword, sslsni and ssl_min/max_protocol_version. `serverName` is the
 * host name as written (never the resolved address), so verify-full checks
 * the certificate against what the user asked for.
 */
export function tlsOptionsFor(target: ConnectionTarget, serverName: string | null): ConnectionOptions {
  const sslmode = target.option('sslmode') ?? 'prefer';
  const rootcert = target.option('sslrootcert');
  const verify = sslmode === 'verify-ca' || sslmode === 'verify-full';
  const options: ConnectionOptions = { rejectUnauthorized: false };
  const ca = rootcert === 'system' ? undefined : readIfExists(rootcert, join(postgresqlDir(), 'root.crt'));
  if (ca !== undefined) options.ca = ca;
  // libpq: with sslmode=require and a root certificate present, behave as verify-ca.
  if (verify || (sslmode === 'require' && ca !== undefined)) options.rejectUnauthorized = true;
  if (sslmode !== 'verify-full') options.checkServerIdentity = () => undefined;
  const cert = readIfExists(target.option('sslcert'), join(postgresqlDir(), 'postgresql.crt'));
  const key = readIfExists(target.option('sslkey'), join(postgresqlDir(), 'postgresql.key'));
  if (cert !== undefined && key !== undefined) Object.assign(options, { cert, key });
  const passphrase = target.option('sslpassword');
  if (passphrase) Object.defineProperty(options, 'passphrase', { value: passphrase, enumerable: false });
  if (serverName !== null && isIP(serverName) === 0 && target.option('sslsni') !== '0') options.servername = serverName;
  const min = target.option('ssl_min_protocol_version');
  const max = target.option('ssl_max_protocol_version');
  if (min) options.minVersion = min.replace(/^tls/i, 'TLS') as ConnectionOptions['minVersion'];
  if (max) options.maxVersion = max.replace(/^tls/i, 'TLS') as ConnectionOptions['maxVersion'];
  applyMaterial(options, target, sslmode);
  return options;
}

/** pg `ssl` fields that a libpq keyword also gives (from a file): when the string sets the keyword, it wins, as with pg. */
const KEYWORD_OF: Readonly<Record<string, string>> = {
  ca: 'sslrootcert',
  cert: 'sslcert',
  key: 'sslkey',
  passphrase: 'sslpassword',
  minVersion: 'ssl_min_protocol_version',
  maxVersion: 'ssl_max_protocol_version',
};

/** TLS options kept out of enumeration (inspection, JSON), as pg keeps `ssl.key`. */
export const TLS_SECRETS: ReadonlySet<string> = new Set(['key', 'passphrase', 'pfx']);

/**
 * The TLS material given beside the string (pg's `ssl` object: `ca`,
 * `cert`, `key`, `servername`, ...) over what libpq's keywords gave, each
 * field as its own property (enumerable or not). Verification stays the
 * sslmode's, which pg-split/pg derives from the same object unless the
 * string sets one: `rejectUnauthorized` is never taken, and a
 * `checkServerIdentity` only under verify-full.
 */
function applyMaterial(options: ConnectionOptions, target: ConnectionTarget, sslmode: string): void {
  const material = target.tlsMaterial();
  if (material === null) return;
  for (const name of Object.getOwnPropertyNames(material)) {
    const keyword = KEYWORD_OF[name];
    if (name === 'rejectUnauthorized' || (keyword !== undefined && target.sets(keyword))) continue;
    if (name === 'checkServerIdentity' && sslmode !== 'verify-full') continue;
    const value: unknown = (material as Readonly<Record<string, unknown>>)[name];
    Object.defineProperty(options, name, { value, enumerable: !TLS_SECRETS.has(name), writable: true, configurable: true });
  }
}
