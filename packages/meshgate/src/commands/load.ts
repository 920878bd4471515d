import { loadConfigFile, formatErrors } from '@meshgate/adapter-file';
import type { ExternalReference, ParseOptions } from '@meshgate/adapter-file';
import { identityName, parseConsulConfig } from '@meshgate/adapter-consul';
import { parseKubernetesConfig } from '@meshgate/adapter-kubernetes';
import type { Model } from '@meshgate/model';
import { loadSettings, MESHGATE_KEYS } from '../config.ts';
import type { MeshgateSettings } from '../config.ts';
import { parseCertsSection } from '../certs-source.ts';
import { secretsWarnings } from '../node-authz.ts';

/**
 * Loads a config file the way `serve` does, without starting anything: the file source's model
 * plus meshgate's own sections. Returns printable error lines (file:line:col first) or the model.
 * With a `consul:` section, route backends the file does not define are left to Consul, as in
 * `serve`; they are listed in `external`.
 */
export function loadForOffline(path: string): { model?: Model; errors: string[]; external: ExternalReference[] } {
  const later: string[] = [];
  let settings: MeshgateSettings | undefined;
  try {
    settings = loadSettings(path, {}, {});
    if (settings.consul !== undefined) {
      for (const e of parseConsulConfig(settings.consul, 'consul').errors)
        later.push(`${settings.configPath}: ${e.path}: ${e.message}`);
    }
    if (settings.kubernetes !== undefined) {
      for (const e of parseKubernetesConfig(settings.kubernetes, 'kubernetes').errors)
        later.push(`${settings.configPath}: ${e.path}: ${e.message}`);
    }
  } catch (err) {
    later.push((err as Error).message);
  }
  const opts: ParseOptions = {
    extraTopLevelKeys: [...MESHGATE_KEYS],
    externalReferences: settings?.consul !== undefined || settings?.kubernetes !== undefined,
  };
  const r = loadConfigFile(path, opts);
  const errors = [...(r.errors.length ? formatErrors(r.errors, 50).split('\n') : []), ...later];
  return errors.length ? { errors, external: [] } : { model: r.model!, errors: [], external: r.external };
}

/**
 * The model with an empty stand-in service for each backend left to other sources, so the
 * translator can check (and print) everything else; whether a source really defines them is only
 * known once serve merges the sources.
 */
export function withStandIns(model: Model, external: readonly ExternalReference[]): Model {
  const names = new Set(model.services.map((s) => s.name));
  const stubs = [...new Set(external.map((x) => x.service))]
    .filter((n) => !names.has(n))
    .map((name) => ({ name, endpoints: [] }));
  return stubs.length ? { ...model, services: [...model.services, ...stubs] } : model;
}

/** One line per backend left to other sources: `note: file:line:col: route r: backend "b" ...`. */
export function externalNotes(
  file: string,
  external: readonly ExternalReference[],
  what = 'checked when serve merges them',
): string[] {
  return external.map(
    (x) =>
      `note: ${file}:${x.line}:${x.col}: route ${x.route}: backend ${JSON.stringify(x.service)} is not defined in this file; left to the other sources (consul, kubernetes), ${what}`,
  );
}

/**
 * The warnings `serve` logs (and shows on /readyz) about how identities' private keys are served,
 * for a config that loaded: the file's identities, the built-in CA's and the Consul gateway's.
 */
export function offlineSecretsWarnings(path: string, model: Model): string[] {
  const settings = loadSettings(path, {}, {});
  const identities: Array<{ name: string; allowedNodes?: readonly string[] }> = model.identities.map((i) => ({
    name: i.name,
    ...(i.allowedNodes ? { allowedNodes: i.allowedNodes } : {}),
  }));
  if (settings.certs)
    for (const i of parseCertsSection(settings.certs).settings?.identities ?? [])
      identities.push({ name: i.name, ...(i.allowedNodes ? { allowedNodes: i.allowedNodes } : {}) });
  if (settings.consul !== undefined) {
    const gw = parseConsulConfig(settings.consul, 'consul').options?.gateway;
    if (gw) identities.push({ name: identityName(gw.name ?? 'meshgate-gateway') });
  }
  return secretsWarnings({
    xdsTls: settings.xds.tls !== undefined,
    insecureAllowUnauthenticated: settings.xds.insecureAllowUnauthenticatedSecrets,
    identities,
  });
}
