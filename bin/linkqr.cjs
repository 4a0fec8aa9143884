#!/usr/bin/env node
'use strict';
// The CLI runs the same bundle that ships (built by `npm run build`, which `npm ci` runs via `prepare`).
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 24 || (major === 24 && minor < 19)) {
  process.stderr.write(
    `linkqr: needs Node.js 24.19 or newer; this is ${process.version}. ` +
      'Run it through npm (`npm start`, `npx linkqr …`), which uses the Node.js that `npm ci` installed in node_modules, or install Node.js 24.\n',
  );
  process.exit(1);
}
// V8's compiled code for the bundle, kept beside it: parsing the 2 MB bundle is most of a command's
// start otherwise (the single executable carries the same cache inside it). Where dist/ is not
// writable, Node skips the cache and the command runs all the same.
require('node:module').enableCompileCache(require('node:path').join(__dirname, '../dist/.compile-cache'));
require('../dist/linkqr.cjs');
