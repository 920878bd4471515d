// Encoding resource objects (protobufjs fromObject form, snake_case) into google.protobuf.Any bytes, with a strict
// check first: protobufjs silently drops unknown fields and unknown enum names, which would turn a translator typo
// into config that quietly differs from what was meant.
import protobuf from 'protobufjs';
import { lookupMessage, messageType, envoyRoot, TO_OBJECT } from './protos.ts';
import { encodeAny } from './wire.ts';

export class ResourceEncodeError extends Error {
  readonly code = 'XDS_RESOURCE_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'ResourceEncodeError';
  }
}

const ANY = '.google.protobuf.Any';

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

function checkScalar(field: protobuf.Field, v: unknown, path: string): void {
  switch (field.type) {
    case 'string':
      if (typeof v !== 'string') throw new ResourceEncodeError(`${path}: expected a string, got ${typeof v}`);
      return;
    case 'bool':
      if (typeof v !== 'boolean') throw new ResourceEncodeError(`${path}: expected true/false, got ${typeof v}`);
      return;
    case 'bytes':
      if (typeof v !== 'string' && !(v instanceof Uint8Array))
        throw new ResourceEncodeError(`${path}: expected base64 string or bytes`);
      return;
    default: {
      const ok =
        typeof v === 'number'
          ? Number.isFinite(v)
          : typeof v === 'string'
            ? /^-?\d+(\.\d+)?$/.test(v)
            : typeof v === 'bigint';
      if (!ok) throw new ResourceEncodeError(`${path}: expected a number (${field.type}), got ${JSON.stringify(v)}`);
    }
  }
}

function checkValue(field: protobuf.Field, v: unknown, path: string): void {
  const rt = field.resolvedType;
  if (rt instanceof protobuf.Enum) {
    if (typeof v === 'number') return;
    if (typeof v !== 'string' || !(v in rt.values)) {
      throw new ResourceEncodeError(
        `${path}: ${JSON.stringify(v)} is not a value of enum ${rt.name} (one of ${Object.keys(rt.values).join(', ')})`,
      );
    }
    return;
  }
  if (rt instanceof protobuf.Type) {
    checkMessage(rt, v, path);
    return;
  }
  checkScalar(field, v, path);
}

interface TypeInfo {
  isAny: boolean;
  fields: Record<string, protobuf.Field>;
  oneofs: string[][];
}
// protobufjs reflection getters (fullName, oneofsArray) allocate on every access; these are read per field.
const typeInfo = new WeakMap<protobuf.Type, TypeInfo>();
function infoOf(type: protobuf.Type): TypeInfo {
  let info = typeInfo.get(type);
  if (!info) {
    for (const f of type.fieldsArray) f.resolve();
    info = { isAny: type.fullName === ANY, fields: type.fields, oneofs: type.oneofsArray.map((o) => o.oneof) };
    typeInfo.set(type, info);
  }
  return info;
}

/** Throws ResourceEncodeError naming the path of the first field that protobufjs would drop or mis-encode. */
export function checkMessage(type: protobuf.Type, obj: unknown, path: string): void {
  if (!isPlainObject(obj)) throw new ResourceEncodeError(`${path}: expected an object for ${type.fullName.slice(1)}`);
  const info = infoOf(type);
  if (info.isAny) {
    const at = obj['@type'];
    if (at === undefined) {
      if ('value' in obj || 'type_url' in obj) return; // a raw Any: left as given
      throw new ResourceEncodeError(`${path}: google.protobuf.Any needs an "@type" ("type.googleapis.com/<message>")`);
    }
    if (typeof at !== 'string' || !at.includes('/'))
      throw new ResourceEncodeError(
        `${path}.@type: expected "type.googleapis.com/<message>", got ${JSON.stringify(at)}`,
      );
    const inner = lookupMessage(at);
    if (!inner) throw new ResourceEncodeError(`${path}.@type: message ${at} is not known to meshgate's xDS registry`);
    checkFields(inner, infoOf(inner), obj, `${path}<${inner.name}>`, '@type');
    return;
  }
  checkFields(type, info, obj, path, undefined);
}

function checkFields(
  type: protobuf.Type,
  info: TypeInfo,
  obj: Record<string, unknown>,
  path: string,
  skip: string | undefined,
): void {
  for (const key in obj) {
    if (key === skip) continue;
    const v = obj[key];
    if (v === undefined || v === null) continue;
    const field = info.fields[key];
    if (!field) {
      throw new ResourceEncodeError(
        `${path}.${key}: ${type.fullName.slice(1)} has no field "${key}" (field names are the .proto's snake_case names)`,
      );
    }
    if (field.map) {
      if (!isPlainObject(v)) throw new ResourceEncodeError(`${path}.${key}: expected an object (map field)`);
      for (const k in v) checkValue(field, v[k], `${path}.${key}[${JSON.stringify(k)}]`);
    } else if (field.repeated) {
      if (!Array.isArray(v)) throw new ResourceEncodeError(`${path}.${key}: expected an array (repeated field)`);
      for (let i = 0; i < v.length; i++) checkValue(field, v[i], `${path}.${key}[${i}]`);
    } else {
      checkValue(field, v, `${path}.${key}`);
    }
  }
  for (const members of info.oneofs) {
    let set = 0;
    for (const n of members) if (obj[n] !== undefined && obj[n] !== null) set++;
    if (set > 1) {
      const names = members.filter((n) => obj[n] !== undefined && obj[n] !== null);
      throw new ResourceEncodeError(`${path}: only one of ${names.join(', ')} may be set (a oneof)`);
    }
  }
}

/** Encodes one resource object of `typeUrl` into google.protobuf.Any bytes. Throws ResourceEncodeError on bad input. */
export function encodeResource(typeUrl: string, name: string, obj: object): Uint8Array {
  const type = lookupMessage(typeUrl);
  if (!type) throw new ResourceEncodeError(`resource type ${typeUrl} is not an xDS type meshgate serves`);
  checkMessage(type, obj, `${type.name}(${name})`);
  let value: Uint8Array;
  try {
    value = type.encode(type.fromObject(obj)).finish();
  } catch (err) {
    throw new ResourceEncodeError(`${type.name}(${name}): cannot encode: ${(err as Error).message}`);
  }
  return encodeAny(typeUrl, value);
}

/** Decodes google.protobuf.Any bytes (or a message body of `typeUrl`) back to a plain object; for tests and tooling. */
export function decodeAny(anyBytes: Uint8Array): { typeUrl: string; object: Record<string, unknown> } {
  envoyRoot();
  const Any = messageType('google.protobuf.Any');
  const any = Any.decode(anyBytes) as unknown as { type_url: string; value: Uint8Array };
  const type = lookupMessage(any.type_url);
  if (!type) throw new Error(`cannot decode resource of unknown type ${any.type_url}`);
  return { typeUrl: any.type_url, object: type.toObject(type.decode(any.value), TO_OBJECT) as Record<string, unknown> };
}
