import { ParleyError } from './parley-error.js';
import { codeFromNumber, type ErrorCode, isErrorCode, StatusCode } from './status.js';

/**
 * Packet bodies: their shapes on the wire, and parsers that check what a peer sent.
 * Every parser throws ParleyError('INVALID_ARGUMENT') on a malformed body; a body from a peer
 * is never trusted to have the right types. Tuples (arrays) keep the hot packets small.
 */

export type Meta = Record<string, unknown>;

/** What a node tells its peers about itself (HELLO, INFO, discovery). */
export interface NodeInfo {
  readonly id: string;
  /** host:port it listens on, or null for a node that only dials out (e.g. a CLI client). */
  readonly address: string | null;
  /** Changes every time the process starts: tells a restart apart from a reconnect. */
  readonly incarnation: string;
  /** Bumped every time services change. */
  readonly version: number;
  readonly services: readonly ServiceInfo[];
  readonly meta: Meta;
}

export interface ServiceInfo {
  readonly name: string;
  readonly actions: readonly string[];
  /** Event subscriptions: pattern and group. */
  readonly events: readonly { readonly pattern: string; readonly group: string }[];
}

/** HELLO, always JSON-encoded so a peer of any codec can read it. */
export interface HelloBody {
  readonly protocol: number;
  readonly codec: string;
  readonly maxFrameSize: number;
  readonly node: NodeInfo;
  /** Room for authentication (token, signature); not interpreted yet. */
  readonly auth?: unknown;
}

export interface RequestBody {
  readonly action: string;
  readonly params: unknown;
  readonly meta: Meta | null;
  /** Remaining budget in ms when the request was sent; 0 = no deadline. */
  readonly timeoutMs: number;
  /** Per-call options the serving side acts on; null when none is set. */
  readonly options: RequestOptions | null;
}

/** Options of one call that travel with it to the serving node. */
export interface RequestOptions {
  /** Calls with the same key run at most once within the server's idempotency window. */
  readonly idempotencyKey?: string;
  /** 0 = critical … 3 = sheddable: a loaded server sheds the highest numbers first. */
  readonly priority?: number;
}

export interface OnewayBody {
  readonly action: string;
  readonly params: unknown;
  readonly meta: Meta | null;
}

export interface EventBody {
  readonly name: string;
  readonly payload: unknown;
  /** Groups that must each see it once on the receiver; null = every local handler (broadcast). */
  readonly groups: readonly string[] | null;
  /** Per (sender, receiver) sequence number, from 1 for each sender incarnation. */
  readonly seq: number;
  readonly meta: Meta | null;
}

export interface ErrorBody {
  readonly code: ErrorCode;
  readonly message: string;
  readonly details: unknown;
  readonly retryAfterMs: number | undefined;
}

export interface GoodbyeBody {
  readonly code: ErrorCode | 'OK';
  readonly reason: string;
  /** Set when the connection is refused at its handshake: why, as a short word (transport/connection-refusal.ts). */
  readonly refusal?: string;
}

export interface GossipEntry {
  readonly id: string;
  readonly address: string;
  readonly incarnation: string;
}

function invalid(what: string): never {
  throw new ParleyError('INVALID_ARGUMENT', `malformed ${what} packet from peer`);
}

function isMeta(v: unknown): v is Meta | null {
  return v === null || v === undefined || (typeof v === 'object' && !Array.isArray(v));
}

