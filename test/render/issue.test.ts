import { describe, expect, it } from 'vitest';
import { renderIssue } from '../../core/stages/render/index.ts';
import { attachment, limits, mail, original, project } from './support.ts';

const render = async (input: Partial<Parameters<typeof renderIssue>[0]> = {}) => {
  const result = await renderIssue({ mail: mail(), project: project(), limits: limits(), ...input });
  if (!result.ok) throw new Error(`expected a draft, got ${result.reason}: ${result.message}`);
  return result;
};

describe('renderIssue: who wrote it', () => {
  it('starts with the sender name only, by default (the address is confidential)', async () => {
    const { value } = await render();
    expect(value.description.split('\n')[0]).toBe('**From:** Jane Doe');
    expect(value.description).not.toContain('jane@example.com');
  });

  it('shows the address when the project allows it', async () => {
    const { value } = await render({ project: project({ show_sender_address: true }) });
    expect(value.description.split('\n')[0]).toBe('**From:** Jane Doe \\<jane@example.com\\>');
  });

  it('reply-to-author: names the From mailbox, never Reply-To or Sender (GitLab takes Reply-To first)', async () => {
    const replyTo = await render({
      mail: mail({ replyTo: [{ name: 'Help Team', address: 'team@example.com' }] }),
    });
    expect(replyTo.value.description).toMatch(/^\*\*From:\*\* Jane Doe\n/);
    const sender = await render({
      mail: mail({ from: [], sender: { name: 'Bot', address: 'bot@example.com' } }),
    });
    expect(sender.value.description).toMatch(/^\*\*From:\*\* \(name not given\)\n/);
    expect(sender.value.description).not.toContain('Bot');
  });

  it('names nobody for a From that is not one plain mailbox, whatever the parser flattened', async () => {
    const group = await render({
      mail: mail({
        headers: new Map([['from', ['g: Ada Lovelace <ada@customer.example>;, mallory@evil.example']]]),
      }),
    });
    expect(group.value.description.split('\n')[0]).toBe('**From:** (name not given)');
  });

  it.each([
    ['"ceo@acme.example" <mallory@evil.example>', false, '**From:** mallory@evil.example'],
    ['"ceo@acme.example" <mallory@evil.example>', true, '**From:** mallory@evil.example'],
    [
      '"The CEO (ceo@acme.example)" <mallory@evil.example>',
      false,
      '**From:** The CEO \\<mallory@evil.example\\>',
    ],
    ['"ada@customer.example" <ada@customer.example>', true, '**From:** ada@customer.example'],
    ['"ADA@customer.example" <ada@customer.example>', false, '**From:** (name not given)'],
  ])(
    'display-name address spoof: %s (show_sender_address %s) is shown with the real address',
    async (from, show, line) => {
      const { value } = await render({
        mail: mail({ headers: new Map([['from', [from]]]) }),
        project: project({ show_sender_address: show }),
      });
      expect(value.description.split('\n')[0]).toBe(line);
      if (!line.includes('ceo@acme')) expect(value.description).not.toContain('ceo@acme.example');
    },
  );

  it('hides an address used as the display name, and neutralises the name', async () => {
    const named = await render({
      mail: mail({ from: [{ name: '"jane@example.com" @all', address: 'jane@example.com' }] }),
    });
    expect(named.value.description.split('\n')[0]).toBe('**From:** \\@all');
    const nameless = await render({ mail: mail({ from: [{ name: '', address: 'jane@example.com' }] }) });
    expect(nameless.value.description.split('\n')[0]).toBe('**From:** (name not given)');
  });
});

