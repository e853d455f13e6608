/**
 * The services the process-level hostile tests run on a live `parley node` (a module it loads):
 * a cheap action for the well-behaved client, one that holds a request in flight, and one whose
 * answer is large (for the peer that never reads).
 */
export default [
  {
    name: 'target',
    actions: {
      add: (p: { a: number; b: number }) => p.a + p.b,
      /** Answers after `ms` (at most 5 s): a request that stays in flight. */
      hold: (p: { ms?: number }) =>
        new Promise<string>((r) => setTimeout(() => r('held'), Math.min(5000, Math.max(0, Number(p?.ms) || 0)))),
      /** `size` bytes (at most 4 MiB). */
      blob: (p: { size?: number }) => new Uint8Array(Math.min(4 * 1024 * 1024, Math.max(0, Number(p?.size) || 0))),
    },
  },
];
