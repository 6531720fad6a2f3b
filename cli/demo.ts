import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../launcher/binaries';
import { DemoError, demoLines, demoOptions, startDemo } from '../launcher/demo';
import type { CommandOutput } from './plan-parse';
import { apiUrlFor, runningStack } from './stack';

type Env = Record<string, string | undefined>;

const USAGE = `duban demo — (re)start the live rehearsal (演练) on today's date
  A drill cycle of the plan for the current year (copied from the seed plan if the year has none), with its
  milestones in the next minutes: assignment now, reminder at 5 min, due at 10 min, then 催办, 督办, 通报.
  A drill already running for that year is cancelled first; a year with a real cycle is left alone and the
  demo takes the next free year. Prints three live reply links.
  Uses the API of a running npm start (or DUBAN_API_URL) and DUBAN_TOKEN (or npm start's admin token).
  Options: ${JSON.stringify(demoOptions())}
`;

/** DUBAN_TOKEN, else the admin token npm start created in its data directory. */
function tokenFor(env: Env): string | undefined {
  if (env.DUBAN_TOKEN?.trim()) return env.DUBAN_TOKEN.trim();
  if (!runningStack(env)) return undefined;
  try {
    return readFileSync(path.resolve(PROJECT_ROOT, env.DATA_DIR?.trim() || '.data', 'admin-token'), 'utf8').trim();
  } catch {
    return undefined;
  }
}

export async function demoCommand(args: string[], out: CommandOutput, env: Env = process.env): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    out.stdout(USAGE);
    return 0;
  }
  if (args.length > 0) {
    out.stderr(`duban demo: unexpected argument "${args[0]}"\n\n${USAGE}`);
    return 2;
  }
  const token = tokenFor(env);
  if (!token) {
    out.stderr(
      '需要 API 令牌：请先启动 npm start，或设置 DUBAN_TOKEN（npx duban token create --role admin） / start npm start or set DUBAN_TOKEN\n',
    );
    return 1;
  }
  const apiUrl = apiUrlFor(env);
  try {
    const demo = await startDemo({ apiUrl, token, log: (m) => out.stdout(`${m}\n`) });
    out.stdout(`${demoLines(demo).join('\n')}\n  Dashboard: ${apiUrl}/dashboard/cycles/${demo.year}\n`);
    return 0;
  } catch (err) {
    if (err instanceof DemoError || err instanceof TypeError) {
      out.stderr(
        `duban demo: ${err.message}${err instanceof TypeError ? ` (is the API at ${apiUrl} running?)` : ''}\n`,
      );
      return 1;
    }
    throw err;
  }
}
