// The `meshgate` command. Each subcommand lives in commands/ and is imported only when run, so
// `meshgate bootstrap` does not load the adapters and `meshgate --help` starts fast.
import { UsageError } from './args.ts';

export interface Command {
  summary: string;
  run(argv: string[]): Promise<number>;
}

const COMMANDS: Record<string, { summary: string; load: () => Promise<{ run(argv: string[]): Promise<number> }> }> = {
  serve: {
    summary: 'run the control plane: watch sources, serve xDS and the admin API',
    load: () => import('./commands/serve.ts'),
  },
  bootstrap: {
    summary: 'print an Envoy (or, with --grpc, a gRPC xDS) bootstrap pointing at meshgate',
    load: () => import('./commands/bootstrap.ts'),
  },
  validate: {
    summary: 'check a config file and report problems with file:line:col',
    load: () => import('./commands/validate.ts'),
  },
  translate: {
    summary: 'print the xDS resources a node would get, offline (secrets redacted)',
    load: () => import('./commands/translate.ts'),
  },
  certs: { summary: 'built-in CA: init-ca, issue, inspect', load: () => import('./commands/certs.ts') },
};

export function mainHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length)) + 2;
  return [
    'meshgate: a control plane that lets an Envoy gateway (or proxyless gRPC clients) join service meshes',
    '',
    'usage: meshgate <command> [flags]',
    '',
    'commands:',
    ...Object.entries(COMMANDS).map(([n, c]) => `  ${n.padEnd(width)}${c.summary}`),
    '',
    'Run `meshgate <command> --help` for the flags of a command.',
    '',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    if (cmd === 'help' && rest[0] && COMMANDS[rest[0]]) return main([rest[0], '--help']);
    process.stdout.write(mainHelp());
    return cmd === undefined ? 2 : 0;
  }
  if (cmd === '--version' || cmd === 'version') {
    const pkg = (await import('../package.json', { with: { type: 'json' } })).default as { version: string };
    process.stdout.write(`meshgate ${pkg.version}\n`);
    return 0;
  }
  const entry = COMMANDS[cmd];
  try {
    if (!entry)
      throw new UsageError(
        '',
        `unknown command ${JSON.stringify(cmd)}; commands are ${Object.keys(COMMANDS).join(', ')}`,
      );
    return await (await entry.load()).run(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(
        `error: ${err.message}\n${err.command ? `run \`meshgate ${err.command} --help\` for usage\n` : 'run `meshgate --help` for usage\n'}`,
      );
      return 2;
    }
    const e = err as Error & { code?: string };
    process.stderr.write(`error: ${e.code && !e.code.startsWith('ERR_') ? '' : ''}${e.message}\n`);
    if (process.env.MESHGATE_DEBUG) process.stderr.write(`${e.stack}\n`);
    return 1;
  }
}

if (import.meta.main) {
  const code = await main(process.argv.slice(2));
  // serve keeps running on its own; everything else exits with its code.
  if (code !== -1) process.exitCode = code;
}
