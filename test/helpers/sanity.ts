// The Sanity expectations and table readers live in src/testing/ so that the fault harness shares them.
export * from '../../src/testing/sanity-expected.js';
