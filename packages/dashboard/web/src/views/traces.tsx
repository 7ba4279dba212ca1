import { useEffect, useState } from 'preact/hooks';
import { get } from '../api.js';
import { clock, ms, short } from '../format.js';
import { useStore } from '../store.js';
import type { Span, Trace } from '../types.js';
import { LogLine } from './logs.js';

/** Recent traces seen on the cluster's log streams, newest first. */
export function TracesView() {
  const { traces } = useStore();
  const [id, setId] = useState('');
  return (
    <section data-view="traces">
      <h1>Traces</h1>
      <form
        class="picker"
        onSubmit={(e) => {
          e.preventDefault();
          if (id.trim()) location.hash = `#/traces/${id.trim()}`;
        }}
      >
        <label>
          trace id{' '}
          <input
            name="trace"
            class="mono"
            value={id}
            onInput={(e) => setId(e.currentTarget.value)}
          />
        </label>
        <button type="submit">Open</button>
      </form>
      <table class="grid-table">
        <thead>
          <tr>
            <th>started</th>
            <th>edge</th>
            <th>services</th>
            <th class="num">spans</th>
            <th class="num">records</th>
            <th class="num">duration</th>
            <th>trace</th>
          </tr>
        </thead>
        <tbody>
          {traces.map((t) => (
            <tr key={t.traceId} class={t.errors > 0 ? 'failed' : ''} data-trace={t.traceId}>
              <td class="mono">{clock(t.start)}</td>
              <td>{t.root || <span class="muted">(records only)</span>}</td>
              <td>{t.services.join(', ')}</td>
              <td class="num">{t.spans}</td>
              <td class="num">{t.records}</td>
              <td class="num">{ms(t.duration)}</td>
              <td>
                <a class="mono" href={`#/traces/${t.traceId}`}>
                  {short(t.traceId, 12)}
                </a>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {traces.length === 0 ? <p class="muted">No trace seen yet: make a request.</p> : null}
    </section>
  );
}

function depthOf(span: Span, byId: Map<string, Span>): number {
  let d = 0;
  for (let p = span.parentId; p !== undefined && d < 50; p = byId.get(p)?.parentId) d++;
  return d;
}

/** One trace as a waterfall across services, each step with its duration and log lines. */
export function TraceView({ id }: { id: string }) {
  const { traces } = useStore();
  const [trace, setTrace] = useState<Trace | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [folded, setFolded] = useState<ReadonlySet<string>>(new Set());
  // Records of a trace keep arriving (an event handled later): the summary's count says when to look again.
  const seen = traces.find((t) => t.traceId === id || t.traceId.startsWith(id))?.records ?? 0;
  useEffect(() => {
    let live = true;
    get<Trace>(`/api/traces/${encodeURIComponent(id)}`).then(
      (t) => live && (setTrace(t), setError(undefined)),
      (err: Error) => live && setError(err.message),
    );
    return () => {
      live = false;
    };
  }, [id, seen]);
  const byId = new Map(trace?.spans.map((s) => [s.id, s]) ?? []);
  const total = Math.max(trace?.duration ?? 0, 0.001);
  return (
    <section data-view="trace">
      <h1>
        <a href="#/traces">Traces</a> / <span class="mono">{trace?.traceId ?? id}</span>
      </h1>
      {error ? <p class="error">{error}</p> : null}
      {trace ? (
        <>
          <p class="muted">
            {[...new Set(trace.spans.map((s) => s.service))].join(' → ') ||
              trace.services.join(', ')}{' '}
            · {ms(trace.duration)} · started {clock(trace.start)} ·{' '}
            <a href={`#/logs?trace=${trace.traceId}`}>its log lines</a>
            {trace.spans.some((s) => s.inferred) ? ' · steps nested by timing' : ''}
          </p>
          <div class="waterfall">
            {trace.spans.map((s) => {
              const left = ((s.start - trace.start) / total) * 100;
              const width = Math.max((s.duration / total) * 100, 0.4);
              return (
                <div key={s.id}>
                  <div
                    class={`span-row ${s.status}`}
                    data-service={s.service}
                    data-kind={s.kind}
                    title="show or hide its log lines"
                    onClick={() => {
                      const next = new Set(folded);
                      if (!next.delete(s.id)) next.add(s.id);
                      setFolded(next);
                    }}
                  >
                    <div
                      class="span-label"
                      style={{ paddingLeft: `${depthOf(s, byId) * 16 + 4}px` }}
                    >
                      <span class={`kind ${s.kind}`}>{s.kind}</span> <b>{s.service}</b> {s.name}
                      {s.logs.length > 0 ? (
                        <span class="muted">
                          {' '}
                          · {s.logs.length} line{s.logs.length === 1 ? '' : 's'}
                        </span>
                      ) : null}
                    </div>
                    <div class="span-track">
                      <div class="span-bar" style={{ left: `${left}%`, width: `${width}%` }} />
                      {left + width > 85 && width >= 12 ? (
                        <span class="span-time inside" style={{ right: `${100 - left - width}%` }}>
                          {ms(s.duration)}
                        </span>
                      ) : left + width > 85 ? (
                        <span class="span-time before" style={{ right: `${100 - left}%` }}>
                          {ms(s.duration)}
                        </span>
                      ) : (
                        <span class="span-time" style={{ left: `${left + width}%` }}>
                          {ms(s.duration)}
                        </span>
                      )}
                    </div>
                  </div>
                  {!folded.has(s.id) && (s.logs.length > 0 || s.error) ? (
                    <div class="span-logs">
                      {s.error ? <p class="error">{s.error}</p> : null}
                      {s.logs.map((r, i) => (
                        <LogLine key={i} record={r} />
                      ))}
                    </div>
                  ) : null}
                </div>
              );
            })}
          </div>
          {trace.spans.length === 0 ? (
            <p class="muted">No step of this trace has ended yet.</p>
          ) : null}
          {trace.logs.length > 0 ? (
            <article class="card">
              <h2>Other records of this trace</h2>
              {trace.logs.map((r, i) => (
                <LogLine key={i} record={r} />
              ))}
            </article>
          ) : null}
          {trace.omitted ? (
            <p class="notice" data-omitted>
              This trace is too big to show whole: {trace.omitted.spans} more steps and{' '}
              {trace.omitted.records} more log records are not shown here.{' '}
              <span class="mono">svc tail --trace {trace.traceId} --no-follow</span> prints them
              all.
            </p>
          ) : null}
          {trace.unreachable.length > 0 ? (
            <p class="muted small">
              Not answering:{' '}
              {trace.unreachable.map((u) => `${u.service}/${short(u.instance)}`).join(', ')}
            </p>
          ) : null}
        </>
      ) : !error ? (
        <p class="notice">Asking the instances for this trace…</p>
      ) : null}
    </section>
  );
}
