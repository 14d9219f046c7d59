/**
 * The drill console page: preact components over the state the server pushes by SSE. Every
 * colour comes with a text or a pattern (standby cells are striped and say so), so nothing is
 * told by colour alone; every action is a button or a form field reachable by keyboard.
 */
import { render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import type {
  ConsoleAction,
  ConsoleState,
  DryRunView,
  GatewayView,
  HistoryView,
  MapView,
  ZoneStats,
  ZoneView,
} from '../view.js';
import { apply, ApiError, dryRun, subscribe } from './api.js';

const PALETTE = [
  '#4e9af1',
  '#f28e2b',
  '#59c36a',
  '#e15759',
  '#b07aa1',
  '#edc948',
  '#76d7c4',
  '#ff9da7',
  '#9c755f',
  '#bab0ac',
  '#8cd17d',
  '#f1ce63',
  '#a0cbe8',
  '#ffbe7d',
];

function zoneColours(map: MapView): Map<string, string> {
  return new Map(map.zones.map((z, i) => [z.name, PALETTE[i % PALETTE.length] as string]));
}

function fmt(n: number | null, digits = 1): string {
  return n === null ? '–' : n.toFixed(digits);
}

function StatusBadge({ status }: { status: string }) {
  return <span class={`badge status-${status}`}>{status}</span>;
}

/* ------------------------------------------------------------------ topology */

function Topology({ map, onAction }: { map: MapView; onAction: (a: ConsoleAction) => void }) {
  const byName = new Map(map.zones.map((z) => [z.name, z]));
  const colours = zoneColours(map);
  const statusButtons = (noun: 'zone' | 'idc' | 'city', name: string) => (
    <span class="actions">
      {(['up', 'drain', 'down'] as const).map((status) => (
        <button
          type="button"
          class={`small act-${status}`}
          aria-label={`${noun} ${status} ${name}`}
          data-action={`${noun} ${status} ${name}`}
          onClick={() => onAction({ kind: 'status', noun, name, status })}
        >
          {status}
        </button>
      ))}
    </span>
  );
  const zoneRow = (z: ZoneView) => (
    <tr key={z.name} data-zone={z.name}>
      <th scope="row" class="zone-name">
        <span class="swatch" style={{ background: colours.get(z.name) }} aria-hidden="true" />
        {z.name}
      </th>
      <td>{z.kind}</td>
      <td>
        <StatusBadge status={z.status} />
        {z.effectiveStatus !== z.status ? <span class="muted"> (effective {z.effectiveStatus})</span> : null}
      </td>
      <td class="num">{z.weight}</td>
      <td>{z.standbys.join(', ') || '–'}</td>
      <td class={z.servedBy !== z.name ? 'warn' : ''}>{z.servedBy ?? 'no live zone'}</td>
      <td class="num">{z.shardCount}</td>
      <td
        class="num share"
        title={`${z.greenShards.length > 0 ? `green shards ${z.greenShards.join(',')}; ` : ''}${z.greenUidCount} listed uid(s)`}
      >
        <span class="blue">{fmt(100 - z.greenPercent, 0)}</span>/
        <span class="green">{fmt(z.greenPercent, 0)}</span>
      </td>
      <td class="change">
        {statusButtons('zone', z.name)}
        <button
          type="button"
          class="small"
          aria-label={`weight, release or shards of ${z.name}`}
          onClick={() => onAction({ kind: 'weight', zone: z.name, weight: String(z.weight) })}
        >
          …
        </button>
      </td>
    </tr>
  );
  return (
    <section aria-labelledby="topology-h">
      <h2 id="topology-h">Topology</h2>
      <table class="topology">
        <thead>
          <tr>
            <th scope="col">zone</th>
            <th scope="col">kind</th>
            <th scope="col">status</th>
            <th scope="col">weight</th>
            <th scope="col">standbys</th>
            <th scope="col">served by</th>
            <th scope="col">shards</th>
            <th scope="col">blue/green %</th>
            <th scope="col">change</th>
          </tr>
        </thead>
        {map.cities.map((c) => (
          <tbody key={c.name} data-city={c.name}>
            <tr class="city-row">
              <th scope="rowgroup" colSpan={8}>
                city {c.name} <StatusBadge status={c.status} />
              </th>
              <td class="change">{statusButtons('city', c.name)}</td>
            </tr>
            {c.idcs.map((i) => [
              <tr key={`idc-${i.name}`} class="idc-row">
                <th scope="rowgroup" colSpan={8}>
                  IDC {i.name} <StatusBadge status={i.status} />
                  {i.effectiveStatus !== i.status ? (
                    <span class="muted"> (effective {i.effectiveStatus})</span>
                  ) : null}
                </th>
                <td class="change">{statusButtons('idc', i.name)}</td>
              </tr>,
              ...i.zones
                .map((n) => byName.get(n))
                .filter((z): z is ZoneView => z !== undefined)
                .map(zoneRow),
            ])}
          </tbody>
        ))}
      </table>
    </section>
  );
}

/* ------------------------------------------------------------------ shard grid */

function ShardGrid({ map }: { map: MapView }) {
  const colours = zoneColours(map);
  const width = map.shardWidth;
  const counts = new Map<string, number>();
  let standby = 0;
  let unserved = 0;
  map.serving.forEach((z, s) => {
    const key = z ?? 'none';
    counts.set(key, (counts.get(key) ?? 0) + 1);
    if (z === null) unserved++;
    else if (z !== map.owner[s]) standby++;
  });
  return (
    <section aria-labelledby="grid-h">
      <h2 id="grid-h">
        Shards{' '}
        <span class="muted">
          ({map.shards}; {standby} served by a standby; {unserved} with no live zone)
        </span>
      </h2>
      <ol
        class="grid"
        aria-label={`shard grid: ${[...counts].map(([z, n]) => `${z} serves ${n}`).join(', ')}`}
      >
        {map.serving.map((z, s) => {
          const owner = map.owner[s] ?? '';
          const moved = z !== null && z !== owner;
          const label = `shard ${String(s).padStart(width, '0')}: ${owner}${
            z === null ? ', no live zone' : moved ? `, served by standby ${z}` : ''
          }`;
          return (
            <li
              key={s}
              class={`cell${moved ? ' standby' : ''}${z === null ? ' unserved' : ''}`}
              style={{ background: z === null ? undefined : colours.get(z) }}
              data-shard={s}
              data-zone={z ?? ''}
              data-owner={owner}
              title={label}
              aria-label={label}
            >
              {String(s).padStart(width, '0')}
            </li>
          );
        })}
      </ol>
      <ul class="legend" aria-label="zones serving shards">
        {map.zones
          .filter((z) => z.kind === 'rzone')
          .map((z) => (
            <li key={z.name}>
              <span class="swatch" style={{ background: colours.get(z.name) }} aria-hidden="true" />
              {z.name} {counts.get(z.name) ?? 0}
            </li>
          ))}
        <li>
          <span class="swatch standby" aria-hidden="true" /> striped: served by a standby
        </li>
      </ul>
    </section>
  );
}

/* ------------------------------------------------------------------ fleet and metrics */

function Fleet({
  gateways,
  version,
  state,
}: {
  gateways: readonly GatewayView[];
  version: number | null;
  state: ConsoleState;
}) {
  const current = gateways.filter((g) => g.state === 'current').length;
  return (
    <section aria-labelledby="fleet-h">
      <h2 id="fleet-h">
        Fleet{' '}
        <span class="muted">
          ({current} of {gateways.length} on v{version ?? '–'})
        </span>
      </h2>
      <table class="fleet">
        <thead>
          <tr>
            <th scope="col">gateway</th>
            <th scope="col">IDC</th>
            <th scope="col">version</th>
            <th scope="col">state</th>
            <th scope="col">lag</th>
            <th scope="col">last report</th>
          </tr>
        </thead>
        <tbody>
          {gateways.length === 0 ? (
            <tr>
              <td colSpan={6} class="muted">
                no gateway reports to this store
              </td>
            </tr>
          ) : null}
          {gateways.map((g) => (
            <tr key={g.id} data-gateway={g.id} data-version={g.version} data-state={g.state}>
              <th scope="row">{g.id}</th>
              <td>{g.idc}</td>
              <td class="num">v{g.version}</td>
              <td>
                <span class={`badge gw-${g.state}`}>{g.state}</span>
              </td>
              <td class="num">{g.lag === 0 ? '–' : `${g.lag} behind`}</td>
              <td class="num">{(g.ageMs / 1000).toFixed(1)} s ago</td>
            </tr>
          ))}
        </tbody>
      </table>
      {state.scrapes.length > 0 ? (
        <p class="muted scrapes">
          metrics from:{' '}
          {state.scrapes.map((s) => (
            <span key={s.url} class={s.ok ? '' : 'bad'}>
              {s.url} {s.ok ? `v${s.version ?? '?'}` : `unreachable (${s.error ?? ''})`}{' '}
            </span>
          ))}
        </p>
      ) : null}
    </section>
  );
}

const HISTORY_POINTS = 120;

interface Series {
  readonly t: number[];
  readonly zones: Map<string, number[]>;
}

function RateChart({ series, colours }: { series: Series; colours: Map<string, string> }) {
  const ref = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const names = [...series.zones.keys()];
  const key = names.join(',');
  useEffect(() => {
    if (ref.current === null) return;
    const opts: uPlot.Options = {
      width: 560,
      height: 150,
      legend: { show: true, live: false },
      cursor: { show: false },
      axes: [
        { stroke: '#c9d1d9', grid: { stroke: '#30363d' }, ticks: { stroke: '#30363d' } },
        {
          stroke: '#c9d1d9',
          grid: { stroke: '#30363d' },
          ticks: { stroke: '#30363d' },
          label: 'req/s',
          labelSize: 14,
        },
      ],
      series: [{}, ...names.map((n) => ({ label: n, stroke: colours.get(n) ?? '#c9d1d9', width: 2 }))],
    };
    plot.current?.destroy();
    plot.current = new uPlot(opts, [series.t, ...names.map((n) => series.zones.get(n) ?? [])], ref.current);
    return () => {
      plot.current?.destroy();
      plot.current = null;
    };
    // Rebuilt only when the zones change; new points go through setData below.
  }, [key]);
  useEffect(() => {
    plot.current?.setData([series.t, ...names.map((n) => series.zones.get(n) ?? [])]);
  });
  return (
    <div ref={ref} class="chart" role="img" aria-label="request rate per zone over the last two minutes" />
  );
}

function Traffic({
  stats,
  series,
  colours,
}: {
  stats: readonly ZoneStats[];
  series: Series;
  colours: Map<string, string>;
}) {
  return (
    <section aria-labelledby="traffic-h">
      <h2 id="traffic-h">Traffic per zone (live, from the gateways' metrics)</h2>
      <table class="traffic">
        <thead>
          <tr>
            <th scope="col">zone</th>
            <th scope="col">req/s</th>
            <th scope="col">5xx</th>
            <th scope="col">p99</th>
            <th scope="col">MQTT sessions</th>
          </tr>
        </thead>
        <tbody>
          {stats
            .filter((s) => s.rps > 0 || s.mqttSessions > 0 || s.errorRatio !== null)
            .map((s) => (
              <tr key={s.zone} data-stats-zone={s.zone}>
                <th scope="row">{s.zone}</th>
                <td class="num">{fmt(s.rps)}</td>
                <td class={`num${(s.errorRatio ?? 0) > 0.01 ? ' bad' : ''}`}>
                  {s.errorRatio === null ? '–' : `${(s.errorRatio * 100).toFixed(1)}%`}
                </td>
                <td class="num">{s.p99Ms === null ? '–' : `≤ ${fmt(s.p99Ms)} ms`}</td>
                <td class="num">{s.mqttSessions}</td>
              </tr>
            ))}
        </tbody>
      </table>
      <RateChart series={series} colours={colours} />
    </section>
  );
}

/* ------------------------------------------------------------------ actions */

function actionText(a: ConsoleAction): string {
  switch (a.kind) {
    case 'status':
      return `${a.noun} ${a.status} ${a.name}`;
    case 'weight':
      return `zone weight ${a.zone} ${a.weight}`;
    case 'shards':
      return `shards move ${a.shards} --to ${a.to}`;
    case 'release':
      return `release ${a.zone}`;
    case 'rollback':
      return `rollback to ${a.version}`;
  }
}

function ActionEditor({
  action,
  onChange,
  map,
}: {
  action: ConsoleAction;
  onChange: (a: ConsoleAction) => void;
  map: MapView | null;
}) {
  const zones = map?.zones.map((z) => z.name) ?? [];
  const field = (label: string, id: string, value: string, set: (v: string) => void, list?: string) => (
    <label for={id}>
      {label}
      <input id={id} value={value} list={list} onInput={(e) => set((e.target as HTMLInputElement).value)} />
    </label>
  );
  const kind = (
    <label for="action-kind">
      change
      <select
        id="action-kind"
        value={action.kind === 'status' ? `status-${action.noun}` : action.kind}
        onChange={(e) => {
          const v = (e.target as HTMLSelectElement).value;
          const named =
            'zone' in action
              ? action.zone
              : action.kind === 'status' && action.noun === 'zone'
                ? action.name
                : '';
          const first = named !== '' ? named : (zones[0] ?? '');
          if (v.startsWith('status-'))
            onChange({
              kind: 'status',
              noun: v.slice(7) as 'zone' | 'idc' | 'city',
              name: '',
              status: 'down',
            });
          else if (v === 'weight') onChange({ kind: 'weight', zone: first, weight: '1' });
          else if (v === 'shards') onChange({ kind: 'shards', shards: '', to: first });
          else if (v === 'release') onChange({ kind: 'release', zone: first, green: '0' });
          else onChange({ kind: 'rollback', version: 1 });
        }}
      >
        <option value="status-zone">zone up / drain / down</option>
        <option value="status-idc">IDC up / drain / down</option>
        <option value="status-city">city up / drain / down</option>
        <option value="weight">zone weight</option>
        <option value="shards">shards move</option>
        <option value="release">release (blue / green)</option>
        <option value="rollback">rollback</option>
      </select>
    </label>
  );
  let fields;
  switch (action.kind) {
    case 'status':
      fields = (
        <>
          {field(
            action.noun === 'idc' ? 'IDC' : action.noun,
            'action-name',
            action.name,
            (name) => onChange({ ...action, name }),
            action.noun === 'zone' ? 'zone-names' : undefined,
          )}
          <label for="action-status">
            to
            <select
              id="action-status"
              value={action.status}
              onChange={(e) =>
                onChange({
                  ...action,
                  status: (e.target as HTMLSelectElement).value as 'up' | 'drain' | 'down',
                })
              }
            >
              <option value="up">up</option>
              <option value="drain">drain</option>
              <option value="down">down</option>
            </select>
          </label>
        </>
      );
      break;
    case 'weight':
      fields = (
        <>
          {field('zone', 'action-zone', action.zone, (zone) => onChange({ ...action, zone }), 'zone-names')}
          {field('weight', 'action-weight', action.weight, (weight) => onChange({ ...action, weight }))}
        </>
      );
      break;
    case 'shards':
      fields = (
        <>
          {field('shards (e.g. 30-34,39)', 'action-shards', action.shards, (shards) =>
            onChange({ ...action, shards }),
          )}
          {field('to zone', 'action-to', action.to, (to) => onChange({ ...action, to }), 'zone-names')}
        </>
      );
      break;
    case 'release':
      fields = (
        <>
          {field('zone', 'action-zone', action.zone, (zone) => onChange({ ...action, zone }), 'zone-names')}
          {field('green %', 'action-green', action.green ?? '', (green) => onChange({ ...action, green }))}
          {field('green shards', 'action-green-shards', action.greenShards ?? '', (greenShards) =>
            onChange({ ...action, greenShards }),
          )}
          {field('green uids', 'action-green-uids', action.greenUids ?? '', (greenUids) =>
            onChange({ ...action, greenUids }),
          )}
        </>
      );
      break;
    case 'rollback':
      fields = field('to version', 'action-version', String(action.version), (v) =>
        onChange({ ...action, version: Number(v) }),
      );
      break;
  }
  return (
    <div class="editor">
      {kind}
      {fields}
      <datalist id="zone-names">
        {zones.map((z) => (
          <option key={z} value={z} />
        ))}
      </datalist>
    </div>
  );
}

function DryRun({ view }: { view: DryRunView }) {
  const pct = ((100 * view.movedShards) / view.shards).toFixed(1);
  return (
    <div
      id="dry-run-result"
      class={`dry-run${view.refused ? ' refused' : ''}`}
      data-action={view.action}
      data-next-version={view.nextVersion}
    >
      <h3>
        Dry run: <code>{view.action}</code> — v{view.expected ?? 'none'} → v{view.nextVersion}
      </h3>
      {view.noop ? <p class="warn">Nothing to change: the store already holds this map.</p> : null}
      <dl>
        <dt>changes</dt>
        <dd>
          {view.changes.length === 0 ? (
            'none'
          ) : (
            <ul>
              {view.changes.map((c) => (
                <li key={c}>{c}</li>
              ))}
            </ul>
          )}
        </dd>
        <dt>shards that move</dt>
        <dd data-moved={view.movedShards}>
          {view.movedShards} of {view.shards} ({pct}%)
          {view.moves.length > 0 ? (
            <ul class="moves">
              {view.moves.map((m) => (
                <li key={m.shards.join(',')}>
                  <code>{m.shards.join(',')}</code> {m.from ?? '(no live zone)'} → {m.to ?? '(no live zone)'}{' '}
                  [{m.count}]
                </li>
              ))}
            </ul>
          ) : null}
        </dd>
        <dt>colour changes</dt>
        <dd>
          {view.colour.length === 0 ? (
            'none'
          ) : (
            <ul>
              {view.colour.map((c) => (
                <li key={c}>{c}</li>
              ))}
            </ul>
          )}
        </dd>
        <dt>zones left without a live standby</dt>
        <dd class={view.lostLastStandby.length > 0 ? 'warn' : ''}>
          {view.lostLastStandby.join(', ') || 'none'}
        </dd>
        <dt>left with no live zone</dt>
        <dd class={view.unserved.length > 0 ? 'bad' : ''}>{view.unserved.join('; ') || 'none'}</dd>
      </dl>
      {view.violations.length > 0 ? (
        <div class="violations" role="alert">
          <strong>Guard rails {view.refused ? 'refuse this change' : 'overridden (force)'}:</strong>
          <ul>
            {view.violations.map((v) => (
              <li key={v}>{v}</li>
            ))}
          </ul>
        </div>
      ) : null}
    </div>
  );
}

function ActionPanel({
  action,
  setAction,
  map,
  token,
  operator,
}: {
  action: ConsoleAction | null;
  setAction: (a: ConsoleAction) => void;
  map: MapView | null;
  token: string;
  operator: string;
}) {
  const [view, setView] = useState<DryRunView | null>(null);
  const [reason, setReason] = useState('');
  const [force, setForce] = useState(false);
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);
  const heading = useRef<HTMLHeadingElement>(null);
  const current = action ?? { kind: 'status', noun: 'zone', name: '', status: 'down' };

  const runDry = async (a: ConsoleAction, f: boolean): Promise<void> => {
    setBusy(true);
    setMessage(null);
    try {
      setView(await dryRun(a, f));
    } catch (err) {
      setView(null);
      setMessage({ ok: false, text: err instanceof Error ? err.message : String(err) });
    } finally {
      setBusy(false);
    }
  };

  // A button elsewhere (topology, history) picked an action: show its dry run at once.
  useEffect(() => {
    if (action === null) return;
    setForce(false);
    heading.current?.focus();
    void runDry(action, false);
  }, [action]);

  const canApply =
    view !== null &&
    !view.noop &&
    (!view.refused || force) &&
    reason.trim() !== '' &&
    token !== '' &&
    operator.trim() !== '';
  const doApply = async (): Promise<void> => {
    if (view === null) return;
    setBusy(true);
    try {
      const r = await apply(
        { action: current, expected: view.expected, reason: reason.trim(), operator: operator.trim(), force },
        token,
      );
      setMessage({
        ok: true,
        text: `written: v${r.version} (was v${r.previous ?? 'none'}) by ${r.who}: ${r.action}`,
      });
      setView(null);
      setReason('');
    } catch (err) {
      const text = err instanceof ApiError ? `${err.message} [${err.code}]` : String(err);
      setMessage({ ok: false, text });
    } finally {
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="action-h" class="action-panel">
      <h2 id="action-h" tabIndex={-1} ref={heading}>
        Change
      </h2>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void runDry(current, force);
        }}
      >
        <ActionEditor
          action={current}
          map={map}
          onChange={(a) => {
            setView(null);
            setAction(a);
          }}
        />
        <button id="dry-run" type="submit" disabled={busy}>
          Dry run <kbd>{actionText(current)}</kbd>
        </button>
      </form>
      {view !== null ? <DryRun view={view} /> : null}
      {view !== null && !view.noop ? (
        <form
          class="apply"
          onSubmit={(e) => {
            e.preventDefault();
            void doApply();
          }}
        >
          <label for="reason">
            reason (kept in history)
            <input
              id="reason"
              value={reason}
              maxLength={500}
              required
              onInput={(e) => setReason((e.target as HTMLInputElement).value)}
            />
          </label>
          {view.refused || force ? (
            <label class="inline" for="force">
              <input
                id="force"
                type="checkbox"
                checked={force}
                onChange={(e) => {
                  const f = (e.target as HTMLInputElement).checked;
                  setForce(f);
                  void runDry(current, f);
                }}
              />{' '}
              override the guard rails (--force)
            </label>
          ) : null}
          <button id="apply" type="submit" class="danger" disabled={!canApply || busy}>
            Apply v{view.nextVersion}
          </button>
          {token === '' ? <span class="muted"> enter the admin token above to apply</span> : null}
        </form>
      ) : null}
      <p
        id="apply-result"
        role="status"
        aria-live="polite"
        class={message === null ? '' : message.ok ? 'ok' : 'bad'}
      >
        {message?.text ?? ''}
      </p>
    </section>
  );
}

