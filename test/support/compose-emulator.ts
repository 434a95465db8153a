/**
 * Runs the repository's docker-compose.yml without Docker: each service's
 * scripts, command and environment, as the postgres image would run them,
 * on this machine's PostgreSQL binaries, with each container's published
 * port as the server's own port on localhost. What only Docker does (the
 * image, the network, the port mapping) is stood in for here, nothing more:
 *
 * - the image's entrypoint, for a service that keeps it: initdb with
 *   POSTGRES_USER and POSTGRES_PASSWORD, `host all all all scram-sha-256`,
 *   POSTGRES_DB created, /docker-entrypoint-initdb.d/*.sh run against a
 *   socket-only server, then the service's `command`;
 * - the network: a container's clients never come from its own loopback, so
 *   initdb's loopback `host` lines are dropped; the primary's service name is
 *   localhost (PRIMARY_HOST/PRIMARY_PORT, which the standby script reads).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { parse } from 'yaml';
import { chownToServer, findPgBinDir, serverEnv, serverUser, waitUntil } from '@pg-split/harness';

interface ComposeService {
  readonly environment?: Readonly<Record<string, string>>;
  readonly command?: readonly string[];
  readonly entrypoint?: readonly string[];
  readonly ports?: readonly string[];
  readonly volumes?: readonly string[];
  readonly depends_on?: Readonly<Record<string, unknown>>;
}

export interface ComposeNode {
  readonly service: string;
  /** The published port: the server listens on localhost:<port>. */
  readonly port: number;
  readonly logPath: string;
  readonly process: ChildProcess;
}

const INITDB_DIR = '/docker-entrypoint-initdb.d/';

/** The services of a compose file, with YAML merge keys applied. */
export async function readCompose(path: string): Promise<Record<string, ComposeService>> {
  const doc = parse(await readFile(path, 'utf8'), { merge: true }) as { services: Record<string, ComposeService> };
  return doc.services;
}

/** The published host port of a service's first `ports` entry ("55432:5432"). */
export function publishedPort(service: ComposeService): number {
  const port = Number(service.ports?.[0]?.split(':')[0]);
  if (!Number.isInteger(port)) throw new Error(`no published port in ${JSON.stringify(service.ports)}`);
  return port;
}

/** The host files mounted into the container under `containerPath` (a file, or a directory's entries). */
function mounted(service: ComposeService, containerPath: string, projectDir: string): string[] {
  return (service.volumes ?? [])
    .map((v) => v.split(':'))
    .filter(([, target]) => target === containerPath || (containerPath.endsWith('/') && target?.startsWith(containerPath)))
    .map(([source]) => resolve(projectDir, source ?? ''));
}

function run(file: string, args: readonly string[], env: NodeJS.ProcessEnv, cwd: string): Promise<string> {
  return new Promise((done, fail) => {
    execFile(file, args, { ...serverUser(), env, cwd, timeout: 60_000 }, (err, stdout, stderr) =>
      err === null ? done(stdout) : fail(new Error(`${file} ${args.join(' ')}: ${stderr}${stdout}`, { cause: err })),
    );
  });
}

/** Resolves once a client can log in on localhost:<port> and run a statement (60 s at most). */
async function waitReady(port: number, password: string, user: string, database: string): Promise<void> {
  await waitUntil(
    async () => {
      const client = new pg.Client({ host: 'localhost', port, user, password, database, connectionTimeoutMillis: 1000 });
      try {
        await client.connect();
        await client.query('SELECT 1');
        return true;
      } finally {
        await client.end().catch(() => undefined);
      }
    },
    {
      timeoutMillis: 60_000,
      intervalMillis: 200,
      onTimeout: (last) => new Error(`nothing answered on localhost:${port}`, { cause: last }),
    },
  );
}

/** Whether a listener can bind 127.0.0.1:<port> now. */
function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ host: '127.0.0.1', port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

const RESERVED_PORTS = '/proc/sys/net/ipv4/ip_local_reserved_ports';

