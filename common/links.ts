import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Reply links: PUBLIC_BASE_URL/r/<token>. A token is `<payload>.<kid>.<signature>`, payload and
 * signature base64url, signature = HMAC-SHA256(secret[kid], "<payload>.<kid>"). The key id lets the
 * secret rotate: LINK_SECRET may list several keys ("k2:newsecret,k1:oldsecret"); the first signs,
 * all verify. A bare secret is key "k1".
 */

export type LinkPurpose = 'report' | 'summary' | 'acknowledge';

export interface LinkClaims {
  /** cycle year */
  y: number;
  /** work point number */
  wp: number;
  /** unit id */
  u: string;
  p: LinkPurpose;
  /** period id (report links) */
  per?: string;
  /** expiry, epoch seconds */
  exp: number;
}

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

export function verifyLink(keys: LinkKeys, token: string, nowMs: number): LinkClaims {
  const parts = token.split('.');
  if (parts.length !== 3) throw new LinkError('malformed', 'link token is malformed');
  const [payload, kid, signature] = parts as [string, string, string];
  const secret = keys.all.get(kid);
  if (!secret) throw new LinkError('forged', 'link token key is unknown');
  const expected = sign(secret, `${payload}.${kid}`);
  const given = Buffer.from(signature, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new LinkError('forged', 'link token signature does not verify');
  }
  let claims: LinkClaims;
  try {
    claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as LinkClaims;
  } catch {
    throw new LinkError('malformed', 'link token payload is not JSON');
  }
  if (typeof claims.exp !== 'number' || typeof claims.u !== 'string' || typeof claims.wp !== 'number') {
    throw new LinkError('malformed', 'link token payload is incomplete');
  }
  if (claims.exp * 1000 < nowMs) throw new LinkError('expired', 'link token has expired');
  return claims;
}

export function replyUrl(publicBaseUrl: string, token: string): string {
  return `${publicBaseUrl.replace(/\/+$/, '')}/r/${token}`;
}
