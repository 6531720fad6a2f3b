import type { ParseWarning, Plan, PlanParseResult, Section, WorkPoint } from './plan';

/*
 * Reads an annual work plan (工作要点) from plain text, as produced by copying a Word/PDF document.
 *
 * Pure on purpose: no Node built-ins and no I/O, so workflows can import it. It never throws on bad
 * input; whatever it cannot place comes back as a warning with the line it is about.
 *
 * The input is messy in predictable ways, and each rule below exists for one of them:
 *  - full- and half-width punctuation are mixed, so lines are matched in a "parse form" that folds
 *    （）：，； to ASCII, and output text is rebuilt in one canonical form (full width next to Chinese);
 *  - PDF page breaks cut words and unit names in half ("企\n\n业"), so an item keeps absorbing lines,
 *    joined without a separator, until its trailing unit parenthesis is complete;
 *  - headings and item numbers come in several styles (一、 / （一） / 1. 1、 1． / （1）), detected per document.
 *
 * One module above the ~400-line guide on purpose: it is one reader that walks the document once, and its rules
 * share the line state; split, a rule would be read apart from the state it changes.
 */

type HeadingStyle = 'cn' | 'parenCn' | 'arabic' | 'parenArabic';

interface Heading {
  style: HeadingStyle;
  value: number;
  /** The number as written, e.g. 三 or 12. */
  written: string;
  /** The marker as written, for messages, e.g. 三、 or 12. */
  marker: string;
  rest: string;
}

interface SourceLine {
  line: number;
  text: string;
}

interface OpenItem {
  headingLine: number;
  /** How messages name the item: 第N条, plus the marker as written when that differs. */
  label: string;
  number: number;
  section: string | null;
  buffer: string;
  /** Where each appended line starts in buffer, so tail problems can name their line. */
  pieces: { offset: number; line: number }[];
}

interface OpenSection {
  section: Section;
  itemCount: number;
}

type TailStatus = 'none' | 'open' | 'closedParen' | 'closedBare';

interface FooterInfo {
  issuer: string | null;
  date: { y: number; m: number; d: number; line: number } | null;
}

const FULL_TO_HALF: Readonly<Record<string, string>> = { '（': '(', '）': ')', '：': ':', '，': ',', '；': ';' };
const HALF_TO_FULL: Readonly<Record<string, string>> = { '(': '（', ')': '）', ':': '：', ',': '，', ';': '；' };

const CN_DIGITS = '一二三四五六七八九';

const SECTION_RE = /^([一二三四五六七八九十]{1,3})\s*[、.．]\s*(.*)$/;
const PAREN_CN_RE = /^\(\s*([一二三四五六七八九十]{1,3})\s*\)\s*(.*)$/;
// (?!\d) keeps decimals such as "1.5倍" at the start of a continuation line from reading as item 1.
const ARABIC_RE = /^(\d{1,3})\s*[.．、](?!\d)\s*(.*)$/;
const PAREN_ARABIC_RE = /^\(\s*(\d{1,3})\s*\)\s*(.*)$/;

