import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';

/**
 * Reply links: PUBLIC_BASE_URL/r/<token>. A token is `<payload>.<kid>.<signature>`, payload and
 * signature base64url, signature = HMAC-SHA256(secret[kid], "<payload>.<kid>"). The key id lets the
 * secret rotate: LINK_SECRET may list several keys ("k2:newsecret,k1:oldsecret"); the first signs,
 * all verify. A bare secret is key "k1".
 */

export const LINK_PURPOSES = ['report', 'summary', 'acknowledge'] as const;
export type LinkPurpose = (typeof LINK_PURPOSES)[number];

/**
 * What a token carries. Strict: a payload with any other key or type is refused even when its signature verifies,
 * so a signing bug can never hand the reply page a half-formed context.
 */
const LinkClaimsSchema = z.strictObject({
  /** cycle year */
  y: z.number().int(),
  /** work point number */
  wp: z.number().int().min(1),
  /** unit id */
  u: z.string().min(1),
  p: z.enum(LINK_PURPOSES),
  /** period id (report links) */
  per: z.string().min(1).optional(),
  /** expiry, epoch seconds */
  exp: z.number(),
});
export type LinkClaims = z.infer<typeof LinkClaimsSchema>;

export class LinkError extends Error {
  constructor(
    readonly reason: 'malformed' | 'forged' | 'expired',
    message: string,
  ) {
    super(message);
    this.name = 'LinkError';
  }
}

export interface LinkKeys {
  signing: { kid: string; secret: string };
  all: Map<string, string>;
}

export function parseLinkKeys(linkSecret: string): LinkKeys {
  const entries = linkSecret.split(',').map((part, i) => {
    const m = /^([A-Za-z0-9_-]{1,16}):(.+)$/.exec(part.trim());
    return m
      ? { kid: m[1] as string, secret: m[2] as string }
      : { kid: i === 0 ? 'k1' : `k${i + 1}`, secret: part.trim() };
  });
  const first = entries[0];
  if (!first) throw new Error('LINK_SECRET is empty');
  return { signing: first, all: new Map(entries.map((e) => [e.kid, e.secret])) };
}

const b64 = (buf: Buffer | string) => Buffer.from(buf).toString('base64url');
const sign = (secret: string, data: string) => createHmac('sha256', secret).update(data).digest();

export function signLink(keys: LinkKeys, claims: LinkClaims): string {
  const payload = b64(JSON.stringify(claims));
  const { kid, secret } = keys.signing;
  return `${payload}.${kid}.${b64(sign(secret, `${payload}.${kid}`))}`;
}

/** Unpadded base64url that decodes and re-encodes to exactly itself: one spelling per byte string. */
function isCanonicalBase64url(text: string): boolean {
  return /^[A-Za-z0-9_-]+$/.test(text) && Buffer.from(text, 'base64url').toString('base64url') === text;
}

/**
 * Checks a token's form, signature, claims and expiry. Each part must be in canonical form: Node's base64url decoder
 * skips characters it does not know, ignores padding and the unused low bits of the last character, so several
 * spellings would otherwise verify as the same link. The signature is compared as the exact string it was issued as.
 */
export function verifyLink(keys: LinkKeys, token: string, nowMs: number): LinkClaims {
  const parts = token.split('.');
  if (parts.length !== 3) throw new LinkError('malformed', 'link token is malformed');
  const [payload, kid, signature] = parts as [string, string, string];
  if (!isCanonicalBase64url(payload)) throw new LinkError('malformed', 'link token payload is not canonical base64url');
  const secret = keys.all.get(kid);
  if (!secret) throw new LinkError('forged', 'link token key is unknown');
  const expected = Buffer.from(b64(sign(secret, `${payload}.${kid}`)));
  const given = Buffer.from(signature);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new LinkError('forged', 'link token signature does not verify');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    throw new LinkError('malformed', 'link token payload is not JSON');
  }
  const claims = LinkClaimsSchema.safeParse(parsed);
  if (!claims.success) throw new LinkError('malformed', 'link token payload does not have the claims of a reply link');
  if (claims.data.exp * 1000 < nowMs) throw new LinkError('expired', 'link token has expired');
  return claims.data;
}

export function replyUrl(publicBaseUrl: string, token: string): string {
  return `${publicBaseUrl.replace(/\/+$/, '')}/r/${token}`;
}

/** The token part of reply links (`/r/<token>`, also `/r/<token>/files/<id>`) anywhere in a text or URL. */
const REPLY_TOKEN_IN_URL = /\/r\/[^/?#\s"'<>]+/g;

/** The text with every reply-link token replaced, for logs and for readers who must not act as the unit. */
export function redactReplyTokens(text: string): string {
  return text.replace(REPLY_TOKEN_IN_URL, '/r/<redacted>');
}
