import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

/**
 * How src/ is layered (docs/architecture.md): each top-level folder may
 * import from itself and from the folders below it, never from one above;
 * and a room of src/split/ never imports from src/split/ itself (the
 * modules there assemble the rooms, not the other way round).
 */
const SRC = join(dirname(fileURLToPath(import.meta.url)), '../../../src');

/** Lowest first. Root modules are named by file. */
const LAYERS = [
  ['errors.ts', 'input.ts', 'lsn.ts', 'single-flight.ts'],
  ['otel'],
  ['conninfo'],
  ['connect'],
  ['roles'],
  ['probe'],
  ['telemetry'],
  ['etcd'],
  ['split'],
  ['pg'],
  ['demo'],
  ['cli'],
  ['index.ts', 'bin.ts'],
];

const IMPORT = /(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** The layer of a path under src/: its top-level folder, or its own name for a root module. */
function layerOf(path: string): number {
  const top = relative(SRC, path).split('/')[0] ?? '';
  const layer = LAYERS.findIndex((names) => names.includes(top));
  assert.notEqual(layer, -1, `src/${top} is in no layer of test/unit/layering.test.ts`);
  return layer;
}

/** Every relative import in src/: [importing file, imported file], both absolute, `.js` read as the `.ts` it compiles from. */
function imports(): Array<[string, string]> {
  return sources(SRC).flatMap((file) =>
    [...readFileSync(file, 'utf8').matchAll(IMPORT)].map((m): [string, string] => [
      file,
      normalize(join(dirname(file), (m[1] ?? '').replace(/\.js$/, '.ts'))),
    ]),
  );
}

test('src/: no module imports from a layer above its own', () => {
  const upward = imports()
    .filter(([from, to]) => layerOf(to) > layerOf(from))
    .map(([from, to]) => `${relative(SRC, from)} -> ${relative(SRC, to)}`);
  assert.deepEqual(upward, []);
});

/** The rooms of src/split/, lowest first: the watch defines what the others consult. */
const SPLIT_ROOMS = [['watch'], ['patroni', 'discovery'], ['pool']];

test('src/split/: a room imports only from rooms below it (watch, then patroni and discovery, then pool)', () => {
  const split = join(SRC, 'split');
  const roomOf = (path: string): number => {
    const room = relative(split, dirname(path));
    const layer = SPLIT_ROOMS.findIndex((names) => names.includes(room));
    assert.notEqual(layer, -1, `src/split/${room} is in no room of test/unit/layering.test.ts`);
    return layer;
  };
  const inRoom = (path: string): boolean => dirname(dirname(path)) === split;
  const upward = imports()
    .filter(([from, to]) => inRoom(from) && inRoom(to) && dirname(from) !== dirname(to) && roomOf(to) >= roomOf(from))
    .map(([from, to]) => `${relative(SRC, from)} -> ${relative(SRC, to)}`);
  assert.deepEqual(upward, []);
});

test('src/split/: no room imports from src/split/ itself, the folder above it', () => {
  const split = join(SRC, 'split');
  const up = imports()
    .filter(([from, to]) => dirname(dirname(from)) === split && dirname(to) === split)
    .map(([from, to]) => `${relative(SRC, from)} -> ${relative(SRC, to)}`);
  assert.deepEqual(up, []);
});

/** The strongly connected components of more than one module (Tarjan's algorithm): each is an import cycle. */
function cycles(edges: ReadonlyArray<[string, string]>): string[][] {
  const next = new Map<string, string[]>();
  for (const [from, to] of edges) next.set(from, [...(next.get(from) ?? []), to]);
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, index.size);
    low.set(v, index.get(v) ?? 0);
    stack.push(v);
    for (const w of next.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) ?? 0, low.get(w) ?? 0));
      } else if (stack.includes(w)) low.set(v, Math.min(low.get(v) ?? 0, index.get(w) ?? 0));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    for (let w = stack.pop(); w !== undefined; w = w === v ? undefined : stack.pop()) component.push(w);
    if (component.length > 1) found.push(component.map((p) => relative(SRC, p)).sort());
  };
  for (const v of next.keys()) if (!index.has(v)) visit(v);
  return found;
}

test('src/: no import cycle, type-only imports included (a module and what it uses are read one way)', () => {
  assert.deepEqual(cycles(imports()), []);
});

test('the cycle check finds a cycle (a -> b -> c -> a) and leaves a chain alone', () => {
  const at = (name: string): string => join(SRC, name);
  assert.deepEqual(
    cycles([
      [at('a.ts'), at('b.ts')],
      [at('b.ts'), at('c.ts')],
      [at('c.ts'), at('a.ts')],
      [at('c.ts'), at('d.ts')],
    ]),
    [['a.ts', 'b.ts', 'c.ts']],
  );
  assert.deepEqual(cycles([[at('a.ts'), at('b.ts')]]), []);
});
