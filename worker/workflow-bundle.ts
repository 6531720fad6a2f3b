/**
 * The prebuilt workflow bundle: `npm run build` writes `dist/workflow-bundle.js` (webpack, once) and a manifest of
 * the source files it was built from with their hashes; a worker loads it instead of bundling in its own process,
 * which costs ~130 MB of RSS that the worker keeps. A bundle whose sources changed since it was built is stale and
 * never loaded: the worker rebuilds it in a short-lived child process (or, where it cannot write, bundles in memory).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode, type Logger } from '@temporalio/worker';

export const WORKFLOWS_PATH = require.resolve('../workflows');

/** The directory holding package.json: the project root both from the sources and from the compiled dist/worker. */
function projectRoot(): string {
  let dir = __dirname;
  while (!existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${__dirname}`);
    dir = parent;
  }
  return dir;
}

export const ROOT = projectRoot();
/** Where `npm run build` writes the bundle; tests pass another directory. */
export const BUNDLE_DIR = path.join(ROOT, 'dist');
const bundlePath = (dir: string) => path.join(dir, 'workflow-bundle.js');
const manifestPath = (dir: string) => path.join(dir, 'workflow-bundle.json');
export const WORKFLOW_BUNDLE_PATH = bundlePath(BUNDLE_DIR);

interface Manifest {
  /** Project-relative path → sha256 of every project module in the bundle, plus package-lock.json. */
  sources: Record<string, string>;
}

const sha256 = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

export interface BuiltBundle {
  code: string;
  /** Project-relative paths of the modules in the bundle (node_modules included), as webpack resolved them. */
  modules: string[];
}

/** Bundles the workflow code as the worker would, and lists the modules that went into it. */
export async function bundleWorkflows(logger?: Logger): Promise<BuiltBundle> {
  let files: string[] = [];
  const { code } = await bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    ...(logger ? { logger } : {}),
    webpackConfigHook: (config) => ({
      ...config,
      plugins: [
        ...(config.plugins ?? []),
        {
          apply(compiler) {
            compiler.hooks.done.tap('duban-bundle-modules', (stats) => {
              files = [];
              for (const module of stats.compilation.modules) {
                const resource: unknown = 'resource' in module ? module.resource : undefined;
                if (typeof resource === 'string' && existsSync(resource)) files.push(resource);
              }
            });
          },
        },
      ],
    }),
  });
  const modules = [...new Set(files)]
    .map((f) => path.relative(ROOT, f))
    .filter((f) => !f.startsWith('..'))
    .sort();
  return { code, modules };
}

/** Writes dist/workflow-bundle.js and its manifest; the files appear whole (written aside, then renamed). */
export async function writeWorkflowBundle(dir = BUNDLE_DIR, logger?: Logger): Promise<BuiltBundle> {
  const built = await bundleWorkflows(logger);
  const sources: Record<string, string> = {};
  for (const file of [...built.modules.filter((m) => !m.startsWith('node_modules/')), 'package-lock.json']) {
    sources[file] = sha256(path.join(ROOT, file));
  }
  mkdirSync(dir, { recursive: true });
  const suffix = `.${process.pid}.tmp`;
  writeFileSync(bundlePath(dir) + suffix, built.code);
  writeFileSync(manifestPath(dir) + suffix, JSON.stringify({ sources } satisfies Manifest, null, 1));
  renameSync(bundlePath(dir) + suffix, bundlePath(dir));
  renameSync(manifestPath(dir) + suffix, manifestPath(dir));
  return built;
}

/**
 * Why the prebuilt bundle cannot be used, or undefined when it can. A compiled deployment (the Docker image) ships
 * the bundle without the TypeScript sources: a source that is absent is not a change.
 */
export function staleReason(dir = BUNDLE_DIR): string | undefined {
  const shown = path.relative(ROOT, dir) || '.';
  if (!existsSync(bundlePath(dir)) || !existsSync(manifestPath(dir))) return `${shown}/workflow-bundle.js is missing`;
  let manifest: Manifest;
  try {
    manifest = JSON.parse(readFileSync(manifestPath(dir), 'utf8')) as Manifest;
  } catch {
    return `${shown}/workflow-bundle.json is unreadable`;
  }
  for (const [file, hash] of Object.entries(manifest.sources ?? {})) {
    const full = path.join(ROOT, file);
    if (existsSync(full) && sha256(full) !== hash) return `${file} changed since the bundle was built`;
  }
  return undefined;
}

/**
 * The worker's bundle option: the prebuilt file when it is current; otherwise a child process rebuilds it (the
 * webpack memory leaves with the child); when that fails too, undefined (the worker bundles in its own memory).
 */
export function prebuiltWorkflowBundle(logger: Logger): { codePath: string } | undefined {
  let reason = staleReason();
  if (reason === undefined) return { codePath: WORKFLOW_BUNDLE_PATH };
  logger.info(`building the workflow bundle: ${reason}`);
  const script = require.resolve('./build-bundle');
  const child = spawnSync(process.execPath, [...process.execArgv, script], { cwd: ROOT, encoding: 'utf8' });
  reason = child.status === 0 ? staleReason() : (child.stderr || child.error?.message || `exit ${child.status}`).trim();
  if (reason === undefined) return { codePath: WORKFLOW_BUNDLE_PATH };
  logger.warn(`could not prebuild the workflow bundle, bundling in the worker's memory instead: ${reason}`);
  return undefined;
}
