/**
 * npm run build:test && node build/bench/bad-inputs.js: runs every case of
 * test/support/bad-inputs.ts (those that need a server on a one-node cluster
 * from the harness) and writes what each one answered into docs/errors.md,
 * between <!-- bad-inputs:start --> and <!-- bad-inputs:end -->.
 * Exits with status 1 when a case broke the contract of docs/errors.md.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { SECURE_PASSWORD, SECURE_ROLE, startCluster } from '@pg-split/harness';
import { BAD_INPUTS, DOWN, NO_SERVER, outcomeOf, type BadInputContext, type Outcome } from '../test/support/bad-inputs.js';
import { table } from './stats.js';

/** build/bench/ -> the package root. */
const DOC = new URL('../../docs/errors.md', import.meta.url);
const START = '<!-- bad-inputs:start -->';
const END = '<!-- bad-inputs:end -->';
/** A hang guard: a case still pending after this is reported as "no answer". */
const BOUND_MILLIS = 10_000;

/** A table cell: one line, `|` escaped, wrapped in a code span unless it is plain words. */
function cell(text: string, code = true): string {
  const line = text.replace(/\s*\n\s*/g, ' ').trim();
  const escaped = line.replaceAll('|', '\\|');
  if (!code || escaped === '') return escaped;
  const fence = escaped.includes('``') ? '```' : escaped.includes('`') ? '``' : '`';
  const pad = fence === '`' ? '' : ' ';
  return `${fence}${pad}${escaped}${pad}${fence}`;
}

function time(millis: number): string {
  return millis < 1 ? '< 1 ms' : `${Math.round(millis)} ms`;
}

function firstLine(text: string): string {
  return text.split('\n', 1)[0] ?? '';
}

async function main(): Promise<void> {
  const doc = readFileSync(DOC, 'utf8');
  const start = doc.indexOf(START);
  const end = doc.indexOf(END);
  if (start === -1 || end < start) throw new Error(`docs/errors.md has no ${START} ... ${END} section`);

  const cluster = await startCluster({ standbys: 0 });
  const outcomes: Outcome[] = [];
  try {
    const ctx: BadInputContext = {
      hosts: cluster.nodes.map((n) => `${n.host}:${n.port}`).join(','),
      role: SECURE_ROLE,
      password: SECURE_PASSWORD,
    };
    for (const c of BAD_INPUTS) {
      const outcome = await outcomeOf(c, c.needsServer === true ? ctx : NO_SERVER, BOUND_MILLIS);
      outcomes.push(outcome);
      console.log(
        `${outcome.kept ? 'ok  ' : 'FAIL'} ${time(outcome.millis).padStart(7)}  ${c.api}: ${c.input}${outcome.kept ? '' : `\n       ${outcome.problems.join('\n       ')}`}`,
      );
    }
  } finally {
    await cluster.destroy();
  }

  const rows = BAD_INPUTS.map((c, i) => {
    const o = outcomes[i]!;
    return [cell(c.api, false), cell(c.input), cell(o.code), cell(firstLine(o.message)), time(o.millis)];
  });
  const legend = [
    `Calls marked \`cluster.\` run on \`cluster = await connectSplit('${DOWN}', { waitForPrimary: false })\`, where nothing listens; \`<hosts>\` is every node of a one-node cluster from the test harness (\`127.0.0.2:<port>\`; \`<host names>\`: the same without ports), whose role \`${SECURE_ROLE}\` needs a password that is not \`secret\`.`,
    'A CLI row shows the exit status and the first line of stderr; a code that is not `PGSPLIT_...` or `exit 2` is a bug.',
  ].join(' ');
  const generated = `${START}\n\n${legend}\n\n${table(['API', 'input', 'code', 'message (first line)', 'time'], rows)}\n\n${END}`;
  writeFileSync(DOC, doc.slice(0, start) + generated + doc.slice(end + END.length));

  const broken = outcomes.filter((o) => !o.kept).length;
  console.log(
    `\n${rows.length} rows written to docs/errors.md; ${broken === 0 ? 'every case kept the contract' : `${broken} cases broke the contract`}`,
  );
  if (broken > 0) process.exitCode = 1;
}

await main();
