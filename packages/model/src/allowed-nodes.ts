// The grammar of `Identity.allowedNodes` entries, shared by every source that fills it (the file's
// `identities[].allowedNodes`, the built-in CA's `certs.identities[].allowedNodes`) and by the xDS
// server that enforces it.

export type AllowedEntry =
  | { kind: 'uri'; value: string } // `spiffe://example.org/ns/gw/sa/gw`: a verified URI SAN
  | { kind: 'dns'; value: string } // `dns:gw.example.org`: a verified DNS SAN
  | { kind: 'node'; value: string }; // anything else: the node id or node cluster the client declares

export function parseAllowedEntry(entry: string): AllowedEntry {
  if (entry.includes('://')) return { kind: 'uri', value: entry };
  if (entry.startsWith('dns:')) return { kind: 'dns', value: entry.slice(4).toLowerCase() };
  return { kind: 'node', value: entry };
}

/** Why an entry can never match as written, or undefined. */
export function allowedEntryProblem(entry: string): string | undefined {
  const e = parseAllowedEntry(entry);
  if (e.kind === 'dns' && e.value === '')
    return `${JSON.stringify(entry)}: write the DNS SAN after dns:, e.g. dns:gateway.example.org`;
  if (e.kind === 'uri' && (!URL.canParse(entry) || /\s/.test(entry)))
    return `${JSON.stringify(entry)} is not a valid URI; write the client's URI SAN, e.g. spiffe://example.org/ns/gw/sa/gateway`;
  return undefined;
}
