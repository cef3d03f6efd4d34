import { type MockInstance, vi } from 'vitest';

/**
 * Captures what Powertools writes: its Logger and Metrics print through a `Console` bound to
 * `process.stdout`/`process.stderr`, so spying on the streams' `write` sees every line exactly as
 * CloudWatch would.
 */
export const captureStdout = () => {
  const lines: string[] = [];
  const spies: MockInstance[] = [];
  for (const stream of [process.stdout, process.stderr]) {
    spies.push(
      vi.spyOn(stream, 'write').mockImplementation((chunk: string | Uint8Array) => {
        const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
        for (const line of text.split('\n')) if (line.trim() !== '') lines.push(line);
        return true;
      }),
    );
  }
  return {
    lines,
    /** Every line that parses as JSON. */
    json(): Record<string, unknown>[] {
      return lines.flatMap((line) => {
        try {
          return [JSON.parse(line) as Record<string, unknown>];
        } catch {
          return [];
        }
      });
    },
    restore(): void {
      for (const spy of spies) spy.mockRestore();
    },
  };
};
