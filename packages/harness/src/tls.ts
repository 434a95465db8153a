import { execFile } from 'node:child_process';
import { chmod, copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { HarnessError } from './harness-error.js';
import { chownToServer } from './run-as.js';

const run = promisify(execFile);

/** The role that logs in only over TLS with a client certificate whose CN is its name (pg_hba `cert`). */
export const CERT_ROLE = 'split_cert';

/** A cluster's own certificate authority, for tests of TLS: what a client needs to verify the servers and to log in by certificate. */
export interface ClusterTls {
  /** The CA's certificate (PEM): pg's `ssl.ca`; also in `caFile`, for libpq's `sslrootcert`. */
  readonly ca: string;
  readonly caFile: string;
  /** A client certificate (PEM) for `commonName` and its key, signed by the CA: pg's `ssl.cert` and `ssl.key`. */
  clientCertificate(commonName: string): Promise<{ readonly cert: string; readonly key: string }>;
}

/** A server's TLS settings, relative to its data directory (pg_basebackup copies the files to each standby). */
export const SERVER_TLS_SETTINGS = ['ssl = on', "ssl_cert_file = 'server.crt'", "ssl_key_file = 'server.key'", "ssl_ca_file = 'root.crt'"];

/** pg_hba lines, before the harness's own: CERT_ROLE by certificate over TLS, never otherwise. */
export const CERT_HBA_LINES = [`hostssl all ${CERT_ROLE} 127.0.0.0/8 cert`, `host all ${CERT_ROLE} 127.0.0.0/8 reject`];

async function openssl(args: readonly string[], cwd: string): Promise<void> {
  try {
    await run('openssl', args, { cwd });
  } catch (err) {
    throw new HarnessError(`openssl ${args[0] ?? ''} failed (the harness makes its test certificates with it)`, {
      cause: err,
    });
  }
}

const NEW_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** A key and a certificate for `subject` signed by the CA in `dir`, with `extensions` (an extfile's lines). */
async function signed(dir: string, name: string, subject: string, extensions: readonly string[]): Promise<void> {
  await openssl(['req', ...NEW_KEY, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject], dir);
  await writeFile(join(dir, `${name}.ext`), `${extensions.join('\n')}\n`);
  const sign = ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2'];
  await openssl([...sign, '-out', `${name}.crt`, '-extfile', `${name}.ext`], dir);
}

/**
 * Makes a CA and one server certificate valid for every node's address
 * (and `localhost`, which pg verifies against when it connects by address),
 * in `<rootDir>/tls`.
 */
export async function makeClusterTls(rootDir: string, addresses: readonly string[]): Promise<ClusterTls> {
  const dir = join(rootDir, 'tls');
  await mkdir(dir, { recursive: true });
  await openssl(['req', '-x509', ...NEW_KEY, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=pg-split test CA'], dir);
  const names = [...addresses.map((a) => `IP:${a}`), 'DNS:localhost'].join(',');
  await signed(dir, 'server', '/CN=pg-split test server', [`subjectAltName = ${names}`, 'extendedKeyUsage = serverAuth']);
  const caFile = join(dir, 'ca.crt');
  return {
    ca: await readFile(caFile, 'utf8'),
    caFile,
    clientCertificate: async (commonName) => {
      const name = `client-${commonName.replace(/[^A-Za-z0-9_-]/g, '_')}`;
      await signed(dir, name, `/CN=${commonName}`, ['extendedKeyUsage = clientAuth']);
      return { cert: await readFile(join(dir, `${name}.crt`), 'utf8'), key: await readFile(join(dir, `${name}.key`), 'utf8') };
    },
  };
}

/** Puts the server certificate, its key (mode 0600, as PostgreSQL requires) and the CA into a data directory. */
export async function installServerTls(rootDir: string, dataDir: string): Promise<void> {
  const dir = join(rootDir, 'tls');
  for (const [from, to] of [
    ['server.crt', 'server.crt'],
    ['server.key', 'server.key'],
    ['ca.crt', 'root.crt'],
  ] as const) {
    const path = join(dataDir, to);
    await copyFile(join(dir, from), path);
    await chmod(path, 0o600);
    await chownToServer(path);
  }
}
