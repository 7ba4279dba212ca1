import { useState } from 'preact/hooks';
import { post } from '../api.js';
import { short, uptime } from '../format.js';
import { useStore } from '../store.js';

/** The `svc node` running the cluster: its processes, their states and restarts, rolling restarts. */
export function NodeView() {
  const { cluster } = useStore();
  const [busy, setBusy] = useState<string | undefined>();
  const [said, setSaid] = useState<{ text: string; error: boolean } | undefined>();
  const node = cluster?.node;
  if (!cluster) return <p class="notice">Reading the cluster…</p>;
  if (!node)
    return (
      <section data-view="node">
        <h1>Node</h1>
        <p class="notice">
          This dashboard follows no <code>svc node</code>. Start it in the folder of the cluster's{' '}
          <code>.svc.yml</code>, or pass <code>svc dashboard --node path/to/.svc.yml</code>.
        </p>
      </section>
    );
  const byPid = new Map(cluster.instances.map((i) => [i.pid, i]));
  const processes = node.status?.processes ?? [];
  const names = [...new Set(processes.map((p) => p.name))];
  const restart = async (name: string) => {
    setBusy(name);
    setSaid(undefined);
    try {
      await post('/api/node/restart', { name });
      setSaid({ text: `restarted ${name}`, error: false });
    } catch (err) {
      setSaid({ text: (err as Error).message, error: true });
    } finally {
      setBusy(undefined);
    }
  };
  return (
    <section data-view="node">
      <h1>Node</h1>
      {node.running && node.status ? (
        <p class="muted">
          svc node (pid {node.status.pid}) running <code>{node.status.config}</code>
          {node.status.sockets.length > 0
            ? ` · sockets: ${node.status.sockets.map((s) => `${s.name} on ${s.host}:${s.port}`).join(', ')}`
            : ''}
        </p>
      ) : (
        <p class="error">
          No svc node answers for <code>{node.config}</code>: {node.error}
        </p>
      )}
      {said ? <p class={said.error ? 'error' : 'notice'}>{said.text}</p> : null}
      {names.map((name) => (
        <article class="card" key={name} data-node-instance={name}>
          <h2>
            {name}{' '}
            <button
              type="button"
              class="small"
              disabled={busy !== undefined}
              title="start a new process, wait until it is ready, stop the old one; one process at a time"
              onClick={() => void restart(name)}
            >
              {busy === name ? 'restarting…' : 'rolling restart'}
            </button>
          </h2>
          <table class="grid-table fixed">
            <thead>
              <tr>
                <th>index</th>
                <th>pid</th>
                <th>state</th>
                <th class="num">restarts</th>
                <th class="num">uptime</th>
                <th>registered as</th>
              </tr>
            </thead>
            <tbody>
              {processes
                .filter((p) => p.name === name)
                .flatMap((p) => {
                  const inst = p.pid === null ? undefined : byPid.get(p.pid);
                  const key = `${p.index}-${p.pid ?? 'none'}`;
                  const row = (
                    <tr key={key} data-pid={p.pid ?? ''} data-state={p.state}>
                      <td>{p.index}</td>
                      <td class="mono">{p.pid ?? '-'}</td>
                      <td>
                        <span class={`state ${p.state}`}>{p.state}</span>
                      </td>
                      <td class="num" data-restarts={p.restarts}>
                        {p.restarts}
                      </td>
                      <td class="num">{p.uptimeMs === null ? '-' : uptime(p.uptimeMs / 1000)}</td>
                      <td class="mono">
                        {inst ? (
                          `${inst.services.join(',')}/${short(inst.id)}`
                        ) : (
                          <span class="muted">-</span>
                        )}
                      </td>
                    </tr>
                  );
                  // Why it is held (the supervisor's words, its last stderr line among them), under
                  // its row: one long line, too wide for a cell of its own.
                  if (p.reason === undefined) return [row];
                  return [
                    row,
                    <tr key={`${key}-reason`}>
                      <td colSpan={6} data-held-reason>
                        held: {p.reason}
                      </td>
                    </tr>,
                  ];
                })}
            </tbody>
          </table>
        </article>
      ))}
    </section>
  );
}
