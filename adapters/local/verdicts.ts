import { isIP } from 'node:net';
import { type AuthenticateResult, type AuthStatus, authenticate, type DNSResolver } from 'mailauth';
import { type Limits, LimitsSchema } from '../../core/config/schema.ts';
import type { Envelope, ReceiptVerdicts, VerdictStatus } from '../../core/model.ts';
import { rawHeaderOverCaps } from '../../core/stages/parse/index.ts';

/**
 * Local mode's stand-in for the SES receipt verdicts: SPF, DKIM, DMARC and ARC computed with
 * mailauth (postalsys/mailauth), the only I/O being DNS through an injectable resolver. Outside
 * `core/` because it does network I/O.
 *
 * What is honest here:
 * - spam and virus are `DISABLED`: nothing scans locally, and saying `PASS` would be a lie. A
 *   policy that requires them (the default requires both) will quarantine local mail with
 *   `spam_unverified`/`virus_unverified`; local setups either drop them from `require` or accept it.
 * - SPF needs the connecting client's IP. It comes from the SMTP session (`envelope.remoteIp`) or,
 *   for a bare .eml, from the topmost `Received:` header **only if** a trusted host wrote it;
 *   otherwise SPF is `NONE` (not evaluated), never guessed from headers the sender wrote.
 * - DNS failures end as `temperror` in mailauth and `PROCESSING_FAILED` here, as SES reports them.
 * - A header block over `limits.max_header_bytes` or `limits.max_header_lines` is never given to
 *   mailauth (its header parser is superlinear in folded lines: 40,000 of them held the event loop
 *   for half a minute): its verdicts are PROCESSING_FAILED, and the parse stage rejects the mail
 *   with `header_too_large`. Within the caps mailauth's time is bounded (a quarter of a second for
 *   5,000 lines in 256 KB, measured), which is the time budget of a local verdict.
 */

export type VerdictResolver = (name: string, rrtype: string) => Promise<unknown>;

export interface LocalVerdictOptions {
  /**
   * DNS lookups, `(name, rrtype) => Promise<records>` in `dns.promises.resolve`'s shape; errors
   * carry a `code` (`ENOTFOUND`, `ENODATA`, `ETIMEOUT`...). Tests pass a fake zone.
   * @default mailauth's default, `node:dns` (real DNS)
   */
  resolver?: VerdictResolver | undefined;
  /**
   * Host names (lowercase compare) whose `Received:` header is believed for the client IP and HELO
   * when the envelope has no `remoteIp`: the MTA that handed the mail to us, e.g. `mx.desk.example.com`.
   * @default [] (no header is believed)
   */
  trustedHosts?: readonly string[] | undefined;
  /** Name of this checker in mailauth's generated header text; nothing reads it. @default 'postdesk.local' */
  mta?: string | undefined;
  /** The desk's `limits`, for the header caps checked before mailauth runs. @default the schema's defaults */
  limits?: Limits | undefined;
}

const DEFAULT_LIMITS: Limits = LimitsSchema.parse({});

/** What a mail that could not be checked gets: unverifiable, so a policy that requires a pass quarantines it. */
const unverified = (client: SmtpClient | undefined): ReceiptVerdicts => ({
  spf: client ? 'PROCESSING_FAILED' : 'NONE',
  dkim: 'PROCESSING_FAILED',
  dmarc: 'PROCESSING_FAILED',
  spam: 'DISABLED',
  virus: 'DISABLED',
  arc: { result: 'none' },
  source: 'local',
});

/** Largest header block read to find the topmost Received/Return-Path; the parse stage caps it anyway. */
const HEADER_SCAN_BYTES = 256 * 1024;

/** The header block of a raw message, unfolded, as `[lowercased name, value]` in order. */
const topHeaders = (raw: Buffer): Array<[string, string]> => {
  const head = raw.subarray(0, HEADER_SCAN_BYTES).toString('latin1');
  const end = /\r?\n\r?\n/.exec(head);
  const block = end ? head.slice(0, end.index) : head;
  const headers: Array<[string, string]> = [];
  for (const line of block.split(/\r?\n(?![ \t])/)) {
    const colon = line.indexOf(':');
    if (colon > 0)
      headers.push([line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).replace(/\r?\n/g, '')]);
  }
  return headers;
};

/**
 * Reads `from <helo> (… [ip] …) by <host>` from a Received value. Comments are set aside first so
 * a `by` or an address inside one cannot be mistaken for the clause; one linear pass.
 */
