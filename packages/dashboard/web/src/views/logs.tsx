import { useEffect, useRef, useState } from 'preact/hooks';
import { follow, type StreamState } from '../api.js';
import { clock, extraFields, short } from '../format.js';
import { useStore } from '../store.js';
import type { LogRecord } from '../types.js';

/** Lines the page keeps; older ones scroll away (the server keeps its own bounded ring). */
const KEEP = 1000;

export function LogLine({ record }: { record: LogRecord }) {
  return (
    <div class={`log ${record.level}`} data-trace={record.traceId}>
      <span class="time">{clock(record.time)}</span>
      <span class="who">
        {record.service ?? '-'}/{short(record.instance)}
      </span>
      <span class="level">{record.level}</span>
      {record.traceId ? (
        <a class="trace mono" href={`#/traces/${record.traceId}`}>
          {short(record.traceId, 12)}
        </a>
      ) : (
        <span class="trace" />
      )}
      <span class="msg">
        {record.msg} <span class="fields">{extraFields(record)}</span>
      </span>
    </div>
  );
}

/** The live log stream of chosen services, filtered on the server by level, text and trace id. */
export function LogsView({ query }: { query: URLSearchParams }) {
  const { cluster } = useStore();
  const [services, setServices] = useState<string[]>(
    (query.get('services') ?? '').split(',').filter(Boolean),
  );
  const [level, setLevel] = useState(query.get('level') ?? '');
  const [grep, setGrep] = useState(query.get('grep') ?? '');
  const [trace, setTrace] = useState(query.get('trace') ?? '');
  const [records, setRecords] = useState<LogRecord[]>([]);
  const [state, setState] = useState<{ s: StreamState; why?: string }>({ s: 'connecting' });
  const box = useRef<HTMLDivElement>(null);
  const stick = useRef(true);

  const search = new URLSearchParams();
  if (services.length > 0) search.set('services', services.join(','));
  if (level) search.set('level', level);
  if (grep) search.set('grep', grep);
  if (trace) search.set('trace', trace);
  const qs = search.toString();

  useEffect(() => {
    // Typing in the filters reconnects once the typing pauses.
    let pending: LogRecord[] = [];
    let frame: number | undefined;
    const flush = () => {
      frame = undefined;
      const add = pending;
      pending = [];
      setRecords((old) => {
        const next = old.concat(add);
        return next.length > KEEP ? next.slice(-KEEP) : next;
      });
    };
    let stop: (() => void) | undefined;
    const timer = setTimeout(() => {
      setRecords([]);
      stop = follow(
        `/api/logs?${qs}`,
        (event, data) => {
          if (event === 'logs') {
            setRecords((JSON.parse(data) as LogRecord[]).slice(-KEEP));
          } else if (event === 'log') {
            pending.push(JSON.parse(data) as LogRecord);
            frame ??= requestAnimationFrame(flush);
          } else if (event === 'failure') {
            setState({ s: 'closed', why: (JSON.parse(data) as { error: string }).error });
          }
        },
        (s, why) => setState(why === undefined ? { s } : { s, why }),
      );
    }, 300);
    return () => {
      clearTimeout(timer);
      if (frame !== undefined) cancelAnimationFrame(frame);
      stop?.();
    };
  }, [qs]);

  useEffect(() => {
    const el = box.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  }, [records]);

  const names = cluster?.services.map((s) => s.name) ?? [];
  const toggle = (name: string) =>
    setServices(services.includes(name) ? services.filter((s) => s !== name) : [...services, name]);
  return (
    <section data-view="logs" class="logs-view">
      <h1>Logs</h1>
      <div class="filters">
        <span>services:</span>
        {names.map((n) => (
          <label key={n} class="check">
            <input type="checkbox" checked={services.includes(n)} onChange={() => toggle(n)} /> {n}
          </label>
        ))}
        <span class="muted">{services.length === 0 ? '(all)' : ''}</span>
        <label>
          level{' '}
          <select name="level" value={level} onChange={(e) => setLevel(e.currentTarget.value)}>
            <option value="">all</option>
            <option value="info">info and up</option>
            <option value="warn">warn and up</option>
            <option value="error">error</option>
          </select>
        </label>
        <label>
          text <input name="grep" value={grep} onInput={(e) => setGrep(e.currentTarget.value)} />
        </label>
        <label>
          trace{' '}
          <input
            name="trace"
            class="mono"
            value={trace}
            onInput={(e) => setTrace(e.currentTarget.value.trim())}
          />
        </label>
        <span class={`conn ${state.s}`}>
          {state.s === 'live' ? `● ${records.length} lines` : state.s}
        </span>
      </div>
      {state.why && state.s !== 'live' ? <p class="error">{state.why}</p> : null}
      <div
        class="log-box"
        ref={box}
        onScroll={(e) => {
          const el = e.currentTarget;
          stick.current = el.scrollTop + el.clientHeight >= el.scrollHeight - 8;
        }}
      >
        {records.length === 0 ? <p class="muted">No records yet.</p> : null}
        {records.map((r, i) => (
          <LogLine key={`${r.instance ?? ''}${r.time}${i}`} record={r} />
        ))}
      </div>
    </section>
  );
}
