// Entry of the web UI bundle.
import * as z from 'zod';
import { createRoot } from 'react-dom/client';
import { App } from './app.js';
import './styles.css';

// zod's JIT probes `new Function`, which the center's CSP (no 'unsafe-eval', web-ui.ts) refuses and
// Chromium reports as a violation on every page; the UI's few parses do not need the JIT
z.config({ jitless: true });

createRoot(document.getElementById('root')!).render(<App />);
