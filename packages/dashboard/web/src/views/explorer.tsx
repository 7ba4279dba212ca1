import { useEffect, useState } from 'preact/hooks';
import { get, post } from '../api.js';
import { ms } from '../format.js';
import { useStore } from '../store.js';
import type { CallOutcome, MethodDescription, ParamDescription, ServiceDetail } from '../types.js';

/** A parameter's value from its field: typed by its schema type, else JSON when it parses, else text. */
function parseField(p: ParamDescription, text: string): { value?: unknown; problem?: string } {
  const type = p.type ?? 'any';
  if (type === 'string') return { value: text };
  if (type === 'integer' || type === 'number') {
    const n = Number(text);
    if (text.trim() === '' || !Number.isFinite(n)) return { problem: `${p.name} must be a number` };
    if (type === 'integer' && !Number.isInteger(n))
      return { problem: `${p.name} must be a whole number` };
    return { value: n };
  }
  if (type === 'boolean') return { value: text === 'true' };
  try {
    return { value: JSON.parse(text) as unknown };
  } catch {
    if (type === 'any') return { value: text };
    return { problem: `${p.name} must be JSON (${type})` };
  }
}

function Outcome({ outcome }: { outcome: CallOutcome }) {
  return (
    <div
      class={`outcome ${outcome.ok ? 'ok' : 'failed'}`}
      data-outcome={outcome.ok ? 'ok' : 'error'}
    >
      <div class="meta">
        <span>{outcome.ok ? 'ok' : 'error'}</span>
        <span>{ms(outcome.durationMs)}</span>
        <span>
          trace{' '}
          <a href={`#/traces/${outcome.traceId}`} class="mono" data-trace={outcome.traceId}>
            {outcome.traceId}
          </a>
        </span>
      </div>
      {outcome.ok ? (
        <pre class="result">{JSON.stringify(outcome.result, null, 2)}</pre>
      ) : (
        <div class="result">
          <p>
            <b>{outcome.error.type}</b> <code>{outcome.error.code}</code>
          </p>
          <p>{outcome.error.message}</p>
          {outcome.error.data === undefined ? null : (
            <pre>{JSON.stringify(outcome.error.data, null, 2)}</pre>
          )}
        </div>
      )}
    </div>
  );
}

