import { demoCommand } from './demo';
import { planParseCommand, USAGE as PLAN_USAGE, type CommandOutput } from './plan-parse';
import { tokenCreateCommand, tokenListCommand, tokenRevokeCommand, USAGE as TOKEN_USAGE } from './token';
import {
  USAGE as CYCLE_COMMANDS_USAGE,
  cycleListCommand,
  cycleStartCommand,
  planCopyCommand,
  cycleStatusCommand,
  CYCLE_USAGE,
  reportCommand,
} from './cycle';

const USAGE = `duban — 督办 command line

用法 / usage:
  duban plan parse <file> [--json]              parse a work-plan document: work points and warnings
  duban plan copy <id> --year <year>            carry a plan into another year (to start that year)
  duban token create --role admin|viewer [--name N]   create an API token (printed once)
  duban token list | duban token revoke <id>    list or revoke API tokens
  duban cycle list [--json]                     the cycles started: plan, state, times, lights
  duban cycle start <year> [--plan N] [--options file.json] [--no-wait]
                                                start the annual cycle and show progress
  duban cycle status <year> [--json]            per work point: light, phase, overdue units
  duban report <year> --format csv|xlsx|html|json [--out file]
                                                the annual report
  duban demo                                    (re)start the live rehearsal (演练) on today's date

本目录的 npm start 在运行时，命令自动使用它的数据库、API 和管理员令牌（DATA_DIR/admin-token）。
  / With npm start running in this checkout, commands use its database, API and admin token by themselves.
否则 token 命令需要 DATABASE_URL，cycle 与 report 需要 DUBAN_API_URL（默认 http://localhost:3000）和 DUBAN_TOKEN。
  / Otherwise token commands need DATABASE_URL, and cycle and report DUBAN_API_URL (default
  http://localhost:3000) and DUBAN_TOKEN; these variables always win over npm start's.

每个命令都接受 --help / -h / every command takes --help (-h): duban cycle start --help
`;

type Command = (args: string[], out: CommandOutput) => Promise<number>;

const COMMANDS: Record<string, Command> = {
  'plan parse': planParseCommand,
  'plan copy': planCopyCommand,
  'token create': tokenCreateCommand,
  'token list': tokenListCommand,
  'token revoke': tokenRevokeCommand,
  'cycle list': cycleListCommand,
  'cycle start': cycleStartCommand,
  'cycle status': cycleStatusCommand,
  report: reportCommand,
  demo: demoCommand,
};

/** `duban <group>` without a command, or with --help: the group's commands. */
const CYCLE_USAGE_PLAN_COPY = CYCLE_COMMANDS_USAGE.planCopy;
const GROUPS: Record<string, string> = {
  plan: `${PLAN_USAGE}\n${CYCLE_USAGE_PLAN_COPY}`,
  token: TOKEN_USAGE,
  cycle: CYCLE_USAGE,
};

const isHelp = (arg: string | undefined): boolean => arg === '--help' || arg === '-h' || arg === 'help';

export async function run(argv: string[], out: CommandOutput): Promise<number> {
  for (const [name, command] of Object.entries(COMMANDS)) {
    const words = name.split(' ');
    if (words.every((w, i) => argv[i] === w)) return command(argv.slice(words.length), out);
  }
  const [first, second] = argv;
  if (argv.length === 0 || (isHelp(first) && argv.length === 1)) {
    out.stdout(USAGE);
    return argv.length === 0 ? 2 : 0;
  }
  // `duban help cycle` reads like `duban cycle --help`.
  const group = isHelp(first) ? second : first;
  const groupUsage = group !== undefined && Object.hasOwn(GROUPS, group) ? GROUPS[group] : undefined;
  if (groupUsage !== undefined) {
    if (isHelp(first) || (argv.length === 2 && isHelp(second))) {
      out.stdout(groupUsage);
      return 0;
    }
    if (argv.length === 1) {
      out.stderr(groupUsage);
      return 2;
    }
  }
  out.stderr(`duban: 未知命令 / unknown command "${argv.join(' ')}"\n\n${USAGE}`);
  return 2;
}

/** Entry point used by bin/duban.js. */
export function main(): void {
  run(process.argv.slice(2), {
    stdout: (s) => process.stdout.write(s),
    stderr: (s) => process.stderr.write(s),
  }).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`duban: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
