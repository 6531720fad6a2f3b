import fp from 'fastify-plugin';
import rateLimit, { type RateLimitOptions } from '@fastify/rate-limit';
import type { FastifyRequest } from 'fastify';
import { TooManyRequestsError } from '../errors';

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * Failed sign-ins per client address: a wrong token as API bearer, at the dashboard login or in the dashboard
     * cookie. Only failures count; once they reach the limit, every further sign-in from that address waits out
     * the window, a correct token included (otherwise guessing would simply go on).
     */
    signInFailures: {
      /** Seconds to wait when the address is blocked; undefined when it may try. Counts nothing. */
      blockedFor(request: FastifyRequest): Promise<number | undefined>;
      record(request: FastifyRequest): Promise<void>;
    };
    /** `config.rateLimit` of POST /r/:token: form submissions per reply link (the token), whoever sends them. */
    replyRateLimit: RateLimitOptions;
  }
}

export interface RateLimitSettings {
  signInFailures: { max: number; windowMs: number };
  replyPosts: { max: number; windowMs: number };
}

const seconds = (ms: number): number => Math.max(1, Math.ceil(ms / 1000));

/**
 * @fastify/rate-limit with `global: false`: only what this plugin hands out is limited (the sign-in failure counter
 * used by api/plugins/auth.ts and the dashboard login, and the reply form's route config). Counters live in this
 * process's memory: each API replica counts on its own, and a restart forgets them.
 */
export default fp<RateLimitSettings>(
  async (app, settings) => {
    await app.register(rateLimit, { global: false });

    const failures = app.createRateLimit({
      max: settings.signInFailures.max,
      timeWindow: settings.signInFailures.windowMs,
    });
    app.decorate('signInFailures', {
      async blockedFor(request: FastifyRequest) {
        const state = await failures(request, { increment: false });
        if (state.isAllowed || state.remaining > 0) return undefined;
        return seconds(state.ttl);
      },
      async record(request: FastifyRequest) {
        await failures(request);
      },
    });

    app.decorate('replyRateLimit', {
      max: settings.replyPosts.max,
      timeWindow: settings.replyPosts.windowMs,
      keyGenerator: (request: FastifyRequest) => {
        const { token } = request.params as { token?: unknown };
        return typeof token === 'string' ? `reply:${token}` : `reply-ip:${request.ip}`;
      },
      errorResponseBuilder: (_request, context) => new TooManyRequestsError(seconds(context.ttl), true),
    } satisfies RateLimitOptions);
  },
  { name: 'rate-limit' },
);
