import type { FastifyReply } from 'fastify';
import { page, type Raw } from '../../views/html';

/** A reply page answer: zh-CN HTML, never cached (it shows a unit's reports). */
export const sendPage = (reply: FastifyReply, status: number, title: string, body: Raw) =>
  reply.status(status).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(page(title, body));
