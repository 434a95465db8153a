#!/usr/bin/env node
// node-postgres's own tests, run on pg-split.
//
//   npm run build && node scripts/pg-own-tests.mjs <node-postgres git dir> [pg|pg-pool]...
//
// <node-postgres git dir>: a clone of github.com/brianc/node-postgres (a bare
// one will do). The tests are those of the installed versions' tags (pg@X,
// pg-pool@Y), else of the newest tag below. Needs the network once: npm
// installs the tests' own dependencies into a work directory under the
// system's temporary directory, removed at the end.
//
// pg: packages/pg/test/integration, every `*-tests.js` run as pg's Makefile
//   runs it (`node <file>`, one process each, bounded to 120 s), with `lib/`
//   a copy of the installed pg's lib, plain (PGHOST the primary), then with
//   `lib/index.js` giving pg-split/pg (the built dist/, by its package name;
//   the rest of lib as it is, for the tests that reach into lib/client ...),
//   PGHOST naming the three hosts and PGTARGETSESSIONATTRS=read-write.
// pg-pool: packages/pg-pool/test run by mocha as pg-pool's `npm test` runs
//   it, with `index.js` the installed pg-pool (plain, PGHOST the primary),
//   then pg-split/pg's Pool with PGHOST naming the three hosts and
//   PGTARGETSESSIONATTRS=read-write (connectSplit's writer), then naming the
//   primary and one standby with prefer-standby (its reader: with two
//   standbys it alternates, and the tests that expect their idle client back
//   would get the other node's); compared test by test.
//
// PGSPLIT_PG_OWN_ONLY=<regular expression>: only pg's test files whose path
// (under test/integration) matches it.
//
// The servers: a primary and two standbys of pg-split's harness (127.0.0.2-4
// unless PGSPLIT_FIRST_ADDRESS moves them); PGUSER=postgres,
// PGDATABASE=postgres, PGTESTNOSSL=true (the harness serves no TLS). Prints
// what passes where, and exits 1 when something that passes on plain pg
// fails on pg-split.
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));
const [gitDir, ...suiteArgs] = process.argv.slice(2);
if (gitDir === undefined) {
  console.error('usage: node scripts/pg-own-tests.mjs <node-postgres git dir> [pg|pg-pool]...');
  process.exit(2);
}
const suites = suiteArgs.length > 0 ? suiteArgs : ['pg', 'pg-pool'];
const gitDirOf = (dir) => {
  try {
    statSync(join(dir, '.git'));
    return join(dir, '.git');
  } catch {
    return dir;
  }
};
const git = (...args) => execFileSync('git', ['--git-dir', gitDirOf(gitDir), ...args], { encoding: 'utf8' });

/** The installed package's directory and version (pg-pool exports no package.json: found from its main file). */
function installed(name) {
  const dir = name === 'pg' ? dirname(require.resolve('pg/package.json')) : dirname(require.resolve(name));
  return { dir, version: JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).version };
}

const numeric = (v) => v.split('.').map(Number);
const compare = (a, b) => {
  const [x, y, z] = numeric(a);
  const [p, q, r] = numeric(b);
  return x - p || y - q || z - r;
};

/** `<name>@<version>` when tagged, else the newest tag of the name below the version. */
function tagFor(name, version) {
  const versions = git('tag', '--list', `${name}@*`)
    .split('\n')
    .filter((t) => /^\S+@\d+\.\d+\.\d+$/.test(t))
    .map((t) => t.slice(name.length + 1))
    .filter((v) => compare(v, version) <= 0)
    .sort(compare);
  const best = versions.at(-1);
  if (best === undefined) throw new Error(`no ${name}@ tag at or below ${version}`);
  return `${name}@${best}`;
}

const work = join(tmpdir(), `pg-split-pg-own-tests-${process.pid}`);
rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });

/** packages/<pkg> of `tag` (only `paths` under it) into work/<variant>; returns the package's directory there. */
function extract(variant, tag, pkg, paths) {
  const dir = join(work, variant);
  mkdirSync(dir, { recursive: true });
  const list = paths.map((p) => `'packages/${pkg}/${p}'`).join(' ');
  execFileSync('sh', ['-c', `git --git-dir '${gitDirOf(gitDir)}' archive '${tag}' ${list} | tar -x -C '${dir}'`]);
  return join(dir, 'packages', pkg);
}

const pg = installed('pg');
const pgPool = installed('pg-pool');
const pgTag = tagFor('pg', pg.version);
const poolTag = tagFor('pg-pool', pgPool.version);

