// Every SotW ACK repeats the stream's whole subscription (1,000 names for a gateway's EDS), and the proxies of a
// fleet send the same list. Decoding each distinct list once, rather than once per request, saves ~1,000 string
// allocations per ACK, so ACKs queued behind a fan-out are processed sooner (the ACK gate waits for them).
import protobuf from 'protobufjs';

/** DiscoveryRequest.resource_names: field 3, length-delimited. */
const RESOURCE_NAMES_TAG = (3 << 3) | 2;
/** DiscoveryRequest's highest field number (resource_locators). */
const MAX_KNOWN_FIELD = 7;

export interface NameListCacheOptions {
  /** Lists shorter than this are decoded normally (default 16). */
  minNames?: number;
  /** Distinct lists kept (default 64). */
  maxEntries?: number;
  /** Encoded bytes of all kept lists together (default 4 MiB), so a few huge lists cannot pin much memory. */
  maxBytes?: number;
}

export class NameListCache {
  readonly #lists = new Map<string, readonly string[]>();
  readonly #minNames: number;
  readonly #maxEntries: number;
  readonly #maxBytes: number;
  #bytes = 0;

  constructor(opts: NameListCacheOptions = {}) {
    this.#minNames = opts.minNames ?? 16;
    this.#maxEntries = opts.maxEntries ?? 64;
    this.#maxBytes = opts.maxBytes ?? 4 * 1024 * 1024;
  }

  get size(): number {
    return this.#lists.size;
  }

  /**
   * Splits an encoded DiscoveryRequest into its resource_names (a frozen array shared by every request carrying
   * the same bytes) and the remaining bytes; undefined when the names are few or not contiguous (decode normally).
   * Throws on malformed input, like protobufjs' decode.
   */
  split(buf: Uint8Array): { rest: Buffer; names: readonly string[] } | undefined {
    const r = protobuf.Reader.create(buf);
    let start = -1;
    let end = -1;
    let count = 0;
    while (r.pos < r.len) {
      const at = r.pos;
      const tag = r.uint32();
      // protobufjs reads DiscoveryRequest's fields 1..7 (all length-delimited) whatever wire type the tag claims;
      // skipping such a field by its claimed type would desynchronise this scan from the decoder that reads the
      // rest, and the two would disagree about which names a malformed request carries (found by fuzzing).
      const field = tag >>> 3;
      if (field >= 1 && field <= MAX_KNOWN_FIELD && (tag & 7) !== 2) return undefined;
      if (tag === RESOURCE_NAMES_TAG) {
        if (start >= 0 && at !== end) return undefined;
        if (start < 0) start = at;
        r.skip(r.uint32());
        end = r.pos;
        count++;
      } else r.skipType(tag & 7);
    }
    if (count < this.#minNames) return undefined;
    const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
    const key = b.toString('latin1', start, end);
    let names = this.#lists.get(key);
    if (names) {
      // Most recently used last, so eviction drops the coldest list.
      this.#lists.delete(key);
      this.#lists.set(key, names);
    } else {
      const nr = protobuf.Reader.create(b.subarray(start, end));
      const list: string[] = [];
      while (nr.pos < nr.len) {
        nr.uint32();
        list.push(nr.string());
      }
      names = Object.freeze(list);
      this.#remember(key, names);
    }
    return { rest: Buffer.concat([b.subarray(0, start), b.subarray(end)]), names };
  }

  #remember(key: string, names: readonly string[]): void {
    if (key.length > this.#maxBytes) return;
    while (this.#lists.size >= this.#maxEntries || this.#bytes + key.length > this.#maxBytes) {
      const oldest = this.#lists.keys().next().value!;
      this.#lists.delete(oldest);
      this.#bytes -= oldest.length;
    }
    this.#lists.set(key, names);
    this.#bytes += key.length;
  }
}
