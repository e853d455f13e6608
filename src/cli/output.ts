import { ParleyError } from '../wire/parley-error.js';

/** JSON for people and machines: BigInt as a string, Uint8Array as base64, Map as an object. */
export function toJson(value: unknown, pretty = true): string {
  return JSON.stringify(
    value,
    (_key, v) => {
      if (typeof v === 'bigint') return v.toString();
      if (v instanceof Uint8Array) return { base64: Buffer.from(v).toString('base64') };
      if (v instanceof Map) return Object.fromEntries(v);
      if (v instanceof Set) return [...v];
      return v;
    },
    pretty ? 2 : undefined,
  );
}

/** Prints an error as `CODE: message` on stderr and returns exit code 1. */
export function reportError(err: unknown): number {
  const e = ParleyError.from(err);
  process.stderr.write(`${e.code}: ${e.message}\n`);
  return 1;
}
