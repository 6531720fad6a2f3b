'use strict';
/**
 * `npm start` on a fresh clone: install dependencies when they are missing or stale, then hand over to the
 * launcher (launcher/main.ts). Plain CommonJS without dependencies, because it runs before `npm install`.
 */
const path = require('node:path');
const { prepareAndRun } = require('./prepare');

prepareAndRun(path.join('launcher', 'main.ts'), []);
