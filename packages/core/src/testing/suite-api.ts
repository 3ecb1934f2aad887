/**
 * The slice of a test runner's API the conformance suites use: node:test's `describe`/`test`
 * fit, and so do mocha's and vitest's. One definition shared by every suite.
 */
export interface SuiteTestApi {
  describe(name: string, fn: () => void | Promise<void>): unknown;
  test(name: string, fn: () => void | Promise<void>): unknown;
}
