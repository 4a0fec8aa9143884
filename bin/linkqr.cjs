#!/usr/bin/env node
'use strict';
// The CLI runs the same bundle that ships (built by `npm run build`, which `npm ci` runs via `prepare`).
require('../dist/linkqr.cjs');