describe('renderIssue: issue fields', () => {
  it('takes labels from the project plus the extra ones, without duplicates, and its confidentiality', async () => {
    const { value } = await render({
      project: project({ labels: ['service-desk', 'game'], confidential: false }),
      extraLabels: ['postdesk::unverified', 'game'],
    });
    expect(value.labels).toEqual(['service-desk', 'game', 'postdesk::unverified']);
    expect(value.confidential).toBe(false);
  });

  it('titles the issue from the subject', async () => {
    const { value } = await render({ mail: mail({ subject: undefined }) });
    expect(value.title).toBe('(no subject)');
  });

  it('keeps the quotes of a new ticket, as GitLab does', async () => {
    const text =
      'Forwarding this:\n\nOn Mon, Jan 6, 2025 at 9:00 AM, Bob <bob@example.com> wrote:\n> It broke.';
    const { value } = await render({ mail: mail({ text }) });
    expect(value.description).toContain('> It broke.');
  });

  it('passes with a reason for a mail with no text at all', async () => {
    const result = await render({ mail: mail({ text: undefined, html: undefined, subject: '' }) });
    expect(result.reason).toBe('empty_body');
    expect(result.value.title).toBe('(no subject)');
    expect(result.value.description).toBe('**From:** Jane Doe');
  });
});

describe('renderIssue: template', () => {
  it('appends the template after GitLab\'s "  \\n" separator, not neutralised, so its quick actions run', async () => {
    // Prepare
    const template = '## Triage\n/label ~triage\n/assign @lead';
    // Act
    const { value } = await render({ template });
    // Assess
    expect(value.description).toBe(`**From:** Jane Doe\n\nIt crashes.  \n\n${template}`);
  });

  it('ignores an empty template', async () => {
    const { value } = await render({ template: '  \n' });
    expect(value.description).toBe('**From:** Jane Doe\n\nIt crashes.');
  });
});

describe('renderIssue: attachments', () => {
  it('plans one upload per attachment and links it after the body, images as images', async () => {
    // Prepare
    const attachments = [
      attachment({ index: 0, filename: 'report.pdf', contentType: 'application/pdf' }),
      attachment({ index: 1, filename: 'screen shot.png', contentType: 'image/png; name="screen shot.png"' }),
    ];
    // Act
    const { value } = await render({ mail: mail({ attachments }) });
    // Assess
    expect(value.uploads.map((plan) => [plan.filename, plan.contentType, plan.inline])).toEqual([
      ['report.pdf', 'application/pdf', false],
      ['screen shot.png', 'image/png', false],
    ]);
    expect(value.uploads[0]?.attachment).toBe(attachments[0]);
    expect(value.description).toBe(
      '**From:** Jane Doe\n\nIt crashes.\n\n[report.pdf](postdesk-upload://0)\n\n![screen shot.png](postdesk-upload://1)',
    );
  });

  it('makes hostile names safe: ../../etc/passwd and a right-to-left override', async () => {
    const attachments = [
      attachment({ filename: '../../etc/passwd', contentType: 'text/plain' }),
      attachment({ index: 1, filename: 'invoice\u202Efdp.exe', contentType: 'application/pdf' }),
      attachment({ index: 2, filename: 'a]b(c)[d].txt', contentType: 'text/plain' }),
    ];
    const { value } = await render({ mail: mail({ attachments }) });
    expect(value.uploads.map((plan) => plan.filename)).toEqual(['passwd', 'invoicefdp.exe', 'a]b(c)[d].txt']);
    expect(value.description).toContain('[a\\]b(c)\\[d\\].txt](postdesk-upload://2)');
    expect(value.description).not.toContain('\u202E');
  });

  it('does not upload S/MIME or PGP signatures, nor the multipart/signed protocol part (x- ignored)', async () => {
    // Prepare
    const attachments = [
      attachment({ index: 0, filename: 'smime.p7s', contentType: 'application/pkcs7-signature' }),
      attachment({ index: 1, filename: 'signature.asc', contentType: 'application/pgp-signature' }),
      attachment({ index: 2, filename: 'sig.bin', contentType: 'Application/X-Custom-Signature' }),
      attachment({ index: 3, filename: 'kept.txt', contentType: 'text/plain' }),
    ];
    const signed = mail({
      attachments,
      contentType: 'multipart/signed',
      contentTypeParams: { protocol: 'application/custom-signature', micalg: 'sha-256' },
    });
    // Act
    const result = await render({ mail: signed });
    // Assess
    expect(result.value.uploads.map((plan) => plan.filename)).toEqual(['kept.txt']);
    expect(result.detail?.['signaturesSkipped']).toBe(3);
  });

  it('never reads attachment content (metadata only; deliver streams it)', async () => {
    // The factory's open() throws: rendering must not call it.
    const result = await renderIssue({
      mail: mail({ attachments: [attachment(), attachment({ index: 1, contentId: 'x@y' })] }),
      project: project(),
      limits: limits(),
    });
    expect(result.ok).toBe(true);
  });

  it('is not polluted by prototype keys in names, types or parameters', async () => {
    const params = JSON.parse(
      '{"__proto__": {"polluted": "yes"}, "protocol": "application/x-none"}',
    ) as Record<string, string>;
    const result = await render({
      mail: mail({
        contentType: 'multipart/signed',
        contentTypeParams: params,
        subject: '__proto__',
        attachments: [
          attachment({ filename: '__proto__', contentType: '__proto__' }),
          attachment({ filename: '', contentType: 'constructor/x' }),
        ],
      }),
    });
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(result.value.uploads.map((plan) => plan.filename)).toEqual(['__proto__', 'attachment-2.x']);
    expect(result.value.uploads.map((plan) => plan.contentType)).toEqual([
      'application/octet-stream',
      'constructor/x',
    ]);
  });
});

