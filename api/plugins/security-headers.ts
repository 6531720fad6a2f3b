import fp from 'fastify-plugin';
import helmet from '@fastify/helmet';

/**
 * Content-Security-Policy of duban's own pages: the reply page, the dashboard and the annual report are server-rendered
 * HTML without any JavaScript; they carry inline <style> blocks and a few style attributes (api/views/html.ts,
 * api/routes/dashboard/), inline SVG charts, and forms that post to their own origin.
 */
export const PAGE_CSP: Readonly<Record<string, readonly string[]>> = {
  'default-src': ["'self'"],
  'base-uri': ["'none'"],
  'form-action': ["'self'"],
  'frame-ancestors': ["'none'"],
  'object-src': ["'none'"],
  'script-src': ["'none'"],
  'script-src-attr': ["'none'"],
  'style-src': ["'self'", "'unsafe-inline'"],
  'img-src': ["'self'", 'data:'],
};

/** Swagger UI at /docs is a JavaScript application, all of it served from /docs/static: scripts from 'self' only. */
export const DOCS_CSP: Readonly<Record<string, readonly string[]>> = { ...PAGE_CSP, 'script-src': ["'self'"] };

/** A policy as the header value. */
export const cspHeader = (policy: Readonly<Record<string, readonly string[]>>): string =>
  Object.entries(policy)
    .map(([directive, sources]) => `${directive} ${sources.join(' ')}`)
    .join('; ');

/**
 * Security headers on every answer (helmet's set) with duban's CSP. Referrer-Policy no-referrer keeps the reply
 * token in a page's URL out of the Referer of anything the page links to. No upgrade-insecure-requests and no HSTS:
 * the API is often served over plain HTTP inside an office network, and TLS, where there is any, ends at a proxy that
 * decides HSTS for its own domain.
 */
export default fp(
  async (app) => {
    await app.register(helmet, {
      contentSecurityPolicy: {
        useDefaults: false,
        directives: Object.fromEntries(Object.entries(PAGE_CSP).map(([k, v]) => [k, [...v]])),
      },
      xFrameOptions: { action: 'deny' },
      referrerPolicy: { policy: 'no-referrer' },
      strictTransportSecurity: false,
    });
  },
  { name: 'security-headers' },
);
