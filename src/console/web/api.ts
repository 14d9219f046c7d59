/** The console's JSON API, as the page calls it. The token lives in memory only, never in a cookie. */
import type { ApplyResult, ConsoleAction, ConsoleState, DryRunView, ErrorBody } from '../view.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

async function post<T>(path: string, body: unknown, token: string | null): Promise<T> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token !== null && token !== '') headers['authorization'] = `Bearer ${token}`;
  const res = await fetch(path, {
    method: 'POST',
    headers,
    body: JSON.stringify(body),
    credentials: 'same-origin',
  });
  const value = (await res.json()) as T | ErrorBody;
  if (!res.ok) {
    const e = (value as ErrorBody).error;
    throw new ApiError(res.status, e?.code ?? 'HTTP', e?.message ?? `HTTP ${res.status}`);
  }
  return value as T;
}

export function dryRun(action: ConsoleAction, force: boolean): Promise<DryRunView> {
  return post('/api/dry-run', { action, force }, null);
}

export interface ApplyRequest {
  readonly action: ConsoleAction;
  readonly expected: number | null;
  readonly reason: string;
  readonly operator: string;
  readonly force: boolean;
}

export function apply(req: ApplyRequest, token: string): Promise<ApplyResult> {
  return post('/api/apply', req, token);
}

/** Live state over SSE; EventSource reconnects by itself after a drop. */
export function subscribe(onState: (s: ConsoleState) => void, onLive: (live: boolean) => void): () => void {
  const es = new EventSource('/api/events');
  es.addEventListener('state', (ev) => {
    onLive(true);
    onState(JSON.parse((ev as MessageEvent<string>).data) as ConsoleState);
  });
  es.addEventListener('error', () => onLive(false));
  return () => es.close();
}
