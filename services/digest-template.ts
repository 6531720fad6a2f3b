import { toShanghaiIso } from '../domain/schedule';

/**
 * Texts of one outgoing message: a single notice as templates.ts rendered it, or the daily digest
 * (每日汇总) that lists every notice a contact collected, each with its due date and reply link.
 */

export interface DigestItem {
  subject: string;
  body: string;
  link: string | null;
  dueAt: number | null;
}

export interface MessageText {
  subject: string;
  /** Email body and log line: the digest list followed by every notice in full. */
  text: string;
  /** Group-robot text (WeCom, DingTalk): subject and list only, cut to the robot's size limit. */
  chat(maxBytes: number): string;
}

const FOOTER = '——园区依法治区办（duban 督办系统自动发送）';

/** 'YYYY-MM-DD HH:mm' Asia/Shanghai. */
export function shanghaiMinute(ms: number): string {
  return toShanghaiIso(ms).slice(0, 16).replace('T', ' ');
}

const bytes = (s: string): number => Buffer.byteLength(s, 'utf8');

/** Cuts `s` to at most `max` UTF-8 bytes without splitting a character, marking the cut. */
export function truncateUtf8(s: string, max: number, marker = '…（内容过长，已截断）'): string {
  if (bytes(s) <= max) return s;
  const budget = Math.max(0, max - bytes(marker));
  let out = '';
  for (const ch of s) {
    if (bytes(out) + bytes(ch) > budget) break;
    out += ch;
  }
  return out + marker;
}

function itemLines(item: DigestItem, index: number): string[] {
  return [
    `${index + 1}. ${item.subject}`,
    ...(item.dueAt !== null ? [`   截止时间：${shanghaiMinute(item.dueAt)}（北京时间）`] : []),
    ...(item.link ? [`   报送链接（无需登录）：${item.link}`] : []),
  ];
}

/** A single notice goes out exactly as rendered when it was written to the outbox. */
export function renderSingle(item: DigestItem): MessageText {
  return {
    subject: item.subject,
    text: item.body,
    chat: (maxBytes) => truncateUtf8(`${item.subject}\n${item.body}`, maxBytes),
  };
}

/**
 * The digest: one message listing every notice (most urgent due date first), so a community office
 * reads one mail a day instead of one per event. Chat robots get the list only and, past their size
 * limit, a count of what did not fit rather than a list cut mid-link.
 */
export function renderDigest(unitName: string, items: DigestItem[], sentAt: number): MessageText {
  const date = shanghaiMinute(sentAt).slice(0, 10);
  const subject = `【督办汇总】${unitName} ${date} 共${items.length}项通知`;
  const intro = [`${unitName}：`, `今日共有 ${items.length} 项督办通知，汇总如下（按截止时间排列）：`, ''];
  const list = items.flatMap((item, i) => [...itemLines(item, i), '']);
  const full = items.flatMap((item, i) => [`【${i + 1}】${item.subject}`, item.body, '']);
  return {
    subject,
    text: [...intro, ...list, FOOTER, '', '———— 各项通知全文 ————', '', ...full].join('\n').trimEnd(),
    chat(maxBytes) {
      const tail = (rest: number) => `\n……另有 ${rest} 项未列出，请查看邮件或联系园区依法治区办。\n${FOOTER}`;
      let text = [subject, ...intro.slice(0, 2)].join('\n');
      for (const [i, item] of items.entries()) {
        const block = `\n${itemLines(item, i).join('\n')}`;
        const rest = items.length - i - 1;
        // An item goes in only if what must follow it (the closing line, or the count of the rest) still fits.
        if (bytes(text + block + (rest === 0 ? `\n${FOOTER}` : tail(rest))) > maxBytes) {
          return truncateUtf8(text + tail(rest + 1), maxBytes);
        }
        text += block;
      }
      return `${text}\n${FOOTER}`;
    },
  };
}
