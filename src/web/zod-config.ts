// Imported first by main.tsx, before any module that builds or parses a schema: zod's JIT probes
// `new Function`, which the center's CSP (no 'unsafe-eval', center/web-ui.ts) refuses and Chromium
// reports as a violation on every page. The UI's few parses do not need the JIT.
import * as z from 'zod';

z.config({ jitless: true });
