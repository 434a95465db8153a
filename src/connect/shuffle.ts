import { randomInt } from 'node:crypto';

/** A uniform integer in [0, bound). */
export type RandomInt = (bound: number) => number;

export const cryptoRandomInt: RandomInt = (bound) => randomInt(bound);

/** libpq's inside-out Fisher–Yates: for i = 1..n-1, swap i with a uniform j in [0, i]. */
export function shuffled<T>(items: readonly T[], random: RandomInt = cryptoRandomInt): T[] {
  const out = [...items];
  for (let i = 1; i < out.length; i++) {
    const j = random(i + 1);
    const a = out[i] as T;
    out[i] = out[j] as T;
    out[j] = a;
  }
  return out;
}
