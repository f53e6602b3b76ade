/**
 * Polls until `done()` holds or `deadlineMs` passes; returns whether it held. Waits never assert on time: the
 * test's own assertions afterwards say what was missing.
 */
export async function until(done: () => boolean, deadlineMs = 15000, stepMs = 50): Promise<boolean> {
  for (const end = Date.now() + deadlineMs; Date.now() < end; await new Promise((r) => setTimeout(r, stepMs))) {
    if (done()) return true;
  }
  return done();
}
