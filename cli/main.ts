import { planParseCommand, type CommandOutput } from './plan-parse';
import { tokenCreateCommand, tokenListCommand, tokenRevokeCommand } from './token';

const USAGE = `duban — 督办 command line

  duban plan parse <file> [--json]   parse a work-plan document and print its work points and warnings

Run a command with --help for its details.
`;

type Command = (args: string[], out: CommandOutput) => Promise<number>;

const COMMANDS: Record<string, Command> = {
  'plan parse': planParseCommand,
  'token create': tokenCreateCommand,
  'token list': tokenListCommand,
  'token revoke': tokenRevokeCommand,
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
