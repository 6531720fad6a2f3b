import { createHash, randomUUID } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { NewAttachment } from '../../../db/replies-repo';
import { REVIEW_RATINGS, type ReviewRating } from '../../../domain/model';

/** The reply form as it arrives: its fields and evidence files, checked for size, count and type. */

export const REPORT_TEXT_MAX = 5000;
export const FILE_MAX_BYTES = 10 * 1024 * 1024;
export const FILES_MAX = 5;
/** All files of one form together: what one upload may hold in memory. */
export const FILES_TOTAL_MAX_BYTES = 20 * 1024 * 1024;

/** Limits for @fastify/multipart: what one form may carry. */
export const MULTIPART_LIMITS = {
  fileSize: FILE_MAX_BYTES,
  files: FILES_MAX,
  fields: 10,
  parts: FILES_MAX + 10,
  fieldSize: REPORT_TEXT_MAX * 4,
  headerPairs: 50,
};

const FILE_TYPES: Record<string, { mime: string; magic: (b: Buffer) => boolean }> = {
  pdf: { mime: 'application/pdf', magic: (b) => b.subarray(0, 4).toString('latin1') === '%PDF' },
  png: { mime: 'image/png', magic: (b) => b.subarray(0, 4).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47])) },
  jpg: { mime: 'image/jpeg', magic: (b) => b.subarray(0, 3).equals(Buffer.from([0xff, 0xd8, 0xff])) },
  jpeg: { mime: 'image/jpeg', magic: (b) => b.subarray(0, 3).equals(Buffer.from([0xff, 0xd8, 0xff])) },
  gif: { mime: 'image/gif', magic: (b) => b.subarray(0, 4).toString('latin1') === 'GIF8' },
  webp: { mime: 'image/webp', magic: (b) => b.subarray(8, 12).toString('latin1') === 'WEBP' },
  doc: { mime: 'application/msword', magic: isOle },
  xls: { mime: 'application/vnd.ms-excel', magic: isOle },
  ppt: { mime: 'application/vnd.ms-powerpoint', magic: isOle },
  docx: { mime: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document', magic: isZip },
  xlsx: { mime: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', magic: isZip },
  pptx: { mime: 'application/vnd.openxmlformats-officedocument.presentationml.presentation', magic: isZip },
};
function isOle(b: Buffer): boolean {
  return b.subarray(0, 4).equals(Buffer.from([0xd0, 0xcf, 0x11, 0xe0]));
}
function isZip(b: Buffer): boolean {
  return b.subarray(0, 4).equals(Buffer.from([0x50, 0x4b, 0x03, 0x04]));
}

export const FormSchema = z.object({
  submissionId: z.string().regex(/^[A-Za-z0-9-]{8,64}$/, '表单已失效，请重新打开链接'),
  text: z
    .string()
    .trim()
    .min(1, '请填写报告内容')
    .max(REPORT_TEXT_MAX, `报告内容不能超过 ${REPORT_TEXT_MAX} 字`)
    .refine((t) => !t.includes('\u0000'), '报告内容含有无法保存的空字符，请删除后重试'),
  selfAssessment: z.enum(REVIEW_RATINGS as [ReviewRating, ...ReviewRating[]]).optional(),
});

export interface ReceivedForm {
  fields: Record<string, string>;
  files: NewAttachment[];
  /** What is wrong with the files (too large, too many, a type not allowed), in Chinese. */
  fileError?: string;
  /** The form did not arrive whole (no boundary, a truncated body, too many parts). */
  badForm: boolean;
}

/** Reads the form: urlencoded (no files) or multipart (with evidence files). */
export async function readForm(request: FastifyRequest): Promise<ReceivedForm> {
  const fields: Record<string, string> = {};
  const files: NewAttachment[] = [];
  let fileError: string | undefined;
  let uploaded = 0;
  let badForm = false;
  if (request.isMultipart()) {
    try {
      for await (const part of request.parts()) {
        if (part.type === 'file') {
          const data = await part.toBuffer();
          if (!part.filename || data.length === 0) continue;
          uploaded += data.length;
          if (uploaded > FILES_TOTAL_MAX_BYTES) {
            fileError = `文件过大：所有文件合计不超过 ${FILES_TOTAL_MAX_BYTES / 1024 / 1024} MB`;
            break;
          }
          const ext = part.filename.split('.').pop()?.toLowerCase() ?? '';
          const type = FILE_TYPES[ext];
          if (!type || !type.magic(data)) {
            fileError = `文件“${part.filename}”不是允许的类型（PDF、图片或 Office 文档）`;
            continue;
          }
          files.push({
            id: randomUUID(),
            name: part.filename,
            contentType: type.mime,
            sha256: createHash('sha256').update(data).digest('hex'),
            data,
          });
        } else if (typeof part.value === 'string') {
          fields[part.fieldname] = part.value;
        }
      }
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'FST_REQ_FILE_TOO_LARGE') fileError = `文件过大：每个文件不超过 ${FILE_MAX_BYTES / 1024 / 1024} MB`;
      else if (code === 'FST_FILES_LIMIT') fileError = `文件过多：最多 ${FILES_MAX} 个`;
      else {
        // No boundary, a truncated body, too many parts: the form did not arrive whole.
        request.log.info({ err }, 'malformed multipart form');
        badForm = true;
      }
    }
  } else if (request.body && typeof request.body === 'object') {
    for (const [k, v] of Object.entries(request.body as Record<string, unknown>))
      if (typeof v === 'string') fields[k] = v;
  }
  return { fields, files, fileError, badForm };
}
