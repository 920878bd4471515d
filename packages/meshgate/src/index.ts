// @meshgate/meshgate: the `meshgate` command's building blocks, for tests and embedding.
export { createControlPlane } from './control-plane.ts';
export type { ControlPlane, ControlPlaneOptions } from './control-plane.ts';
export { Pipeline, endpointOnlyChanges } from './pipeline.ts';
export type { PipelineOptions, PublishedEvent } from './pipeline.ts';
export { loadSettings, readSettings, MESHGATE_KEYS, ConfigError, InvalidConfigError } from './config.ts';
export type { MeshgateSettings, Overrides, ReadResult } from './config.ts';
export { CONFIG_SCHEMA, CONFIG_SECTIONS } from './config-schema.ts';
export { envoyBootstrap, grpcBootstrap, XDS_CLUSTER } from './bootstrap.ts';
export { checkProtoJson } from './proto-json.ts';
export { createMetrics } from './metrics.ts';
export type { Metrics } from './metrics.ts';
export { createLogger } from './logger.ts';
export { main } from './cli.ts';
