import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, staleReason, writeWorkflowBundle, type BuiltBundle } from '../../worker/workflow-bundle';
import { bundlerLogger } from '../helpers/temporal';

/**
 * What goes into the workflow bundle. With reuseV8Context every module the bundle loads is evaluated again for each
 * workflow, so a module with load-time state (zod builds its schemas when imported) costs memory and CPU per cached
 * work point: only the SDK's own packages and the deterministic domain code belong here.
 */
const SDK_PACKAGES = new Set(['@temporalio/common', '@temporalio/workflow', 'nexus-rpc', 'ms', 'long']);

const packageOf = (module: string): string => {
  const [scope, name] = module.slice('node_modules/'.length).split('/');
  return scope?.startsWith('@') ? `${scope}/${name}` : (scope ?? module);
};

describe('the workflow bundle', () => {
  let dir: string;
  let built: BuiltBundle;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'duban-bundle-'));
    built = await writeWorkflowBundle(dir, bundlerLogger);
  }, 60_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('holds no package but the SDK and its own dependencies (no zod)', () => {
    const packages = new Set(built.modules.filter((m) => m.startsWith('node_modules/')).map(packageOf));
    expect(packages.has('zod')).toBe(false);
    expect([...packages].filter((p) => !SDK_PACKAGES.has(p))).toEqual([]);
  });

  it('holds no project module that imports zod or the holiday calendar', () => {
    const project = built.modules.filter((m) => !m.startsWith('node_modules/') && m.endsWith('.ts'));
    expect(project).toContain('workflows/work-point.ts');
    const offenders = project.filter((m) => {
      const source = readFileSync(path.join(ROOT, m), 'utf8');
      return /from '(zod|\.\/calendar|\.\.\/calendar|\.\.\/domain\/calendar|\.\/schedule|\.\.\/schedule)'/.test(source);
    });
    expect(offenders).toEqual([]);
  });

  it('is current until one of its sources changes, and says which', () => {
    expect(staleReason(dir)).toBeUndefined();
    const manifestFile = path.join(dir, 'workflow-bundle.json');
    const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as { sources: Record<string, string> };
    manifest.sources['workflows/work-point.ts'] = '0'.repeat(64);
    writeFileSync(manifestFile, JSON.stringify(manifest));
    expect(staleReason(dir)).toBe('workflows/work-point.ts changed since the bundle was built');
    rmSync(path.join(dir, 'workflow-bundle.js'));
    expect(staleReason(dir)).toMatch(/workflow-bundle\.js is missing$/);
  });
});
