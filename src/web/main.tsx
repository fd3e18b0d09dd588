// Entry of the web UI bundle. zod-config first: it must run before any schema is used.
import './zod-config.js';
import { createRoot } from 'react-dom/client';
import { App } from './app.js';
import './styles.css';

createRoot(document.getElementById('root')!).render(<App />);
