'use strict';
/**
 * `npm run bench` on a fresh clone: install dependencies when they are missing or stale, then hand over to
 * bench/run.ts with the arguments (`--quick`, `--help`). The benchmark installs the Temporal binaries itself.
 */
const path = require('node:path');
const { prepareAndRun } = require('./prepare');

prepareAndRun(path.join('bench', 'run.ts'), process.argv.slice(2));
