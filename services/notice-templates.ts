import type { NoticeKind, NoticeRequest } from '../domain/model';
import { shanghaiDate } from '../domain/schedule';

/** Chinese notice texts, one per kind. Each carries the work point, the due date and, where the recipient acts, the link. */

export interface RenderedNotice {
  subject: string;
  body: string;
}

const SUBJECT: Record<NoticeKind, string> = {
  assignment: '【交办】',
  reminder: '【提醒】',
  overdue: '【催办】',
  'escalation-lead': '【督办】',
  'escalation-office': '【通报】',
  returned: '【退回修改】',
  'extension-request': '【延期申请】',
  'extension-decision': '【延期审批结果】',
  'deadline-extended': '【延期通知】',
  'review-request': '【年终述职】',
  'review-reminder': '【年度总结提醒】',
  'review-overdue': '【年度总结催办】',
  'review-escalation-office': '【年度总结通报】',
  'rating-due': '【待评定】',
};

function when(t: number | undefined): string {
  if (t === undefined) return '';
  const iso = new Date(t + 8 * 3600 * 1000).toISOString();
  return `${shanghaiDate(t)} ${iso.slice(11, 16)}`;
}

export function renderNotice(
  n: NoticeRequest,
  recipientName: string,
  link: string | undefined,
  /** A rehearsal (演练) says so in the subject and the first line. */
  drill = false,
): RenderedNotice {
  const item = `第${n.workPoint}条「${n.workPointTitle}」`;
  const period = n.periodLabel ? `${n.periodLabel}` : '';
  const due = n.dueAt !== undefined ? `截止时间：${when(n.dueAt)}（北京时间）` : '';
  const about = (n.aboutUnits ?? []).map((u) => u.name).join('、');
  const reason = n.reason ? `说明：${n.reason}` : '';
  const linkLine = link ? `报送链接（无需登录）：${link}` : '';
  const lines: string[] = [`${recipientName}：`];
  switch (n.kind) {
    case 'assignment':
      lines.push(
        `现将${n.cycleYear}年法治政府建设工作要点${item}交办你单位，请按要求落实并报送${period}进展情况。`,
        due,
        linkLine,
        '打开链接即视为签收。',
      );
      break;
    case 'reminder':
      lines.push(`${item}${period}进展报告尚未收到，请于截止前报送。`, due, linkLine);
      break;
    case 'overdue':
      lines.push(`${item}${period}进展报告已到截止时间仍未收到，请尽快报送（逾期报送将标记为逾期）。`, due, linkLine);
      break;
    case 'escalation-lead':
      lines.push(`你单位牵头的${item}${period}进展报告，以下责任单位逾期未报：${about}。请督促落实。`, due);
      break;
    case 'escalation-office':
      lines.push(`${item}${period}进展报告，以下单位经督办仍逾期未报：${about}。`, due);
      break;
    case 'returned':
      lines.push(`你单位报送的${item}${period}进展报告已退回，请修改后重新报送。`, reason, due, linkLine);
      break;
    case 'extension-request':
      lines.push(`${about}申请延期报送${item}${period}进展报告。`, reason, due);
      break;
    case 'extension-decision':
      lines.push(`你单位关于${item}${period}的延期申请审批结果：${n.reason ?? ''}`, due, linkLine);
      break;
    case 'deadline-extended':
      lines.push(`${item}${period}报送截止时间已调整。`, reason, due, linkLine);
      break;
    case 'review-request':
      lines.push(`请你单位作为牵头单位报送${item}年度总结，并进行自评（完成 / 基本完成 / 未完成）。`, due, linkLine);
      break;
    case 'review-reminder':
      lines.push(`${item}年度总结尚未收到，请于截止前报送。`, due, linkLine);
      break;
    case 'review-overdue':
      lines.push(`${item}年度总结已逾期，请尽快报送。`, due, linkLine);
      break;
    case 'review-escalation-office':
      lines.push(`${item}年度总结逾期未报：${about}。`, due);
      break;
    case 'rating-due':
      lines.push(`${item}待评定年终述职（完成 / 基本完成 / 未完成）。`, due);
      break;
  }
  lines.push('', '——园区依法治区办（duban 督办系统自动发送）');
  if (drill) lines.unshift('【演练】本通知来自演练周期，不是正式督办，无需实际办理。', '');
  return {
    subject: `${drill ? '【演练】' : ''}${SUBJECT[n.kind]}${n.cycleYear}年第${n.workPoint}条 ${n.workPointTitle}${period ? ` · ${period}` : ''}`,
    body: lines.filter((l, i) => l !== '' || i > 0).join('\n'),
  };
}