export function encodeRequest(b: RequestBody): unknown[] {
  if (b.options === null) return [b.action, b.params, b.meta, b.timeoutMs];
  const o: Record<string, unknown> = {};
  if (b.options.idempotencyKey !== undefined) o.k = b.options.idempotencyKey;
  if (b.options.priority !== undefined) o.p = b.options.priority;
  return [b.action, b.params, b.meta, b.timeoutMs, o];
}
export function parseRequest(v: unknown): RequestBody {
  if (!Array.isArray(v) || typeof v[0] !== 'string' || !isMeta(v[2]) || typeof v[3] !== 'number') invalid('REQUEST');
  return {
    action: v[0],
    params: v[1],
    meta: (v[2] as Meta | null) ?? null,
    timeoutMs: v[3],
    options: parseRequestOptions(v[4]),
  };
}
function parseRequestOptions(v: unknown): RequestOptions | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'object' || Array.isArray(v)) invalid('REQUEST options');
  const o = v as Record<string, unknown>;
  if ((o.k !== undefined && typeof o.k !== 'string') || (o.p !== undefined && typeof o.p !== 'number'))
    invalid('REQUEST options');
  const out: { idempotencyKey?: string; priority?: number } = {};
  if (o.k !== undefined) out.idempotencyKey = o.k as string;
  if (o.p !== undefined) out.priority = o.p as number;
  return out;
}

export const encodeOneway = (b: OnewayBody): unknown[] => [b.action, b.params, b.meta];
export function parseOneway(v: unknown): OnewayBody {
  if (!Array.isArray(v) || typeof v[0] !== 'string' || !isMeta(v[2])) invalid('ONEWAY');
  return { action: v[0], params: v[1], meta: (v[2] as Meta | null) ?? null };
}

export const encodeEvent = (b: EventBody): unknown[] => [b.name, b.payload, b.groups, b.seq, b.meta];
export function parseEvent(v: unknown): EventBody {
  if (
    !Array.isArray(v) ||
    typeof v[0] !== 'string' ||
    !(v[2] === null || (Array.isArray(v[2]) && v[2].every((g) => typeof g === 'string'))) ||
    typeof v[3] !== 'number' ||
    !isMeta(v[4])
  )
    invalid('EVENT');
  return { name: v[0], payload: v[1], groups: v[2] as string[] | null, seq: v[3], meta: (v[4] as Meta | null) ?? null };
}

export function encodeError(err: ParleyError): unknown[] {
  const out: unknown[] = [StatusCode[err.code], err.message, err.details ?? null];
  if (err.retryAfterMs !== undefined) out.push(err.retryAfterMs);
  return out;
}
export function parseError(v: unknown): ErrorBody {
  if (!Array.isArray(v) || typeof v[0] !== 'number' || typeof v[1] !== 'string') invalid('RESPONSE error');
  return {
    code: codeFromNumber(v[0]),
    message: v[1],
    details: v[2] ?? undefined,
    retryAfterMs: typeof v[3] === 'number' ? v[3] : undefined,
  };
}
export function errorFromBody(b: ErrorBody): ParleyError {
  return new ParleyError(
    b.code,
    b.message,
    b.retryAfterMs === undefined ? { details: b.details } : { details: b.details, retryAfterMs: b.retryAfterMs },
  );
}

function isServiceInfo(v: unknown): v is ServiceInfo {
  if (typeof v !== 'object' || v === null) return false;
  const s = v as Record<string, unknown>;
  return (
    typeof s.name === 'string' &&
    Array.isArray(s.actions) &&
    s.actions.every((a) => typeof a === 'string') &&
    Array.isArray(s.events) &&
    s.events.every(
      (e) =>
        typeof e === 'object' &&
        e !== null &&
        typeof (e as Record<string, unknown>).pattern === 'string' &&
        typeof (e as Record<string, unknown>).group === 'string',
    )
  );
}

/**
 * Most services + actions + event subscriptions one node may announce (HELLO, INFO). Each becomes
 * catalog entries on every peer; a longer list is refused whole (RESOURCE_EXHAUSTED).
 */
export const MAX_NODE_INFO_ENTRIES = 65_536;

function catalogEntries(services: unknown[]): number {
  let n = services.length;
  for (const s of services) {
    const x = s as { actions?: unknown; events?: unknown } | null;
    if (Array.isArray(x?.actions)) n += x.actions.length;
    if (Array.isArray(x?.events)) n += x.events.length;
  }
  return n;
}

