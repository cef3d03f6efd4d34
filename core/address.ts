/**
 * The one grammar for "an email address" in Postdesk: the addr-spec of RFC 5322 §3.4.1 as mail
 * uses it (a dot-atom or quoted local part, a dotted domain), with the UTF-8 of RFC 6532 allowed
 * and an RFC 2047 encoded word never (RFC 2047 §5). Address headers are parsed by nodemailer's
 * addressparser; what it yields as an address is checked here, and nowhere else.
 *
 * `isPlainAddress` is the stricter outbound form: ASCII only, nothing a header could be bent with,
 * because the desk writes it into headers of the mail it sends.
 */

const ATOM_LOCAL = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+$/;
const QUOTED_LOCAL = /^"(?:[^"\\\r\n]|\\.)*"$/;
const ASCII_DOMAIN =
  /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$/;
/** RFC 6532: UTF-8 beyond ASCII in either part, still no space, bracket, quote or separator. */
const UTF8_PART = /^[^\s@<>()[\]\\,;:"]+$/u;

/** Whether a string is one addr-spec (`local@dotted.domain`), never an encoded word. */
export const isAddrSpec = (address: string): boolean => {
  if (address.length > 254 || address.includes('=?')) return false;
  const at = address.lastIndexOf('@');
  if (at <= 0 || at === address.length - 1) return false;
  const local = address.slice(0, at);
  const domain = address.slice(at + 1);
  const localOk =
    ATOM_LOCAL.test(local) || QUOTED_LOCAL.test(local) || (UTF8_PART.test(local) && !local.includes('@'));
  const domainOk =
    ASCII_DOMAIN.test(domain) ||
    (UTF8_PART.test(domain) && domain.includes('.') && !domain.startsWith('.') && !domain.endsWith('.'));
  return localOk && domainOk;
};

/**
 * A bare ASCII addr-spec with nothing a header could be bent with: no spaces, quotes, angle
 * brackets, commas, semicolons, backslashes or control characters, a dotted domain, at most 254
 * characters. Participants come from parsed mail; anything stranger is not mailed.
 */
export const isPlainAddress = (address: string): boolean =>
  address.length <= 254 &&
  /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$/.test(
    address,
  );
