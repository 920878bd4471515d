export { ConsulSource } from './source.ts';
export type { ConsulSourceOptions, ConsulTlsOptions, ConsulLogger, ConfigError } from './options.ts';
export { parseConsulConfig } from './options.ts';
export {
  connectSni,
  connectSpiffeId,
  serviceModelName,
  identityName,
  ingressListenerName,
  ingressRouteName,
  ROOTS_BUNDLE_NAME,
} from './names.ts';
export { nextIndex, TokenBucket } from './blocking.ts';
export { validateLeaf } from './leaf.ts';
