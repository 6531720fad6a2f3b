import { z } from 'zod';

/**
 * The plan as read from an annual work plan document (工作要点). Pure data, no I/O: this module is
 * imported by workflows, the API and the CLI alike.
 *
 * Header fields are nullable on purpose: a document without, say, a doc number is still a plan whose
 * work points can be supervised, and the parser reports the gap as a warning instead of inventing a value.
 */

/** Section numbers as written in the document: 一 … 九十九. */
export const ChineseNumeralSchema = z.string().regex(/^[一二三四五六七八九十]{1,3}$/);

export const SectionSchema = z.object({
  number: ChineseNumeralSchema,
  title: z.string(),
});
export type Section = z.infer<typeof SectionSchema>;

export const WorkPointSchema = z.object({
  /** Sequential across the whole plan (第N条), also when the document restarts numbering per section. */
  number: z.number().int().positive(),
  /** The owning section's numeral; null only when the document has no section headings before it. */
  section: ChineseNumeralSchema.nullable(),
  /** The sentence before the first 。 */
  title: z.string(),
  /** Full item text without the trailing unit parenthesis, page breaks repaired, punctuation normalised. */
  text: z.string(),
  /** 牵头单位, names as written (groups such as 各中心社区 included verbatim). */
  leadUnits: z.array(z.string().min(1)),
  /** 责任单位, names as written. */
  responsibleUnits: z.array(z.string().min(1)),
});
export type WorkPoint = z.infer<typeof WorkPointSchema>;

export const PlanSchema = z
  .object({
    title: z.string().min(1).nullable(),
    issuer: z.string().min(1).nullable(),
    /** e.g. 新中法发〔2023〕2号 (brackets normalised to 〔〕 as in GB/T 9704). */
    docNumber: z.string().min(1).nullable(),
    /** ISO date YYYY-MM-DD. */
    issuedAt: z.iso.date().nullable(),
    /** The year the plan is for (from its title; falls back to the doc number, then the issue date). */
    year: z.number().int().positive().nullable(),
    sections: z.array(SectionSchema),
    workPoints: z.array(WorkPointSchema),
  })
  .superRefine((plan, ctx) => {
    // Work point numbers become workflow IDs (wp-<year>-<nn>), so they must be unique.
    const seen = new Set<number>();
    for (const [index, point] of plan.workPoints.entries()) {
      if (seen.has(point.number)) {
        ctx.addIssue({ code: 'custom', path: ['workPoints', index, 'number'], message: 'duplicate work point number' });
      }
      seen.add(point.number);
    }
    const sectionNumbers = new Set(plan.sections.map((section) => section.number));
    for (const [index, point] of plan.workPoints.entries()) {
      if (point.section !== null && !sectionNumbers.has(point.section)) {
        ctx.addIssue({ code: 'custom', path: ['workPoints', index, 'section'], message: 'unknown section' });
      }
    }
  });
export type Plan = z.infer<typeof PlanSchema>;

export const ParseWarningSchema = z.object({
  /** 1-based line in the input the warning is about. */
  line: z.number().int().positive(),
  /** Chinese: what could not be read and what to fix in the document. */
  message: z.string().min(1),
});
export type ParseWarning = z.infer<typeof ParseWarningSchema>;

export const PlanParseResultSchema = z.object({
  /** null only when nothing plan-like could be read; the warnings then say why. */
  plan: PlanSchema.nullable(),
  warnings: z.array(ParseWarningSchema),
});
export type PlanParseResult = z.infer<typeof PlanParseResultSchema>;
