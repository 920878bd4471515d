export { ConsulSource } from './source.ts';
export type { ConsulSourceOptions, ConsulTlsOptions, ConsulLogger } from './options.ts';
export { CONSUL_SECTION, consulOptions, parseConsulConfig } from './options.ts';
export type { ConfigError } from '@meshgate/config-schema';
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