/**
 * Takes the published ports out of the kernel's ephemeral range, where this
 * machine lets us (root, Linux): every test connection to a loopback address
 * leaves from 127.0.0.1 on an ephemeral port, and a long-lived one (a
 * monitoring session of another test file) can hold a published port for
 * minutes, as it would keep docker from publishing it. Reserving them is
 * what an operator does for such ports. Returns what puts the setting back
 * as it was (down() calls it: the machine is left as it was found).
 */
async function reservePorts(ports: readonly number[]): Promise<() => Promise<void>> {
  const reserved = await readFile(RESERVED_PORTS, 'utf8').catch(() => null);
  if (reserved === null) return async () => undefined;
  const entries = reserved.trim() === '' ? [] : reserved.trim().split(',');
  try {
    await writeFile(RESERVED_PORTS, [...entries, ...ports.map(String)].join(','));
  } catch {
    return async () => undefined;
  }
  return () => writeFile(RESERVED_PORTS, `${reserved.trim()}\n`).catch(() => undefined);
}

/** Waits until the published port can be bound (60 s at most): a short-lived connection may hold it for a moment. */
async function waitPortFree(port: number): Promise<void> {
  await waitUntil(() => bindable(port), {
    timeoutMillis: 60_000,
    intervalMillis: 200,
    onTimeout: () => new Error(`127.0.0.1:${port} stayed in use`),
  });
}

export class ComposeEmulation {
  readonly nodes: ComposeNode[] = [];
  readonly #binDir = findPgBinDir();
  #unreservePorts: () => Promise<void> = async () => undefined;

  private constructor(
    readonly rootDir: string,
    readonly projectDir: string,
  ) {}

  /** `docker compose up -d`, stood in for: every service up, in depends_on order, each answering on its published port. */
  static async up(projectDir: string): Promise<ComposeEmulation> {
    const rootDir = await mkdtemp(join(tmpdir(), 'pgsplit-compose-'));
    await chownToServer(rootDir);
    const emulation = new ComposeEmulation(rootDir, projectDir);
    try {
      const services = await readCompose(join(projectDir, 'docker-compose.yml'));
      emulation.#unreservePorts = await reservePorts(Object.values(services).map(publishedPort));
      const order = Object.keys(services).sort(
        (a, b) => Object.keys(services[a]?.depends_on ?? {}).length - Object.keys(services[b]?.depends_on ?? {}).length,
      );
      for (const name of order) await emulation.#start(name, services);
    } catch (err) {
      await emulation.down();
      throw err;
    }
    return emulation;
  }

