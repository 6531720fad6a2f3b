import { demoCommand } from './demo';
import { planParseCommand, type CommandOutput } from './plan-parse';
import { tokenCreateCommand, tokenListCommand, tokenRevokeCommand } from './token';
import { cycleStartCommand, cycleStatusCommand, reportCommand } from './cycle';

const USAGE = `duban — 督办 command line

  duban plan parse <file> [--json]              parse a work-plan document: work points and warnings
  duban token create --role admin|viewer [--name N]   create an API token (printed once)
  duban token list | duban token revoke <id>    list or revoke API tokens
  duban cycle start <year> [--plan N] [--options file.json] [--no-wait]
                                                start the annual cycle and show progress
  duban cycle status <year> [--json]            per work point: light, phase, overdue units
  duban report <year> --format csv|xlsx|html|json [--out file]
                                                the annual report
  duban demo                                    (re)start the live rehearsal (演练) on today's date

With npm start running, commands find its database and API themselves. Otherwise token commands need
DATABASE_URL, and cycle and report DUBAN_API_URL (default http://localhost:3000). cycle and report need
DUBAN_TOKEN.

Run a command with --help for its details.
`;

type Command = (args: string[], out: CommandOutput) => Promise<number>;

const COMMANDS: Record<string, Command> = {
  'plan parse': planParseCommand,
  'token create': tokenCreateCommand,
  'token list': tokenListCommand,
  'token revoke': tokenRevokeCommand,
  'cycle start': cycleStartCommand,
  'cycle status': cycleStatusCommand,
  report: reportCommand,
  demo: demoCommand,
};

export async function run(argv: string[], out: CommandOutput): Promise<number> {
  for (const [name, command] of Object.entries(COMMANDS)) {
    const words = name.split(' ');
    if (words.every((w, i) => argv[i] === w)) return command(argv.slice(words.length), out);
  }
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    out.stdout(USAGE);
    return argv.length === 0 ? 2 : 0;
  }
  out.stderr(`duban: unknown command "${argv.join(' ')}"\n\n${USAGE}`);
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
