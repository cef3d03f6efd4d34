import { describe, expect, it } from 'vitest';
import { TransientError } from '../../core/errors.ts';
import { createGitLabUploadFetcher } from '../../functions/notify/upload-fetcher.ts';

/** A fetch that records what it was asked and answers from a table. */
const fakeFetch = (answer: (url: string) => Response) => {
  const calls: { url: string; token: string | null }[] = [];
  const fetcher = (async (input: string | URL | Request, init?: RequestInit) => {
    const url = String(input);
    calls.push({ url, token: new Headers(init?.headers).get('private-token') });
    return answer(url);
  }) as typeof fetch;
  return { calls, fetcher };
};

const SECRET = '0123456789abcdef0123456789abcdef';

describe('GitLab upload fetcher', () => {
  it('fetches a project upload through the API with the bot token', async () => {
    // Prepare
    const { calls, fetcher } = fakeFetch(
      () => new Response('PDFDATA', { status: 200, headers: { 'content-type': 'application/pdf; qs=1' } }),
    );
    const fetchUpload = createGitLabUploadFetcher({
      url: 'https://gitlab.example.com',
      token: async () => 'glpat-x',
      fetch: fetcher,
    });
    // Act
    const upload = await fetchUpload(
      `https://gitlab.example.com/acme/game/uploads/${SECRET}/my%20report.pdf`,
    );
    // Assess
    expect(calls).toEqual([
      {
        url: `https://gitlab.example.com/api/v4/projects/acme%2Fgame/uploads/${SECRET}/my%20report.pdf`,
        token: 'glpat-x',
      },
    ]);
    expect(upload).toEqual({
      filename: 'my report.pdf',
      contentType: 'application/pdf',
      content: Buffer.from('PDFDATA'),
    });
  });

  it('understands the /-/project/<id>/uploads form and a relative root', async () => {
    const { calls, fetcher } = fakeFetch(() => new Response('x'));
    const fetchUpload = createGitLabUploadFetcher({
      url: 'https://example.com/gitlab',
      token: async () => 't',
      fetch: fetcher,
    });
    await fetchUpload(`https://example.com/gitlab/-/project/42/uploads/${SECRET}/a.png`);
    expect(calls[0]?.url).toBe(`https://example.com/gitlab/api/v4/projects/42/uploads/${SECRET}/a.png`);
  });

  it('never sends the token to another host, and ignores what is not an upload', async () => {
    const { calls, fetcher } = fakeFetch(() => new Response('x'));
    const fetchUpload = createGitLabUploadFetcher({
      url: 'https://gitlab.example.com',
      token: async () => 't',
      fetch: fetcher,
    });
    expect(await fetchUpload(`https://evil.example/acme/game/uploads/${SECRET}/a.png`)).toBeUndefined();
    expect(await fetchUpload('https://gitlab.example.com/acme/game/-/issues/1')).toBeUndefined();
    expect(await fetchUpload('not a url')).toBeUndefined();
    expect(calls).toEqual([]);
  });

  it('leaves a file over the limit, or gone, as a link; an outage is transient', async () => {
    const big = createGitLabUploadFetcher({
      url: 'https://gitlab.example.com',
      token: async () => 't',
      maxBytes: 4,
      fetch: fakeFetch(() => new Response('too large')).fetcher,
    });
    expect(await big(`https://gitlab.example.com/a/b/uploads/${SECRET}/f.bin`)).toBeUndefined();
    const gone = createGitLabUploadFetcher({
      url: 'https://gitlab.example.com',
      token: async () => 't',
      fetch: fakeFetch(() => new Response('{"message":"404 Not found"}', { status: 404 })).fetcher,
    });
    expect(await gone(`https://gitlab.example.com/a/b/uploads/${SECRET}/f.bin`)).toBeUndefined();
    const down = createGitLabUploadFetcher({
      url: 'https://gitlab.example.com',
      token: async () => 't',
      fetch: fakeFetch(() => new Response('', { status: 503 })).fetcher,
    });
    await expect(down(`https://gitlab.example.com/a/b/uploads/${SECRET}/f.bin`)).rejects.toBeInstanceOf(
      TransientError,
    );
  });
});