/* ------------------------------------------------------------------ history */

function History({
  history,
  version,
  onRollback,
}: {
  history: readonly HistoryView[];
  version: number | null;
  onRollback: (v: number) => void;
}) {
  return (
    <section aria-labelledby="history-h">
      <h2 id="history-h">History</h2>
      <ol class="history">
        {history.map((e) => (
          <li key={e.id} data-version={e.version}>
            <div class="entry-head">
              <strong>v{e.version}</strong> <code>{e.action}</code>{' '}
              <span class="muted">
                by {e.who} at {e.at.replace('T', ' ').replace(/\.\d+Z$/, 'Z')}
              </span>
              {e.version !== version ? (
                <button
                  type="button"
                  class="small"
                  data-rollback={e.version}
                  onClick={() => onRollback(e.version)}
                >
                  roll back to v{e.version}
                </button>
              ) : (
                <span class="badge gw-current">current</span>
              )}
            </div>
            {e.reason !== '' ? <div class="reason">reason: {e.reason}</div> : null}
            {e.changes.length > 0 ? (
              <ul class="diff">
                {e.changes.map((c) => (
                  <li key={c}>{c}</li>
                ))}
              </ul>
            ) : (
              <div class="muted">{e.summary}</div>
            )}
          </li>
        ))}
      </ol>
    </section>
  );
}

