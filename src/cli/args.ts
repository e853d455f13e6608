import { parseArgs } from 'node:util';
import { processSources, readSettings, SETTINGS, type SettingName, type SettingSources } from './settings.js';
import { UsageError } from './usage-error.js';

export interface FlagSpec {
  readonly type: 'string' | 'boolean';
  readonly multiple?: boolean;
  readonly short?: string;
}

export interface ParsedArgs {
  readonly positionals: string[];
  readonly flags: Record<string, string | boolean | string[] | undefined>;
}

/**
 * Parses one command's arguments strictly: unknown flags, missing values and too many or too few
 * positionals become a UsageError carrying the command's usage text. A flag of the spec that has a
 * setting (settings.ts) and is not on the command line is taken from the environment or the config file.
 */
export function parseCommandArgs(
  argv: readonly string[],
  spec: Record<string, FlagSpec>,
  usage: string,
  positionals: { min: number; max: number },
  sources: SettingSources = processSources(),
): ParsedArgs {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: { ...spec, help: { type: 'boolean', short: 'h' } } as NonNullable<
        Parameters<typeof parseArgs>[0]
      >['options'],
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    throw new UsageError(simplify((err as Error).message), usage);
  }
  const values = parsed.values as ParsedArgs['flags'];
  if (values.help) return { positionals: parsed.positionals, flags: values };
  const unset = (Object.keys(SETTINGS) as SettingName[]).filter((n) => n in spec && values[n] === undefined);
  if (unset.length > 0)
    Object.assign(
      values,
      readSettings(unset, (n) => spec[n]?.multiple === true, usage, sources),
    );
  if (parsed.positionals.length < positionals.min) {
    throw new UsageError(`missing argument (expected at least ${positionals.min})`, usage);
  }
  if (parsed.positionals.length > positionals.max) {
    throw new UsageError(`unexpected argument '${parsed.positionals[positionals.max]}'`, usage);
  }
  return { positionals: parsed.positionals, flags: values };
}

/** Reads an integer flag within bounds. */
export function intFlag(value: unknown, name: string, usage: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (typeof value !== 'string' || !Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, got '${String(value)}'`, usage);
  }
  return n;
}

/** Parses a JSON argument; anything that is not JSON is a usage error. */
export function jsonArg(text: string | undefined, what: string, usage: string): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${what} is not valid JSON: ${(err as Error).message}`, usage);
  }
}

export function seedsFlag(value: unknown, usage: string): string[] {
  const list = Array.isArray(value) ? value : typeof value === 'string' ? [value] : [];
  const seeds = list.flatMap((s) => s.split(',')).filter((s) => s.length > 0);
  for (const s of seeds) {
    if (!/^[^\s:]+:\d{1,5}$/.test(s) && !/^\[[^\]]+\]:\d{1,5}$/.test(s)) {
      throw new UsageError(`--seed expects host:port, got '${s}'`, usage);
    }
  }
  return seeds;
}

function simplify(message: string): string {
  // node:util messages end with advice about '--' that does not apply here.
  return message.replace(/\. To specify a positional argument.*$/s, '').replace(/^Unknown option/, 'unknown option');
}
