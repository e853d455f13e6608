/**
 * Starts, for every compared system, a server process and a client process connected to it, and stops them all.
 * A system that cannot start is skipped with a note rather than failing the whole benchmark. The server's idle RSS
 * is sampled `idleSampleMs` after it reported ready, before any client connects.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { installChildCleanup, PeerProcessHandle, PeerStartError, type SpawnOptions } from './peer-process-handle.js';
import { readRssBytes } from './process-stats.js';

export interface RunningSystem {
  name: string;
  description: string;
  server: PeerProcessHandle;
  client: PeerProcessHandle;
  /** Server RSS (bytes) idleSampleMs after start, before any client; undefined when /proc is unavailable. */
  idleServerRssBytes: number | undefined;
}

export interface StartedSystems {
  running: RunningSystem[];
  /** One line per system that was skipped, with the reason. */
  notes: string[];
}

export interface StartOptions {
  idleSampleMs?: number;
  /** Systems whose processes get a CPU profile written into this directory. */
  cpuProfile?: { dir: string; systems: string[] };
  /** Pin every server to CPU `server` and every client to CPU `client` (see bench-options --pin). */
  pin?: { server: number; client: number };
}

export async function startSystems(names: string[], options: StartOptions = {}): Promise<StartedSystems> {
  installChildCleanup();
  const idleSampleMs = options.idleSampleMs ?? 2000;
  const notes: string[] = [];
  const servers: { name: string; handle: PeerProcessHandle; readyAt: number }[] = [];
  const spawnOptions = (name: string, role: 'server' | 'client'): SpawnOptions => ({
    ...(options.cpuProfile?.systems.includes(name) ? { cpuProfileDir: options.cpuProfile.dir } : {}),
    ...(options.pin ? { pinCpu: options.pin[role] } : {}),
  });

  for (const name of names) {
    try {
      const handle = await PeerProcessHandle.spawn(name, 'server', undefined, spawnOptions(name, 'server'));
      servers.push({ name, handle, readyAt: Date.now() });
    } catch (err) {
      notes.push(`${name}: skipped — ${(err as Error).message}`);
    }
  }

  const idleRss = new Map<string, number | undefined>();
  for (const { name, handle, readyAt } of servers) {
    const wait = readyAt + idleSampleMs - Date.now();
    if (wait > 0) await sleep(wait);
    idleRss.set(name, readRssBytes(handle.pid));
  }

  const running: RunningSystem[] = [];
  for (const { name, handle } of servers) {
    try {
      const client = await PeerProcessHandle.spawn(name, 'client', handle.address, spawnOptions(name, 'client'));
      running.push({
        name,
        description: handle.description,
        server: handle,
        client,
        idleServerRssBytes: idleRss.get(name),
      });
    } catch (err) {
      const unavailable = err instanceof PeerStartError && err.unavailable;
      notes.push(`${name}: skipped — client ${unavailable ? 'unavailable' : 'failed'}: ${(err as Error).message}`);
      await handle.stop();
    }
  }
  return { running, notes };
}

export async function stopSystems(started: StartedSystems): Promise<void> {
  for (const system of started.running) {
    await system.client.stop();
    await system.server.stop();
  }
}

/** The systems in a different order for each cell, so no system always runs first (or right after another). */
export function rotated<T>(items: T[], by: number): T[] {
  if (items.length === 0) return items;
  const k = by % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}
