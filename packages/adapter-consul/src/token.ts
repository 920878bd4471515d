// The ACL token: read from the options, an environment variable or a file, re-read when Consul
// refuses it (a rotated file takes effect without a restart), and cut out of every text that
// leaves the source.
import { readFileSync } from 'node:fs';
import type { ConsulSourceOptions } from './options.ts';

export class AclToken {
  private readonly o: Pick<ConsulSourceOptions, 'token' | 'tokenEnv' | 'tokenFile'>;
  private value = '';

  constructor(o: Pick<ConsulSourceOptions, 'token' | 'tokenEnv' | 'tokenFile'>) {
    this.o = o;
  }

  /** The current token ('' = none). */
  get(): string {
    return this.value;
  }

  /** Reads the token; throws an error naming the setting and the fix when it cannot. */
  load(): void {
    this.value = this.read();
  }

  /** Reads the token again after a 403; keeps the current one when the file or variable is gone. */
  reload(): void {
    try {
      this.value = this.read();
    } catch {
      /* keep the token we have */
    }
  }

  /** Cuts the token out of a text (tokens shorter than 4 characters would cut ordinary words). */
  redact(s: string): string {
    return this.value && this.value.length >= 4 ? s.split(this.value).join('[redacted]') : s;
  }

  private read(): string {
    const o = this.o;
    if (o.token) return o.token.trim();
    if (o.tokenEnv) {
      const v = process.env[o.tokenEnv];
      if (v === undefined)
        throw new Error(`consul.tokenEnv: environment variable ${o.tokenEnv} is not set; export it or use tokenFile`);
      return v.trim();
    }
    if (o.tokenFile) {
      try {
        return readFileSync(o.tokenFile, 'utf8').trim();
      } catch (e) {
        throw new Error(
          `consul.tokenFile: cannot read ${o.tokenFile} (${(e as NodeJS.ErrnoException).code ?? 'error'}); fix the path or its permissions`,
        );
      }
    }
    return '';
  }
}
