import type { Logger } from '../transport/logger.js';
import { codecForFlags } from '../wire/codec.js';
import { type Frame, PacketType } from '../wire/frame.js';
import { parseGossip, parseNodeInfo } from '../wire/packets.js';
import type { CallDispatcher } from './call-dispatcher.js';
import type { Discovery } from './discovery/discovery.js';
import type { EventRouter } from './event-router.js';
import type { Membership } from './membership.js';
import type { RequestServer } from './request-server.js';

/** The parts of a node that handle frames from peers. */
export interface FrameTargets {
  readonly server: RequestServer;
  readonly dispatcher: CallDispatcher;
  readonly events: EventRouter;
  readonly membership: Membership;
  readonly discovery: Discovery;
  readonly logger: Logger;
}

/**
 * The node's frame dispatch: each frame a peer sends goes to the one part that handles its packet
 * type — REQUEST, ONEWAY and CANCEL to the RequestServer, RESPONSE to the CallDispatcher, EVENT to
 * the EventRouter, GOODBYE and INFO to Membership, GOSSIP to discovery.
 *
 * Invariant: a malformed GOSSIP or INFO is logged and dropped, never thrown back into the mesh's
 * receive path; unknown packet types are ignored (a newer peer may send them).
 */
export function frameHandler(t: FrameTargets): (peerId: string, frame: Frame) => void {
  const safely = (peerId: string, what: string, fn: () => void) => {
    try {
      fn();
    } catch (err) {
      t.logger.warn(`dropped a malformed ${what} packet from '${peerId}': ${(err as Error).message}`);
    }
  };
  return (peerId, frame) => {
    switch (frame.type) {
      case PacketType.REQUEST:
        t.server.onRequest(peerId, frame);
        return;
      case PacketType.RESPONSE:
        t.dispatcher.onResponse(peerId, frame);
        return;
      case PacketType.ONEWAY:
        t.server.onOneway(peerId, frame);
        return;
      case PacketType.EVENT:
        t.events.receive(peerId, frame);
        return;
      case PacketType.CANCEL:
        t.server.onCancel(peerId, frame.stream);
        return;
      case PacketType.GOODBYE:
        t.membership.onGoodbye(peerId);
        return;
      case PacketType.GOSSIP:
        safely(peerId, 'GOSSIP', () =>
          t.discovery.gossip?.(peerId, parseGossip(codecForFlags(frame.flags).decode(frame.body))),
        );
        return;
      case PacketType.INFO:
        safely(peerId, 'INFO', () =>
          t.membership.onInfo(peerId, parseNodeInfo(codecForFlags(frame.flags).decode(frame.body))),
        );
        return;
      default:
        t.logger.debug(`ignoring packet type ${frame.type} from '${peerId}'`);
    }
  };
}