describe('renderIssue: length cap', () => {
  it('truncates a 2 MB body with a marker and attaches the original mail', async () => {
    // Prepare
    const text = `${'Lorem ipsum dolor sit amet. '.repeat(20)}\n`.repeat(3800);
    const caps = limits();
    // Act
    const result = await render({
      mail: mail({ text, attachments: [attachment()] }),
      limits: caps,
      original: original(),
      template: '/label ~triage',
    });
    // Assess
    const { description, uploads } = result.value;
    expect(text.length).toBeGreaterThan(2_000_000);
    expect(description.length).toBeLessThan(caps.max_description_chars);
    expect(description.length).toBeGreaterThan(caps.max_description_chars - 2000);
    expect(description).toContain(
      '**Truncated — the full mail is attached as [original.eml](postdesk-upload://1).**',
    );
    expect(uploads.map((plan) => [plan.filename, plan.contentType])).toEqual([
      ['report.pdf', 'application/pdf'],
      ['original.eml', 'message/rfc822'],
    ]);
    expect(description).toContain('[report.pdf](postdesk-upload://0)');
    expect(description.endsWith('  \n\n/label ~triage')).toBe(true);
    expect(result.detail?.['truncated']).toBe(true);
  });

  it('says it truncated even when the pipeline gave no original', async () => {
    const { value } = await render({
      mail: mail({ text: 'x'.repeat(5000) }),
      limits: limits({ max_description_chars: 1000 }),
    });
    expect(value.description.length).toBeLessThan(1000);
    expect(value.description).toContain('**Truncated — the mail is longer than the forge accepts');
    expect(value.uploads).toEqual([]);
  });

  it('closes a code block it cuts, so the notice and the template stay outside it', async () => {
    // Prepare
    const text = `Log:\n\n\`\`\`\n${'line of log output\n'.repeat(500)}\`\`\`\n`;
    // Act
    const { value } = await render({
      mail: mail({ text }),
      limits: limits({ max_description_chars: 2000 }),
      template: '/label ~logs',
    });
    // Assess
    const lines = value.description.split('\n');
    const fences = lines.filter((line) => /^`{3,}/.test(line));
    expect(fences.length % 2).toBe(0);
    expect(lines.indexOf('/label ~logs')).toBeGreaterThan(lines.lastIndexOf(fences[fences.length - 1] ?? ''));
    expect(value.description.length).toBeLessThan(2000);
  });
});
