import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderIssue, renderNote } from '../../core/stages/render/index.ts';
import { cpuMs } from '../support/cpu-time.ts';
import { CORPUS, limits, parseFixture, project, RENDER_FIXTURES } from './support.ts';

const CHARSETS = join(CORPUS, 'emails/charsets');
/** Control characters and render's internal markers: none may reach the forge. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: asserting that none reach the forge.
const FORBIDDEN = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\uFDD0-\uFDEF]/;

const issueOf = async (file: string) => {
  const result = await renderIssue({
    mail: await parseFixture(join(CHARSETS, file)),
    project: project(),
    limits: limits(),
  });
  if (!result.ok) throw new Error(`${file}: ${result.reason}`);
  return result.value;
};

describe('real mail in real charsets: titles and bodies come out right', () => {
  it.each([
    ['mail-iso-2022-jp-body.eml', 'まみむめも', 'すみません。'],
    [
      'mimekit-iso-2022-jp-subject-body.eml',
      '日本語メールテスト (testing Japanese emails)',
      '日本語が  \n正常に  \n送れているか',
    ],
    ['mail-iso-2022-jp-folded-subject.eml', 'Re: TEST テストテスト', 'Hello'],
    [
      'mail-shift_jis-8bit-body.eml',
      'test',
      'あいうえお\n\nこのメールはテスト用のメールです。\n\n今後ともよろしくお願い申し上げます！',
    ],
    [
      'mail-euc-kr-q-subject-base64-body.eml',
      'NOTE: 한국말로 하는 것',
      '대부분의 마찬가지로, 우리는 하나님을 믿습니다.\n\n제 이름은 Jamis입니다.',
    ],
    [
      'mail-euc-kr-body-utf-8-mixed-subject.eml',
      'Re: Test: "漢字" mid "漢字" tail',
      '제 이름은 Jamis입니다.',
    ],
    ['mail-ks_c_5601-1987-8bit-body.eml', 'test', '스티해'],
    ['mimekit-koi8-r-qp-body-tnef.eml', 'rr test 7', 'шостий'],
    [
      'mail-windows-1252-b-from-raw-8bit-subject.eml',
      'Formação FrenetikPolis: Mega Campanha Final Verão | Cursos de Setembro',
      '**From:** Formação Frenetikpolis',
    ],
    ['mail-windows-1251-b-from-qp-body.eml', '[0]: XXXXXXX XXXXX XXXXX !', '**From:** Атиковa'],
    [
      'mail-iso-8859-1-rfc2231-and-q-filename.eml',
      'Eelanalüüsi päring',
      '![Eelanalüüsi päring.jpg](postdesk-upload://0)',
    ],
    ['mail-raw-utf-8-subject-iso-8859-1-body.eml', 'GA.comô has a lead for you', 'Body Text - not important'],
  ])('%s', async (file, title, body) => {
    // Act
    const issue = await issueOf(file);
    // Assess
    expect(issue.title).toBe(title);
    expect(issue.description).toContain(body);
    expect(issue.description).not.toContain('\uFFFD');
  });

  it('keeps international attachment names (RFC 2231, encoded words, raw 8-bit)', async () => {
    expect(
      (await issueOf('mail-utf-8-b-word-long-filename.eml')).uploads.map((plan) => plan.filename),
    ).toEqual(['かきくけこかきくけこかきくけこかきくけこかきくけこ.txt']);
    expect((await issueOf('mail-raw-8bit-utf-8-filename.eml')).uploads.map((plan) => plan.filename)).toEqual([
      'ciële.txt',
    ]);
    expect(
      (await issueOf('mimekit-koi8-r-qp-body-tnef.eml')).uploads.map((plan) => plan.contentType),
    ).toEqual(['application/ms-tnef']);
  });
});

const emlFiles = (dir: string): string[] =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return emlFiles(path);
    return name.endsWith('.eml') ? [path] : [];
  });

describe('every .eml of the corpus renders', () => {
  const files = [
    ...emlFiles(join(CORPUS, 'emails')),
    ...emlFiles(join(CORPUS, 'replies')),
    ...emlFiles(RENDER_FIXTURES),
  ];

  it.each(files.map((path) => [relative(CORPUS, path), path]))('%s', async (_name, path) => {
    // Prepare
    const parsed = await parseFixture(path);
    const caps = limits();
    // Act
    const started = cpuMs();
    const issue = await renderIssue({ mail: parsed, project: project(), limits: caps });
    const note = await renderNote({
      mail: parsed,
      project: project(),
      limits: caps,
      internal: false,
      automated: false,
    });
    const elapsed = cpuMs() - started;
    // Assess
    expect(issue.ok).toBe(true);
    if (issue.ok) {
      expect(issue.value.description.length).toBeLessThan(caps.max_description_chars);
      expect(issue.value.description).not.toMatch(FORBIDDEN);
      expect(issue.value.title.length).toBeGreaterThan(0);
    }
    expect(note.ok || (!note.ok && note.reason === 'empty_reply')).toBe(true);
    expect(elapsed).toBeLessThan(3000);
  });
});
