import { Fragment } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { get } from '../api.js';
import { bytes, ms, rate, short, uptime } from '../format.js';
import { useStore } from '../store.js';
import type { InstanceView, ServiceDetail } from '../types.js';
import { DebugPanel } from './debug.js';

function InstanceRows({ instances }: { instances: InstanceView[] }) {
  const [into, setInto] = useState<string | undefined>();
  return (
    <table class="grid-table fixed">
      <thead>
        <tr>
          <th>instance</th>
          <th>pid</th>
          <th>host</th>
          <th class="num">uptime</th>
          <th class="num">CPU</th>
          <th class="num">RSS</th>
          <th class="num">loop lag</th>
          <th class="num">calls/s</th>
          <th class="num">p99</th>
          <th class="num">into</th>
        </tr>
      </thead>
      <tbody>
        {instances.map((i) => {
          const f = i.figures;
          return (
            <Fragment key={i.id}>
              <tr data-instance={i.id}>
                <td class="mono">{short(i.id)}</td>
                <td class="mono">{i.pid}</td>
                <td>{i.host}</td>
                {f ? (
                  <>
                    <td class="num">{uptime(f.uptime)}</td>
                    <td class="num">{f.cpu.toFixed(1)} %</td>
                    <td class="num">{bytes(f.rss)}</td>
                    <td class="num">{ms(f.loopLag)}</td>
                    <td class="num">{rate(f.callsPerSec)}</td>
                    <td class="num">{f.p99 > 0 ? ms(f.p99) : '–'}</td>
                  </>
                ) : (
                  <td colSpan={6} class="muted">
                    {i.unreachable ? `not answering: ${i.unreachable}` : 'waiting for figures…'}
                  </td>
                )}
                <td class="num">
                  <button
                    class="small"
                    title="a shell inside this instance, its Node.js inspector"
                    onClick={() => setInto(into === i.id ? undefined : i.id)}
                    data-into={i.id}
                  >
                    shell / debug
                  </button>
                </td>
              </tr>
              {into === i.id ? (
                <tr class="debug-row">
                  <td colSpan={10}>
                    <DebugPanel id={i.id} />
                  </td>
                </tr>
              ) : null}
            </Fragment>
          );
        })}
      </tbody>
    </table>
  );
}

/** Every service with its instances, live. */
export function ServicesView() {
  const { cluster } = useStore();
  if (!cluster) return <p class="notice">Reading the cluster…</p>;
  const byId = new Map(cluster.instances.map((i) => [i.id, i]));
  return (
    <section>
      <h1>
        Services{' '}
        <span class="muted">
          {cluster.services.length} services, {cluster.instances.length} instances
        </span>
      </h1>
      {cluster.services.length === 0 ? (
        <p class="notice">
          No instance of cluster {cluster.cluster} is running. Start some (svc node, svc instance).
        </p>
      ) : null}
      {cluster.services.map((s) => (
        <article class="card" key={s.name} data-service={s.name} data-count={s.instances.length}>
          <h2>
            <a href={`#/services/${encodeURIComponent(s.name)}`}>{s.name}</a>{' '}
            <span class="badge">
              {s.instances.length} instance{s.instances.length === 1 ? '' : 's'}
            </span>
          </h2>
          <InstanceRows instances={s.instances.flatMap((id) => byId.get(id) ?? [])} />
        </article>
      ))}
    </section>
  );
}

