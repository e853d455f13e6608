import type { ServiceInfo } from '../wire/packets.js';
import type { Context, EventContext } from './context.js';
import { compilePattern } from './event-pattern.js';
import { type ActionOptions, normalizeAction, normalizeEvent, type ServiceDefinition } from './service.js';

/** A local action ready to run: `invoke` is the handler wrapped by the node's middlewares. */
export interface LocalAction {
  readonly name: string;
  readonly service: string;
  readonly options: ActionOptions;
  readonly invoke: (params: unknown, ctx: Context) => unknown;
}

export interface LocalSubscription {
  readonly service: string;
  readonly pattern: string;
  readonly group: string;
  readonly matches: (event: string) => boolean;
  readonly handler: (payload: unknown, ctx: EventContext) => unknown;
}

export type WrapAction = (action: Omit<LocalAction, 'invoke'>, handler: LocalAction['invoke']) => LocalAction['invoke'];

/** The services hosted by this node: actions by full name, and event subscriptions. */
export class LocalServices {
  private readonly services = new Map<string, ServiceDefinition>();
  private readonly actions = new Map<string, LocalAction>();
  private subscriptions: LocalSubscription[] = [];
  private readonly matchCache = new Map<string, LocalSubscription[]>();

  add(definition: ServiceDefinition, wrap: WrapAction): void {
    const name = definition?.name;
    if (typeof name !== 'string' || name.length === 0 || /\s/.test(name)) {
      throw new TypeError(`service name must be a non-empty string without spaces, got '${String(name)}'`);
    }
    if (this.services.has(name)) {
      throw new TypeError(`service '${name}' is already registered on this node; remove it first or use another name`);
    }
    const actions: LocalAction[] = [];
    for (const [actionName, spec] of Object.entries(definition.actions ?? {})) {
      const options = normalizeAction(spec);
      if (typeof options.handler !== 'function') {
        throw new TypeError(`action '${name}.${actionName}' has no handler function`);
      }
      const base = { name: `${name}.${actionName}`, service: name, options };
      actions.push({ ...base, invoke: wrap(base, (params, ctx) => options.handler(params, ctx)) });
    }
    const subs: LocalSubscription[] = [];
    for (const [pattern, spec] of Object.entries(definition.events ?? {})) {
      const { handler, group } = normalizeEvent(spec, name);
      if (typeof handler !== 'function')
        throw new TypeError(`event '${pattern}' of service '${name}' has no handler function`);
      subs.push({ service: name, pattern, group, matches: compilePattern(pattern), handler });
    }
    this.services.set(name, definition);
    for (const a of actions) this.actions.set(a.name, a);
    this.subscriptions = [...this.subscriptions, ...subs];
    this.matchCache.clear();
  }

  remove(name: string): ServiceDefinition | undefined {
    const definition = this.services.get(name);
    if (!definition) return undefined;
    this.services.delete(name);
    for (const [key, a] of this.actions) if (a.service === name) this.actions.delete(key);
    this.subscriptions = this.subscriptions.filter((s) => s.service !== name);
    this.matchCache.clear();
    return definition;
  }

  action(name: string): LocalAction | undefined {
    return this.actions.get(name);
  }

  definitions(): ServiceDefinition[] {
    return [...this.services.values()];
  }

  /** Subscriptions whose pattern matches `event`, cached per event name. */
  matching(event: string): LocalSubscription[] {
    let subs = this.matchCache.get(event);
    if (!subs) {
      subs = this.subscriptions.filter((s) => s.matches(event));
      if (this.matchCache.size > 10_000) this.matchCache.clear();
      this.matchCache.set(event, subs);
    }
    return subs;
  }

  infos(): ServiceInfo[] {
    return [...this.services.values()].map((d) => ({
      name: d.name,
      actions: Object.keys(d.actions ?? {}),
      events: this.subscriptions
        .filter((s) => s.service === d.name)
        .map((s) => ({ pattern: s.pattern, group: s.group })),
    }));
  }
}
