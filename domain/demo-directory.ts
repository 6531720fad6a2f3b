/**
 * 示例单位目录 — DEMO DATA, not a real address book.
 *
 * It lets the 2023 seed plan run end to end out of the box: it holds every unit the seed names,
 * three invented communities (示例第…中心社区; the real communities are not named in the plan), and
 * invented per-work-point choices for 园区相关部门 / 园区各相关部门 (seed items 5, 8, 17, 23).
 * Which departments count as law-enforcement departments (tag 'enforcement') is a plausible guess
 * from their names, not an official list. Contacts go to the log only (address = unit id), so a
 * demo never emails anybody. Replace the whole directory before real use.
 */
import {
  type Contact,
  type UnitDirectory,
  type UnitInput,
  type UnitKind,
  UnitDirectorySchema,
  slugForUnitName,
} from './units';

export const DEMO_DIRECTORY_LABEL = '示例单位目录（演示数据，非真实通讯录） / demo unit directory (not real contacts)';

function unit(name: string, kind: UnitKind, extra: { tags?: string[]; aliases?: string[] } = {}): UnitInput {
  const id = slugForUnitName(name);
  const contacts: Contact[] = [{ channel: 'log', address: id }];
  return { id, name, kind, aliases: extra.aliases ?? [], tags: extra.tags ?? [], contacts, active: true };
}

const enforcement = { tags: ['enforcement'] };

export const DEMO_UNIT_DIRECTORY: UnitDirectory = UnitDirectorySchema.parse({
  units: [
    unit('园区依法治区办', 'office', { aliases: ['依法治区办'] }),
    unit('组织人事局', 'department'),
    unit('经发局', 'department'),
    unit('市场监管局', 'department', enforcement),
    unit('综合办', 'department'),
    unit('农林水务局', 'department', enforcement),
    unit('资环局', 'department', enforcement),
    // Labour-security inspection (劳动保障监察) is an enforcement task.
    unit('民政和社保局', 'department', enforcement),
    unit('应急局', 'department', enforcement),
    unit('经合局', 'department'),
    unit('财政局', 'department'),
    unit('中川镇', 'town'),
    unit('示例第一中心社区', 'community'),
    unit('示例第二中心社区', 'community'),
    unit('示例第三中心社区', 'community'),
  ],
  // Demo choices by the office, keyed by seed work point number.
  groupSelections: {
    园区相关部门: {
      // 5. 市场准入负面清单: departments that approve projects, land use, safety and investment.
      '5': ['zihuan-ju', 'nonglin-shuiwu-ju', 'yingji-ju', 'jinghe-ju'],
      // 8. 法治化营商环境提升专项行动.
      '8': ['jingfa-ju', 'shichang-jianguan-ju', 'zonghe-ban', 'jinghe-ju'],
      // 23. 数字政府建设: 一网通办, electronic licences.
      '23': ['zonghe-ban', 'shichang-jianguan-ju', 'minzheng-shebao-ju'],
    },
    园区各相关部门: {
      // 17. 行政调解和裁决.
      '17': ['zonghe-ban', 'zihuan-ju', 'nonglin-shuiwu-ju', 'shichang-jianguan-ju'],
    },
  },
});
