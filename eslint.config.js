// Lint: ESLint's and typescript-eslint's recommended rules (pure JavaScript: no per-platform binaries,
// so `npm ci` works from the lock file on every machine).
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'debian/edgeboot/**', 'debian/build/**', 'debian/.debhelper/**', 'test-output/**', '.cache/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2023, sourceType: 'module', globals: { ...globals.node } },
    rules: {
      // Parsers and filters match control characters on purpose (NUL, CR, LF in hostile input).
      'no-control-regex': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
);