/** The versions the tags' own package.json pins for the test dependencies (async 3 breaks pg's suite runner, for one). */
function testDependencies() {
  const wanted = ['async', 'bluebird', 'co', 'pg-copy-streams', 'expect.js', 'lodash', 'mocha'];
  const pins = {};
  for (const [tag, pkg] of [
    [poolTag, 'pg-pool'],
    [pgTag, 'pg'],
  ]) {
    const { devDependencies = {} } = JSON.parse(git('show', `${tag}:packages/${pkg}/package.json`));
    for (const name of wanted) if (devDependencies[name] !== undefined) pins[name] = devDependencies[name];
  }
  // pg-pool's tests also use pg-cursor, a package of the same repository (a workspace sibling, not a devDependency).
  return [...Object.entries(pins).map(([name, range]) => `${name}@${range}`), 'pg-cursor@2'];
}

writeFileSync(join(work, 'package.json'), JSON.stringify({ private: true }));
// The tests' own dependencies.
execFileSync('npm', ['install', '--no-save', '--no-audit', '--no-fund', ...testDependencies()], { cwd: work, stdio: 'ignore' });
symlinkSync(root, join(work, 'node_modules/pg-split'));

/**
 * pg's own dependencies (pg-types, pg-protocol, ...), linked to the very
 * copies pg-split uses: a test that sets a type parser through
 * require('pg-types') then sets it for pg-split's clients too, as it does
 * for the copied lib's.
 */
function linkDependencies(name, seen = new Set()) {
  if (seen.has(name)) return;
  seen.add(name);
  let manifest;
  try {
    manifest = readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8');
  } catch {
    return; // an optional dependency not installed (pg-cloudflare)
  }
  const { dependencies = {} } = JSON.parse(manifest);
  for (const dep of Object.keys(dependencies)) {
    const target = join(root, 'node_modules', dep);
    try {
      statSync(target);
    } catch {
      continue;
    }
    rmSync(join(work, 'node_modules', dep), { recursive: true, force: true });
    symlinkSync(target, join(work, 'node_modules', dep));
    linkDependencies(dep, seen);
  }
}
linkDependencies('pg');

const { startCluster } = await import(join(root, 'dist/cluster/index.js'));
const cluster = await startCluster({ standbys: 2, firstAddress: process.env.PGSPLIT_FIRST_ADDRESS ?? '127.0.0.2' });
const baseEnv = {
  PATH: process.env.PATH,
  HOME: process.env.HOME,
  PGUSER: 'postgres',
  PGDATABASE: 'postgres',
  PGPORT: String(cluster.port),
  PGTESTNOSSL: 'true',
  PGPASSFILE: '/nonexistent',
};
const plainEnv = { PGHOST: cluster.primary.host };
const routedEnv = (target, nodes = cluster.nodes) => ({ PGHOST: nodes.map((n) => n.host).join(','), PGTARGETSESSIONATTRS: target });

/** One process: whether it exited 0, and its output's last lines. */
function run(args, cwd, env, timeoutMillis) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd, env: { ...baseEnv, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMillis);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ ok: code === 0, why: signal ?? `exit ${code}`, tail: output.trim().split('\n').slice(-6).join('\n') });
    });
  });
}

function testFiles(dir) {
  const out = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) out.push(...testFiles(path));
    else if (entry.endsWith('-tests.js')) out.push(path);
  }
  return out.sort();
}

/** pg's integration tests, file by file: plain, then pg-split/pg. Returns the files that pass on plain pg only. */
async function pgSuite() {
  const tag = pgTag;
  console.log(`\n## pg: ${tag}'s packages/pg/test/integration, installed pg ${pg.version}\n\nplain  pg-split/pg  file`);
  const variant = (name, indexJs) => {
    const dir = extract(name, tag, 'pg', ['test']);
    cpSync(join(pg.dir, 'lib'), join(dir, 'lib'), { recursive: true });
    if (indexJs !== null) writeFileSync(join(dir, 'lib/index.js'), indexJs);
    return join(dir, 'test/integration');
  };
  const plainDir = variant('pg-plain', null);
  const splitDir = variant('pg-split', "'use strict'\nmodule.exports = require('pg-split/pg')\n");
  let both = 0;
  let plainFails = 0;
  const plainOnly = [];
  const only = process.env.PGSPLIT_PG_OWN_ONLY === undefined ? null : new RegExp(process.env.PGSPLIT_PG_OWN_ONLY);
  for (const file of testFiles(plainDir)) {
    const name = relative(plainDir, file);
    if (only !== null && !only.test(name)) continue;
    const plain = await run([file], dirname(file), plainEnv, 120_000);
    const split = await run([join(splitDir, name)], dirname(join(splitDir, name)), routedEnv('read-write'), 120_000);
    console.log(`${plain.ok ? 'pass' : 'FAIL'}   ${split.ok ? 'pass' : 'FAIL'}         ${name}`);
    if (!plain.ok) plainFails++;
    else if (split.ok) both++;
    else {
      plainOnly.push(name);
      console.log(`       pg-split/pg: ${split.why}\n${split.tail.replace(/^/gm, '         ')}`);
    }
  }
  console.log(`\npg: ${both} files pass on both; ${plainFails} fail on plain pg (not counted); ${plainOnly.length} pass on plain pg only`);
  return plainOnly.map((f) => `pg ${f}`);
}