function CallForm({ service, method }: { service: string; method: MethodDescription }) {
  const [fields, setFields] = useState<Record<string, string>>({});
  const [outcome, setOutcome] = useState<CallOutcome | undefined>();
  const [problem, setProblem] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);

  const params: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const p of method.params) {
    const text = fields[p.name] ?? '';
    if (text === '' && p.type !== 'string') {
      if (!p.optional && p.type !== undefined) problems.push(`${p.name} is required`);
      continue;
    }
    if (text === '' && p.optional) continue;
    const { value, problem: bad } = parseField(p, text);
    if (bad) problems.push(bad);
    else params[p.name] = value;
  }

  const call = async (e: Event) => {
    e.preventDefault();
    if (problems.length > 0) {
      setProblem(problems.join('; '));
      return;
    }
    setBusy(true);
    setProblem(undefined);
    try {
      setOutcome(await post<CallOutcome>('/api/call', { service, method: method.name, params }));
    } catch (err) {
      setProblem((err as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="card" onSubmit={(e) => void call(e)} data-form="call">
      <h2>
        <code>
          {service}.{method.name}
        </code>
      </h2>
      {method.doc ? <p>{method.doc}</p> : null}
      {method.params.length === 0 ? <p class="muted">No parameters.</p> : null}
      {method.params.map((p) => (
        <label key={p.name} class="field">
          <span>
            {p.name}
            {p.optional ? '?' : ''} <span class="muted">{p.type ?? 'JSON or text'}</span>
          </span>
          {p.type === 'boolean' ? (
            <input
              type="checkbox"
              name={p.name}
              checked={fields[p.name] === 'true'}
              onChange={(e) => setFields({ ...fields, [p.name]: String(e.currentTarget.checked) })}
            />
          ) : (
            <input
              name={p.name}
              value={fields[p.name] ?? ''}
              inputMode={p.type === 'integer' || p.type === 'number' ? 'decimal' : undefined}
              onInput={(e) => setFields({ ...fields, [p.name]: e.currentTarget.value })}
            />
          )}
          {p.doc ? <small class="muted">{p.doc}</small> : null}
        </label>
      ))}
      <p class="muted small">
        Sends <code>{JSON.stringify(params)}</code>
      </p>
      <button type="submit" disabled={busy}>
        {busy ? 'Calling…' : 'Call'}
      </button>
      {problem ? <p class="error">{problem}</p> : null}
      {outcome ? <Outcome outcome={outcome} /> : null}
    </form>
  );
}

function EmitForm({ types }: { types: string[] }) {
  const [type, setType] = useState(types[0] ?? '');
  const [body, setBody] = useState('{}');
  const [outcome, setOutcome] = useState<CallOutcome | undefined>();
  const [problem, setProblem] = useState<string | undefined>();
  const emit = async (e: Event) => {
    e.preventDefault();
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      setProblem('the body must be JSON');
      return;
    }
    setProblem(undefined);
    try {
      setOutcome(await post<CallOutcome>('/api/emit', { type, body: parsed }));
    } catch (err) {
      setProblem((err as Error).message);
    }
  };
  return (
    <form class="card" onSubmit={(e) => void emit(e)} data-form="emit">
      <h2>Emit an event</h2>
      <label class="field">
        <span>type</span>
        <input
          name="type"
          list="event-types"
          value={type}
          onInput={(e) => setType(e.currentTarget.value)}
        />
        <datalist id="event-types">
          {types.map((t) => (
            <option key={t} value={t} />
          ))}
        </datalist>
      </label>
      <label class="field">
        <span>body (JSON)</span>
        <textarea
          name="body"
          rows={3}
          value={body}
          onInput={(e) => setBody(e.currentTarget.value)}
        />
      </label>
      <button type="submit">Emit</button>
      {problem ? <p class="error">{problem}</p> : null}
      {outcome ? <Outcome outcome={outcome} /> : null}
    </form>
  );
}

/** A form per RPC method built from its parameters; call it and see the result, the time and the trace. */
export function ExplorerView({ service, method }: { service?: string; method?: string }) {
  const { cluster } = useStore();
  const services = cluster?.services.map((s) => s.name) ?? [];
  const chosen = service ?? services[0];
  const [detail, setDetail] = useState<ServiceDetail | undefined>();
  const [error, setError] = useState<string | undefined>();
  useEffect(() => {
    setDetail(undefined);
    setError(undefined);
    if (chosen === undefined) return;
    let live = true;
    get<ServiceDetail>(`/api/services/${encodeURIComponent(chosen)}`).then(
      (d) => live && setDetail(d),
      (err: Error) => live && setError(err.message),
    );
    return () => {
      live = false;
    };
  }, [chosen]);
  const methods = [...(detail?.description.rpc ?? []), ...(detail?.description.builtins ?? [])];
  const current = methods.find((m) => m.name === method) ?? methods[0];
  const types = [
    ...new Set(cluster?.instances.flatMap((i) => i.subscriptions.map((s) => s.type)) ?? []),
  ].sort();
  const go = (s: string, m?: string) => {
    location.hash = `#/explorer/${encodeURIComponent(s)}${m ? `/${encodeURIComponent(m)}` : ''}`;
  };
  return (
    <section data-view="explorer">
      <h1>API explorer</h1>
      <div class="picker">
        <label>
          service{' '}
          <select name="service" value={chosen} onChange={(e) => go(e.currentTarget.value)}>
            {services.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <label>
          method{' '}
          <select
            name="method"
            value={current?.name}
            onChange={(e) => chosen && go(chosen, e.currentTarget.value)}
          >
            {methods.map((m) => (
              <option key={m.name} value={m.name}>
                {m.name}
              </option>
            ))}
          </select>
        </label>
      </div>
      {error ? <p class="error">{error}</p> : null}
      {chosen && current ? (
        <CallForm key={`${chosen}.${current.name}`} service={chosen} method={current} />
      ) : null}
      <EmitForm types={types} />
    </section>
  );
}
