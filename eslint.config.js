// Lint rules, including the architecture's import boundaries (DESIGN §2):
// protocol imports nothing of ours; core imports only protocol; agent and center never import
// each other; web imports only core; cli is the composition root and may import everything.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

const layer = (name) => [`**/${name}/*`, `**/${name}`, `../${name}/*`, `../../${name}/*`];
const forbid = (names, why) => ({
  'no-restricted-imports': [
    'error',
    { patterns: [{ group: names.flatMap(layer), message: why }] },
  ],
});

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'data/**', 'src/web/dist/**', 'coverage/**', '.bench/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    files: ['src/protocol/**'],
    rules: forbid(['core', 'agent', 'center', 'web', 'cli'], 'protocol is pure and imports nothing of ours (DESIGN §2)'),
  },
  {
    files: ['src/protocol/**'],
    ignores: ['src/protocol/**/*.test.ts'],
    rules: {
      // protocol is pure: no I/O, no clock, no config.
      'no-restricted-globals': ['error', 'process', 'setTimeout', 'setInterval'],
    },
  },
  {
    files: ['src/core/**'],
    rules: forbid(['agent', 'center', 'web', 'cli'], 'core imports only protocol (DESIGN §2)'),
  },
  {
    files: ['src/agent/**'],
    rules: forbid(['center', 'web', 'cli'], 'agent never imports center (DESIGN §2)'),
  },
  {
    files: ['src/center/**'],
    rules: forbid(['agent', 'web', 'cli'], 'center never imports agent (DESIGN §2)'),
  },
  {
    files: ['src/web/**'],
    languageOptions: { globals: { ...globals.browser } },
    rules: forbid(['protocol', 'agent', 'center', 'cli'], 'web imports only core (DESIGN §2)'),
  },
);
