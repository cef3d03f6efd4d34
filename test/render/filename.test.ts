import { describe, expect, it } from 'vitest';
import { extensionFor, safeFilename } from '../../core/stages/render/filename.ts';
import { cpuMs } from '../support/cpu-time.ts';

describe('safeFilename', () => {
  it('keeps only the base name of a path (issue: ../../etc/passwd)', () => {
    expect(safeFilename('../../etc/passwd', 'text/plain', 0)).toBe('passwd');
    expect(safeFilename('..\\..\\windows\\win.ini', 'text/plain', 0)).toBe('win.ini');
    expect(safeFilename('/etc/', 'text/plain', 2)).toBe('attachment-3.txt');
  });

  it('removes a right-to-left override so the real extension shows (invoice\\u202Efdp.exe)', () => {
    expect(safeFilename('invoice\u202Efdp.exe', 'application/pdf', 0)).toBe('invoicefdp.exe');
  });

  it('removes bidi marks, zero-width and control characters', () => {
    expect(safeFilename('re\u200Bport\u200E\u2066\u061C\u0000\u001F\u0085.pdf', 'application/pdf', 0)).toBe(
      'report.pdf',
    );
  });

  it('never yields . or .. or a hidden file, and folds dot runs', () => {
    expect(safeFilename('..', 'image/png', 0)).toBe('attachment-1.png');
    expect(safeFilename('.', 'image/png', 1)).toBe('attachment-2.png');
    expect(safeFilename('...bashrc', 'text/plain', 0)).toBe('bashrc');
    expect(safeFilename('a..b...pdf', 'application/pdf', 0)).toBe('a.b.pdf');
  });

  it('replaces characters Windows cannot store and prefixes device names', () => {
    expect(safeFilename('what?<now>:*|".txt', 'text/plain', 0)).toBe('what__now_____.txt');
    expect(safeFilename('CON.txt', 'text/plain', 0)).toBe('_CON.txt');
  });

  it('caps the name at 200 UTF-8 bytes on a code-point boundary and keeps the extension', () => {
    // Prepare
    const name = `${'ü'.repeat(150)}.docx`;
    // Act
    const safe = safeFilename(name, 'application/octet-stream', 0);
    // Assess
    expect(Buffer.byteLength(safe, 'utf8')).toBeLessThanOrEqual(200);
    expect(safe.endsWith('.docx')).toBe(true);
    expect(safe).toBe(`${'ü'.repeat(97)}.docx`);
  });

  it('names a nameless attachment after its position and content type', () => {
    expect(safeFilename(undefined, 'image/jpeg', 0)).toBe('attachment-1.jpg');
    expect(safeFilename('  ', 'application/vnd.example+json', 4)).toBe('attachment-5.bin');
    expect(safeFilename('', 'message/rfc822', 1)).toBe('attachment-2.eml');
  });

  it('keeps ordinary international names as they are (NFC)', () => {
    expect(safeFilename('Eelanalu\u0308u\u0308si päring.jpg', 'image/jpeg', 0)).toBe(
      'Eelanalüüsi päring.jpg',
    );
    expect(safeFilename('かきくけこ.txt', 'text/plain', 0)).toBe('かきくけこ.txt');
  });

  it('stays linear on a hostile name', () => {
    const started = cpuMs();
    safeFilename('. '.repeat(200_000), 'text/plain', 0);
    safeFilename(`${'a'.repeat(300_000)}.txt`, 'text/plain', 0);
    expect(cpuMs() - started).toBeLessThan(1000);
  });
});

describe('extensionFor', () => {
  it('knows common types and falls back to a plain subtype or bin', () => {
    expect(extensionFor('image/png; name=x')).toBe('png');
    expect(extensionFor('application/x-7z')).toBe('7z');
    expect(extensionFor('nonsense')).toBe('bin');
  });
});
