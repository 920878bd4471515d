export { TYPE, PROFILES } from './types.ts';
export type { Profile, ResourceSet } from './types.ts';
export { translate, translateEndpointUpdate, checkResources, emptyResourceSet } from './translate.ts';
export { translateEndpoints } from './endpoints.ts';
export { compareRoutes } from './routes.ts';
export { endpointTlsNotices, grpcTlsPlan } from './endpoint-tls.ts';
