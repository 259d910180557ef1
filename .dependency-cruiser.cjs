// The layering of sse-sink, checked by `npm test` (npm run lint:deps). Data flows one way:
// sse -> sources -> ingest -> store, meeting only through the seam types in src/core.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'core-imports-nothing',
      comment: 'src/core holds the seam types every stage shares: it imports nothing of the project.',
      severity: 'error',
      from: { path: '^src/core/' },
      to: { path: '^(src|test|bench|harness)/', pathNot: '^src/core/' },
    },
    {
      name: 'common-imports-only-core',
      comment: 'src/common (errors, time, logging, retry) serves every stage, so it may use only core.',
      severity: 'error',
      from: { path: '^src/common/' },
      to: { path: '^(src|test|bench|harness)/', pathNot: '^src/(core|common)/' },
    },
    {
      name: 'sse-is-generic',
      comment: 'The SSE client knows nothing of the sources, the ingest loop or the store.',
      severity: 'error',
      from: { path: '^src/sse/' },
      to: { path: '^(src|test|bench|harness)/', pathNot: '^src/(core|common|sse)/' },
    },
    {
      name: 'sources-stay-upstream',
      comment: 'A source reads its upstream and normalizes; it never imports the store, the ingest loop or the CLI.',
      severity: 'error',
      from: { path: '^src/sources/' },
      to: { path: '^(src|test|bench|harness)/', pathNot: '^src/(core|common|sse|sources)/' },
    },
    {
      name: 'one-source-does-not-reach-into-another',
      severity: 'error',
      from: { path: '^src/sources/([^/]+)/' },
      to: { path: '^src/sources/', pathNot: '^src/sources/$1/' },
    },
    {
      name: 'ingest-knows-only-seams',
      comment: 'The ingest loop drives a Source into a Store through core types: it imports no source and no store.',
      severity: 'error',
      from: { path: '^src/ingest/' },
      to: { path: '^(src|test|bench|harness)/', pathNot: '^src/(core|common|ingest)/' },
    },
    {
      name: 'store-knows-only-seams',
      comment: 'A store writes what core describes; it never imports sources, the SSE client, ingest or the CLI.',
      severity: 'error',
      from: { path: '^src/store/' },
      to: { path: '^(src|test|bench|harness)/', pathNot: '^src/(core|common|store)/' },
    },
    {
      name: 'simulators-import-no-code-under-test',
      comment: 'The simulated upstreams compute what they serve on their own, so that a test against them proves something.',
      severity: 'error',
      from: { path: '^src/simulators/' },
      to: { path: '^(src|test|bench|harness)/', pathNot: '^src/simulators/' },
    },
    {
      name: 'product-imports-no-test-code',
      comment: 'Nothing shipped imports tests, the bench or the fault harness.',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(test|bench|harness)/' },
    },
    {
      name: 'no-circular',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
  },
};
