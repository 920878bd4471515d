import { loadConfigFile, formatErrors } from '@meshgate/adapter-file';
import type { ParseOptions } from '@meshgate/adapter-file';
import { parseConsulConfig } from '@meshgate/adapter-consul';
import type { Model } from '@meshgate/model';
import { loadSettings, MESHGATE_KEYS } from '../config.ts';

/**
 * Loads a config file the way `serve` does, without starting anything: the file source's model
 * plus meshgate's own sections. Returns printable error lines (file:line:col first) or the model.
 */
export function loadForOffline(path: string): { model?: Model; errors: string[] } {
  const opts: ParseOptions = { extraTopLevelKeys: [...MESHGATE_KEYS] };
  const r = loadConfigFile(path, opts);
  const errors = r.errors.length ? formatErrors(r.errors, 50).split('\n') : [];
  try {
    const settings = loadSettings(path, {}, {});
    if (settings.consul !== undefined) {
      for (const e of parseConsulConfig(settings.consul, 'consul').errors) errors.push(`${settings.configPath}: ${e.path}: ${e.message}`);
    }
  } catch (err) {
    errors.push((err as Error).message);
  }
  return errors.length ? { errors } : { model: r.model!, errors: [] };
}
