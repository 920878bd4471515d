// Helpers for the translator's own tests (golden files, encoding, fuzz). Not exported.
import { readFileSync } from 'node:fs';
import type protobuf from 'protobufjs';
import { parse, stringify } from 'yaml';
import { emptyModel, type Model } from '@meshgate/model';
import { TYPE, type ResourceSet } from './types.ts';

export const SHORT: Record<string, string> = {
  [TYPE.listener]: 'listeners',
  [TYPE.route]: 'routes',
  [TYPE.cluster]: 'clusters',
  [TYPE.endpoint]: 'endpoints',
  [TYPE.secret]: 'secrets',
};

/** A golden input is a Model written as YAML; missing top-level lists default to empty. */
export function loadModelYaml(path: string): Model {
  const doc = (parse(readFileSync(path, 'utf8')) ?? {}) as Partial<Model>;
  return { ...emptyModel(), ...doc };
}

/** Resources grouped by short type name, names sorted, as YAML. */
export function resourcesToYaml(set: ResourceSet): string {
  const out: Record<string, object[]> = {};
  for (const [type, short] of Object.entries(SHORT)) {
    const m = set.get(type) ?? new Map();
    out[short] = [...m.keys()].sort().map((k) => m.get(k)!);
  }
  return stringify(out, { lineWidth: 0, aliasDuplicateObjects: false });
}

/**
 * Encodes a resource through protobufjs, decodes it back (following every Any) and returns the
 * paths of input fields that did not survive. `fromObject` silently drops unknown field names
 * and bad enum names, so a non-empty answer means the translator wrote something the .proto
 * does not have.
 */
export function encodeProblems(r: protobuf.Root, typeUrl: string, obj: object): string[] {
  const type = r.lookupType(typeUrl.replace('type.googleapis.com/', ''));
  // verify() expects enum numbers and message instances, so the round trip is the check.
  const bytes = type.encode(type.fromObject(obj)).finish();
  const back = type.toObject(type.decode(bytes), { enums: String, longs: Number, defaults: true, json: true });
  const problems: string[] = [];
  subset(obj, back, '', problems);
  return problems;
}

function subset(want: unknown, got: unknown, path: string, out: string[]): void {
  if (Array.isArray(want)) {
    if (!Array.isArray(got) || got.length !== want.length) {
      out.push(`${path}: array length ${Array.isArray(got) ? got.length : 'missing'} != ${want.length}`);
      return;
    }
    want.forEach((w, i) => subset(w, got[i], `${path}[${i}]`, out));
  } else if (want !== null && typeof want === 'object') {
    if (got === null || typeof got !== 'object') {
      out.push(`${path}: missing after round trip`);
      return;
    }
    for (const [k, v] of Object.entries(want)) subset(v, (got as Record<string, unknown>)[k], `${path}.${k}`, out);
  } else if (want !== got) {
    out.push(`${path}: ${JSON.stringify(want)} became ${JSON.stringify(got)}`);
  }
}
