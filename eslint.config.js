// ESLint: typescript-eslint's type-checked rules over everything tsc compiles,
// the recommended rules over the plain JavaScript (scripts, examples).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** node:test's test(), describe() and friends return promises the runner awaits itself. */
const NODE_TEST = {
  from: 'package',
  package: 'node:test',
  name: ['test', 'it', 'describe', 'suite', 'before', 'after', 'beforeEach', 'afterEach'],
};

const NODE_GLOBALS = Object.fromEntries(
  ['process', 'console', 'Buffer', 'URL', 'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'fetch', 'AbortSignal'].map(
    (name) => [name, 'readonly'],
  ),
);

export default tseslint.config(
  { ignores: ['build/', '**/dist/', 'node_modules/', 'coverage/', 'test/prisma/generated/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': ['error', { allowForKnownSafeCalls: [NODE_TEST] }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // Off by choice: an `async` function turns a synchronous throw into a rejection, which is how
      // every public function here reports bad input (and how test doubles implement async interfaces).
      '@typescript-eslint/require-await': 'off',
      // A caught value is passed on as it is: `cause` keeps whatever was thrown.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true }],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { ...tseslint.configs.disableTypeChecked.languageOptions, globals: NODE_GLOBALS },
  },
);
