import type { CompiledZoneMap, ZoneKind } from '../zonemap/model.js';

/** The route kind for a request path: the first matching `routes[].pathPrefix`, else rzone. */
export function routeKindFor(map: CompiledZoneMap, path: string): ZoneKind {
  const routes = map.routes;
  for (let i = 0; i < routes.length; i++) {
    const r = routes[i]!;
    if (path.startsWith(r.pathPrefix)) return r.kind;
  }
  return 'rzone';
}
