/** The error `fn` throws; fails the test when it returns instead, so messages can be compared exactly. */
export function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a throw, but the call returned');
}
