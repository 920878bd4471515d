import type protobuf from 'protobufjs';

// Checks a proto3-JSON document (as Envoy reads its bootstrap) against a message type: every
// key must name a field, values must have the field's shape. protobufjs's fromObject silently
// drops unknown keys, so a typo in a generated bootstrap would otherwise go unnoticed.

const WRAPPERS = new Set(
  [
    'DoubleValue',
    'FloatValue',
    'Int64Value',
    'UInt64Value',
    'Int32Value',
    'UInt32Value',
    'BoolValue',
    'StringValue',
    'BytesValue',
  ].map((n) => `google.protobuf.${n}`),
);
const NUMERIC = new Set([
  'double',
  'float',
  'int32',
  'uint32',
  'sint32',
  'fixed32',
  'sfixed32',
  'int64',
  'uint64',
  'sint64',
  'fixed64',
  'sfixed64',
]);

function fullName(t: protobuf.ReflectionObject): string {
  return t.fullName.replace(/^\./, '');
}

export function checkProtoJson(root: protobuf.Root, typeName: string, value: unknown): string[] {
  const errors: string[] = [];
  checkMessage(root, root.lookupType(typeName), value, typeName, errors);
  return errors;
}

function checkMessage(root: protobuf.Root, type: protobuf.Type, value: unknown, path: string, errors: string[]): void {
  const name = fullName(type);
  if (
    name === 'google.protobuf.Duration' ||
    name === 'google.protobuf.Timestamp' ||
    name === 'google.protobuf.FieldMask'
  ) {
    if (typeof value !== 'string' || (name === 'google.protobuf.Duration' && !/^-?\d+(\.\d{1,9})?s$/.test(value)))
      errors.push(`${path}: expected a ${name} string such as "5s", got ${JSON.stringify(value)}`);
    return;
  }
  if (name === 'google.protobuf.Struct') {
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      errors.push(`${path}: expected a JSON object for Struct`);
    return;
  }
  if (name === 'google.protobuf.Value' || name === 'google.protobuf.ListValue') return;
  if (WRAPPERS.has(name)) {
    const inner = type.fields.value;
    checkScalar(inner.type, value, path, errors);
    return;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    errors.push(`${path}: expected an object for ${name}`);
    return;
  }
  const obj = value as Record<string, unknown>;
  if (name === 'google.protobuf.Any') {
    const url = obj['@type'];
    if (typeof url !== 'string') {
      errors.push(`${path}: Any without "@type"`);
      return;
    }
    let inner: protobuf.Type;
    try {
      inner = root.lookupType(url.slice(url.lastIndexOf('/') + 1));
    } catch {
      errors.push(`${path}: unknown type ${url}`);
      return;
    }
    const { '@type': _ignored, ...rest } = obj;
    checkMessage(root, inner, rest, `${path}<${fullName(inner)}>`, errors);
    return;
  }
  const seenOneofs = new Map<string, string>();
  for (const [key, v] of Object.entries(obj)) {
    const field =
      type.fields[key] ??
      Object.values(type.fields).find((f) => (f as unknown as { jsonName?: string }).jsonName === key) ??
      Object.values(type.fields).find((f) => camel(f.name) === key);
    const p = `${path}.${key}`;
    if (!field) {
      errors.push(`${p}: unknown field of ${name}`);
      continue;
    }
    if (field.partOf) {
      const other = seenOneofs.get(field.partOf.name);
      if (other) errors.push(`${p}: oneof ${field.partOf.name} already set by ${other}`);
      seenOneofs.set(field.partOf.name, key);
    }
    field.resolve();
    const checkOne = (item: unknown, ip: string) => {
      if (field.resolvedType && 'fields' in field.resolvedType)
        checkMessage(root, field.resolvedType as protobuf.Type, item, ip, errors);
      else if (field.resolvedType && 'values' in field.resolvedType) {
        const e = field.resolvedType as protobuf.Enum;
        if (
          !(typeof item === 'string' && item in e.values) &&
          !(typeof item === 'number' && Object.values(e.values).includes(item))
        )
          errors.push(`${ip}: ${JSON.stringify(item)} is not a value of enum ${fullName(e)}`);
      } else checkScalar(field.type, item, ip, errors);
    };
    if ((field as unknown as protobuf.MapField).map) {
      if (typeof v !== 'object' || v === null || Array.isArray(v))
        errors.push(`${p}: expected an object for map field`);
      else for (const [k, mv] of Object.entries(v)) checkOne(mv, `${p}[${JSON.stringify(k)}]`);
    } else if (field.repeated) {
      if (!Array.isArray(v)) errors.push(`${p}: expected a list`);
      else v.forEach((item, i) => checkOne(item, `${p}[${i}]`));
    } else checkOne(v, p);
  }
}

function camel(s: string): string {
  return s.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

function checkScalar(type: string, v: unknown, path: string, errors: string[]): void {
  if (NUMERIC.has(type)) {
    const ok = typeof v === 'number' || (typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v));
    if (!ok) errors.push(`${path}: expected a number (${type}), got ${JSON.stringify(v)}`);
  } else if (type === 'bool') {
    if (typeof v !== 'boolean') errors.push(`${path}: expected true or false, got ${JSON.stringify(v)}`);
  } else if (type === 'string' || type === 'bytes') {
    if (typeof v !== 'string') errors.push(`${path}: expected a string, got ${JSON.stringify(v)}`);
  }
}
