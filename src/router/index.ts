export { decide } from './decide.js';
export { routeKindFor } from './routes.js';
export { shardOf, fnv1a32 } from './shard.js';
export { colourOf, colourBucket } from './colour.js';
export type {
  Decision,
  RoutedDecision,
  UnroutedDecision,
  Identity,
  IdentitySource,
  Self,
  Reason,
  Via,
} from './decision.js';
