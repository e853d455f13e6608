import { PolledFile } from '../base/polled-file.js';
import {
  type AuthOptions,
  type LoadedAuthOptions,
  parseTokensText,
  parseTrustText,
  type ResolvedAuth,
  resolveAuth,
  type TrustList,
} from '../transport/security/auth-options.js';
import type { TokenOptions } from '../transport/security/token-verifier.js';
import type { ParleyError } from '../wire/parley-error.js';

/** What may change while a node runs: who it trusts, and how it verifies tokens. */
export interface AuthChanges {
  readonly trust?: TrustList;
  readonly tokens?: TokenOptions;
}

export interface NodeAuthHandlers {
  /** New options resolved: `source` is the file that changed, or `updateAuth`. */
  onChange(resolved: ResolvedAuth, source: string): void;
  /** A new version of a file that cannot be used: the last good options stay. */
  onRejected(error: ParleyError, source: string): void;
}

/**
 * A node's authentication options, kept current: `auth.trust` and `auth.tokens` may be paths of
 * JSON files, read when the node is created (a broken one refuses it: INVALID_ARGUMENT) and then
 * polled the way a policy file is (base/polled-file.ts, every second); `update` replaces them from
 * code. Each valid change is resolved and handed to onChange — the mesh then judges every
 * authenticated connection again and closes those whose identity no longer holds (revocation).
 *
 * Invariant: `resolved` always holds options resolveAuth accepted; a file version or an update
 * that does not resolve changes nothing (the file's is reported once to onRejected, the update's
 * thrown).
 */
export class NodeAuth {
  private loaded: LoadedAuthOptions;
  resolved: ResolvedAuth;
  private readonly files: PolledFile<AuthChanges>[] = [];

  constructor(
    options: AuthOptions,
    private readonly context: Parameters<typeof resolveAuth>[1],
    private readonly handlers: NodeAuthHandlers,
  ) {
    const { trust, tokens, ...rest } = options;
    let loaded: LoadedAuthOptions = rest;
    if (typeof trust === 'string') {
      loaded = {
        ...loaded,
        trust: this.watch(trust, 'trust file', (t) => ({ trust: parseTrustText(t, `trust file ${trust}`) })).trust!,
      };
    } else if (trust !== undefined) loaded = { ...loaded, trust };
    if (typeof tokens === 'string') {
      loaded = {
        ...loaded,
        tokens: this.watch(tokens, 'tokens file', (t) => ({ tokens: parseTokensText(t, `tokens file ${tokens}`) }))
          .tokens!,
      };
    } else if (tokens !== undefined) loaded = { ...loaded, tokens };
    this.loaded = loaded;
    this.resolved = resolveAuth(loaded, context);
  }

  /** Starts polling the files, if any. */
  start(intervalMs = 1000): void {
    for (const f of this.files) f.start(intervalMs);
  }

  stop(): void {
    for (const f of this.files) f.stop();
  }

  /** Replaces the trust list and/or token options; throws INVALID_ARGUMENT (changing nothing) when they do not resolve. */
  update(changes: AuthChanges, source = 'updateAuth'): void {
    const loaded = { ...this.loaded, ...changes };
    const resolved = resolveAuth(loaded, this.context);
    this.loaded = loaded;
    this.resolved = resolved;
    this.handlers.onChange(resolved, source);
  }

  /** Reads a file now (throws when it cannot be used) and polls it from start() on. */
  private watch(path: string, what: string, parse: (text: string) => AuthChanges): AuthChanges {
    const file = new PolledFile<AuthChanges>(
      path,
      what,
      (text) => {
        const changes = parse(text);
        // Checked whole (keys readable, names unique, token keys usable) before it is accepted.
        if (this.loaded !== undefined) resolveAuth({ ...this.loaded, ...changes }, this.context);
        return changes;
      },
      {
        onValue: (changes) => this.update(changes, path),
        onRejected: (err) => this.handlers.onRejected(err, path),
      },
    );
    this.files.push(file);
    return file.load();
  }
}
