import { createHmac } from 'node:crypto';
import {
  LinkError,
  parseLinkKeys,
  redactReplyTokens,
  replyUrl,
  signLink,
  verifyLink,
  type LinkClaims,
} from '../../common/links';

const claims: LinkClaims = { y: 2023, wp: 7, u: 'jingfa-ju', p: 'report', per: 'H1', exp: 2_000_000_000 };
const NOW = 1_700_000_000_000;

const reason = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return err instanceof LinkError ? err.reason : `other: ${String(err)}`;
  }
  return 'verified';
};

test('a signed link verifies to exactly its claims', () => {
  const keys = parseLinkKeys('s'.repeat(40));
  expect(verifyLink(keys, signLink(keys, claims), NOW)).toEqual(claims);
  expect(replyUrl('https://duban.example/', 'abc')).toBe('https://duban.example/r/abc');
});

test('rotation: the first key signs, older keys still verify, a removed key no longer does', () => {
  const old = parseLinkKeys('k1:old-secret-old-secret-old-secret');
  const oldToken = signLink(old, claims);
  const rotated = parseLinkKeys('k2:new-secret-new-secret-new-secret,k1:old-secret-old-secret-old-secret');
  const newToken = signLink(rotated, claims);
  expect(newToken.split('.')[1]).toBe('k2');
  expect(verifyLink(rotated, oldToken, NOW)).toEqual(claims);
  expect(verifyLink(rotated, newToken, NOW)).toEqual(claims);
  expect(reason(() => verifyLink(parseLinkKeys('k2:new-secret-new-secret-new-secret'), oldToken, NOW))).toBe('forged');
});

test('tampering with the payload, the key id or the signature is refused; an expired link is refused as expired', () => {
  const keys = parseLinkKeys('s'.repeat(40));
  const [payload, kid, sig] = signLink(keys, claims).split('.') as [string, string, string];
  // Unit A's link turned into unit B's: the signature no longer matches.
  const other = Buffer.from(JSON.stringify({ ...claims, u: 'caizheng-ju' })).toString('base64url');
  expect(reason(() => verifyLink(keys, `${other}.${kid}.${sig}`, NOW))).toBe('forged');
  expect(reason(() => verifyLink(keys, `${payload}.k9.${sig}`, NOW))).toBe('forged');
  expect(reason(() => verifyLink(keys, `${payload}.${kid}.${sig.slice(0, -2)}`, NOW))).toBe('forged');
  expect(reason(() => verifyLink(keys, 'garbage', NOW))).toBe('malformed');
  expect(reason(() => verifyLink(keys, signLink(keys, { ...claims, exp: NOW / 1000 - 1 }), NOW))).toBe('expired');
});

describe('canonical form', () => {
  const SECRET = 's'.repeat(40);
  const keys = parseLinkKeys(SECRET);
  const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

  /** A token over any payload text, signed with the real key: only the form checks can refuse it. */
  const signedOver = (payload: string): string =>
    `${payload}.k1.${createHmac('sha256', SECRET).update(`${payload}.k1`).digest('base64url')}`;

  /** The last character with its lowest bit flipped: unused bits when the length is not a multiple of 4. */
  const flipUnusedBits = (part: string): string => {
    const last = ALPHABET.indexOf(part.slice(-1));
    const other = `${part.slice(0, -1)}${ALPHABET[last ^ 1] ?? ''}`;
    // The precondition of every case below: Node decodes both spellings to the same bytes.
    expect(part.length % 4).not.toBe(0);
    expect(Buffer.from(other, 'base64url')).toEqual(Buffer.from(part, 'base64url'));
    expect(other).not.toBe(part);
    return other;
  };

  it('the untouched token verifies (the cases below differ from it by one spelling each)', () => {
    const token = signLink(keys, claims);
    expect(verifyLink(keys, token, NOW)).toEqual(claims);
    expect(verifyLink(keys, signedOver(token.split('.')[0]!), NOW)).toEqual(claims);
  });

  it('refuses a signature with anything appended, padded or re-spelt, though it decodes to the right bytes', () => {
    const [payload, kid, sig] = signLink(keys, claims).split('.') as [string, string, string];
    for (const spelling of [`${sig}=`, `${sig} `, `${sig}%`, `${sig}\n`, `${sig}A`, flipUnusedBits(sig)]) {
      expect({ spelling, reason: reason(() => verifyLink(keys, `${payload}.${kid}.${spelling}`, NOW)) }).toEqual({
        spelling,
        reason: 'forged',
      });
    }
  });

  it('refuses a payload with anything appended, padded or re-spelt, even when the signature covers that spelling', () => {
    // A payload whose base64url length leaves unused bits in its last character.
    const payload = ['a', 'ab', 'abc']
      .map((u) => Buffer.from(JSON.stringify({ ...claims, u })).toString('base64url'))
      .find((p) => p.length % 4 !== 0)!;
    expect(reason(() => verifyLink(keys, signedOver(payload), NOW))).toBe('verified');
    for (const spelling of [`${payload}=`, `${payload}==`, ` ${payload}`, `${payload}!`, flipUnusedBits(payload)]) {
      expect({ spelling, reason: reason(() => verifyLink(keys, signedOver(spelling), NOW)) }).toEqual({
        spelling,
        reason: 'malformed',
      });
    }
  });

  it('refuses signed claims of the wrong shape', () => {
    const bad: unknown[] = [
      { ...claims, y: 2023.5 },
      { ...claims, y: '2023' },
      { ...claims, wp: 0 },
      { ...claims, wp: 1.5 },
      { ...claims, u: '' },
      { ...claims, u: 7 },
      { ...claims, p: 'admin' },
      { ...claims, per: 1 },
      { ...claims, per: '' },
      { ...claims, exp: '2000000000' },
      { y: 2023, wp: 7, u: 'jingfa-ju', p: 'report' },
      { ...claims, role: 'admin' },
      [],
      null,
    ];
    for (const payload of bad) {
      const token = signedOver(Buffer.from(JSON.stringify(payload)).toString('base64url'));
      expect({ payload, reason: reason(() => verifyLink(keys, token, NOW)) }).toEqual({ payload, reason: 'malformed' });
    }
    const { per: _per, ...withoutPeriod } = claims;
    expect(verifyLink(keys, signLink(keys, withoutPeriod), NOW)).toEqual(withoutPeriod);
  });
});

test('redactReplyTokens hides the token of every reply link in a text, and nothing else', () => {
  const token = signLink(parseLinkKeys('s'.repeat(40)), claims);
  expect(redactReplyTokens(`/r/${token}`)).toBe('/r/<redacted>');
  expect(redactReplyTokens(`/r/${token}/files/3f2a?x=1`)).toBe('/r/<redacted>/files/3f2a?x=1');
  expect(redactReplyTokens(`报送链接（无需登录）：https://duban.example/r/${token}\n请于截止前报送。`)).toBe(
    '报送链接（无需登录）：https://duban.example/r/<redacted>\n请于截止前报送。',
  );
  expect(redactReplyTokens('/api/notifications?unit=r')).toBe('/api/notifications?unit=r');
  expect(redactReplyTokens(redactReplyTokens(`/r/${token}`))).toBe('/r/<redacted>');
});