/** mocha's JSON report of one run of pg-pool's tests: the full title of each test that passed, and of each that failed. */
async function mochaRun(dir, env, report) {
  const mocha = join(work, 'node_modules/mocha/bin/mocha.js');
  const outcome = await run([mocha, '--reporter', 'json', '--reporter-option', `output=${report}`], dir, env, 600_000);
  let json;
  try {
    json = JSON.parse(readFileSync(report, 'utf8'));
  } catch {
    return { passed: new Set(), failed: new Map([['(the run)', `${outcome.why}: ${outcome.tail}`]]) };
  }
  return {
    passed: new Set(json.passes.map((t) => t.fullTitle)),
    failed: new Map(json.failures.map((t) => [t.fullTitle, t.err?.message ?? ''])),
  };
}

/** pg-pool's tests, test by test: the installed pg-pool, then pg-split/pg's Pool as the writer and as the reader. */
async function poolSuite() {
  const tag = poolTag;
  console.log(`\n## pg-pool: ${tag}'s packages/pg-pool/test, installed pg-pool ${pgPool.version}`);
  const variant = (name, indexJs) => {
    const dir = extract(name, tag, 'pg-pool', ['test', 'index.js', 'package.json']);
    if (indexJs !== null) writeFileSync(join(dir, 'index.js'), indexJs);
    return dir;
  };
  const pooled = "'use strict'\nmodule.exports = require('pg-split/pg').Pool\n";
  const runs = [
    ['plain pg-pool', variant('pool-plain', null), plainEnv],
    ['writer (read-write)', variant('pool-writer', pooled), routedEnv('read-write')],
    // One standby: with two, the reader alternates between them, and the tests that expect their idle client back get the other node's.
    [
      'reader (prefer-standby, one standby)',
      variant('pool-reader', pooled),
      routedEnv('prefer-standby', [cluster.primary, cluster.standbys[0]]),
    ],
  ];
  const results = [];
  const plainOnly = [];
  for (const [label, dir, env] of runs) results.push([label, await mochaRun(dir, env, join(work, `${label.split(' ')[0]}.json`))]);
  const [[, plain], ...routed] = results;
  console.log(`plain pg-pool: ${plain.passed.size} pass, ${plain.failed.size} fail`);
  for (const [label, r] of results) {
    const broken = r.failed.get('(the run)');
    if (broken === undefined) continue;
    console.log(`  ${label}: mocha reported nothing: ${broken}`);
    plainOnly.push(`pg-pool ${label}: the run itself`);
  }
  for (const [label, r] of routed) {
    const missing = [...plain.passed].filter((t) => !r.passed.has(t));
    console.log(
      `${label}: ${r.passed.size} pass, ${r.failed.size} fail; of the ${plain.passed.size} that pass on plain pg-pool, ${missing.length} do not`,
    );
    for (const t of missing) console.log(`  - ${t}: ${r.failed.get(t) ?? 'not run'}`);
    plainOnly.push(...missing.map((t) => `pg-pool ${label}: ${t}`));
  }
  return plainOnly;
}

const plainOnly = [];
try {
  if (suites.includes('pg')) plainOnly.push(...(await pgSuite()));
  if (suites.includes('pg-pool')) plainOnly.push(...(await poolSuite()));
} finally {
  await cluster.destroy();
  // PGSPLIT_KEEP_WORK=1 keeps the work directory, to run a test file again by hand.
  if (process.env.PGSPLIT_KEEP_WORK !== '1') rmSync(work, { recursive: true, force: true });
}
console.log(
  `\n${plainOnly.length === 0 ? 'Everything that passes on plain pg passes on pg-split.' : `${plainOnly.length} pass on plain pg only.`}`,
);
process.exit(plainOnly.length === 0 ? 0 : 1);
