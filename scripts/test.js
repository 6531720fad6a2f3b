#!/usr/bin/env node
'use strict';
/**
 * `npm test`: the whole suite, the same command .ci/run calls. On a fresh clone it installs the
 * npm dependencies and the Temporal binaries first (both idempotent and fast when present), then
 * runs jest and ends with one plain summary line ("tests: N passed, M failed").
 * Extra arguments go to jest, e.g. `npm test -- test/domain`.
 */
const { spawnSync } = require('node:child_process');
const { existsSync, mkdtempSync, readFileSync, rmSync, statSync } = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const run = (cmd, args, opts = {}) => spawnSync(cmd, args, { cwd: root, stdio: 'inherit', ...opts });

function needsInstall() {
  const marker = path.join(root, 'node_modules', '.package-lock.json');
  if (!existsSync(marker)) return true;
  return statSync(path.join(root, 'package-lock.json')).mtimeMs > statSync(marker).mtimeMs;
}

if (needsInstall()) {
  console.log('duban: installing npm dependencies (npm ci)…');
  if (run('npm', ['ci', '--no-audit', '--no-fund']).status !== 0) {
    console.error('duban: npm ci failed; see the output above.');
    process.exit(1);
  }
}
if (run(process.execPath, ['--import', 'tsx', 'launcher/binaries.ts']).status !== 0) process.exit(1);

const dir = mkdtempSync(path.join(os.tmpdir(), 'duban-jest-'));
const resultsFile = path.join(dir, 'results.json');
const jest = run(process.execPath, [
  require.resolve('jest/bin/jest', { paths: [root] }),
  '--json',
  `--outputFile=${resultsFile}`,
  ...process.argv.slice(2),
]);
let summary = 'tests: no results (jest did not finish)';
try {
  const r = JSON.parse(readFileSync(resultsFile, 'utf8'));
  summary = `tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests} skipped`;
  if (r.numRuntimeErrorTestSuites > 0) summary += ` (${r.numRuntimeErrorTestSuites} suites failed to run)`;
} catch {
  /* jest crashed before writing results; its output above says why */
}
rmSync(dir, { recursive: true, force: true });
console.log(summary);
process.exit(jest.status ?? 1);
