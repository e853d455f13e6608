/**
 * CPU time used by a server/client process pair over one benchmark cell, read from /proc before and after.
 * CPU cost per operation is steadier than throughput on a shared machine, so cells report both.
 */
import { readCpuSeconds } from './process-stats.js';

export interface CellCpu {
  /** % of one core, over the whole cell (warm-up included). */
  serverPct: number;
  clientPct: number;
  /** CPU seconds of both processes together. */
  totalSeconds: number;
}

export class CpuMeter {
  private readonly startedAt = Date.now();
  private readonly server: number | undefined;
  private readonly client: number | undefined;

  constructor(
    private readonly serverPid: number,
    private readonly clientPid: number,
  ) {
    this.server = readCpuSeconds(serverPid);
    this.client = readCpuSeconds(clientPid);
  }

  /** undefined when /proc is unavailable or a process is gone. */
  read(): CellCpu | undefined {
    const server = readCpuSeconds(this.serverPid);
    const client = readCpuSeconds(this.clientPid);
    if (server === undefined || client === undefined || this.server === undefined || this.client === undefined) {
      return undefined;
    }
    const seconds = Math.max((Date.now() - this.startedAt) / 1000, 1e-3);
    const serverUsed = server - this.server;
    const clientUsed = client - this.client;
    return {
      serverPct: (serverUsed / seconds) * 100,
      clientPct: (clientUsed / seconds) * 100,
      totalSeconds: serverUsed + clientUsed,
    };
  }
}
