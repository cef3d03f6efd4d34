import { describe, expect, it } from 'vitest';
import { decodeBytes, decodeUtf7, resolveCharset } from '../../core/stages/parse/charset.ts';
import { corpusMail, parseFixture, parseOk, readAll } from './fixtures.ts';

/**
 * Every charset fixture, with the words a person reads in its bytes. `subject`, `text`, `html`
 * and `filename` must contain the words; no decoded field may hold U+FFFD unless the bytes are
 * invalid (then the expectation says so).
 */
interface CharsetCase {
  subject?: string[];
  text?: string[];
  html?: string[];
  filename?: string[];
  from?: string;
  /** Text in `warnings`, when the decoder had to guess or repair. */
  warning?: string;
  /** The bytes hold an invalid sequence: U+FFFD is the honest result. */
  replacement?: boolean;
}

const corpusCases: Record<string, CharsetCase> = {
  'charsets/mail-big5-label-utf-8-mojibake.eml': {
    // Big5 bytes read as Latin-1 and saved as UTF-8, labelled big5: repaired to the Chinese they were.
    subject: ['4d8119', '(大補泡麵專賣) 大家說英語 每日聽MP3 (2004年6月份) 繁體中文光碟版 (英語教學)'],
    html: ['軟體帝國更新迅速', 'Yahoo! 工具列 - 內置防止彈出視窗工能！'],
    warning: 'double-encoded',
  },
  'charsets/mail-euc-kr-body-utf-8-mixed-subject.eml': {
    subject: ['Re: Test: "漢字" mid "漢字" tail'],
    text: ['대부분의 마찬가지로, 우리는 하나님을 믿습니다.', '제 이름은 Jamis입니다.'],
  },
  'charsets/mail-euc-kr-q-subject-base64-body.eml': {
    subject: ['NOTE: 한국말로 하는 것'],
    text: ['대부분의 마찬가지로', '제 이름은 Jamis입니다.'],
  },
  'charsets/mail-euc-kr-raw-utf-8-date-comment.eml': {
    subject: ['NOTE: 한국말로 하는 것'],
    text: ['하나님을 믿습니다'],
  },
  'charsets/mail-iso-2022-jp-body.eml': { subject: ['まみむめも'], text: ['すみません。'] },
  'charsets/mail-iso-2022-jp-folded-subject.eml': { subject: ['Re: TEST テストテスト'], text: ['Hello'] },
  'charsets/mail-iso-2022-jp-rfc2231-filename-invalid.eml': {
    // %8A is not a byte of ISO-2022-JP: marked, not guessed (mailparser turned it into a "j").
    filename: ['01 Quien Te Dij\ufffdat. Pitbull.mp3'],
    text: ['Test attachments oddly encoded with japanese charset.'],
    warning: 'invalid in iso-2022-jp',
    replacement: true,
  },
  'charsets/mail-iso-8859-1-label-utf-8-body-7bit-cte.eml': {
    // Labelled iso-8859-1, bytes are UTF-8 (C3 86, C2 A9).
    text: ['DISCOVERÆ CARD', '©2002 Discover Bank'],
    html: ['DISCOVERÆ CARD'],
    warning: 'labelled iso-8859-1 but the bytes are UTF-8',
  },
  'charsets/mail-iso-8859-1-rfc2231-and-q-filename.eml': {
    subject: ['Eelanalüüsi päring'],
    filename: ['Eelanalüüsi päring.jpg'],
  },
  'charsets/mail-ks_c_5601-1987-8bit-body.eml': { text: ['스티해'] },
  'charsets/mail-no-charset-utf-8-body.eml': {
    text: ['Envoyé par le service de messagerie texte de Bell Mobilité.'],
  },
  'charsets/mail-none-charset-bad-b-word.eml': { subject: ['TEST'], text: ['TEST'] },
  'charsets/mail-raw-8bit-utf-8-filename.eml': { filename: ['ciële.txt'], text: ['This is the first part.'] },
  'charsets/mail-raw-utf-8-subject-iso-8859-1-body.eml': {
    subject: ['GA.comô has a lead for you'],
    text: ['Body Text - not important'],
  },
  'charsets/mail-shift_jis-8bit-body.eml': {
    text: ['あいうえお', 'このメールはテスト用のメールです。', '今後ともよろしくお願い申し上げます！'],
  },
  'charsets/mail-us-ascii-label-utf-8-body.eml': {
    text: ['Envoyé par le service de messagerie texte de Bell Mobilité.'],
    warning: 'labelled us-ascii but the bytes are UTF-8',
  },
  'charsets/mail-utf-8-b-word-long-filename.eml': {
    subject: ['まみむめも'.repeat(10)],
    filename: [`${'かきくけこ'.repeat(5)}.txt`],
  },
  'charsets/mail-windows-1251-b-from-qp-body.eml': { from: 'Атиковa', text: ['scanned for viruses'] },
  'charsets/mail-windows-1252-b-from-raw-8bit-subject.eml': {
    subject: ['Formação FrenetikPolis: Mega Campanha Final Verão | Cursos de Setembro'],
    from: 'Formação Frenetikpolis',
    warning: 'not UTF-8',
  },
  'charsets/mail-x-unknown-charset-utf-8-body.eml': {
    text: ['Envoyé par le service de messagerie texte de Bell Mobilité.'],
  },
  'charsets/mimekit-iso-2022-jp-subject-body.eml': {
    subject: ['日本語メールテスト (testing Japanese emails)'],
    text: ['日本語が\n正常に\n送れているか\nテスト.'],
  },
  'charsets/mimekit-koi8-r-qp-body-tnef.eml': { text: ['шостий'], filename: ['winmail.dat'] },
  'charsets/stalwart-utf-16-euc-jp-parts.eml': {
    text: ['Test message\n\nTest message\n\nTest message\n\n『世界人権宣言』', 'invalid--1--'],
  },
  'charsets/stalwart-windows-1252-qp-malformed.eml': { text: ['Enviado desde mi BlackBerry® de Vodafone'] },
  'charsets/stalwart-windows-1252-qp-related.eml': {
    text: ['Search for hähä'],
    html: ['Search for höhö'],
    filename: ['kigaaldcbanejcbi.png', 'attach2.png'],
  },
  'mailparser/decoderended.eml': { text: ['Note: forwarded message attached.'], html: ['html sectionÜ'] },
  'mailparser/history-2012/mail.eml': {
    subject: ['Simple test message with special characters like š and õ'],
    text: ['special characters (öäõü)'],
  },
  'mailparser/history-2012/sparrow.eml': { subject: ['Tere öäõü'], text: ['Kuidas läheb?'] },
  'mailparser/history-2012/test.eml': {
    subject: ['Nodemailer is totally-totally punicode  friendly ✔, no exceptions expected! öäõü'],
    text: ['ÖÄÕÜ žčš!'],
  },
  'mailparser/nodemailer.eml': {
    subject: ['Nodemailer is unicode friendly ✔'],
    filename: ['nyan cat ✔.gif'],
  },
};

