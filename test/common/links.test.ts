import { LinkError, parseLinkKeys, replyUrl, signLink, verifyLink, type LinkClaims } from '../../common/links';

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