const UNIT_LABEL_RE = /(牵头单位|牵头部门|责任单位|责任部门)/g;
const UNIT_LINE_RE = /^\(?\s*(牵头单位|牵头部门|责任单位|责任部门)/;

const DATE_ONLY_RE = /^(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日$/;
const PRINTED_RE = /^(.*?)\s*(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日\s*印发$/;
const COPIES_RE = /^共印\s*\d+\s*份$/;
const CC_RE = /^(抄送|抄报)\s*:/;
const PUBLIC_RE = /^\(此件[^()]{0,20}\)$/;
const SIGNATURE_RE = /^(.{2,40}?)\s*\(代\)$/;
const PAGE_NUMBER_RES = [/^[-—–－~]+\s*\d{1,4}\s*[-—–－~]+$/, /^第\s*\d{1,4}\s*页(\s*[,/]?\s*共\s*\d{1,4}\s*页)?$/];

const DOC_NUMBER_RE = /([\u4e00-\u9fff]{1,15})\s*[〔[［(【]\s*(\d{4})\s*[〕\]］)】]\s*(\d{1,5})\s*号/;
const RED_HEAD_RE = /^(.{2,40}?)\s*文件$/;
const NOTICE_ISSUER_RE = /^(.{2,40}?)\s*关于印发/;
const NOTICE_TITLE_RE = /关于印发\s*《(.+?)》/;
const TITLE_END_RE = /(要点|计划|方案|安排|清单|任务)$/;
const NOT_TITLE_RE = /[,。:;《》“”]|通知|印发|文件$/;
const HEADER_PUNCT_RE = /[,。:;《》“”!?！？]/;

/** Characters after which a line is a finished sentence, not a word cut by a page break. */
const SENTENCE_END_RE = /[。！？!?;)”’」』】…]$/;
const SENTENCE_STOP_RE = /[。！？]/;

export function parsePlan(text: string): PlanParseResult {
  return new PlanReader().read(text);
}

type Warn = (line: number, message: string) => void;

/** One pass over the lines; each line is a section heading, an item heading, preamble, or body text. */
class PlanReader {
  private readonly warnings: ParseWarning[] = [];
  private readonly preamble: SourceLine[] = [];
  private readonly sections: Section[] = [];
  private readonly workPoints: WorkPoint[] = [];
  private readonly footer: FooterInfo = { issuer: null, date: null };
  private sectionStyle: HeadingStyle | null = null;
  private itemStyle: HeadingStyle | null = null;
  private inBody = false;
  /** Issuer as far as the preamble tells, so a repeated signature line after the body is not read as text. */
  private preambleIssuer: string | null = null;
  private current: OpenItem | null = null;
  private openSection: OpenSection | null = null;
  private lastNumber = 0;
  private itemsBeforeSections = 0;
  // Whether the document restarts item numbers in each section ((一)(二)… under every 一、), decided at the
  // first item of the first later section that has items.
  private perSection: boolean | null = null;

  private readonly warn: Warn = (line, message) => {
    this.warnings.push({ line, message });
  };

  read(text: string): PlanParseResult {
    const lines: SourceLine[] = [];
    text
      .replace(/^\uFEFF/, '')
      .split(/\r\n|\r|\n/)
      .forEach((raw, index) => {
        const parsed = toParseForm(raw);
        if (parsed !== '' && !PAGE_NUMBER_RES.some((re) => re.test(parsed)))
          lines.push({ line: index + 1, text: parsed });
      });
    if (lines.length === 0) {
      this.warn(1, '输入为空：没有任何文字。请提供工作要点的正文（纯文本，UTF-8）。');
      return { plan: null, warnings: this.warnings };
    }

    ({ sectionStyle: this.sectionStyle, itemStyle: this.itemStyle } = detectStyles(lines));
    for (const source of lines) {
      const heading = matchHeading(source.text);
      if (heading !== null && heading.style === this.sectionStyle) this.onSectionHeading(source, heading);
      else if (heading !== null && heading.style === this.itemStyle) this.onItemHeading(source, heading);
      else if (!this.inBody) this.preamble.push(source);
      else this.onBodyLine(source);
    }
    this.finishItem();
    return this.result();
  }

  private onSectionHeading(source: SourceLine, heading: Heading): void {
    const expected = this.sections.length + 1;
    if (this.current !== null && isMidSentence(this.current.buffer) && heading.value !== expected) {
      this.warn(
        source.line,
        `这一行以“${heading.marker}”开头，像是新的部分标题，但上一条（${this.current.label}）的句子尚未结束，且应为“${toChineseNumeral(expected)}、”，已按上一条的续行读取。若它确是部分标题，请核对编号或补全上一条。`,
      );
      appendToItem(this.current, source);
      return;
    }
    this.finishItem();
    this.enterBody();
    if (heading.value !== expected) {
      this.warn(
        source.line,
        `部分编号不连续：这里写作“${heading.marker}”，按顺序应为“${toChineseNumeral(expected)}、”。已按所写编号读取，请核对。`,
      );
    }
    const section: Section = { number: heading.written, title: toOutputText(heading.rest) };
    this.sections.push(section);
    this.openSection = { section, itemCount: 0 };
  }

  private onItemHeading(source: SourceLine, heading: Heading): void {
    const inSection = (this.openSection?.itemCount ?? this.itemsBeforeSections) + 1;
    // A page break can leave "3、…" or "1.5…" at the start of a line; while the previous item is mid-sentence
    // only the expected number opens a new item.
    if (
      this.current !== null &&
      isMidSentence(this.current.buffer) &&
      heading.value !== this.lastNumber + 1 &&
      heading.value !== inSection
    ) {
      this.warn(
        source.line,
        `这一行以“${heading.marker}”开头，像是新的一条，但上一条（${this.current.label}）的句子尚未结束，且编号不连续，已按上一条的续行读取。若它确是新的一条，请核对编号或补全上一条。`,
      );
      appendToItem(this.current, source);
      return;
    }
    this.finishItem();
    this.enterBody();

    const number = this.assignNumber(source, heading, inSection);
    if (this.openSection !== null) {
      this.openSection.itemCount += 1;
    } else {
      this.itemsBeforeSections += 1;
      if (this.sectionStyle !== null) {
        this.warn(
          source.line,
          `“${heading.marker}”出现在第一个部分标题之前，无法确定它属于哪个部分（section 为空）。请在它之前加上部分标题，或删除它。`,
        );
      }
    }
    this.current = {
      headingLine: source.line,
      label:
        heading.style === 'arabic' && heading.value === number
          ? `第${number}条`
          : `第${number}条（原文“${heading.marker}”）`,
      number,
      section: this.openSection?.section.number ?? null,
      buffer: '',
      pieces: [],
    };
    appendToItem(this.current, { line: source.line, text: heading.rest });
  }

  /** Plan-wide numbers stay unique and increasing, whatever the document wrote; every deviation is a warning. */
  private assignNumber(source: SourceLine, heading: Heading, inSection: number): number {
    if (this.openSection !== null && this.openSection.itemCount === 0 && this.lastNumber > 0) {
      const restarts = heading.value === 1;
      if (this.perSection !== null && this.perSection !== restarts) {
        this.warn(
          source.line,
          `要点编号方式前后不一致：有的部分从1重新编号，有的部分接续上一部分编号。这一条按${this.perSection ? '每部分重新编号' : '全文连续编号'}读取，请统一编号方式。`,
        );
      } else {
        this.perSection = restarts;
      }
    }
    const expected = this.lastNumber + 1;
    let number = expected;
    if (this.perSection === true) {
      if (heading.value !== inSection) {
        this.warn(
          source.line,
          `“${heading.marker}”的编号不连续：在本部分中按顺序应为第${inSection}条。已按全文第${expected}条读取，请核对编号。`,
        );
      }
    } else if (heading.value > expected) {
      const missing = heading.value - 1 > expected ? `第${expected}至${heading.value - 1}条` : `第${expected}条`;
      this.warn(
        source.line,
        `要点编号不连续：这一条写作“${heading.marker}”，缺少${missing}。已按所写编号读取，请核对是否漏了要点。`,
      );
      number = heading.value;
    } else if (heading.value < expected) {
      this.warn(
        source.line,
        `要点编号重复或倒退：这一条写作“${heading.marker}”，而上一条已是第${this.lastNumber}条。已按第${expected}条读取，请核对编号。`,
      );
    }
    this.lastNumber = number;
    return number;
  }

  private onBodyLine(source: SourceLine): void {
    if (readFooter(source, this.footer, this.preambleIssuer)) {
      this.finishItem();
      return;
    }
    const current = this.current;
    if (current !== null) {
      const status = tailStatus(current.buffer);
      if (status === 'none' || status === 'open' || UNIT_LINE_RE.test(source.text)) {
        appendToItem(current, source);
        return;
      }
      // A bare unit line ("责任单位：中川镇、各中心社区、园") has no closing bracket to say it is finished,
      // so a short fragment without a sentence stop is taken as the rest of a name cut by a page break.
      if (status === 'closedBare' && !SENTENCE_STOP_RE.test(source.text) && [...source.text].length <= 20) {
        appendToItem(current, source);
        return;
      }
      this.warn(
        source.line,
        `这一行不属于任何一条要点：“${snippet(source.text)}”。它在${current.label}的单位括号之后，已忽略。若它是${current.label}的内容，请移到单位括号之前；若是新的一条，请加上编号。`,
      );
      return;
    }
    const open = this.openSection;
    if (open !== null && open.itemCount === 0 && canContinueSectionTitle(open.section, source)) {
      open.section.title = toOutputText(open.section.title + source.text);
      return;
    }
    const where =
      open === null
        ? '出现在正文中，但不在任何部分或要点之内'
        : open.itemCount === 0
          ? `位于“${open.section.number}、”部分标题之后、第一条要点之前`
          : '不在任何一条要点之内';
    this.warn(
      source.line,
      `这一行${where}，已忽略：“${snippet(source.text)}”。若它属于某一条要点，请把它并入该条；若是新的一条，请加上编号。`,
    );
  }

  private enterBody(): void {
    if (!this.inBody) this.preambleIssuer = findIssuer(this.preamble);
    this.inBody = true;
  }

  private finishItem(): void {
    if (this.current !== null) this.workPoints.push(finishWorkPoint(this.current, this.warn));
    this.current = null;
  }

  private result(): PlanParseResult {
    if (this.sections.length === 0 && this.workPoints.length === 0) {
      this.warn(
        1,
        '没有找到任何部分标题（如“一、…”）或编号要点（如“1. …”），无法读取工作要点。请确认这是工作要点的正文，且每条要点以编号开头。',
      );
      return { plan: null, warnings: sortWarnings(this.warnings) };
    }
    if (this.workPoints.length === 0) {
      this.warn(1, '找到了部分标题，但没有找到任何编号要点（如“1. …”或“（一）…”）。请确认每条要点以编号开头。');
    } else if (this.sectionStyle === null) {
      this.warn(
        1,
        '没有找到部分标题（如“一、…”），所有要点都不属于任何部分（section 为空）。如果文件有部分标题，请检查其格式。',
      );
    }
    const header = readHeader(this.preamble, this.footer, this.warn);
    const plan: Plan = { ...header, sections: this.sections, workPoints: this.workPoints };
    return { plan, warnings: sortWarnings(this.warnings) };
  }
}

function appendToItem(item: OpenItem, source: SourceLine): void {
  item.pieces.push({ offset: item.buffer.length, line: source.line });
  item.buffer += source.text;
}

// ---------------------------------------------------------------------------------------------
// Line forms

/** The form every rule matches against: one punctuation width, no markdown bold, collapsed spaces. */
function toParseForm(raw: string): string {
  return (
    raw
      .replace(/\*\*/g, '')
      .replace(/[（）：，；]/g, (c) => FULL_TO_HALF[c] ?? c)
      .replace(/[０-９]/g, (c) => String.fromCharCode(c.charCodeAt(0) - 0xfee0))
      .replace(/[\s\u200b]+/g, ' ')
      .trim()
      // A space between two Chinese characters is a wrapping artefact ("中川园区 法治政府"); these documents
      // separate unit names with 、 or commas, not spaces.
      .replace(/([^\x00-\x7f]) (?=[^\x00-\x7f])/g, '$1')
      .replace(/^#{1,6} /, '')
  );
}

function isAscii(ch: string): boolean {
  return ch.charCodeAt(0) < 0x80;
}

function isCjkPunctuation(ch: string): boolean {
  return /[\u3000-\u303f\uff00-\uff65\u2010-\u2027\u00b7]/.test(ch);
}

/**
 * The canonical output form: （）：，； full width wherever they touch Chinese text (ASCII contexts such
 * as "1,000" keep theirs), and spaces dropped between Chinese characters, where they are only artefacts of
 * line wrapping. Both make the result independent of how the source happened to be typed or wrapped.
 */
function toOutputText(parseForm: string): string {
  const chars = [...parseForm.replace(/\s+/g, ' ').trim()];
  const convertible = (ch: string | undefined): boolean => ch !== undefined && (ch === ' ' || ch in HALF_TO_FULL);
  // Nearest character on each side that is neither convertible punctuation nor a space, so that runs
  // like "）;" or ") (" take their width from the text around them.
  const leftContext: (string | undefined)[] = [];
  let last: string | undefined;
  for (const ch of chars) {
    leftContext.push(last);
    if (!convertible(ch)) last = ch;
  }
  const rightContext: (string | undefined)[] = new Array<string | undefined>(chars.length);
  last = undefined;
  for (let i = chars.length - 1; i >= 0; i -= 1) {
    rightContext[i] = last;
    const ch = chars[i];
    if (!convertible(ch)) last = ch;
  }
  const widened = chars.map((ch, i) => {
    const full = HALF_TO_FULL[ch];
    if (full === undefined) return ch;
    const left = leftContext[i];
    const right = rightContext[i];
    return (left !== undefined && !isAscii(left)) || (right !== undefined && !isAscii(right)) ? full : ch;
  });
  return widened
    .filter((ch, i) => {
      if (ch !== ' ') return true;
      const left = widened[i - 1];
      const right = widened[i + 1];
      if (left === undefined || right === undefined) return false;
      // Kept only where it separates Latin words or Chinese from a Latin word ("移动端 App").
      const chinese = (ch: string): boolean => !isAscii(ch);
      const digit = (ch: string): boolean => /\d/.test(ch);
      return !(
        (chinese(left) && (chinese(right) || digit(right))) ||
        (digit(left) && chinese(right)) ||
        isCjkPunctuation(left) ||
        isCjkPunctuation(right)
      );
    })
    .join('');
}

function snippet(parseForm: string): string {
  const chars = [...toOutputText(parseForm)];
  return chars.length > 24 ? `${chars.slice(0, 24).join('')}…` : chars.join('');
}

// ---------------------------------------------------------------------------------------------
// Headings

function chineseNumeralValue(numeral: string): number | null {
  const digit = (ch: string | undefined): number => (ch === undefined ? -1 : CN_DIGITS.indexOf(ch) + 1);
  const chars = [...numeral];
  if (chars.length === 1) {
    if (chars[0] === '十') return 10;
    const d = digit(chars[0]);
    return d > 0 ? d : null;
  }
  if (chars.length === 2) {
    if (chars[0] === '十') {
      const d = digit(chars[1]);
      return d > 0 ? 10 + d : null;
    }
    const tens = digit(chars[0]);
    return chars[1] === '十' && tens > 1 ? tens * 10 : null;
  }
  if (chars.length === 3 && chars[1] === '十') {
    const tens = digit(chars[0]);
    const ones = digit(chars[2]);
    return tens > 1 && ones > 0 ? tens * 10 + ones : null;
  }
  return null;
}

function toChineseNumeral(value: number): string {
  if (value < 1 || value > 99) return String(value);
  const tens = Math.floor(value / 10);
  const ones = value % 10;
  const onesText = ones > 0 ? (CN_DIGITS[ones - 1] ?? '') : '';
  if (tens === 0) return onesText;
  return `${tens > 1 ? (CN_DIGITS[tens - 1] ?? '') : ''}十${onesText}`;
}

function matchHeading(text: string): Heading | null {
  let m = PAREN_CN_RE.exec(text);
  if (m !== null) {
    const written = m[1] ?? '';
    const value = chineseNumeralValue(written);
    return value === null ? null : { style: 'parenCn', value, written, marker: `（${written}）`, rest: m[2] ?? '' };
  }
  m = PAREN_ARABIC_RE.exec(text);
  if (m !== null) {
    const written = m[1] ?? '';
    const value = Number(written);
    return value < 1 ? null : { style: 'parenArabic', value, written, marker: `（${written}）`, rest: m[2] ?? '' };
  }
  m = SECTION_RE.exec(text);
  if (m !== null) {
    const written = m[1] ?? '';
    const value = chineseNumeralValue(written);
    return value === null ? null : { style: 'cn', value, written, marker: `${written}、`, rest: m[2] ?? '' };
  }
  m = ARABIC_RE.exec(text);
  if (m !== null) {
    const written = m[1] ?? '';
    const value = Number(written);
    return value < 1 ? null : { style: 'arabic', value, written, marker: `${written}.`, rest: m[2] ?? '' };
  }
  return null;
}

/**
 * Which heading style marks sections and which marks work points. Sections are 一、 when the document has
 * them; otherwise （一） when 1. items follow them. Work points are the first other style seen after the first
 * section heading, so deeper numbering inside an item (（1）…) stays part of its text.
 */
function detectStyles(lines: SourceLine[]): { sectionStyle: HeadingStyle | null; itemStyle: HeadingStyle | null } {
  const headings = lines.map((l) => matchHeading(l.text)).filter((h): h is Heading => h !== null);
  let sectionStyle: HeadingStyle | null = null;
  if (headings.some((h) => h.style === 'cn')) {
    sectionStyle = 'cn';
  } else {
    const firstParenCn = headings.findIndex((h) => h.style === 'parenCn');
    if (
      firstParenCn >= 0 &&
      headings.slice(firstParenCn).some((h) => h.style === 'arabic' || h.style === 'parenArabic')
    ) {
      sectionStyle = 'parenCn';
    }
  }
  const firstSection = sectionStyle === null ? 0 : headings.findIndex((h) => h.style === sectionStyle);
  const item = headings.slice(Math.max(firstSection, 0)).find((h) => h.style !== sectionStyle);
  return { sectionStyle, itemStyle: item?.style ?? null };
}

function canContinueSectionTitle(section: Section, source: SourceLine): boolean {
  return (
    !/[。:;!?！？]$/.test(section.title) &&
    !SENTENCE_STOP_RE.test(source.text) &&
    [...source.text].length <= 60 &&
    [...section.title].length + [...source.text].length <= 100
  );
}

// ---------------------------------------------------------------------------------------------
// Work point body and unit tail

function stripTrailing(buffer: string): string {
  return buffer.replace(/[\s。]+$/, '');
}

/**
 * Where the unit part of an item starts: the first 牵头单位/责任单位 label after the last sentence stop
 * that is either opened by a bracket or followed by a colon, so that prose such as "各牵头单位要…" is not
 * mistaken for it.
 */
function findTailStart(text: string): number {
  let lastStop = -1;
  for (let i = text.length - 1; i >= 0; i -= 1) {
    if (SENTENCE_STOP_RE.test(text.charAt(i))) {
      lastStop = i;
      break;
    }
  }
  for (const m of text.matchAll(UNIT_LABEL_RE)) {
    if (m.index <= lastStop) continue;
    const before = text.slice(0, m.index).trimEnd();
    if (before.endsWith('(') && before.length - 1 > lastStop) return before.length - 1;
    if (/^\s*:/.test(text.slice(m.index + m[0].length))) return m.index;
  }
  return -1;
}

function bracketDepth(text: string): number {
  let depth = 0;
  for (const ch of text) {
    if (ch === '(') depth += 1;
    else if (ch === ')') depth -= 1;
  }
  return depth;
}

function tailStatus(buffer: string): TailStatus {
  const text = stripTrailing(buffer);
  const start = findTailStart(text);
  if (start < 0) return 'none';
  const tail = text.slice(start);
  if (bracketDepth(tail) > 0 || /[、,;:]$/.test(tail)) return 'open';
  return tail.startsWith('(') ? 'closedParen' : 'closedBare';
}

function isMidSentence(buffer: string): boolean {
  const text = buffer.trimEnd();
  return tailStatus(text) === 'open' || !SENTENCE_END_RE.test(text);
}

function countOf(text: string, ch: string): number {
  let n = 0;
  for (const c of text) if (c === ch) n += 1;
  return n;
}

/** Strips separators and brackets that belong to the surrounding group, keeping balanced ones like 镇(中心社区). */
function trimUnitText(value: string): string {
  let s = value.trim();
  for (;;) {
    const first = s.charAt(0);
    if (
      s !== '' &&
      (/[:;,、\s]/.test(first) || first === ')' || (first === '(' && countOf(s, '(') > countOf(s, ')')))
    ) {
      s = s.slice(1);
    } else {
      break;
    }
  }
  for (;;) {
    const lastCh = s.charAt(s.length - 1);
    if (
      s !== '' &&
      (/[;,、。\s]/.test(lastCh) || lastCh === '(' || (lastCh === ')' && countOf(s, ')') > countOf(s, '(')))
    ) {
      s = s.slice(0, -1);
    } else {
      break;
    }
  }
  return s;
}

function splitUnitNames(value: string): string[] {
  const names: string[] = [];
  let depth = 0;
  let currentName = '';
  for (const ch of value) {
    if (ch === '(') depth += 1;
    else if (ch === ')') depth = Math.max(0, depth - 1);
    if (depth === 0 && (ch === '、' || ch === ',' || ch === ';')) {
      names.push(currentName);
      currentName = '';
    } else {
      currentName += ch;
    }
  }
  names.push(currentName);
  return names;
}

function lineAt(item: OpenItem, offset: number): number {
  let line = item.headingLine;
  for (const piece of item.pieces) {
    if (piece.offset <= offset) line = piece.line;
  }
  return line;
}

function finishWorkPoint(item: OpenItem, warn: Warn): WorkPoint {
  const label = item.label;
  const trimmed = stripTrailing(item.buffer);
  const tailStart = findTailStart(trimmed);
  const body = tailStart >= 0 ? trimmed.slice(0, tailStart) : item.buffer;
  const text = toOutputText(body);
  const stop = text.search(SENTENCE_STOP_RE);
  const title = stop >= 0 ? text.slice(0, stop) : text.replace(/[，；：、\s]+$/, '');
  if (text === '') warn(item.headingLine, `${label}只有编号，没有内容。请补上这一条的内容，或删除这个编号。`);
  else if (title === '') warn(item.headingLine, `${label}以句号开头，读不出标题。请删去开头多余的“。”。`);

  let leadUnits: string[] | null = null;
  let responsibleUnits: string[] | null = null;
  if (tailStart >= 0) {
    const tail = trimmed.slice(tailStart);
    const tailLine = lineAt(item, tailStart);
    if (bracketDepth(tail) !== 0) {
      warn(tailLine, `${label}的单位括号不配对（缺少“（”或“）”），已按现有内容读取单位。请补全括号。`);
    }
    const labels = [...tail.matchAll(UNIT_LABEL_RE)];
    const lead = labels[0];
    if (lead !== undefined && !/^[\s(]*$/.test(tail.slice(0, lead.index))) {
      warn(tailLine, `${label}的单位括号开头有无法识别的内容，已忽略。请只写“牵头单位：…；责任单位：…”。`);
    }
    labels.forEach((m, i) => {
      const next = labels[i + 1];
      const value = trimUnitText(tail.slice(m.index + m[0].length, next === undefined ? tail.length : next.index));
      const isLead = m[0].startsWith('牵头');
      const kind = isLead ? '牵头单位' : '责任单位';
      const names: string[] = [];
      for (const rawName of splitUnitNames(value)) {
        const name = toOutputText(trimUnitText(rawName));
        if (name === '') {
          warn(tailLine, `${label}的${kind}中有空的单位名称（分隔符重复或多余），已跳过。请删去多余的“、”或“，”。`);
        } else if (/[:：]/.test(name)) {
          warn(
            tailLine,
            `${label}的${kind}中有无法识别的内容“${name}”，已忽略。单位括号中只支持“牵头单位”和“责任单位”。`,
          );
        } else if (names.includes(name)) {
          warn(tailLine, `${label}的${kind}中“${name}”重复出现，只保留一次。`);
        } else {
          names.push(name);
        }
      }
      const existing = isLead ? leadUnits : responsibleUnits;
      if (existing !== null) {
        warn(tailLine, `${label}写了不止一次${kind}，已合并。请只写一次。`);
      }
      const merged = [...(existing ?? []), ...names.filter((n) => !(existing ?? []).includes(n))];
      if (isLead) leadUnits = merged;
      else responsibleUnits = merged;
    });
  }

  if (leadUnits === null && responsibleUnits === null) {
    warn(
      item.headingLine,
      `${label}没有写明牵头单位和责任单位（末尾应有“（牵头单位：…；责任单位：…）”），两者都按空读取。请在这一条末尾补上。`,
    );
  } else if (leadUnits === null) {
    warn(item.headingLine, `${label}没有写明牵头单位，按空读取。请在单位括号中补上“牵头单位：…”。`);
  } else if (responsibleUnits === null) {
    warn(item.headingLine, `${label}没有写明责任单位，按空读取。请在单位括号中补上“责任单位：…”。`);
  }

  return {
    number: item.number,
    section: item.section,
    title,
    text,
    leadUnits: leadUnits ?? [],
    responsibleUnits: responsibleUnits ?? [],
  };
}

// ---------------------------------------------------------------------------------------------
// Header and footer

function isValidDate(y: number, m: number, d: number): boolean {
  if (y < 1900 || y > 2199 || m < 1 || m > 12 || d < 1) return false;
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1] ?? 0;
  return d <= days;
}

function isoDate(y: number, m: number, d: number): string {
  return `${String(y).padStart(4, '0')}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
}

/** Recognises 落款 and 版记 lines after the body, so they are neither item text nor warnings. */
function readFooter(source: SourceLine, footer: FooterInfo, issuer: string | null): boolean {
  const text = source.text;
  const printed = PRINTED_RE.exec(text);
  if (printed !== null) {
    const name = (printed[1] ?? '').trim();
    if (name !== '' && footer.issuer === null) footer.issuer = name;
    footer.date ??= { y: Number(printed[2]), m: Number(printed[3]), d: Number(printed[4]), line: source.line };
    return true;
  }
  const dateOnly = DATE_ONLY_RE.exec(text);
  if (dateOnly !== null) {
    footer.date ??= { y: Number(dateOnly[1]), m: Number(dateOnly[2]), d: Number(dateOnly[3]), line: source.line };
    return true;
  }
  const signature = SIGNATURE_RE.exec(text);
  if (signature !== null) {
    footer.issuer ??= (signature[1] ?? '').trim();
    return true;
  }
  if (issuer !== null && toOutputText(text) === issuer) return true;
  return COPIES_RE.test(text) || CC_RE.test(text) || PUBLIC_RE.test(text);
}

function findIssuer(preamble: SourceLine[]): string | null {
  const pick = (re: RegExp): string | null => {
    for (const l of preamble) {
      const m = re.exec(l.text);
      const name = m?.[1]?.trim();
      if (name !== undefined && name !== '' && !HEADER_PUNCT_RE.test(name)) return toOutputText(name);
    }
    return null;
  };
  const redHead = pick(RED_HEAD_RE);
  if (redHead !== null) return redHead;
  const signature = pick(SIGNATURE_RE);
  if (signature !== null) return signature;
  // A signature without (代): the short line right above the date.
  const dateIndex = preamble.findIndex((l) => DATE_ONLY_RE.test(l.text));
  const above = dateIndex > 0 ? preamble[dateIndex - 1] : undefined;
  if (
    above !== undefined &&
    [...above.text].length <= 40 &&
    !HEADER_PUNCT_RE.test(above.text) &&
    !DOC_NUMBER_RE.test(above.text) &&
    !TITLE_END_RE.test(above.text)
  ) {
    return toOutputText(above.text);
  }
  return pick(NOTICE_ISSUER_RE);
}

function findTitle(preamble: SourceLine[]): string | null {
  for (let i = preamble.length - 1; i >= 0; i -= 1) {
    const candidate = preamble[i];
    if (candidate === undefined) continue;
    const t = candidate.text;
    if (!TITLE_END_RE.test(t) || NOT_TITLE_RE.test(t) || [...t].length > 60 || DOC_NUMBER_RE.test(t)) continue;
    // Red-head documents often set the title on two lines, the year on the first.
    const previous = preamble[i - 1];
    if (
      !/^\d{4}\s*年/.test(t) &&
      previous !== undefined &&
      /^\d{4}\s*年/.test(previous.text) &&
      !DATE_ONLY_RE.test(previous.text) &&
      !HEADER_PUNCT_RE.test(previous.text) &&
      [...previous.text].length <= 40
    ) {
      return toOutputText(previous.text + t);
    }
    return toOutputText(t);
  }
  for (const l of preamble) {
    const m = NOTICE_TITLE_RE.exec(l.text);
    const title = m?.[1];
    if (title !== undefined && title.trim() !== '') return toOutputText(title);
  }
  return null;
}

function readHeader(
  preamble: SourceLine[],
  footer: FooterInfo,
  warn: Warn,
): Pick<Plan, 'title' | 'issuer' | 'docNumber' | 'issuedAt' | 'year'> {
  const title = findTitle(preamble);
  if (title === null) {
    warn(1, '没有找到工作要点的标题（如“2023年…法治政府建设工作要点”）。请在第一个部分标题之前单独一行写明标题。');
  }

  const issuer = findIssuer(preamble) ?? (footer.issuer !== null ? toOutputText(footer.issuer) : null);
  if (issuer === null) {
    warn(1, '没有找到发文机关（如“…委员会文件”或落款中的机关名称）。请在文件开头写明发文机关。');
  }

  let docNumber: string | null = null;
  let docYear: number | null = null;
  for (const l of preamble) {
    const m = DOC_NUMBER_RE.exec(l.text);
    if (m !== null) {
      docNumber = `${m[1] ?? ''}〔${m[2] ?? ''}〕${Number(m[3])}号`;
      docYear = Number(m[2]);
      break;
    }
  }
  if (docNumber === null) {
    warn(1, '没有找到发文字号（如“新中法发〔2023〕2号”）。请在文件开头单独一行写明发文字号。');
  }

  let date: FooterInfo['date'] = null;
  for (const l of preamble) {
    const only = DATE_ONLY_RE.exec(l.text);
    const printed = only === null ? PRINTED_RE.exec(l.text) : null;
    const parts = only !== null ? only.slice(1, 4) : printed !== null ? printed.slice(2, 5) : null;
    if (parts !== null) {
      date = { y: Number(parts[0]), m: Number(parts[1]), d: Number(parts[2]), line: l.line };
      break;
    }
  }
  date ??= footer.date;
  let issuedAt: string | null = null;
  if (date === null) {
    warn(1, '没有找到成文日期（如“2023年5月31日”）。请在落款处单独一行写明日期。');
  } else if (!isValidDate(date.y, date.m, date.d)) {
    warn(date.line, `成文日期“${date.y}年${date.m}月${date.d}日”不是有效日期，已忽略。请更正日期。`);
  } else {
    issuedAt = isoDate(date.y, date.m, date.d);
  }

  const titleYear = title === null ? null : /(\d{4})\s*年/.exec(title)?.[1];
  const candidates = [titleYear === undefined || titleYear === null ? null : Number(titleYear), docYear];
  if (issuedAt !== null) candidates.push(Number(issuedAt.slice(0, 4)));
  const year = candidates.find((y): y is number => y !== null && y >= 1900 && y <= 2199) ?? null;
  if (year === null) {
    warn(1, '无法确定年度：标题、发文字号和成文日期中都没有有效年份。请在标题中写明年份（如“2023年…工作要点”）。');
  }

  return { title, issuer, docNumber, issuedAt, year };
}

function sortWarnings(warnings: ParseWarning[]): ParseWarning[] {
  return warnings
    .map((w, i) => ({ w, i }))
    .sort((a, b) => a.w.line - b.w.line || a.i - b.i)
    .map(({ w }) => w);
}