const handWrittenCases: Record<string, CharsetCase> = {
  'gb2312-subject-base64-body.eml': {
    subject: ['中文邮件测试'],
    from: '张伟',
    text: ['您好，这是一封测试邮件。请尽快回复。'],
  },
  'gbk-8bit-body.eml': { text: ['朱镕基先生的来信已收到。'] },
  'big5-q-subject-8bit-body.eml': { subject: ['測試郵件'], text: ['您好，這是一封測試郵件。'] },
  'utf-7-subject-body.eml': { subject: ['Grüße 日本語'], text: ['Hi Mom -☺-! 1 + 1 = 2. 日本語のメール'] },
  'windows-1251-8bit-body.eml': {
    subject: ['Вопрос по заказу'],
    text: ['Здравствуйте, это тестовое письмо.'],
  },
  'koi8-r-b-subject-qp-body.eml': {
    subject: ['Привет из Москвы'],
    text: ['Добрый день! Спасибо за помощь.'],
  },
  'iso-8859-2-qp-body.eml': {
    subject: ['Zażółć gęślą jaźń'],
    from: 'Łukasz Żółw',
    text: ['Dzień dobry, proszę o pomoc.'],
  },
  'iso-8859-15-euro.eml': { subject: ['Facture de 10 €'], text: ['10 € (dix euros), œuvre réglée.'] },
  'utf-8-label-windows-1252-bytes.eml': {
    text: ['Un café crème, s’il vous plaît.'],
    warning: 'labelled UTF-8 but the bytes are not',
  },
  'jp-iso-2022-jp-no-charset.eml': {
    // Zammad #6144: ISO-2022-JP body without a charset parameter.
    subject: ['お問い合わせ'],
    from: '山田太郎',
    text: ['お問い合わせありがとうございます。担当者よりご連絡いたします。'],
  },
  'jp-shift_jis-raw-8bit-headers.eml': {
    subject: ['見積書の件について'],
    from: '佐藤',
    text: ['お世話になっております。見積書を添付します。'],
    filename: ['見積書.pdf'],
    warning: 'decoded as shift_jis',
  },
  'jp-shift_jis-rfc2231-filename.eml': {
    subject: ['請求書送付'],
    text: ['請求書を送付します。'],
    filename: ['請求書_2024年.pdf'],
  },
  'jp-euc-jp-b-subject-8bit-body.eml': {
    subject: ['日本語の件名'],
    text: ['東京都千代田区からの問い合わせです。'],
  },
  'jp-iso-2022-jp-nec-extensions.eml': { subject: ['①見積'], text: ['① お見積り ㈱ 山田商事'] },
  'jp-utf-8-labelled-shift_jis.eml': {
    text: ['ログインできません。パスワードを再設定してください。'],
    warning: 'labelled shift_jis but the bytes are UTF-8',
  },
  'split-encoded-words.eml': { subject: ['テスト and まみ'] },
};

