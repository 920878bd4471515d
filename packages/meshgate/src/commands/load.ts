import { loadConfigFile } from '@meshgate/adapter-file';
import type { ExternalReference } from '@meshgate/adapter-file';
import { formatErrors, sortErrors } from '@meshgate/config-schema';
import type { Model } from '@meshgate/model';
import { identityName } from '@meshgate/adapter-consul';
import { readSettings } from '../config.ts';
import { CONFIG_SCHEMA } from '../config-schema.ts';
import { secretsWarnings } from '../node-authz.ts';
import { linkerdWarnings } from '../linkerd-source.ts';

/**
 * Loads a config file the way `serve` does, without starting anything: the whole file against
 * the one schema, meshgate's own sections into settings, and the model's into the model. Returns
 * printable error lines (file:line:col first), every problem at once, or the model. With a
 * `consul:` section, route backends the file does not define are left to Consul, as in `serve`;
 * they are listed in `external`.
 */
export function loadForOffline(path: string): { model?: Model; errors: string[]; external: ExternalReference[] } {
  // The environment as serve would see it: a tokenEnv naming an unset variable is a problem here too.
  const s = readSettings(path, {}, process.env);
  // Schema problems are reported once, by the settings pass; the model's own checks (references,
  // files) need a file whose shape is right.
  const shapeOk = s.settings !== undefined && !s.checked?.syntax && (s.checked?.errors.length ?? 0) === 0;
  const r = shapeOk
    ? loadConfigFile(path, {
        schema: CONFIG_SCHEMA,
        externalReferences:
          s.settings?.consul !== undefined ||
          s.settings?.kubernetes !== undefined ||
          !!s.settings?.linkerd?.services.length,
      })
    : undefined;
  const errors = sortErrors([...s.errors, ...(r?.errors ?? [])]);
  if (errors.length || !r?.model) return { errors: formatErrors(errors, 50).split('\n'), external: [] };
  return { model: r.model, errors: [], external: r.external };
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
      `note: ${file}:${x.line}:${x.col}: route ${x.route}: backend ${JSON.stringify(x.service)} is not defined in this file; left to the other sources (consul, kubernetes, linkerd), ${what}`,
  );
}

/**
 * The warnings `serve` logs (and shows on /readyz) about how identities' private keys are served,
 * for a config that loaded: the file's identities, the built-in CA's and the Consul gateway's.
 */
export function offlineSecretsWarnings(path: string, model: Model): string[] {
  const settings = readSettings(path, {}, process.env).settings;
  if (!settings) return [];
  const identities: Array<{ name: string; allowedNodes?: readonly string[] }> = model.identities.map((i) => ({
    name: i.name,
    ...(i.allowedNodes ? { allowedNodes: i.allowedNodes } : {}),
  }));
  for (const i of settings.certs?.identities ?? [])
    identities.push({ name: i.name, ...(i.allowedNodes ? { allowedNodes: i.allowedNodes } : {}) });
  const gw = settings.consul?.gateway;
  if (gw) identities.push({ name: identityName(gw.name ?? 'meshgate-gateway') });
  const l5d = settings.linkerd;
  if (l5d) identities.push({ name: l5d.secretName, ...(l5d.allowedNodes ? { allowedNodes: l5d.allowedNodes } : {}) });
  return [
    ...secretsWarnings({
      xdsTls: settings.xds.tls !== undefined,
      insecureAllowUnauthenticated: settings.xds.insecureAllowUnauthenticatedSecrets,
      identities,
    }),
    ...linkerdWarnings(l5d),
  ];
}
