// The Kubernetes source: Services and EndpointSlices, Gateway API routes with status, leader
// election. Importing this module is cheap; the Kubernetes client loads when a source starts.
export { KubernetesSource, RESOURCES } from './source.ts';
export { parseKubernetesConfig } from './config.ts';
export type {
  KubeConfigError,
  KubeLogger,
  KubernetesSourceOptions,
  NamespaceScope,
  ServiceMeshHook,
} from './config.ts';
export { buildModel, ServiceModelCache } from './build.ts';
export type { BuildOptions } from './build.ts';
export {
  missingProfileWarning,
  type ProfileNeed,
  portEndpoints,
  portProtocol,
  serviceAccountsOf,
  serviceHostname,
  serviceModelName,
  serviceModels,
  serviceProfileNeeds,
} from './services.ts';
export {
  buildGatewayApi,
  DEFAULT_CONTROLLER,
  GROUP,
  intersectHostnames,
  parseGwDuration,
  referenceAllowed,
  secretProblem,
  selectorMatches,
} from './gateway.ts';
export type {
  Condition,
  DesiredStatus,
  GatewayBuild,
  GatewayOptions,
  RouteParentStatus,
  StatusKind,
} from './gateway.ts';
export { canonical, mergeConditions, nextStatus, statusPath } from './status.ts';
export { backoffDelay, Reflector } from './reflector.ts';
export type { ReflectorHandler, ReflectorOptions } from './reflector.ts';
export { microTime } from './leader.ts';
export { emptyState, toGw, toPod, toSecret, toService, toSlice } from './state.ts';
export type {
  GwObject,
  KubeState,
  PodInfo,
  SecretInfo,
  ServiceInfo,
  ServicePort,
  SliceEndpoint,
  SliceInfo,
} from './state.ts';
export { createKubeClient, loadKubeConfig } from './kube.ts';
export type { KubeClient, KubeCredentials, KubeObject } from './kube.ts';
export {
  type KubeRequester,
  type TokenRequestOptions,
  TokenRequestError,
  redactTokens,
  tokenRequestSource,
} from './token-request.ts';
