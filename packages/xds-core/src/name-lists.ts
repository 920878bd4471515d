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

interface Entry {
  /** The encoded resource_names fields (tags included), a private copy. */
  bytes: Buffer;
  names: readonly string[];
}

/** readVarint32's result (one object, so the hot loop allocates nothing). */
const varint = { value: 0, next: 0 };
const outOfRange = (pos: number, n: number, len: number): RangeError =>
  new RangeError(`index out of range: ${pos} + ${n} > ${len}`);
/**
 * Reads an unsigned 32-bit varint at `pos` into `varint`; false when it takes more than 5 bytes or exceeds 32 bits,
 * which sends the request to the plain decoder. Running past the end throws, as protobufjs' Reader does.
 */
function readVarint32(b: Uint8Array, pos: number, len: number): boolean {
  let v = 0;
  for (let i = 0; i < 5; i++) {
    if (pos >= len) throw outOfRange(pos, 1, len);
    const c = b[pos++];
    v += (c & 0x7f) * 2 ** (7 * i);
    if (c < 0x80) {
      // protobufjs keeps the low 32 bits of a longer value; such a tag or length is left to it.
      if (v > 0xffffffff) return false;
      varint.value = v;
      varint.next = pos;
      return true;
    }
  }
  return false;
}

export class NameListCache {
  /** Most recently used last, so eviction drops the coldest list. */
  readonly #lists: Entry[] = [];
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
    return this.#lists.length;
  }

  /**
   * Splits an encoded DiscoveryRequest into its resource_names (a frozen array shared by every request carrying
   * the same bytes) and the remaining bytes; undefined when the names are few, not contiguous or the framing is
   * unusual (the caller then decodes normally). Throws on a field that runs past the end, like protobufjs' Reader
   * (whose string reads on Buffers would instead cut it short).
   */
  split(buf: Uint8Array): { rest: Buffer; names: readonly string[] } | undefined {
    // With 10,000 clusters an EDS ACK names 10,000 assignments (~300 KB) and every proxy sends one per endpoint
    // change. A known list is recognised by one byte comparison where it starts, without walking its names; only an
    // unknown one is walked (and then decoded once).
    const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
    const len = b.length;
    let pos = 0;
    let start = -1;
    let end = -1;
    let count = 0;
    let known: Entry | undefined;
    while (pos < len) {
      const at = pos;
      if (b[pos] === RESOURCE_NAMES_TAG) {
        if (start >= 0 && at !== end) return undefined;
        if (start < 0) {
          start = at;
          known = this.#knownAt(b, at);
          if (known) {
            pos = end = at + known.bytes.length;
            count = known.names.length;
            continue;
          }
        } else known = undefined; // more names follow the known list: another list
        // A run of names, most with a one-byte length.
        while (pos < len && b[pos] === RESOURCE_NAMES_TAG) {
          let n = pos + 1 < len ? b[pos + 1] : -1;
          if (n < 0) throw outOfRange(pos + 1, 1, len);
          if (n < 0x80) pos += 2;
          else {
            if (!readVarint32(b, pos + 1, len)) return undefined;
            n = varint.value;
            pos = varint.next;
          }
          if (n > len - pos) throw outOfRange(pos, n, len);
          pos += n;
          count++;
        }
        end = pos;
        continue;
      }
      if (!readVarint32(b, pos, len)) return undefined;
      const tag = varint.value;
      pos = varint.next;
      // protobufjs reads DiscoveryRequest's fields 1..7 (all length-delimited) whatever wire type the tag claims;
      // skipping such a field by its claimed type would desynchronise this scan from the decoder that reads the
      // rest, and the two would disagree about which names a malformed request carries (found by fuzzing).
      const field = tag >>> 3;
      const wire = tag & 7;
      if (field >= 1 && field <= MAX_KNOWN_FIELD && wire !== 2) return undefined;
      // resource_names under a tag in more bytes than needed: rare enough to leave to protobufjs.
      if (tag === RESOURCE_NAMES_TAG) return undefined;
      if (wire === 2) {
        if (!readVarint32(b, pos, len)) return undefined;
        const n = varint.value;
        pos = varint.next;
        if (n > len - pos) throw outOfRange(pos, n, len);
        pos += n;
      } else if (wire === 0) {
        let i = 0;
        while (pos < len && b[pos] >= 0x80 && i < 9) {
          pos++;
          i++;
        }
        if (pos >= len) throw outOfRange(pos, 1, len);
        if (b[pos] >= 0x80) return undefined;
        pos++;
      } else if (wire === 1) {
        if (len - pos < 8) throw outOfRange(pos, 8, len);
        pos += 8;
      } else if (wire === 5) {
        if (len - pos < 4) throw outOfRange(pos, 4, len);
        pos += 4;
      } else return undefined; // groups and invalid wire types: protobufjs decides
    }
    if (count < this.#minNames) return undefined;
    const span = b.subarray(start, end);
    let names = known?.names;
    // A kept list that a shorter kept one prefixes was walked past above; find it by its whole bytes.
    if (!names) names = this.#knownAt(span, 0, true)?.names;
    if (!names) {
      const nr = protobuf.Reader.create(span);
      const list: string[] = [];
      while (nr.pos < nr.len) {
        nr.uint32();
        list.push(nr.string());
      }
      names = Object.freeze(list);
      this.#remember({ bytes: Buffer.from(span), names });
    }
    return { rest: Buffer.concat([b.subarray(0, start), b.subarray(end)]), names };
  }

  /**
   * The kept list whose bytes appear at `at` (`whole`: and end with `b`), most recently used first (and moved to the
   * end). Equal bytes are equal
   * names in equal order, and a kept list's bytes are whole fields, so they end on a field boundary of `b`.
   */
  #knownAt(b: Buffer, at: number, whole = false): Entry | undefined {
    const lists = this.#lists;
    const room = b.length - at;
    for (let i = lists.length - 1; i >= 0; i--) {
      const e = lists[i];
      const n = e.bytes.length;
      if (n > room || (whole && n !== room) || b.compare(e.bytes, 0, n, at, at + n) !== 0) continue;
      if (i !== lists.length - 1) {
        lists.splice(i, 1);
        lists.push(e);
      }
      return e;
    }
    return undefined;
  }

  #remember(e: Entry): void {
    const size = e.bytes.length;
    if (size > this.#maxBytes) return;
    while (this.#lists.length >= this.#maxEntries || this.#bytes + size > this.#maxBytes) {
      const oldest = this.#lists.shift()!;
      this.#bytes -= oldest.bytes.length;
    }
    this.#lists.push(e);
    this.#bytes += size;
  }
}