  #env(service: ComposeService, extra: Readonly<Record<string, string>>): NodeJS.ProcessEnv {
    return { ...serverEnv(this.rootDir), ...service.environment, ...extra, PATH: `${this.#binDir}:${process.env['PATH'] ?? ''}` };
  }

  async #dirs(name: string): Promise<{ dataDir: string; socketDir: string; logPath: string }> {
    const dir = join(this.rootDir, name);
    const dataDir = join(dir, 'data');
    const socketDir = join(dir, 'socket');
    for (const d of [dir, dataDir, socketDir]) {
      await mkdir(d, { recursive: true, mode: 0o700 });
      await chownToServer(d);
    }
    return { dataDir, socketDir, logPath: join(dir, 'log') };
  }

  async #start(name: string, services: Record<string, ComposeService>): Promise<void> {
    const service = services[name];
    if (service === undefined) return;
    const port = publishedPort(service);
    await waitPortFree(port);
    const { dataDir, socketDir, logPath } = await this.#dirs(name);
    const primary = Object.keys(service.depends_on ?? {})[0];
    let child: ChildProcess;
    if (service.entrypoint === undefined) {
      await this.#imageInit(service, dataDir, socketDir);
      const [, ...args] = service.command ?? ['postgres'];
      child = await this.#spawn(
        join(this.#binDir, 'postgres'),
        [...args, '-c', 'listen_addresses=localhost', '-c', `unix_socket_directories=${socketDir}`],
        this.#env(service, { PGDATA: dataDir, PGPORT: String(port) }),
        logPath,
      );
    } else {
      const [shell, script, ...rest] = service.entrypoint;
      const source = mounted(service, script ?? '', this.projectDir)[0];
      if (shell !== 'bash' || source === undefined)
        throw new Error(`${name}: entrypoint ${JSON.stringify(service.entrypoint)} is not a mounted bash script`);
      const primaryPort = publishedPort(services[primary ?? ''] ?? {});
      await this.#ensureDefaultSocketDir();
      child = await this.#spawn(
        'bash',
        [source, ...rest],
        this.#env(service, { PGDATA: dataDir, PGPORT: String(port), PRIMARY_HOST: 'localhost', PRIMARY_PORT: String(primaryPort) }),
        logPath,
      );
    }
    this.nodes.push({ service: name, port, logPath, process: child });
    const env = service.environment ?? {};
    try {
      await waitReady(port, env['POSTGRES_PASSWORD'] ?? '', env['POSTGRES_USER'] ?? 'postgres', env['POSTGRES_DB'] ?? 'postgres');
    } catch (err) {
      const tail = (await readFile(logPath, 'utf8').catch(() => '')).trimEnd().split('\n').slice(-10).join('\n');
      throw new Error(`${name}: ${(err as Error).message}\n${tail}`, { cause: err });
    }
  }

  /** What the image's docker-entrypoint.sh does on an empty data directory. */
  async #imageInit(service: ComposeService, dataDir: string, socketDir: string): Promise<void> {
    const env = service.environment ?? {};
    const user = env['POSTGRES_USER'] ?? 'postgres';
    const db = env['POSTGRES_DB'] ?? user;
    const pwfile = join(this.rootDir, 'pwfile');
    await writeFile(pwfile, `${env['POSTGRES_PASSWORD'] ?? ''}\n`, { mode: 0o600 });
    await chownToServer(pwfile);
    const shellEnv = this.#env(service, { PGDATA: dataDir, PGHOST: socketDir, PGPORT: '5432', PGUSER: user });
    await run(join(this.#binDir, 'initdb'), ['-D', dataDir, `--username=${user}`, `--pwfile=${pwfile}`], shellEnv, this.rootDir);
    await rm(pwfile);
    const hba = (await readFile(join(dataDir, 'pg_hba.conf'), 'utf8'))
      .split('\n')
      .filter((line) => !line.startsWith('host'))
      .join('\n');
    await writeFile(join(dataDir, 'pg_hba.conf'), `${hba}\nhost all all all scram-sha-256\n`);
    const pgCtl = join(this.#binDir, 'pg_ctl');
    await run(
      pgCtl,
      [
        '-D',
        dataDir,
        '-o',
        `-c listen_addresses='' -c unix_socket_directories=${socketDir} -p 5432`,
        '-l',
        join(dataDir, '..', 'init.log'),
        '-w',
        'start',
      ],
      shellEnv,
      this.rootDir,
    );
    try {
      if (db !== 'postgres')
        await run(
          join(this.#binDir, 'psql'),
          ['-v', 'ON_ERROR_STOP=1', '--dbname', 'postgres', '-c', `CREATE DATABASE "${db}"`],
          shellEnv,
          this.rootDir,
        );
      for (const script of mounted(service, INITDB_DIR, this.projectDir)
        .filter((s) => s.endsWith('.sh'))
        .sort()) {
        await run('bash', [script], shellEnv, this.rootDir);
      }
    } finally {
      await run(pgCtl, ['-D', dataDir, '-m', 'fast', '-w', 'stop'], shellEnv, this.rootDir);
    }
  }

  /** A standby started by its script listens on the binaries' default socket directory. */
  async #ensureDefaultSocketDir(): Promise<void> {
    const dir = '/var/run/postgresql';
    await mkdir(dir, { recursive: true });
    await chownToServer(dir);
  }

  async #spawn(file: string, args: readonly string[], env: NodeJS.ProcessEnv, logPath: string): Promise<ChildProcess> {
    const log = await open(logPath, 'a');
    const child = spawn(file, args, { ...serverUser(), env, cwd: this.rootDir, stdio: ['ignore', log.fd, log.fd] });
    await log.close();
    child.on('error', () => undefined);
    return child;
  }

  /** `docker compose down -v`: fast stop of every server, data removed. */
  async down(): Promise<void> {
    await Promise.all(
      this.nodes.map(async ({ process: child }) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGINT');
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(timer);
      }),
    );
    await rm(this.rootDir, { recursive: true, force: true });
    await this.#unreservePorts();
  }
}