export const parseReceivedHop = (value: string): { helo?: string; ip?: string; by?: string } => {
  let depth = 0;
  let text = '';
  const comments: string[] = [];
  let comment = '';
  for (const char of value) {
    if (char === '(') {
      depth += 1;
      if (depth === 1) comment = '';
      else comment += char;
    } else if (char === ')' && depth > 0) {
      depth -= 1;
      if (depth === 0) {
        comments.push(comment);
        text += ' ';
      } else comment += char;
    } else if (depth > 0) comment += char;
    else text += char;
  }
  const by = /\bby\s+([^\s;]+)/i.exec(text)?.[1]?.toLowerCase();
  const from = /\bfrom\s+([^\s;]+)/i.exec(text)?.[1];
  const bracketed = [from ?? '', ...comments]
    .map((part) => /\[(?:IPv6:)?([0-9A-Fa-f:.]+)\]/.exec(part)?.[1])
    .find((candidate) => candidate !== undefined && isIP(candidate) !== 0);
  const helo = from?.replace(/^\[|\]$/g, '');
  return {
    ...(helo === undefined ? {} : { helo }),
    ...(bracketed === undefined ? {} : { ip: bracketed }),
    ...(by === undefined ? {} : { by }),
  };
};

interface SmtpClient {
  ip: string;
  helo: string | undefined;
  sender: string | undefined;
}

/** The SMTP client to check SPF for: the session's, else a trusted host's Received header, else none. */
const smtpClient = (
  raw: Buffer,
  envelope: Envelope,
  trustedHosts: readonly string[],
): SmtpClient | undefined => {
  if (envelope.remoteIp !== undefined && isIP(envelope.remoteIp) !== 0) {
    return { ip: envelope.remoteIp, helo: envelope.helo, sender: envelope.mailFrom };
  }
  if (trustedHosts.length === 0) return undefined;
  const headers = topHeaders(raw);
  const received = headers.find(([name]) => name === 'received')?.[1];
  if (received === undefined) return undefined;
  const hop = parseReceivedHop(received);
  const trusted = new Set(trustedHosts.map((host) => host.toLowerCase()));
  if (hop.ip === undefined || hop.by === undefined || !trusted.has(hop.by)) return undefined;
  // The topmost Return-Path is written at final delivery from MAIL FROM, by the same trusted side.
  const returnPath = headers.find(([name]) => name === 'return-path')?.[1];
  const sender = envelope.mailFrom ?? returnPath?.trim().replace(/^<|>$/g, '');
  return { ip: hop.ip, helo: hop.helo, sender };
};

/** SPF (RFC 7208 §2.6) to SES's statuses; permerror is a broken record: unverifiable, not forged. */
const spfStatus = (status: AuthStatus['result'] | undefined): VerdictStatus => {
  switch (status) {
    case 'pass':
      return 'PASS';
    case 'fail':
    case 'softfail':
      return 'FAIL';
    case 'temperror':
    case 'temperr':
    case 'permerror':
      return 'PROCESSING_FAILED';
    default:
      // neutral, none: the domain makes no assertion (SES: GRAY).
      return 'GRAY';
  }
};

/**
 * DKIM over every signature, as SES gives one verdict: PASS if any signature verifies; GRAY when
 * the mail is unsigned; PROCESSING_FAILED when a key lookup failed for now; otherwise FAIL (a
 * signature is there and does not verify: bad body hash, bad signature, missing or weak key).
 */
const dkimStatus = (dkim: AuthenticateResult['dkim'] | null | undefined): VerdictStatus => {
  const results = (Array.isArray(dkim?.results) ? dkim.results : []).map((entry) => entry?.status?.result);
  if (results.includes('pass')) return 'PASS';
  if (results.every((result) => result === 'none')) return 'GRAY';
  if (results.some((result) => result === 'temperror' || result === 'temperr')) return 'PROCESSING_FAILED';
  return 'FAIL';
};

const dmarcStatus = (dmarc: AuthenticateResult['dmarc'] | null | undefined): VerdictStatus => {
  if (!dmarc) return 'NONE';
  switch (dmarc.status?.result) {
    case 'pass':
      return 'PASS';
    case 'fail':
      return 'FAIL';
    case 'temperror':
    case 'temperr':
    case 'permerror':
      return 'PROCESSING_FAILED';
    default:
      return 'GRAY';
  }
};

/** The published policy SES reports on a DMARC failure: `sp` for a subdomain when set, else `p`. */
const dmarcPolicy = (
  dmarc: AuthenticateResult['dmarc'] | null | undefined,
): ReceiptVerdicts['dmarcPolicy'] => {
  if (!dmarc) return undefined;
  const policy = String(dmarc.policy ?? '').toLowerCase();
  return policy === 'reject' || policy === 'quarantine' || policy === 'none' ? policy : undefined;
};

