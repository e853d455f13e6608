/**
 * The benchmark payloads, identical for every system. Sizes are nominal MessagePack sizes:
 * 16 → `{ a: 1, b: 'hello-par' }` (exactly 16 bytes as MessagePack, 25 as JSON);
 * anything else → `{ data: '<N ASCII chars>' }` (N + 8 bytes as MessagePack).
 */
export function makePayload(bytes: number): Record<string, unknown> {
  if (bytes === 16) return { a: 1, b: 'hello-par' };
  return { data: 'x'.repeat(bytes) };
}
