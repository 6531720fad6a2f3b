/**
 * Webhook contact addresses (docs/notifications.md): which body format a URL gets, and how to show one
 * without its credential. No I/O, so the API can use it too.
 */

/** A failure that retrying cannot fix (bad address, permanent SMTP rejection): the row fails at once. */
export class PermanentDeliveryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PermanentDeliveryError';
  }
}

export type WebhookFormat = 'duban' | 'wecom' | 'dingtalk';

export interface WebhookTarget {
  format: WebhookFormat;
  url: URL;
  /** DingTalk 加签 secret (SEC…), taken out of the address and never sent. */
  signSecret?: string;
}

/**
 * A contact's webhook address: `wecom:<url>`, `dingtalk:<url>` (a `secret=SEC…` query parameter turns on
 * DingTalk signing) or a plain URL. A plain URL of the WeCom or DingTalk robot hosts gets that format too;
 * any other URL receives duban's own JSON.
 */
export function parseWebhookAddress(address: string): WebhookTarget {
  const m = /^(wecom|dingtalk|duban):(.+)$/i.exec(address.trim());
  const explicit = m?.[1]?.toLowerCase() as WebhookFormat | undefined;
  let url: URL;
  try {
    url = new URL(m?.[2] ?? address.trim());
  } catch {
    throw new PermanentDeliveryError(
      'webhook address is not a URL (expected https://…, wecom:https://… or dingtalk:https://…)',
    );
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new PermanentDeliveryError(`webhook address must be http(s), not ${url.protocol}`);
  }
  const format: WebhookFormat =
    explicit ??
    (url.hostname === 'qyapi.weixin.qq.com' ? 'wecom' : url.hostname === 'oapi.dingtalk.com' ? 'dingtalk' : 'duban');
  const secret = url.searchParams.get('secret');
  if (format === 'dingtalk' && secret) {
    url.searchParams.delete('secret');
    return { format, url, signSecret: secret };
  }
  return { format, url };
}

/** For display: robot webhook URLs carry their credential (key, access_token) in the query. */
export function maskAddress(channel: string, address: string): string {
  if (channel !== 'webhook') return address;
  const m = /^(wecom:|dingtalk:|duban:)?(.+)$/i.exec(address.trim());
  try {
    const url = new URL(m?.[2] ?? address);
    return `${m?.[1] ?? ''}${url.origin}${url.pathname}${url.search ? '?…' : ''}`;
  } catch {
    return '(invalid webhook address)';
  }
}
