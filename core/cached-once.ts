/**
 * Cold-start work done once and shared: the first call starts `build`, every later call gets the
 * same promise. A failed build is forgotten, so the next call (the next invocation) tries again
 * instead of every invocation of a warm container failing with the first cold start's error.
 * `onError` sees the failure once, for the log.
 */
export const cachedOnce = <T>(
  build: () => Promise<T>,
  onError?: (error: unknown) => void,
): (() => Promise<T>) => {
  let current: Promise<T> | undefined;
  return function getCached(): Promise<T> {
    if (current === undefined) {
      const building = build();
      current = building;
      building.catch((error: unknown) => {
        if (current === building) current = undefined;
        onError?.(error);
      });
    }
    return current;
  };
};
