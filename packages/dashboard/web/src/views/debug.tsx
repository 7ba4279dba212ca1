import { useState } from 'preact/hooks';
import { post } from '../api.js';
import type { DebugAnswer } from '../types.js';

/**
 * Under an instance's row: the command that opens a shell inside it, and a
 * button that opens its Node.js inspector (`POST /api/debug`, token
 * required) and shows the URLs a debugger attaches to. Both work only
 * where the instance's config turns them on; the refusal says which key.
 */
export function DebugPanel({ id }: { id: string }) {
  const [answer, setAnswer] = useState<DebugAnswer | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const ask = (close: boolean) => {
    setBusy(true);
    post<DebugAnswer>('/api/debug', { instance: id, close }).then(
      (a) => (setAnswer(a), setError(undefined), setBusy(false)),
      (err: Error) => (setError(err.message), setAnswer(undefined), setBusy(false)),
    );
  };
  const open = answer && 'url' in answer ? answer : undefined;
  return (
    <div class="debug-panel" data-debug={id}>
      <p>
        Shell inside this instance (its config needs <code>debug: {'{ shell: true }'}</code>):{' '}
        <code class="copy" data-shell-command>
          svc shell --instance {id}
        </code>
      </p>
      <p>
        <button class="small" disabled={busy} onClick={() => ask(false)} data-open-inspector>
          open inspector
        </button>{' '}
        {open ? (
          <button class="small" disabled={busy} onClick={() => ask(true)} data-close-inspector>
            close inspector
          </button>
        ) : null}{' '}
        <span class="muted small">
          Node.js inspector on 127.0.0.1 (needs <code>debug: {'{ inspector: true }'}</code>)
        </span>
      </p>
      {open ? (
        <dl class="debug-urls">
          <dt>DevTools (paste into Chrome's address bar)</dt>
          <dd>
            <code class="copy" data-devtools-url>
              {open.devtools}
            </code>
          </dd>
          <dt>WebSocket (VS Code, chrome://inspect, any CDP client)</dt>
          <dd>
            <code class="copy" data-ws-url>
              {open.url}
            </code>
          </dd>
        </dl>
      ) : null}
      {answer && 'closed' in answer ? (
        <p class="muted" data-inspector-closed>
          {answer.closed ? 'Inspector closed.' : 'The inspector was not open.'}
        </p>
      ) : null}
      {error ? (
        <p class="error" data-debug-error>
          {error}
        </p>
      ) : null}
    </div>
  );
}
