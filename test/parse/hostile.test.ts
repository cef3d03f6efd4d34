import { describe, expect, it } from 'vitest';
import { parseMail } from '../../core/stages/parse/index.ts';
import { cpuMs } from '../support/cpu-time.ts';
import { bufferOpener, corpusMail, fileBytes, limitsWith, parsedOf, parseFile } from './fixtures.ts';

/**
 * Hostile input (mailparser's `test/hostile-input-test.js` is the model): the fixtures built to
 * break parsers must parse or be rejected in bounded time, and parse time must grow linearly:
 * time at 2n is compared with time at n, so a super-linear regex or loop shows up as a ratio far
 * above 2. The bound is generous (3.5) and each side takes the fastest of several interleaved
 * runs, so a loaded two-core machine does not make it flaky.
 */

const limits = limitsWith({ max_header_bytes: 4 * 1024 * 1024, max_parts: 100_000 });

const timeParse = async (raw: Buffer): Promise<number> => {
  const started = cpuMs();
  const result = await parseMail(bufferOpener(raw), { limits });
  const elapsed = cpuMs() - started;
  expect(result.ok).toBe(true);
  return elapsed;
};

/** Ratio of the parse time at 2n to the time at n: fastest of `repeats` interleaved runs each. */
const growth = async (make: (n: number) => Buffer, n: number, repeats = 7): Promise<number> => {
  const small = make(n);
  const large = make(2 * n);
  await timeParse(small);
  await timeParse(large);
  let fastestSmall = Number.POSITIVE_INFINITY;
  let fastestLarge = Number.POSITIVE_INFINITY;
  for (let run = 0; run < repeats; run++) {
    fastestSmall = Math.min(fastestSmall, await timeParse(small));
    fastestLarge = Math.min(fastestLarge, await timeParse(large));
  }
  // Under 200 ms of CPU for 2n, a ratio measures garbage collection, not the algorithm: quadratic
  // work at these sizes (1-2 MB) takes seconds.
  return fastestLarge < 200 ? 1 : fastestLarge / fastestSmall;
};

const mail = (headers: string, body: string): Buffer =>
  Buffer.from(`From: a@example.com\r\nTo: b@example.com\r\n${headers}\r\n\r\n${body}`, 'latin1');

const shapes: Record<string, { make: (n: number) => Buffer; n: number }> = {
  'deeply nested HTML (htmllargecallstack)': {
    make: (n) =>
      mail(
        'Subject: html\r\nContent-Type: text/html; charset=utf-8',
        `${'<div><table><tr><td>'.repeat(n / 40)}x${'</td></tr></table></div>\r\n'.repeat(n / 40)}`,
      ),
    n: 1_000_000,
  },
  'one 2 MB text/plain line without a line break (mailparser #389)': {
    make: (n) => mail('Subject: text\r\nContent-Type: text/plain; charset=utf-8', 'a.b:c/'.repeat(n / 6)),
    n: 1_000_000,
  },
  'quoted-printable soft breaks': {
    make: (n) =>
      mail(
        'Subject: qp\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable',
        '=E9t=E9 '.repeat(n / 64).replace(/(.{72})/g, '$1=\r\n'),
      ),
    n: 1_000_000,
  },
  'a Content-Type with thousands of empty parameters (linear split)': {
    make: (n) => mail(`Subject: params\r\nContent-Type: text/plain; ${';'.repeat(n)}charset=utf-8`, 'body'),
    n: 200_000,
  },
  'References full of unclosed comments and ids': {
    make: (n) => mail(`Subject: refs\r\nReferences: ${'(<a@b> '.repeat(n / 7)}`, 'body'),
    n: 200_000,
  },
  'a Cc of thousands of quoted, encoded and grouped addresses': {
    make: (n) =>
      mail(`Subject: cc\r\nCc: ${'"x, y" <a@b>, =?UTF-8?B?44GC?= <c@d>, g: e@f;, '.repeat(n / 50)}`, 'body'),
    n: 200_000,
  },
  'a Subject of thousands of encoded words': {
    make: (n) => mail(`Subject: ${'=?UTF-8?B?44GC?= '.repeat(n / 16)}`, 'body'),
    n: 200_000,
  },
  'thousands of MIME parts': {
    make: (n) =>
      mail(
        'Subject: parts\r\nContent-Type: multipart/mixed; boundary="p"',
        `${'--p\r\nContent-Type: application/octet-stream\r\n\r\nAAAA\r\n'.repeat(n)}--p--\r\n`,
      ),
    n: 2_000,
  },
};

describe('hostile fixtures parse, or get a reason, in bounded time', () => {
  it.each([
    ['mailparser/htmllargecallstack.eml', 'Kill the HTML parser'],
    ['mailparser/outofmemory.eml', 'Cause out of memory error in the mailparser'],
    ['mailparser/large_text.eml', '[Bug 381598] Re: ubiquity crashes in ubuntu 9.04 installation'],
  ])('%s', async (name, subject) => {
    // Prepare
    const path = corpusMail(name);
    const started = cpuMs();
    // Act
    const mail = parsedOf(await parseFile(path));
    // Assess
    expect(cpuMs() - started).toBeLessThan(5000);
    expect(mail.subject).toBe(subject);
    expect((mail.text ?? mail.html ?? '').length).toBeGreaterThan(fileBytes(path).length / 2);
  });
});

describe('parse time grows linearly (n vs 2n)', () => {
  it.each(Object.entries(shapes))(
    '%s',
    async (_name, { make, n }) => {
      // Act
      const ratio = await growth(make, n);
      // Assess
      expect(ratio).toBeLessThan(3.5);
    },
    60_000,
  );
});
