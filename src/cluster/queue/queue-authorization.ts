import type { Authorizer } from '../../node/authorization/authorizer.js';
import type { Permission } from '../../node/authorization/decision.js';
import type { Context } from '../../node/context.js';
import { validateStreamConfig } from '../../queue/stream-config.js';
import type { Principal } from '../../transport/principal.js';
import { ParleyError } from '../../wire/parley-error.js';
import { obj } from '../server/request-guards.js';
import { streamOfGroup } from './stream-records.js';

/**
 * What `$queue` asks of the node's policy before an action does anything (before a read, before
 * a proposal), per stream (docs/QUEUES.md, "Security"):
 *
 * - publish: queuePublish on the stream of the partition group named (`q.<stream>.<p>`). The
 *   group decides the stream, never a name the client sends; the partition's state machine then
 *   refuses subjects outside that stream's patterns, so a grant on `orders` reaches only subjects
 *   of `orders`.
 * - fetch, ack, createConsumer, deleteConsumer, info with a consumer: queueConsume.
 * - stream, info without a consumer (metadata): any of queuePublish / queueConsume / queueAdmin
 *   on the stream (a refusal is reported as a queueConsume denial); streams: the list keeps only
 *   the streams the caller may read that way.
 * - createStream, deleteStream, deadLetters, dlqReplay: queueAdmin.
 * - any other action (one added later without a line here): cluster members only.
 *
 * Invariant: cluster members (and this node's own calls, and every caller without a policy) pass
 * every check; everyone else passes only what a rule grants on the stream the server resolved.
 * Every refusal goes through `authorizer.require`, so it is counted and audited once.
 */
type Need = 'publish' | 'consume' | 'admin' | 'read';

const NEEDS: Readonly<Record<string, (p: Record<string, unknown>) => { need: Need; stream: string }>> = {
  publish: (p) => ({ need: 'publish', stream: groupStream(p.group) }),
  fetch: (p) => ({ need: 'consume', stream: groupStream(p.group) }),
  ack: (p) => ({ need: 'consume', stream: groupStream(p.group) }),
  createConsumer: (p) => ({ need: 'consume', stream: groupStream(p.group) }),
  deleteConsumer: (p) => ({ need: 'consume', stream: groupStream(p.group) }),
  info: (p) => ({ need: typeof p.consumer === 'string' ? 'consume' : 'read', stream: groupStream(p.group) }),
  stream: (p) => ({ need: 'read', stream: streamName(p.name) }),
  createStream: (p) => ({ need: 'admin', stream: validateStreamConfig(p.config).name }),
  deleteStream: (p) => ({ need: 'admin', stream: streamName(p.name) }),
  deadLetters: (p) => ({ need: 'admin', stream: groupStream(p.group) }),
  dlqReplay: (p) => ({ need: 'admin', stream: groupStream(p.group) }),
};

const KIND: Record<Exclude<Need, 'read'>, Permission['kind'] & `queue${string}`> = {
  publish: 'queuePublish',
  consume: 'queueConsume',
  admin: 'queueAdmin',
};

function groupStream(group: unknown): string {
  const stream = streamOfGroup(group);
  if (stream === undefined)
    throw new ParleyError('INVALID_ARGUMENT', 'group must be a partition group id: q.<stream>.<partition>');
  return stream;
}

function streamName(name: unknown): string {
  if (typeof name !== 'string') throw new ParleyError('INVALID_ARGUMENT', 'name must be a stream name');
  return name;
}

// biome-ignore lint/suspicious/noExplicitAny: wraps handlers of any params, keeping their types
type Handler = (params: any, ctx: Context<any>) => unknown;

/**
 * Wraps the `$queue` handlers so that each checks its caller against the policy first; `streams`
 * also filters its answer. Without an authorizer the handlers are returned as they are.
 */
export function guardQueueActions<T extends Record<string, Handler>>(
  authorizer: Authorizer | undefined,
  actions: T,
): T {
  if (authorizer === undefined) return actions;
  const mayRead = (principal: Principal | undefined, stream: string) =>
    (['queuePublish', 'queueConsume', 'queueAdmin'] as const).some(
      (kind) => authorizer.decide(principal, { kind, stream }).allowed,
    );
  const out: Record<string, Handler> = {};
  for (const [name, handler] of Object.entries(actions)) {
    out[name] = async (params, ctx) => {
      const principal = ctx.principal;
      if (authorizer.isMember(principal)) return handler(params, ctx);
      if (name === 'streams') {
        const views = (await handler(params, ctx)) as readonly { config: { name: string } }[];
        return views.filter((v) => mayRead(principal, v.config.name));
      }
      const needs = NEEDS[name];
      if (needs === undefined) {
        authorizer.require(principal, { kind: 'internal', action: `$queue.${name}` });
        return handler(params, ctx);
      }
      const { need, stream } = needs(obj(params));
      if (need !== 'read') authorizer.require(principal, { kind: KIND[need], stream });
      else if (!mayRead(principal, stream)) authorizer.require(principal, { kind: 'queueConsume', stream });
      return handler(params, ctx);
    };
  }
  return out as T;
}
