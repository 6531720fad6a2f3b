#!/usr/bin/env node
'use strict';
// The duban CLI. Runs the TypeScript sources directly (tsx), so it works in a fresh clone after npm install.
require('tsx/cjs/api').register();
require('../cli/main.ts').main();