const check = async (path: string, expected: CharsetCase): Promise<void> => {
  // Act
  const mail = await parseOk(path);
  // Assess
  const filenames = mail.attachments.map((attachment) => attachment.filename ?? '').join('\n');
  for (const word of expected.subject ?? []) expect(mail.subject).toContain(word);
  for (const word of expected.text ?? []) expect(mail.text).toContain(word);
  for (const word of expected.html ?? []) expect(mail.html).toContain(word);
  for (const word of expected.filename ?? []) expect(filenames).toContain(word);
  if (expected.from !== undefined) expect(mail.from[0]?.name).toBe(expected.from);
  if (expected.warning !== undefined) expect(mail.warnings.join('\n')).toContain(expected.warning);
  if (expected.replacement !== true) {
    const decoded = [mail.subject, mail.text, mail.html, filenames, ...mail.from.map((box) => box.name)].join(
      '',
    );
    expect(decoded).not.toContain('\ufffd');
  }
};

describe('charsets in the public corpus decode to the words in their bytes', () => {
  it.each(Object.entries(corpusCases))('%s', async (name, expected) => {
    await check(corpusMail(name), expected);
  });
});

describe('charsets in hand-written fixtures (test/fixtures/mail/parse)', () => {
  it.each(Object.entries(handWrittenCases))('%s', async (name, expected) => {
    await check(parseFixture(name), expected);
  });
});

