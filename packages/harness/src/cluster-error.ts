import { readFileSync } from 'node:fs';
import { HarnessError } from './harness-error.js';

const TAIL_LINES = 20;
const TAIL_BYTES = 16 * 1024;

/** The last lines of a server log ('' when there is none yet). */
export function logTail(logPath: string, lines = TAIL_LINES): string {
  let text: string;
  try {
    const whole = readFileSync(logPath, 'utf8');
    text = whole.length > TAIL_BYTES ? whole.slice(-TAIL_BYTES) : whole;
  } catch {
    return '';
  }
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

function causeText(cause: unknown): string {
  return cause instanceof Error ? `: ${cause.message}` : '';
}

/**
 * A harness failure on one node: the message names the node, says what went
 * wrong and ends with the tail of its server log. No password ever appears:
 * the cluster's only password is never logged nor put in a connection string.
 */
export function clusterError(nodeName: string, what: string, logPath: string, cause?: unknown): HarnessError {
  const tail = logTail(logPath);
  const log = tail === '' ? '(server log is empty)' : `last lines of ${logPath}:\n${tail}`;
  const message = `${nodeName}: ${what}${causeText(cause)}\n${log}`;
  return new HarnessError(message, cause === undefined ? undefined : { cause });
}
