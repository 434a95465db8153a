/** A keyword=value value as libpq reads it: quoted when empty or holding whitespace, a quote or a backslash. */
export function conninfoValue(value: string): string {
  if (value !== '' && !/[\s'\\]/.test(value)) return value;
  return `'${value.replace(/['\\]/g, (c) => `\\${c}`)}'`;
}