/** ARC result and the newest sealer (`d=` of the highest-instance ARC-Seal). */
const arcVerdict = (
  arc: AuthenticateResult['arc'] | null | undefined,
): NonNullable<ReceiptVerdicts['arc']> => {
  if (!arc) return { result: 'none' };
  const status = arc.status?.result;
  const result = status === 'pass' ? 'pass' : status === 'none' || status === undefined ? 'none' : 'fail';
  if (result === 'none') return { result };
  // mailauth sets `chain: false` when the seals do not form a chain (two `ARC-Seal: i=1`, a gap).
  // Entries without a numeric `i` (a garbage seal) are left out rather than sorted as NaN.
  const chain: unknown = arc.chain;
  const links = (Array.isArray(chain) ? chain : []).filter(
    (link): link is { i: number; 'arc-seal'?: { parsed?: { d?: { value?: unknown } } } } =>
      typeof link?.i === 'number',
  );
  const newest = [...links].sort((a, b) => b.i - a.i)[0];
  const sealer = newest?.['arc-seal']?.parsed?.d?.value;
  return sealer === undefined ? { result } : { result, sealer: String(sealer).toLowerCase() };
};

/**
 * Computes receipt verdicts for one raw mail. Never throws for what is in the mail: a message that
 * makes mailauth throw gets PROCESSING_FAILED verdicts (a policy that requires them quarantines it).
 */
export const computeLocalVerdicts = async (
  raw: Buffer,
  envelope: Envelope,
  options: LocalVerdictOptions = {},
): Promise<ReceiptVerdicts> => {
  // Before anything reads a header: not even the Received scan below runs on an over-cap block.
  if (rawHeaderOverCaps(raw, options.limits ?? DEFAULT_LIMITS) !== undefined) {
    return unverified(smtpClient(raw, envelope, []));
  }
  const client = smtpClient(raw, envelope, options.trustedHosts ?? []);
  // The declared type is narrower than what resolvers return in practice; mailauth handles both.
  const resolver = options.resolver as DNSResolver | undefined;
  let result: AuthenticateResult;
  try {
    result = await authenticate(raw, {
      mta: options.mta ?? 'postdesk.local',
      disableBimi: true,
      ...(resolver ? { resolver } : {}),
      ...(client
        ? {
            ip: client.ip,
            ...(client.helo === undefined ? {} : { helo: client.helo }),
            // '' is the null reverse-path: mailauth then checks postmaster@<helo>, as RFC 7208 §2.4 says.
            ...(client.sender === undefined ? {} : { sender: client.sender }),
          }
        : {}),
    });
  } catch {
    return unverified(client);
  }

  return verdictsFromMailauth(result, client !== undefined);
};

/**
 * mailauth's result to receipt verdicts. Every shape maps to a verdict, none throws: a step
 * mailauth skipped is `false`, a field can be missing or null, `arc.chain` is `false` when the
 * seals do not chain; each mapper above reads with optional chaining and falls back to its
 * "not evaluated" value. `checkedSpf` is whether there was an SMTP client to check SPF for.
 */
export const verdictsFromMailauth = (
  result: Partial<AuthenticateResult> | null | undefined,
  checkedSpf: boolean,
): ReceiptVerdicts => {
  const dmarc = dmarcStatus(result?.dmarc);
  const verdicts: ReceiptVerdicts = {
    // Without a client IP mailauth answers "neutral" having checked nothing; say so instead.
    spf: checkedSpf && result?.spf ? spfStatus(result.spf.status?.result) : 'NONE',
    dkim: dkimStatus(result?.dkim),
    dmarc,
    spam: 'DISABLED',
    virus: 'DISABLED',
    arc: arcVerdict(result?.arc),
    source: 'local',
  };
  const policy = dmarc === 'FAIL' ? dmarcPolicy(result?.dmarc) : undefined;
  if (policy !== undefined) verdicts.dmarcPolicy = policy;
  const dmarcDomain = evaluatedDmarcDomain(result);
  if (dmarcDomain !== undefined) verdicts.dmarcDomain = dmarcDomain;
  return verdicts;
};

/**
 * The From domain mailauth evaluated DMARC on, for the policy stage to hold against the sender
 * identity (core/stages/authenticate/dmarc-identity.ts). Not `dmarc.domain`, which is the
 * organisational domain (`customer.example` for `mail.customer.example`): the From mailboxes
 * mailauth read (`dkim.headerFrom`, nodemailer's addressparser over its own header parse), whose
 * single entry's domain is what its DMARC step looks up (mailauth lib/dmarc/verify.js). Undefined
 * when DMARC was not evaluated (no From, or several mailboxes).
 */
const evaluatedDmarcDomain = (result: Partial<AuthenticateResult> | null | undefined): string | undefined => {
  if (!result?.dmarc) return undefined;
  const from: unknown = result.dkim?.headerFrom;
  const mailboxes = Array.isArray(from) ? from : [from];
  if (mailboxes.length !== 1 || typeof mailboxes[0] !== 'string') return undefined;
  const address = mailboxes[0];
  return address
    .slice(address.lastIndexOf('@') + 1)
    .trim()
    .toLowerCase();
};
