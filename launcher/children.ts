import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';

/**
 * Child processes of the launcher. Each runs in its own process group (`detached`), so a terminal Ctrl-C
 * reaches only the launcher, which then stops them in order; signals go to the whole group so that anything
 * a child starts goes with it.
 */

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ManagedChild {
  name: string;
  pid: number;
  exited: Promise<ExitInfo>;
  isRunning(): boolean;
}

export type ChildOutput = { prefix: string; write: (line: string) => void } | { fd: number };

export interface SpawnChildOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  output: ChildOutput;
  /** Run as this user and group (a server that refuses to run as root). */
  uid?: number;
  gid?: number;
}

const running = new Set<ManagedChild>();

function pipeLines(stream: Readable | null, prefix: string, write: (line: string) => void): void {
  if (!stream) return;
  createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => write(`${prefix}${line}`));
}

export async function spawnChild(
  name: string,
  command: string,
  args: string[],
  options: SpawnChildOptions,
): Promise<ManagedChild> {
  const { output } = options;
  const child: ChildProcess = spawn(command, args, {
    cwd: options.cwd,
    env: options.env,
    detached: true,
    ...(options.uid !== undefined ? { uid: options.uid } : {}),
    ...(options.gid !== undefined ? { gid: options.gid } : {}),
    stdio: 'fd' in output ? ['ignore', output.fd, output.fd] : ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) {
    const [err] = (await once(child, 'error')) as [Error];
    throw new Error(`could not start ${name} (${command}): ${err.message}`);
  }
  if ('prefix' in output) {
    pipeLines(child.stdout, output.prefix, output.write);
    pipeLines(child.stderr, output.prefix, output.write);
  }
  const managed: ManagedChild = {
    name,
    pid: child.pid,
    exited: new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal }))),
    isRunning: () => child.exitCode === null && child.signalCode === null,
  };
  running.add(managed);
  void managed.exited.then(() => running.delete(managed));
  return managed;
}

function signalGroup(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    // ESRCH: the group is already gone.
    return false;
  }
}

function delay(ms: number): Promise<'timeout'> {
  return new Promise((resolve) => setTimeout(() => resolve('timeout'), ms).unref());
}

/**
 * Ask a child's group to stop; after `graceMs` kill it. Returns how it ended.
 * A final SIGKILL to the group removes any member that outlived the leader.
 */
export async function stopChild(
  child: ManagedChild,
  signal: NodeJS.Signals,
  graceMs: number,
  log: (msg: string) => void,
): Promise<ExitInfo> {
  if (child.isRunning()) {
    signalGroup(child.pid, signal);
    const first = await Promise.race([child.exited, delay(graceMs)]);
    if (first === 'timeout') {
      log(`${child.name} did not stop within ${Math.round(graceMs / 1000)} s; killing it`);
      signalGroup(child.pid, 'SIGKILL');
    }
  }
  const info = await child.exited;
  signalGroup(child.pid, 'SIGKILL');
  return info;
}

/** Last resort on process exit (synchronous by necessity): kill every group still alive. */
export function killAllChildrenSync(): void {
  for (const child of running) {
    if (child.isRunning()) signalGroup(child.pid, 'SIGKILL');
  }
}

export function describeExit({ code, signal }: ExitInfo): string {
  return signal ? `signal ${signal}` : `code ${code ?? 'unknown'}`;
}
