import { Packr } from 'msgpackr';
import { plain } from '../kv/command-codec.js';
import { maxCommandBytesFor } from '../kv/limits.js';
import { DEFAULT_MAX_FRAME_SIZE } from '../wire/frame.js';
import { ParleyError } from '../wire/parley-error.js';
import { validatePartitionCommand } from './commands.js';
import type { PartitionCommand } from './types.js';

/**
 * How a partition command travels in the Raft log: msgpack of the validated command (maps as
 * objects, no records, no extensions). The member that receives a request validates it and
 * proposes `commandToPropose(request)`; every member decodes the entry with
 * `decodePartitionCommand` when applying it.
 *
 * Invariant: `decodePartitionCommand` is deterministic and total. Any byte string yields either a
 * command `validatePartitionCommand` accepts or INVALID_ARGUMENT, the same on every member, and
 * never another exception. The length is checked before msgpack allocates anything, and decoded
 * payloads are fresh copies, so the log never holds a view into a network or WAL buffer.
 * Encoding leaves out undefined fields, so encode(decode(encode(c))) = encode(c).
 */

/** Largest encoded command: what one Raft entry can carry in one frame (as the KV store's). */
export const MAX_COMMAND_BYTES = maxCommandBytesFor(DEFAULT_MAX_FRAME_SIZE);

const packr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true });

function tooLarge(size: number, max: number): ParleyError {
  return new ParleyError(
    'INVALID_ARGUMENT',
    `partition command is ${size} bytes encoded; the limit is ${max} (publish fewer or smaller messages per request)`,
    { details: { size, maxCommandBytes: max } },
  );
}

/** Encodes a command that `validatePartitionCommand` returned. */
export function encodePartitionCommand(cmd: PartitionCommand): Uint8Array {
  // A validated publish has no undefined field (commands.ts builds it field by field): packed as
  // is, it skips a deep copy of every message on the hot path.
  return new Uint8Array(packr.pack(cmd.type === 'publish' ? cmd : plain(cmd)));
}

/**
 * What a member does with a command it received, before proposing it: validate it (unknown
 * fields are dropped), encode it and check the encoded size. Throws INVALID_ARGUMENT; a refused
 * command never reaches the log.
 */
export function commandToPropose(x: unknown, maxBytes = MAX_COMMAND_BYTES): Uint8Array {
  const bytes = encodePartitionCommand(validatePartitionCommand(x));
  if (bytes.length > maxBytes) throw tooLarge(bytes.length, maxBytes);
  return bytes;
}

/** Decodes and checks a proposed command; INVALID_ARGUMENT for anything malformed. */
export function decodePartitionCommand(bytes: Uint8Array, maxBytes = MAX_COMMAND_BYTES): PartitionCommand {
  if (bytes.length > maxBytes) throw tooLarge(bytes.length, maxBytes);
  let raw: unknown;
  try {
    raw = packr.unpack(bytes);
  } catch (err) {
    throw new ParleyError('INVALID_ARGUMENT', 'partition command is not valid msgpack', { cause: err });
  }
  const cmd = validatePartitionCommand(raw);
  if (cmd.type === 'publish') copyPayloads(cmd.messages);
  return cmd;
}

/**
 * The decoder's payloads are views into the entry: copy them, all into one new buffer (one
 * allocation per command, not per message: an ArrayBuffer per message cost more than the rest of
 * decoding), as plain Uint8Array views. Validation built the entries afresh, so replacing their
 * field touches nothing shared.
 */
function copyPayloads(messages: readonly { readonly payload: Uint8Array }[]): void {
  let total = 0;
  for (const m of messages) total += m.payload.length;
  const out = new Uint8Array(total);
  let at = 0;
  for (const m of messages) {
    const n = m.payload.length;
    out.set(m.payload, at);
    (m as { payload: Uint8Array }).payload = out.subarray(at, at + n);
    at += n;
  }
}
