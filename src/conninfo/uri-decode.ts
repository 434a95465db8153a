import { ConnInfoError } from '../errors.js';

const SPACE = 0x20;
const PERCENT = 0x25;

function hexValue(byte: number | undefined): number {
  if (byte === undefined) return -1;
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  if (byte >= 0x41 && byte <= 0x46) return byte - 0x41 + 10;
  if (byte >= 0x61 && byte <= 0x66) return byte - 0x61 + 10;
  return -1;
}

/**
 * Percent-decodes one URI component as libpq 18's `conninfo_uri_decode`:
 * `%XX` in either case, `+` kept, `%00` forbidden; leading and trailing
 * literal spaces are trimmed and an inner one is an error (new in libpq 18;
 * libpq 17 and older kept spaces as they were). Works on the UTF-8 bytes, as
 * libpq does, and returns them decoded as UTF-8.
 */
export function uriDecode(str: string): string {
  const input = Buffer.from(str, 'utf8');
  const output = Buffer.alloc(input.length);
  let q = 0;
  let p = 0;
  while (input[q] === SPACE) q++;
  while (q < input.length && input[q] !== SPACE) {
    if (input[q] !== PERCENT) {
      output[p++] = input[q++] as number;
      continue;
    }
    const hi = hexValue(input[q + 1]);
    const lo = hi < 0 ? -1 : hexValue(input[q + 2]);
    if (hi < 0 || lo < 0) throw new ConnInfoError(`invalid percent-encoded token: "${str}"`);
    const byte = (hi << 4) | lo;
    if (byte === 0) throw new ConnInfoError(`forbidden value %00 in percent-encoded value: "${str}"`);
    output[p++] = byte;
    q += 3;
  }
  while (input[q] === SPACE) q++;
  if (q < input.length) {
    throw new ConnInfoError(`unexpected spaces found in "${str}", use percent-encoded spaces (%20) instead`);
  }
  return output.subarray(0, p).toString('utf8');
}
