import type { TestContext } from 'node:test';
import { connectSplit, type SplitCluster } from '../../src/split/connect-split.js';
import type { SplitOptions } from '../../src/split/options.js';

/** connectSplit(`info`, `options`), ended when the test `t` ends (passed or failed). */
export async function splitFor(t: TestContext, info: string, options: SplitOptions = {}): Promise<SplitCluster> {
  const split = await connectSplit(info, options);
  t.after(() => split.end());
  return split;
}
