import { useEffect, useState } from 'preact/hooks';
import { follow, type StreamState } from './api.js';
import type { ClusterSnapshot, MetricsPoint, TraceSummary } from './types.js';

/** Points kept for the charts: five minutes at one reading a second, as the server keeps. */
const HISTORY = 300;

export interface State {
  connection: StreamState;
  why?: string;
  cluster?: ClusterSnapshot;
  history: MetricsPoint[];
  traces: TraceSummary[];
}

let state: State = { connection: 'connecting', history: [], traces: [] };
const listeners = new Set<() => void>();
let scheduled = false;

function update(patch: Partial<State>): void {
  state = { ...state, ...patch };
  // Several events of one reading arrive together: the page redraws once for them.
  if (scheduled) return;
  scheduled = true;
  requestAnimationFrame(() => {
    scheduled = false;
    for (const fn of listeners) fn();
  });
}

/** Opens the page's one live feed (the server pushes every reading of the cluster). */
export function connectFeed(): () => void {
  return follow(
    '/api/stream',
    (event, data) => {
      switch (event) {
        case 'cluster':
          update({ cluster: JSON.parse(data) as ClusterSnapshot });
          break;
        case 'history':
          update({ history: (JSON.parse(data) as MetricsPoint[]).slice(-HISTORY) });
          break;
        case 'metrics': {
          const history = [...state.history, JSON.parse(data) as MetricsPoint];
          update({ history: history.length > HISTORY ? history.slice(-HISTORY) : history });
          break;
        }
        case 'traces':
          update({ traces: JSON.parse(data) as TraceSummary[] });
          break;
      }
    },
    (connection, why) => update(why === undefined ? { connection } : { connection, why }),
  );
}

/** The state, redrawing the component when it changes. */
export function useStore(): State {
  const [, redraw] = useState(0);
  useEffect(() => {
    const fn = () => redraw((n) => n + 1);
    listeners.add(fn);
    return () => {
      listeners.delete(fn);
    };
  }, []);
  return state;
}
