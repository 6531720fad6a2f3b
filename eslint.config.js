// @ts-check
const tseslint = require('typescript-eslint');
const prettier = require('eslint-config-prettier');
const { builtinModules } = require('node:module');
const importX = require('eslint-plugin-import-x');

/** Modules whose use inside workflow code would be I/O or non-determinism. */
const forbiddenInWorkflows = [
  ...builtinModules,
  ...builtinModules.map((m) => `node:${m}`),
  'pg',
  'fastify',
  '@temporalio/client',
  '@temporalio/worker',
  '@temporalio/activity',
  'nodemailer',
  'pino',
  'yaml',
].map((name) => ({
  name,
  message: 'workflows/ and domain/ are deterministic: no I/O or Node built-ins (use an activity).',
}));

/** The top-level source folders: an import of one is `../folder…` from any depth below another. */
const FOLDERS = [
  'activities',
  'api',
  'bench',
  'bin',
  'chaos',
  'cli',
  'common',
  'config',
  'db',
  'domain',
  'launcher',
  'scripts',
  'services',
  'test',
  'worker',
  'workflows',
];

/**
 * Issue #13's import directions: what each layer may import besides itself. `extra` are regex patterns for
 * what the folder list cannot say (api/ and activities/ may reach workflows/shared only).
 */
const LAYERS = {
  domain: { may: ['domain'], why: 'domain/ is pure: it imports only domain/.' },
  workflows: { may: ['workflows', 'domain'], why: 'workflows/ import only workflows/ and domain/.' },
  db: { may: ['db', 'domain', 'config', 'common'], why: 'db/ imports only db/, domain/, config/, common/.' },
  services: {
    may: ['services', 'db', 'domain', 'common', 'config'],
    why: 'services/ import only services/, db/, domain/, common/, config/.',
  },
  activities: {
    may: ['activities', 'services', 'db', 'domain', 'common', 'config'],
    // startWorkPoints starts the work point workflows by their shared names and ids.
    also: ['workflows/shared'],
    why: 'activities/ import only activities/, services/, db/, domain/, common/, config/ and workflows/shared.',
  },
  api: {
    may: ['api', 'services', 'db', 'domain', 'common', 'config'],
    also: ['workflows/shared'],
    why: 'api/ imports only api/, services/, db/, domain/, common/, config/ and workflows/shared.',
  },
};

const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** `no-restricted-imports` patterns for one layer: every other folder, at any `../` depth. */
function layerPatterns(name) {
  const { may, also = [], why } = LAYERS[name];
  const forbidden = FOLDERS.filter((f) => !may.includes(f));
  const patterns = [];
  const plain = forbidden.filter((f) => !also.some((a) => a.startsWith(`${f}/`)));
  patterns.push({
    regex: `^(\\.\\./)+(${plain.map(escape).join('|')})(/.*)?$`,
    message: `${why} (issue #13; see the folder's README)`,
    // workflows/ name their activities by type only (proxyActivities<Activities>): erased, never bundled.
    ...(name === 'workflows' ? { allowTypeImports: true } : {}),
  });
  for (const a of also) {
    const [folder, file] = a.split('/');
    patterns.push({
      regex: `^(\\.\\./)+${escape(folder)}(/(?!${escape(file)}$).*)?$`,
      message: `${why} (issue #13; see the folder's README)`,
    });
  }
  return patterns;
}

module.exports = tseslint.config(
  {
    ignores: [
      'node_modules/',
      'dist/',
      '.data/',
      '.tools/',
      'coverage/',
      'test/histories/',
      'test/artifacts/',
      'bench/results/',
    ],
  },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['*.js', 'scripts/*.js', 'bin/*.js'] },
        tsconfigRootDir: __dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
      ],
      '@typescript-eslint/no-explicit-any': 'error',
      // Fastify plugins and route handlers are async by contract even when they await nothing.
      '@typescript-eslint/require-await': 'off',
    },
  },
  // One block per layer: a later block's options for the same rule replace an earlier one's, so each
  // layer states everything it forbids (workflows/ and domain/ also keep their purity list).
  ...Object.keys(LAYERS).map((name) => ({
    files: [`${name}/**/*.ts`],
    rules: {
      'no-restricted-imports': 'off',
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          ...(name === 'workflows' || name === 'domain' ? { paths: forbiddenInWorkflows } : {}),
          patterns: layerPatterns(name),
        },
      ],
    },
  })),
  {
    // No import circles anywhere in the source. Type-only imports are left out: they vanish at compile time.
    files: ['**/*.ts'],
    plugins: { 'import-x': importX },
    settings: {
      'import-x/extensions': ['.ts', '.js'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/resolver-next': [importX.createNodeResolver({ extensions: ['.ts', '.js', '.json'] })],
    },
    rules: { 'import-x/no-cycle': ['error', { ignoreExternal: true }] },
  },
  {
    files: ['**/*.js'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: {
      sourceType: 'commonjs',
      globals: {
        require: 'readonly',
        module: 'writable',
        process: 'readonly',
        __dirname: 'readonly',
        console: 'readonly',
      },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
    },
  },
  prettier,
);