describe('charset rules', () => {
  it('bug: adjacent ISO-2022-JP encoded words were joined into a redundant escape pair and gave U+FFFD', async () => {
    // Prepare: ESC ( B directly followed by ESC $ B, as two joined words produce.
    const bytes = Buffer.from('\x1b$B%F%9%H\x1b(B\x1b$B%F%9%H\x1b(B', 'latin1');
    // Act
    const decoded = decodeBytes(bytes, 'iso-2022-jp');
    // Assess
    expect(decoded.text).toBe('テストテスト');
    expect(decoded.note).toBeUndefined();
  });

  it('bug: a raw 8-bit Shift_JIS file name was read as windows-1252 when its part had no charset', async () => {
    // Act
    const mail = await parseOk(parseFixture('jp-shift_jis-raw-8bit-headers.eml'));
    // Assess
    expect(mail.attachments[0]?.filename).toBe('見積書.pdf');
    expect(await readAll(await (mail.attachments[0]?.open() ?? Promise.reject(new Error('none'))))).toEqual(
      Buffer.from('%PDF-1.4 fake'),
    );
  });

  it('keeps the sender’s own double-encoding in a header when the body gives no evidence for a repair', async () => {
    // The Date comment is Windows-1255 Hebrew read as Latin-1 and saved as UTF-8; the body is
    // proper EUC-KR, so nothing says the header is anything but the UTF-8 it is.
    // Act
    const mail = await parseOk(corpusMail('charsets/mail-euc-kr-raw-utf-8-date-comment.eml'));
    // Assess
    expect(mail.headers.get('date')?.[0]).toContain('(ùòåï ÷éõ éøåùìéí)');
    expect(mail.date?.toISOString()).toBe('2008-09-20T17:04:30.000Z');
  });

  it('resolves the labels mail software writes', () => {
    // Act
    const resolved = [
      'ks_c_5601-1987',
      'cp949',
      'gb2312',
      'cp936',
      'windows-31j',
      'cp932',
      'x-sjis',
      'iso-2022-jp-2',
      'win-1251',
      'UTF8',
      '"utf-8"',
      'utf-8*ja',
      'unicode-1-1-utf-7',
      'X-UNKNOWN',
      '__proto__',
    ].map((label) => [label, resolveCharset(label).encoding]);
    // Assess
    expect(Object.fromEntries(resolved)).toEqual({
      'ks_c_5601-1987': 'euc-kr',
      cp949: 'euc-kr',
      gb2312: 'gbk',
      cp936: 'gbk',
      'windows-31j': 'shift_jis',
      cp932: 'shift_jis',
      'x-sjis': 'shift_jis',
      'iso-2022-jp-2': 'iso-2022-jp',
      'win-1251': 'windows-1251',
      UTF8: 'utf-8',
      '"utf-8"': 'utf-8',
      'utf-8*ja': 'utf-8',
      'unicode-1-1-utf-7': 'utf-7',
      'X-UNKNOWN': 'windows-1252',
      ['__proto__']: 'windows-1252',
    });
  });

  it('bug: Node 20 TextDecoder windows-1252 gave C1 controls for 0x80..0x9F (’ came out as U+0092)', () => {
    // Act
    const decoded = decodeBytes(Buffer.from([0x93, 0x80, 0x20, 0x92, 0x99, 0x94, 0xe9]), 'windows-1252');
    // Assess
    expect(decoded.text).toBe('“€ ’™”é');
  });

  it('decodes UTF-7 (RFC 2152 examples)', () => {
    // Act
    const decoded = decodeUtf7(Buffer.from('Hi Mom -+Jjo--! A+ImIDkQ. 1 +- 1 = 2 +ZeVnLIqe-'));
    // Assess
    expect(decoded).toBe('Hi Mom -☺-! A≢Α. 1 + 1 = 2 日本語');
  });

  it('reads UTF-16 by its byte order mark even when labelled just utf-16', () => {
    // Act
    const bigEndian = decodeBytes(Buffer.from([0xfe, 0xff, 0x30, 0x42]), 'utf-16');
    const littleEndian = decodeBytes(Buffer.from([0xff, 0xfe, 0x42, 0x30]), 'utf-16');
    // Assess
    expect(bigEndian.text).toBe('あ');
    expect(littleEndian.text).toBe('あ');
  });

  it('trusts the label for genuine legacy bytes and the bytes when they are UTF-8', () => {
    // Act
    const genuine = decodeBytes(Buffer.from([0xbd, 0xba, 0xc6, 0xbc, 0xc7, 0xd8]), 'ks_c_5601-1987');
    const mislabelled = decodeBytes(Buffer.from('스티해', 'utf8'), 'ks_c_5601-1987');
    const latin1 = decodeBytes(Buffer.from([0x63, 0x61, 0x66, 0xe9]), 'iso-8859-1');
    // Assess
    expect(genuine).toMatchObject({ text: '스티해', note: undefined });
    expect(mislabelled.text).toBe('스티해');
    expect(mislabelled.note).toContain('bytes are UTF-8');
    expect(latin1).toMatchObject({ text: 'café', note: undefined });
  });
});
