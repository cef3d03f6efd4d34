import { generateKeyPairSync } from 'node:crypto';

/**
 * A declarative fake DNS zone that records every question, in mailauth's resolver shape (as
 * `dns.promises.resolve`): TXT answers are arrays of character-string arrays. A name or type that
 * is not in the zone answers ENOTFOUND, as a real resolver does; `{ error: 'ETIMEOUT' }` makes a
 * lookup fail with that code.
 */
export type ZoneAnswer = string[][] | string[] | { error: string };
export type Zone = Record<string, Partial<Record<'TXT' | 'A' | 'AAAA' | 'MX' | 'PTR', ZoneAnswer>>>;

export interface FakeDns {
  resolver: (name: string, rrtype: string) => Promise<unknown>;
  /** Every question asked, as `TXT example.org`, in order. */
  calls: string[];
}

const dnsError = (code: string, name: string): Error =>
  Object.assign(new Error(`query ${code} ${name}`), { code, hostname: name });

export const fakeDns = (zone: Zone, fallback?: { error: string }): FakeDns => {
  const calls: string[] = [];
  const resolver = async (name: string, rrtype: string): Promise<unknown> => {
    calls.push(`${rrtype} ${name}`);
    const answer = zone[name.toLowerCase()]?.[rrtype as keyof Zone[string]] ?? fallback;
    if (answer === undefined) throw dnsError('ENOTFOUND', name);
    if (!Array.isArray(answer)) throw dnsError(answer.error, name);
    return answer;
  };
  return { resolver, calls };
};

/** TXT strings are at most 255 octets (RFC 1035 §3.3.14); long DKIM keys come split, as here. */
const txt = (value: string): string[][] => [value.match(/.{1,255}/g) ?? [value]];

export interface SigningKey {
  privateKey: string;
  /** The `selector._domainkey` TXT record publishing the public key. */
  record: string[][];
}

/** A fresh RSA-2048 key pair and its DKIM key record (real cryptography, no network). */
export const signingKey = (): SigningKey => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const spki = publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
  return {
    privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    record: txt(`v=DKIM1; k=rsa; p=${spki}`),
  };
};

export const spf = (policy: string): string[][] => [[policy]];
export const dmarc = (policy: string): string[][] => [[policy]];
