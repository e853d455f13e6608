/** The command that replays one simulated queue run exactly (printed with every failure). */
export function queueReplayCommand(seed: number, steps: number, nodes?: number, bug?: string): string {
  let cmd = `npm run sim -- --queues --seed ${seed} --steps ${steps}`;
  if (nodes !== undefined) cmd += ` --nodes ${nodes}`;
  if (bug !== undefined) cmd += ` --bug ${bug}`;
  return `${cmd} --verbose`;
}
