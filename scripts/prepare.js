'use strict';
/**
 * What `npm start` and `npm run bench` do on a fresh clone before their TypeScript entry point can run: install the
 * npm dependencies when they are missing or stale, then hand over to the entry point (node --import tsx), passing on
 * its exit code. Plain CommonJS without dependencies, because it runs before `npm install`.
 */
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..');

function fail(message) {
  process.stderr.write(`duban: ${message}\n`);
  process.exit(1);
}

function mtime(file) {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return undefined;
  }
}

function needsInstall() {
  if (!fs.existsSync(path.join(root, 'node_modules'))) return 'node_modules is missing';
  const lock = mtime(path.join(root, 'package-lock.json'));
  // npm writes node_modules/.package-lock.json at the end of every install: it dates the installed tree.
  const installed = mtime(path.join(root, 'node_modules', '.package-lock.json'));
  if (installed === undefined) return 'node_modules was not installed by npm';
  if (lock !== undefined && lock > installed) return 'package-lock.json changed since the last install';
  return undefined;
}

function npmCi(reason) {
  process.stdout.write(`duban: ${reason}; running npm ci…\n`);
  // Under `npm start` / `npm run …`, npm_execpath names the npm that runs us; use the same one.
  const npmCli = process.env.npm_execpath;
  const [command, args] =
    npmCli && npmCli.endsWith('.js')
      ? [process.execPath, [npmCli, 'ci']]
      : [process.platform === 'win32' ? 'npm.cmd' : 'npm', ['ci']];
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' });
  if (result.error) fail(`could not run npm ci (${result.error.message}): install Node.js with npm, then retry`);
  if (result.status !== 0) {
    fail(
      `npm ci failed (${result.signal ? `signal ${result.signal}` : `exit code ${result.status}`}): see its output above`,
    );
  }
}

/** Installs what is missing, then runs `entry` (a .ts file under the project) with `args`; exits as it exits. */
function prepareAndRun(entry, args) {
  const reason = needsInstall();
  if (reason) npmCi(reason);
  try {
    require.resolve('tsx', { paths: [root] });
  } catch {
    fail('tsx is not installed even though node_modules exists: run npm ci, then retry');
  }
  const child = spawn(process.execPath, ['--import', 'tsx', entry, ...args], { cwd: root, stdio: 'inherit' });
  child.on('error', (err) => fail(`could not start ${entry}: ${err.message}`));
  // A Ctrl-C in a terminal reaches the entry point directly as well; it counts signals that close together once.
  // Forward only the first, so that a process manager's SIGTERM to this script still stops what it started.
  let forwarded = false;
  const forward = (signal) => {
    if (forwarded) return;
    forwarded = true;
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  };
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  child.on('exit', (code, signal) => {
    process.exit(signal ? 128 + (os.constants.signals[signal] || 0) : (code ?? 1));
  });
}

module.exports = { prepareAndRun };
