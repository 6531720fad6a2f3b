import type { FastifyInstance } from 'fastify';
import { Lexer, Parser } from 'yaml';
import { DomainError } from './errors';

/**
 * Bodies nested deeper than this are refused before they are parsed. JSON.parse copes with any depth, but
 * what runs after it recurses — the NUL check's JSON.stringify, zod, YAML's composer — and overflows the
 * stack (a 500, or for YAML an aborted process). Duban's deepest real body, a structured plan or the unit
 * directory, nests five levels.
 */
export const MAX_NESTING = 64;

export function tooDeep(kind: 'JSON' | 'YAML'): DomainError {
  return new DomainError(
    400,
    'body_too_deep',
    `请求内容（${kind}）嵌套超过 ${MAX_NESTING} 层，无法处理：请检查数据结构 / ` +
      `the ${kind} body nests deeper than ${MAX_NESTING} levels`,
  );
}

/** Whether JSON text opens more than `max` arrays and objects at once: one pass that skips strings. */
export function jsonNestingExceeds(text: string, max = MAX_NESTING): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) {
        i++; // a backslash escapes the next character, which may be a quote
      } else if (c === 0x22) {
        inString = false;
      }
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return false;
}

/**
 * Whether YAML text nests deeper than `max`. YAML's own concrete-syntax parser keeps its open collections in
 * an explicit stack (no recursion), fed one token at a time so that a hostile body stops at `max` instead of
 * building a tree of millions of levels first. The stack also holds the document and the scalar at hand, so
 * the limit is reached two levels early.
 */
export function yamlNestingExceeds(text: string, max = MAX_NESTING): boolean {
  const parser = new Parser();
  for (const lexeme of new Lexer().lex(text)) {
    for (const _document of parser.next(lexeme)); // completed documents: nothing to do with them here
    if (parser.stack.length > max) return true;
  }
  return false;
}

/** Replaces the application/json parser with Fastify's own behind the nesting check (same poisoning options). */
export function installJsonParser(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser(
    app.initialConfig.onProtoPoisoning ?? 'error',
    app.initialConfig.onConstructorPoisoning ?? 'error',
  );
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8'); // parseAs 'string' always gives a string
    if (jsonNestingExceeds(text)) return done(tooDeep('JSON'), undefined);
    void parse(request, text, done);
  });
}
