import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from './usage-error.js';

/**
 * Settings shared by many commands, so they need not be typed each time. Precedence: a flag on the
 * command line, then a `PARLEY_*` environment variable, then `parley.config.json` in the current
 * folder. Only these flags have a setting; the rest (ids, ports, data folders) belong to one process.
 */
export const SETTINGS = {
  seed: { env: 'PARLEY_SEED', keys: ['seed', 'seeds'] },
  servers: { env: 'PARLEY_SERVERS', keys: ['servers'] },
  timeout: { env: 'PARLEY_TIMEOUT', keys: ['timeout'] },
  'log-level': { env: 'PARLEY_LOG_LEVEL', keys: ['logLevel', 'log-level'] },
  host: { env: 'PARLEY_HOST', keys: ['host'] },
  advertise: { env: 'PARLEY_ADVERTISE', keys: ['advertise'] },
  policy: { env: 'PARLEY_POLICY', keys: ['policy'] },
  // Security (security-flags.ts): files, never secret values, so the config file can be shared.
  key: { env: 'PARLEY_KEY_FILE', keys: ['keyFile'] },
  trust: { env: 'PARLEY_TRUST_FILE', keys: ['trustFile'] },
  'secret-file': { env: 'PARLEY_SECRET_FILE', keys: ['secretFile'] },
  token: { env: 'PARLEY_TOKEN', keys: [] },
  tokens: { env: 'PARLEY_TOKENS_FILE', keys: ['tokensFile'] },
  'tls-cert': { env: 'PARLEY_TLS_CERT', keys: ['tlsCert'] },
  'tls-key': { env: 'PARLEY_TLS_KEY', keys: ['tlsKey'] },
  'tls-ca': { env: 'PARLEY_TLS_CA', keys: ['tlsCa'] },
  // Encryption at rest (parley server): the data key file.
  'data-key-file': { env: 'PARLEY_DATA_KEY_FILE', keys: ['dataKeyFile'] },
} as const;

/**
 * The cluster secret itself, for deployments that hand secrets over in the environment. Used only
 * when no secret file is given (--secret-file, PARLEY_SECRET_FILE or "secretFile"); there is no
 * flag for it, since a command line is visible to every user of the machine (`ps`).
 */
export const SECRET_ENV = 'PARLEY_SECRET';
/** This node's key, `PARLEY-SK-…`, the value (used when no key file is given). */
export const KEY_ENV = 'PARLEY_KEY';
/** Trusted keys as `name=PARLEY-PK-…,…` (used when no trust file is given). */
export const TRUST_ENV = 'PARLEY_TRUST';

export type SettingName = keyof typeof SETTINGS;
export const CONFIG_FILE = 'parley.config.json';

/** Where settings come from; tests pass their own. */
export interface SettingSources {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
}

export const processSources = (): SettingSources => ({ env: process.env, cwd: process.cwd() });

/** A setting's value as the flag parser gives it: a string, or a list for repeatable flags. */
export type SettingValue = string | string[];

/**
 * The values of `names` from the environment and the config file (flags are applied by the caller).
 * A config file that is not JSON, not an object, or has an unknown key or a wrong type is a usage error.
 */
export function readSettings(
  names: readonly SettingName[],
  multiple: (name: SettingName) => boolean,
  usage: string,
  sources: SettingSources = processSources(),
): Partial<Record<SettingName, SettingValue>> {
  const file = readConfigFile(sources.cwd, usage);
  const out: Partial<Record<SettingName, SettingValue>> = {};
  for (const name of names) {
    const { env, keys } = SETTINGS[name];
    const fromEnv = sources.env[env];
    if (fromEnv !== undefined && fromEnv !== '') {
      out[name] = multiple(name) ? [fromEnv] : fromEnv;
      continue;
    }
    const key = keys.find((k) => file[k] !== undefined);
    if (key === undefined) continue;
    const v = file[key];
    const list = Array.isArray(v) ? v : [v];
    if (list.length === 0 || !list.every((x) => typeof x === 'string' || typeof x === 'number')) {
      throw new UsageError(`${CONFIG_FILE}: "${key}" must be a string, a number or a list of them`, usage);
    }
    const strings = list.map(String);
    if (!multiple(name) && strings.length > 1) throw new UsageError(`${CONFIG_FILE}: "${key}" takes one value`, usage);
    out[name] = multiple(name) ? strings : strings[0]!;
  }
  return out;
}

function readConfigFile(cwd: string, usage: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(join(cwd, CONFIG_FILE), 'utf8');
  } catch {
    return {}; // no config file: nothing to apply
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${join(cwd, CONFIG_FILE)} is not valid JSON: ${(err as Error).message}`, usage);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new UsageError(`${join(cwd, CONFIG_FILE)} must hold a JSON object`, usage);
  }
  const known: string[] = Object.values(SETTINGS).flatMap((s) => [...s.keys]);
  const unknown = Object.keys(parsed).filter((k) => !known.includes(k));
  if (unknown.length > 0) {
    throw new UsageError(
      `${join(cwd, CONFIG_FILE)}: unknown setting ${unknown.map((k) => `"${k}"`).join(', ')} (known: ${known.join(', ')})`,
      usage,
    );
  }
  return parsed as Record<string, unknown>;
}

/** The line that usage texts end with. */
export const SETTINGS_HELP = `Settings: PARLEY_SEED, PARLEY_SERVERS, PARLEY_TIMEOUT, PARLEY_LOG_LEVEL, PARLEY_HOST,
PARLEY_ADVERTISE and PARLEY_POLICY, or the same keys in ./${CONFIG_FILE} ({"servers": ["127.0.0.1:7401"], ...}),
stand in for the flags; a flag wins over the environment, the environment over the file.
Security: PARLEY_KEY_FILE (or PARLEY_KEY, the value), PARLEY_TRUST_FILE (or PARLEY_TRUST,
name=PARLEY-PK-...,...), PARLEY_SECRET_FILE (or PARLEY_SECRET, the value), PARLEY_TOKEN,
PARLEY_TOKENS_FILE, PARLEY_TLS_CERT, PARLEY_TLS_KEY, PARLEY_TLS_CA; in the file keyFile,
trustFile, secretFile, tokensFile, tlsCert, tlsKey, tlsCa.`;
