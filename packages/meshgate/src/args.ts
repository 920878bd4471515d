import { parseArgs } from 'node:util';

/** A command-line option as the help text and the parser both see it. */
export interface OptionSpec {
  type: 'string' | 'boolean';
  description: string;
  default?: string | boolean;
  short?: string;
  /** Placeholder shown in help, e.g. FILE. */
  value?: string;
  multiple?: boolean;
}

export interface CommandSpec {
  /** Full command path as typed, e.g. `certs issue`. */
  name: string;
  summary: string;
  usage?: string;
  options: Record<string, OptionSpec>;
  /** Names of positional arguments (help only); undefined = none allowed. */
  positionals?: string[];
}

/** A mistake in how the command was called: printed with a hint, exit code 2. */
export class UsageError extends Error {
  readonly code = 'E_USAGE';
  readonly command: string;
  constructor(command: string, message: string) {
    super(message);
    this.name = 'UsageError';
    this.command = command;
  }
}

export type ParsedValues = Record<string, string | boolean | string[] | undefined>;

/**
 * Parses argv for one command. Unknown flags are refused with a message naming the flag and
 * listing the valid ones, because util.parseArgs's own message lists nothing.
 */
export function parseCommand(
  spec: CommandSpec,
  argv: string[],
): { values: ParsedValues; positionals: string[]; help: boolean } {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {
    help: { type: 'boolean', short: 'h' },
  };
  for (const [name, o] of Object.entries(spec.options))
    options[name] = { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}) };
  const valid = Object.keys(spec.options)
    .map((n) => `--${n}`)
    .concat('--help');
  // Non-strict parse with tokens so we can report the offending flag ourselves.
  const { tokens } = parseArgs({ args: argv, options, strict: false, allowPositionals: true, tokens: true });
  for (const t of tokens ?? []) {
    if (t.kind !== 'option') continue;
    if (!(t.name in options) && !Object.values(options).some((o) => o.short === t.name)) {
      throw new UsageError(
        spec.name,
        `unknown flag ${t.rawName} for \`meshgate ${spec.name}\`; valid flags: ${valid.join(', ')}`,
      );
    }
  }
  if (argv.includes('--help') || argv.includes('-h')) return { values: {}, positionals: [], help: true };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: argv, options, strict: true, allowPositionals: spec.positionals !== undefined });
  } catch (err) {
    const msg = (err as Error).message.replace(/\. To specify a positional argument.*$/s, '');
    throw new UsageError(spec.name, `${msg} (in \`meshgate ${spec.name}\`; see \`meshgate ${spec.name} --help\`)`);
  }
  const values: ParsedValues = { ...(parsed.values as ParsedValues) };
  for (const [name, o] of Object.entries(spec.options)) {
    if (values[name] === undefined && o.default !== undefined) values[name] = o.default;
  }
  delete values.help;
  const max = spec.positionals?.length ?? 0;
  if (parsed.positionals.length > max) {
    throw new UsageError(
      spec.name,
      `unexpected argument ${JSON.stringify(parsed.positionals[max])} for \`meshgate ${spec.name}\`${max ? `; expected ${spec.positionals!.join(' ')}` : ' (it takes flags only)'}`,
    );
  }
  return { values, positionals: parsed.positionals, help: false };
}

/**
 * The preamble of commands that read a config file: parse argv, print help (exit 0), and call
 * `missingConfig` when --config is absent. Returns the parsed values, or the exit code when the
 * command is already done. `missingConfig` reports in the command's own words and returns its
 * exit code (or throws a UsageError).
 */
export function parseConfigCommand(
  spec: CommandSpec,
  argv: string[],
  missingConfig: () => number,
): ParsedValues | number {
  const { values, help } = parseCommand(spec, argv);
  if (help) {
    process.stdout.write(helpText(spec));
    return 0;
  }
  if (!values.config) return missingConfig();
  return values;
}

export function helpText(spec: CommandSpec): string {
  const lines = [
    `meshgate ${spec.name}: ${spec.summary}`,
    '',
    `usage: ${spec.usage ?? `meshgate ${spec.name} [flags]`}`,
    '',
    'flags:',
  ];
  const rows = Object.entries(spec.options).map(([n, o]) => {
    const left = `  ${o.short ? `-${o.short}, ` : ''}--${n}${o.type === 'string' ? ` ${o.value ?? 'VALUE'}` : ''}`;
    const def = o.default !== undefined && o.default !== false ? ` (default ${o.default})` : '';
    return [left, `${o.description}${def}`];
  });
  rows.push(['  -h, --help', 'show this help']);
  const width = Math.max(...rows.map((r) => r[0].length)) + 2;
  for (const [l, r] of rows) lines.push(l.padEnd(width) + r);
  return `${lines.join('\n')}\n`;
}

/** Parses a port flag or env value; names the source in the error. */
export function parsePort(value: unknown, from: string): number {
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new UsageError('serve', `${from} must be a port number 0..65535, got ${JSON.stringify(value)}`);
  return n;
}
