/**
 * Frame layout (all integers big-endian), see docs/PROTOCOL.md:
 *
 *   offset 0  u32  length   bytes that follow this field (header rest + body), >= 7
 *   offset 4  u8   version  protocol version (PROTOCOL_VERSION)
 *   offset 5  u8   type     PacketType
 *   offset 6  u8   flags    FrameFlag bits
 *   offset 7  u32  stream   request/stream id (0 when the packet has none)
 *   offset 11 ...  body     codec-encoded payload (may be empty)
 *
 * The first five bytes (length + version) stay the same in every future version so that a
 * peer can always tell which version it is talking to and answer with a GOODBYE it can read.
 */

export const PROTOCOL_VERSION = 1;

/** Bytes before the body: length(4) + version(1) + type(1) + flags(1) + stream(4). */
export const HEADER_SIZE = 11;

/** Bytes counted by the length field that are not body: version + type + flags + stream. */
export const HEADER_AFTER_LENGTH = HEADER_SIZE - 4;

/** Default maximum frame size (length field value), 16 MiB. */
export const DEFAULT_MAX_FRAME_SIZE = 16 * 1024 * 1024;

/**
 * Default limit on the first frame of a connection (the peer's HELLO), 256 KiB: a peer that has
 * not completed the handshake cannot make a node buffer more. A HELLO lists the node's services;
 * 256 KiB holds thousands of actions.
 */
export const DEFAULT_MAX_FIRST_FRAME_SIZE = 256 * 1024;

export const PacketType = {
  HELLO: 1,
  REQUEST: 2,
  RESPONSE: 3,
  ONEWAY: 4,
  EVENT: 5,
  CANCEL: 6,
  PING: 7,
  PONG: 8,
  GOODBYE: 9,
  GOSSIP: 10,
  INFO: 11,
  /** The authentication proof (JSON), right after HELLO when the mesh authenticates peers. */
  AUTH: 12,
  /** Frames sealed together once the handshake has agreed on keys (transport/security/sealed-connection.ts). */
  SEALED: 13,
} as const;
export type PacketType = (typeof PacketType)[keyof typeof PacketType];

const PACKET_NAMES: Record<number, string> = Object.fromEntries(Object.entries(PacketType).map(([k, v]) => [v, k]));

export function packetName(type: number): string {
  return PACKET_NAMES[type] ?? `UNKNOWN(${type})`;
}

export function isPacketType(type: number): type is PacketType {
  return PACKET_NAMES[type] !== undefined;
}

export const FrameFlag = {
  /** The body is JSON (UTF-8). Without it the body is MessagePack. */
  JSON: 0x01,
  /** RESPONSE only: the body is an error tuple, not a result. */
  ERROR: 0x02,
} as const;

/** One decoded frame. `body` is a view into the received bytes; copy it if you keep it. */
export interface Frame {
  readonly version: number;
  readonly type: PacketType;
  readonly flags: number;
  readonly stream: number;
  readonly body: Uint8Array;
}

/** Writes a frame header for a body of `bodyLength` bytes into `target` at `offset`. */
export function writeHeader(
  target: Uint8Array,
  offset: number,
  type: PacketType,
  flags: number,
  stream: number,
  bodyLength: number,
  version = PROTOCOL_VERSION,
): void {
  const length = HEADER_AFTER_LENGTH + bodyLength;
  target[offset] = length >>> 24;
  target[offset + 1] = (length >>> 16) & 0xff;
  target[offset + 2] = (length >>> 8) & 0xff;
  target[offset + 3] = length & 0xff;
  target[offset + 4] = version;
  target[offset + 5] = type;
  target[offset + 6] = flags;
  target[offset + 7] = stream >>> 24;
  target[offset + 8] = (stream >>> 16) & 0xff;
  target[offset + 9] = (stream >>> 8) & 0xff;
  target[offset + 10] = stream & 0xff;
}

/** A whole frame as one new buffer (for tests and rare packets; the hot path uses FrameBatch). */
export function encodeFrame(
  type: PacketType,
  flags: number,
  stream: number,
  body: Uint8Array,
  version = PROTOCOL_VERSION,
): Uint8Array {
  const out = new Uint8Array(HEADER_SIZE + body.length);
  writeHeader(out, 0, type, flags, stream, body.length, version);
  out.set(body, HEADER_SIZE);
  return out;
}
