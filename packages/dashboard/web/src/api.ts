// Talks to the dashboard's server: every request carries the token in a header, never in a URL.

import { SseBlocks } from './sse.js';

const KEY = 'svc-dashboard-token';

/** Takes the token from `#token=...` (once, then drops it from the address bar), else from this tab's storage. */
export function takeToken(): string | undefined {
  const m = /^#token=([A-Za-z0-9_-]+)/.exec(location.hash);
  if (m) {
    sessionStorage.setItem(KEY, m[1]!);
    history.replaceState(null, '', `${location.pathname}#/services`);
    return m[1];
  }
  return sessionStorage.getItem(KEY) ?? undefined;
}

let token = '';

export function setToken(value: string): void {
  token = value;
}

export class ApiError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

function headers(extra: Record<string, string> = {}): Record<string, string> {
  return { Authorization: `Bearer ${token}`, ...extra };
}

async function failure(res: Response): Promise<ApiError> {
  let message = `${res.status} ${res.statusText}`;
  try {
    const body = (await res.json()) as { error?: string };
    if (typeof body.error === 'string') message = body.error;
  } catch {
    // not JSON: keep the status line
  }
  return new ApiError(res.status, message);
}

export async function get<T>(path: string): Promise<T> {
  const res = await fetch(path, { headers: headers(), cache: 'no-store' });
  if (!res.ok) throw await failure(res);
  return (await res.json()) as T;
}

export async function post<T>(path: string, body: unknown): Promise<T> {
  const res = await fetch(path, {
    method: 'POST',
    headers: headers({ 'Content-Type': 'application/json' }),
    body: JSON.stringify(body),
  });
  if (!res.ok) throw await failure(res);
  return (await res.json()) as T;
}

export type StreamState = 'connecting' | 'live' | 'unauthorized' | 'closed';

/**
 * Follows a server-sent-events stream through `fetch` (EventSource cannot
 * send the token header), reconnecting after a drop until `stop` is called.
 * A refusal (401/403) stops for good.
 */
export function follow(
  path: string,
  onEvent: (event: string, data: string) => void,
  onState: (state: StreamState, why?: string) => void,
): () => void {
  const abort = new AbortController();
  let retry: number | undefined;
  const run = async () => {
    onState('connecting');
    try {
      const res = await fetch(path, {
        headers: headers(),
        signal: abort.signal,
        cache: 'no-store',
      });
      if (!res.ok || !res.body) {
        const err = await failure(res);
        if (res.status === 401 || res.status === 403) {
          onState('unauthorized', err.message);
          return;
        }
        throw err;
      }
      onState('live');
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      const blocks = new SseBlocks();
      const onBlock = (block: string) => {
        let event = 'message';
        let data = '';
        for (const line of block.split('\n')) {
          if (line.startsWith('event: ')) event = line.slice(7);
          else if (line.startsWith('data: ')) data += line.slice(6);
        }
        if (data !== '') onEvent(event, data);
      };
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        blocks.push(value, onBlock);
      }
    } catch (err) {
      if (abort.signal.aborted) return;
      onState('connecting', (err as Error).message);
    }
    if (abort.signal.aborted) return;
    retry = window.setTimeout(() => void run(), 1500);
  };
  void run();
  return () => {
    abort.abort();
    if (retry !== undefined) clearTimeout(retry);
    onState('closed');
  };
}