/* ------------------------------------------------------------------ app */

function App() {
  const [state, setState] = useState<ConsoleState | null>(null);
  const [live, setLive] = useState(false);
  const [token, setToken] = useState('');
  const [operator, setOperator] = useState(() => localStorage.getItem('zonegate.operator') ?? '');
  const [action, setAction] = useState<ConsoleAction | null>(null);
  const series = useRef<Series>({ t: [], zones: new Map() });

  useEffect(
    () =>
      subscribe((s) => {
        const ser = series.current;
        ser.t.push(Date.parse(s.at) / 1000);
        for (const st of s.stats) {
          if (!ser.zones.has(st.zone)) ser.zones.set(st.zone, new Array<number>(ser.t.length - 1).fill(0));
        }
        for (const [zone, points] of ser.zones) points.push(s.stats.find((x) => x.zone === zone)?.rps ?? 0);
        if (ser.t.length > HISTORY_POINTS) {
          ser.t.shift();
          for (const p of ser.zones.values()) p.shift();
        }
        setState(s);
      }, setLive),
    [],
  );
  useEffect(() => localStorage.setItem('zonegate.operator', operator), [operator]);

  if (state === null) return <p class="loading">Connecting to the console…</p>;
  const map = state.map;
  const colours = map === null ? new Map<string, string>() : zoneColours(map);
  return (
    <>
      <header>
        <h1>Zonegate drill console</h1>
        <span class={`live ${live ? 'on' : 'off'}`} role="status">
          {live ? '● live' : '○ reconnecting'}
        </span>
        <span>
          store <code>{state.store}</code> at <strong id="store-version">v{state.version ?? 'none'}</strong>
        </span>
        <form class="creds" onSubmit={(e) => e.preventDefault()}>
          <label for="operator">
            you
            <input
              id="operator"
              value={operator}
              autocomplete="username"
              size={12}
              onInput={(e) => setOperator((e.target as HTMLInputElement).value)}
            />
          </label>
          <label for="token">
            admin token
            <input
              id="token"
              type="password"
              value={token}
              autocomplete="off"
              size={16}
              onInput={(e) => setToken((e.target as HTMLInputElement).value)}
            />
          </label>
          <span class="muted">{token === '' ? 'read-only' : 'changes allowed if the token is right'}</span>
        </form>
      </header>
      {state.problem !== null ? (
        <p class="problem" role="alert">
          {state.problem}
        </p>
      ) : null}
      <main>
        <div class="col">
          {map !== null ? <ShardGrid map={map} /> : null}
          {map !== null ? <Topology map={map} onAction={setAction} /> : null}
        </div>
        <div class="col">
          <ActionPanel action={action} setAction={setAction} map={map} token={token} operator={operator} />
          <Fleet gateways={state.gateways} version={state.version} state={state} />
          <Traffic stats={state.stats} series={series.current} colours={colours} />
          <History
            history={state.history}
            version={state.version}
            onRollback={(version) => setAction({ kind: 'rollback', version })}
          />
        </div>
      </main>
    </>
  );
}

const root = document.getElementById('app');
if (root !== null) {
  root.textContent = '';
  render(<App />, root);
}
