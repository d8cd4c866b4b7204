import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'bench/out/**'] },
  js.configs.recommended,
  ...tseslint.configs.strict,
  {
    rules: {
      // TypeScript checks names itself; the rule does not know Node's globals.
      'no-undef': 'off',
      // noUncheckedIndexedAccess makes every typed-array read optional; loops within bounds assert it.
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    // Worker code runs in another thread: it may use pure helpers and the
    // thread protocol, never service wiring, the Kafka client or metrics.
    files: ['workers/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['kafkajs', 'prom-client', 'pino', 'piscina'], message: 'workers/ must not use service wiring' },
            { regex: '^\\.\\./src/(?!protocol/|decode/|shared/)', message: 'workers/ may import only src/protocol/, src/decode/ and src/shared/ (pure) from the main-thread code' },
            { regex: '^\\.\\./\\.\\./src/(?!protocol/|decode/|shared/)', message: 'workers/ may import only src/protocol/, src/decode/ and src/shared/ (pure) from the main-thread code' },
          ],
        },
      ],
    },
  },
  {
    // Only src/kafka/ speaks to the Kafka client; the rest speaks in readings, chunks and windows.
    files: ['src/**/*.ts'],
    ignores: ['src/kafka/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [{ name: 'kafkajs', message: 'only src/kafka/ imports the Kafka client' }],
          patterns: [{ regex: '^(\\.\\./)+workers/', message: 'main-thread code never imports worker internals' }],
        },
      ],
    },
  },
);
