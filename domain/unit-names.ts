/**
 * How unit names are compared (normalized) and the stable ids (slugs) derived from them. Split from units.ts,
 * which re-exports everything here.
 */

/**
 * The form used to compare unit names: NFKC (full-width letters, digits, brackets and the
 * ideographic space become their half-width forms), all whitespace removed — so line breaks that a
 * PDF put inside '园\n区相关部门' do not matter — and ASCII lower-cased.
 */
export function normalizeUnitName(name: string): string {
  return name.normalize('NFKC').replace(/\s+/gu, '').toLowerCase();
}

/**
 * Hand-written slugs for the units of the 2023 seed plan and the demo directory. No pinyin table is
 * available in pure code, and these ids end up in URLs, workflow search attributes and logs, where
 * a readable id helps.
 */
export const KNOWN_UNIT_SLUGS: Readonly<Record<string, string>> = {
  园区依法治区办: 'yifa-zhiqu-ban',
  组织人事局: 'zuzhi-renshi-ju',
  经发局: 'jingfa-ju',
  市场监管局: 'shichang-jianguan-ju',
  综合办: 'zonghe-ban',
  农林水务局: 'nonglin-shuiwu-ju',
  资环局: 'zihuan-ju',
  民政和社保局: 'minzheng-shebao-ju',
  应急局: 'yingji-ju',
  经合局: 'jinghe-ju',
  财政局: 'caizheng-ju',
  中川镇: 'zhongchuan-zhen',
  示例第一中心社区: 'demo-community-1',
  示例第二中心社区: 'demo-community-2',
  示例第三中心社区: 'demo-community-3',
};

/** 32-bit FNV-1a over the UTF-8 bytes of `text`: tiny, pure, and the same in every JS runtime. */
export function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  const byte = (b: number): void => {
    hash ^= b;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  };
  for (const ch of text) {
    const cp = ch.codePointAt(0) ?? 0;
    if (cp < 0x80) {
      byte(cp);
    } else if (cp < 0x800) {
      byte(0xc0 | (cp >> 6));
      byte(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
      byte(0xe0 | (cp >> 12));
      byte(0x80 | ((cp >> 6) & 0x3f));
      byte(0x80 | (cp & 0x3f));
    } else {
      byte(0xf0 | (cp >> 18));
      byte(0x80 | ((cp >> 12) & 0x3f));
      byte(0x80 | ((cp >> 6) & 0x3f));
      byte(0x80 | (cp & 0x3f));
    }
  }
  return hash >>> 0;
}

/**
 * A stable id for a unit name: the hand-written slug for known units, otherwise 'u-' followed by
 * the 8 hex digits of FNV-1a (32-bit) of the normalised name. The fallback depends on nothing but
 * the name, so the same name gets the same id in every import; 32 bits make a collision in a
 * directory of a few hundred units very unlikely, and the directory schema rejects duplicate ids
 * should one ever happen (then give one of the units an explicit id).
 */
export function slugForUnitName(name: string): string {
  const normalized = normalizeUnitName(name);
  for (const [known, slug] of Object.entries(KNOWN_UNIT_SLUGS)) {
    if (normalizeUnitName(known) === normalized) return slug;
  }
  return `u-${fnv1a32(normalized).toString(16).padStart(8, '0')}`;
}