export function parseNodeInfo(v: unknown): NodeInfo {
  if (typeof v !== 'object' || v === null) invalid('node info');
  const n = v as Record<string, unknown>;
  if (Array.isArray(n.services)) {
    const entries = catalogEntries(n.services);
    if (entries > MAX_NODE_INFO_ENTRIES) {
      throw new ParleyError(
        'RESOURCE_EXHAUSTED',
        `node info from peer announces ${entries} services, actions and event subscriptions (at most ${MAX_NODE_INFO_ENTRIES})`,
      );
    }
  }
  if (
    typeof n.id !== 'string' ||
    n.id.length === 0 ||
    !(n.address === null || typeof n.address === 'string') ||
    typeof n.incarnation !== 'string' ||
    typeof n.version !== 'number' ||
    !Array.isArray(n.services) ||
    !n.services.every(isServiceInfo) ||
    !isMeta(n.meta)
  )
    invalid('node info');
  return {
    id: n.id,
    address: n.address as string | null,
    incarnation: n.incarnation,
    version: n.version,
    services: n.services as ServiceInfo[],
    meta: (n.meta as Meta | null) ?? {},
  };
}

export function parseHello(v: unknown): HelloBody {
  if (typeof v !== 'object' || v === null) invalid('HELLO');
  const h = v as Record<string, unknown>;
  if (typeof h.protocol !== 'number' || typeof h.codec !== 'string' || typeof h.maxFrameSize !== 'number')
    invalid('HELLO');
  return {
    protocol: h.protocol,
    codec: h.codec,
    maxFrameSize: h.maxFrameSize,
    node: parseNodeInfo(h.node),
    auth: h.auth,
  };
}

/** Longest GOODBYE reason kept (it is logged): the rest is cut. */
export const MAX_GOODBYE_REASON = 1024;

export function parseGoodbye(v: unknown): GoodbyeBody {
  if (typeof v !== 'object' || v === null) return { code: 'OK', reason: 'peer said goodbye' };
  const g = v as Record<string, unknown>;
  // The code is a peer's word: only a known one is kept, so nothing downstream meets a made-up code.
  const code = g.code === undefined || g.code === 'OK' ? 'OK' : isErrorCode(g.code) ? g.code : 'UNKNOWN';
  const reason = typeof g.reason === 'string' ? g.reason.slice(0, MAX_GOODBYE_REASON) : 'peer said goodbye';
  if (typeof g.refusal === 'string' && /^[a-z-]{1,32}$/.test(g.refusal)) return { code, reason, refusal: g.refusal };
  return { code, reason };
}

export const encodeGossip = (entries: readonly GossipEntry[]): unknown[] =>
  entries.map((e) => [e.id, e.address, e.incarnation]);

/** Most entries one GOSSIP may carry; a longer list is refused whole. */
export const MAX_GOSSIP_ENTRIES = 1024;
/** Longest node id, address or incarnation a GOSSIP entry may carry (characters). */
const MAX_GOSSIP_FIELD = 256;

export function parseGossip(v: unknown): GossipEntry[] {
  if (!Array.isArray(v)) invalid('GOSSIP');
  if (v.length > MAX_GOSSIP_ENTRIES) {
    throw new ParleyError(
      'RESOURCE_EXHAUSTED',
      `GOSSIP packet with ${v.length} entries from peer (at most ${MAX_GOSSIP_ENTRIES})`,
    );
  }
  const out: GossipEntry[] = [];
  for (const e of v) {
    if (!Array.isArray(e) || !isGossipField(e[0]) || /\s/.test(e[0]) || !isGossipField(e[1]) || !isGossipField(e[2]))
      invalid('GOSSIP');
    out.push({ id: e[0], address: e[1], incarnation: e[2] });
  }
  return out;
}

function isGossipField(x: unknown): x is string {
  return typeof x === 'string' && x.length > 0 && x.length <= MAX_GOSSIP_FIELD;
}

/** GOODBYE bodies are JSON in every version, so any peer can read why it was sent away. */
export function encodeGoodbye(body: GoodbyeBody): Uint8Array {
  return Buffer.from(JSON.stringify(body), 'utf8');
}
