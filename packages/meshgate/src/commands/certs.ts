import { certsInitCa, certsInspect, certsIssue, DEFAULT_CA_DIR } from '@meshgate/certs';
import { helpText, parseCommand, UsageError } from '../args.ts';
import type { CommandSpec } from '../args.ts';

const initCa: CommandSpec = {
  name: 'certs init-ca',
  summary: 'create a root CA (ca.pem, ca-key.pem) in a directory, or keep the one there',
  options: {
    out: { type: 'string', value: 'DIR', description: 'directory for ca.pem and ca-key.pem (required)' },
    'trust-domain': { type: 'string', value: 'DOMAIN', description: 'SPIFFE trust domain the CA signs for' },
    'key-type': { type: 'string', value: 'ec-p256|rsa-2048', description: 'CA key type (default ec-p256)' },
  },
};
const issue: CommandSpec = {
  name: 'certs issue',
  summary: 'issue a leaf certificate (cert.pem, key.pem, ca.pem) for a SPIFFE ID or DNS name',
  options: {
    spiffe: {
      type: 'string',
      value: 'URI',
      description: 'SPIFFE ID for the URI SAN, e.g. spiffe://example.org/gateway',
    },
    dns: { type: 'string', value: 'NAME', description: 'DNS name for the DNS SAN' },
    ca: { type: 'string', default: DEFAULT_CA_DIR, value: 'DIR', description: 'CA directory (created when missing)' },
    'key-type': { type: 'string', default: 'ec-p256', value: 'ec-p256|rsa-2048', description: 'leaf key type' },
    ttl: { type: 'string', default: '24h', value: 'DURATION', description: 'lifetime, e.g. 90s, 15m, 24h, 7d' },
    out: { type: 'string', value: 'DIR', description: 'directory for cert.pem, key.pem, ca.pem (required)' },
  },
};
const inspect: CommandSpec = {
  name: 'certs inspect',
  usage: 'meshgate certs inspect FILE',
  summary: 'describe the certificates or CSRs in a PEM/DER file (private keys are never shown)',
  options: {},
  positionals: ['FILE'],
};

function groupHelp(): string {
  return [
    'meshgate certs: the built-in CA',
    '',
    'usage: meshgate certs <init-ca|issue|inspect> [flags]',
    '',
    `  init-ca  ${initCa.summary}`,
    `  issue    ${issue.summary}`,
    `  inspect  ${inspect.summary}`,
    '',
  ].join('\n');
}

export async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h') {
    process.stdout.write(groupHelp());
    return sub === undefined ? 2 : 0;
  }
  const spec = { 'init-ca': initCa, issue, inspect }[sub];
  if (!spec)
    throw new UsageError('certs', `unknown certs command ${JSON.stringify(sub)}; use init-ca, issue or inspect`);
  const { values: v, positionals, help } = parseCommand(spec, rest);
  if (help) {
    process.stdout.write(helpText(spec));
    return 0;
  }
  const need = (k: string) => {
    if (!v[k]) throw new UsageError(spec.name, `--${k} is required`);
    return String(v[k]);
  };
  let out: string;
  if (sub === 'init-ca') {
    out = await certsInitCa({
      out: need('out'),
      ...(v['trust-domain'] ? { trustDomain: String(v['trust-domain']) } : {}),
      ...(v['key-type'] ? { keyType: String(v['key-type']) } : {}),
    });
  } else if (sub === 'issue') {
    if (!v.spiffe === !v.dns) throw new UsageError(spec.name, 'give exactly one of --spiffe URI or --dns NAME');
    out = await certsIssue({
      out: need('out'),
      ca: String(v.ca),
      keyType: String(v['key-type']),
      ttl: String(v.ttl),
      ...(v.spiffe ? { spiffe: String(v.spiffe) } : { dns: String(v.dns) }),
    });
  } else {
    if (!positionals[0]) throw new UsageError(spec.name, 'name the file to inspect: meshgate certs inspect FILE');
    out = await certsInspect(positionals[0]);
  }
  process.stdout.write(out);
  return 0;
}
