/**
 * This process's CPU time in milliseconds (user + system), for tests that check that work grows
 * linearly or stays under a bound. Unlike the wall clock it does not count time the process spent
 * waiting for a core on a shared machine, so such a test says the same on a busy machine as on an
 * idle one. Speed itself is measured by the benchmarks (`npm run bench`), never by a test.
 */
export const cpuMs = (): number => {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
};
