/** A tiny HTML builder: interpolations are escaped unless wrapped in raw(). No template engine needed. */

const RAW = Symbol('raw');
export interface Raw {
  [RAW]: true;
  value: string;
}

export const raw = (value: string): Raw => ({ [RAW]: true, value });

function isRaw(v: unknown): v is Raw {
  return typeof v === 'object' && v !== null && RAW in v;
}

export function escapeHtml(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );
}

type Value = string | number | boolean | null | undefined | Raw | Value[];

function render(v: Value): string {
  if (v === null || v === undefined || v === false) return '';
  if (Array.isArray(v)) return v.map(render).join('');
  if (isRaw(v)) return v.value;
  return escapeHtml(String(v));
}

export function html(strings: TemplateStringsArray, ...values: Value[]): Raw {
  let out = strings[0] ?? '';
  values.forEach((v, i) => {
    out += render(v) + (strings[i + 1] ?? '');
  });
  return raw(out);
}

const STYLE = `
*{box-sizing:border-box}body{margin:0;font:16px/1.6 -apple-system,"PingFang SC","Noto Sans CJK SC","Microsoft YaHei",sans-serif;color:#1f2328;background:#f6f8fa}
main{max-width:760px;margin:0 auto;padding:16px}header{background:#b42318;color:#fff;padding:12px 16px}header h1{margin:0;font-size:18px}
section{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:16px;margin:12px 0}h2{font-size:17px;margin:0 0 8px}
.meta{color:#57606a;font-size:14px}.badge{display:inline-block;padding:2px 8px;border-radius:12px;font-size:13px;background:#eaeef2}
.red{background:#ffebe9;color:#a40e26}.yellow{background:#fff8c5;color:#7d4e00}.green{background:#dafbe1;color:#116329}
label{display:block;font-weight:600;margin:12px 0 4px}textarea{width:100%;min-height:180px;font:inherit;padding:8px;border:1px solid #d0d7de;border-radius:6px}
select,input[type=file]{font:inherit;max-width:100%}button{margin-top:16px;font:inherit;font-weight:600;padding:10px 24px;border:0;border-radius:6px;background:#1f883d;color:#fff;width:100%}
.hint{color:#57606a;font-size:13px}.error{border-color:#cf222e;background:#ffebe9}table{width:100%;border-collapse:collapse;font-size:14px}td,th{border-bottom:1px solid #d0d7de;padding:6px 4px;text-align:left;vertical-align:top}th{white-space:nowrap}
.pre{white-space:pre-wrap;word-break:break-word}.receipt{font-size:22px;font-weight:700;letter-spacing:1px}
`;

export function page(title: string, body: Raw): string {
  return `<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(title)}</title><style>${STYLE}</style></head>
<body><header><h1>督办 · 园区依法治区办</h1></header><main>${body.value}</main></body></html>`;
}
