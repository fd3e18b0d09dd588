#!/usr/bin/env node
// The `tunaio` binary. `npm install` builds dist/ (the `prepare` script); run `npm run build` after editing src/.
import { existsSync } from 'node:fs';

const dist = new URL('../dist/cli/tunaio.js', import.meta.url);
if (!existsSync(dist)) {
  process.stderr.write('tunaio: dist/ is missing; run `npm run build` (npm install does it) first\n');
  process.exit(1);
}
await import(dist.href);