/** One service's interface (from svc.inspect) and its instances. */
export function ServiceView({ name }: { name: string }) {
  const { cluster } = useStore();
  const ids = cluster?.services.find((s) => s.name === name)?.instances ?? [];
  const key = [...ids].sort().join(',');
  const [detail, setDetail] = useState<ServiceDetail | undefined>();
  const [error, setError] = useState<string | undefined>();
  useEffect(() => {
    if (key === '') return;
    let live = true;
    get<ServiceDetail>(`/api/services/${encodeURIComponent(name)}`).then(
      (d) => live && (setDetail(d), setError(undefined)),
      (err: Error) => live && setError(err.message),
    );
    return () => {
      live = false;
    };
  }, [name, key]);
  const byId = new Map(cluster?.instances.map((i) => [i.id, i]) ?? []);
  const d = detail?.description;
  return (
    <section data-view="service" data-name={name}>
      <h1>
        <a href="#/services">Services</a> / {name}
      </h1>
      {key === '' && cluster ? <p class="notice">No instance of {name} is running.</p> : null}
      {error ? <p class="error">{error}</p> : null}
      {d ? (
        <>
          <article class="card">
            <h2>RPC methods</h2>
            {d.rpc.length === 0 ? <p class="muted">none</p> : null}
            <dl class="methods">
              {d.rpc.map((m) => (
                <div key={m.name} data-method={m.name}>
                  <dt>
                    <code>
                      {name}.{m.name}(
                      {m.params
                        .map(
                          (p) => `${p.name}${p.optional ? '?' : ''}${p.type ? `: ${p.type}` : ''}`,
                        )
                        .join(', ')}
                      )
                    </code>{' '}
                    <a
                      class="button small"
                      href={`#/explorer/${encodeURIComponent(name)}/${encodeURIComponent(m.name)}`}
                    >
                      try it
                    </a>
                  </dt>
                  <dd>
                    {m.doc ?? <span class="muted">no description</span>}
                    {m.params.some((p) => p.doc) ? (
                      <ul>
                        {m.params
                          .filter((p) => p.doc)
                          .map((p) => (
                            <li key={p.name}>
                              <code>{p.name}</code>: {p.doc}
                            </li>
                          ))}
                      </ul>
                    ) : null}
                  </dd>
                </div>
              ))}
            </dl>
          </article>
          <div class="columns">
            <article class="card">
              <h2>Events handled</h2>
              {d.events.length === 0 ? <p class="muted">none</p> : null}
              <table class="grid-table">
                <tbody>
                  {d.events.map((e) => (
                    <tr key={`${e.source ?? ''}.${e.type}.${e.handler}`}>
                      <td>
                        <code>{e.source ? `${e.source}.${e.type}` : e.type}</code>
                      </td>
                      <td>
                        <span class="badge">{e.mode}</span>
                      </td>
                      <td class="mono">{e.handler}</td>
                      <td>{e.doc}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </article>
            <article class="card">
              <h2>HTTP routes and timers</h2>
              {d.http.length + d.timers.length === 0 ? <p class="muted">none</p> : null}
              <table class="grid-table">
                <tbody>
                  {d.http.map((h) => (
                    <tr key={`${h.method} ${h.path}`}>
                      <td>
                        <code>
                          {h.method} {h.path}
                        </code>
                      </td>
                      <td class="mono">{h.handler}</td>
                      <td>{h.doc}</td>
                    </tr>
                  ))}
                  {d.timers.map((t) => (
                    <tr key={t.handler}>
                      <td>every {ms(t.interval)}</td>
                      <td class="mono">{t.handler}</td>
                      <td>{t.eager ? 'eager' : ''}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </article>
          </div>
        </>
      ) : !error && key !== '' ? (
        <p class="notice">Asking {name} for its interface…</p>
      ) : null}
      <article class="card">
        <h2>Instances</h2>
        <InstanceRows instances={ids.flatMap((id) => byId.get(id) ?? [])} />
        {detail ? (
          <p class="muted small">
            {Object.entries(detail.statuses)
              .map(([id, s]) =>
                s.error
                  ? `${short(id)}: ${s.error}`
                  : `${short(id)}: ${s.state ?? '?'}, ${(s.services ?? []).reduce((n, x) => n + x.activeWorkers, 0)} workers running`,
              )
              .join(' · ')}
          </p>
        ) : null}
      </article>
    </section>
  );
}
