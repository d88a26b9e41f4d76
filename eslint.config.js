// ESLint for the web client (gateway/web): the recommended rules, browser globals.
// `make lint-web` runs it with tsc (gateway/tsconfig.json), which checks the types.
import js from '@eslint/js';
import globals from 'globals';

export default [
  // gateway/web/vendor/: npm packages' own builds, copied as published (tools/vendor-web.sh).
  { ignores: ['node_modules/', '.venv/', '.venv-tools/', '.run/', 'gateway/web/vendor/'] },
  js.configs.recommended,
  {
    files: ['gateway/web/**/*.js'],
    languageOptions: {
      ecmaVersion: 2023,
      sourceType: 'module',
      globals: globals.browser,
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      eqeqeq: 'error',
      'no-implicit-globals': 'error',
      'no-shadow': 'error',
      'no-var': 'error',
      'prefer-const': 'error',
    },
  },
  {
    files: ['eslint.config.js'],
    languageOptions: { sourceType: 'module', globals: globals.node },
  },
];
