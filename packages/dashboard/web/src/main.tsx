import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { setToken, takeToken } from './api.js';
import { connectFeed, useStore } from './store.js';
import { ExplorerView } from './views/explorer.js';
import { LogsView } from './views/logs.js';
import { MetricsView } from './views/metrics.js';
import { NodeView } from './views/node.js';
import { ServiceView, ServicesView } from './views/services.js';
import { TraceView, TracesView } from './views/traces.js';

interface Route {
  parts: string[];
  query: URLSearchParams;
}

function parseRoute(): Route {
  const hash = location.hash.replace(/^#\/?/, '');
  const [path = '', search = ''] = hash.split('?');
  return {
    parts: path.split('/').filter(Boolean).map(decodeURIComponent),
    query: new URLSearchParams(search),
  };
}

function useRoute(): Route {
  const [route, setRoute] = useState(parseRoute);
  useEffect(() => {
    const fn = () => setRoute(parseRoute());
    addEventListener('hashchange', fn);
    return () => removeEventListener('hashchange', fn);
  }, []);
  return route;
}

const TABS: Array<[string, string]> = [
  ['services', 'Services'],
  ['explorer', 'Explorer'],
  ['logs', 'Logs'],
  ['traces', 'Traces'],
  ['metrics', 'Metrics'],
  ['node', 'Node'],
];

function Page({ route }: { route: Route }) {
  const [first = 'services', second, third] = route.parts;
  switch (first) {
    case 'services':
      return second ? <ServiceView name={second} /> : <ServicesView />;
    case 'explorer':
      return <ExplorerView service={second} method={third} />;
    case 'logs':
      // A new address (another trace's log lines) starts the view afresh with its filters.
      return <LogsView key={route.query.toString()} query={route.query} />;
    case 'traces':
      return second ? <TraceView id={second} /> : <TracesView />;
    case 'metrics':
      return <MetricsView />;
    case 'node':
      return <NodeView />;
    default:
      return <p class="notice">No such page. Pick one above.</p>;
  }
}

function App() {
  const route = useRoute();
  const store = useStore();
  useEffect(() => connectFeed(), []);
  const tab = route.parts[0] ?? 'services';
  if (store.connection === 'unauthorized')
    return (
      <main class="locked" data-state="unauthorized">
        <h1>svc dashboard</h1>
        <p>
          This page needs the token that <code>svc dashboard</code> printed with its address. Open
          that address (the part after <code>#token=</code> is the token).
        </p>
        <p class="muted">The server said: {store.why}</p>
      </main>
    );
  return (
    <div class="app">
      <header>
        <span class="brand">svc dashboard</span>
        <span class="cluster">cluster {store.cluster?.cluster ?? '…'}</span>
        <nav>
          {TABS.map(([id, label]) => (
            <a key={id} href={`#/${id}`} class={tab === id ? 'active' : ''}>
              {label}
            </a>
          ))}
        </nav>
        <span class={`conn ${store.connection}`} data-connection={store.connection}>
          {store.connection === 'live' ? '● live' : '○ reconnecting…'}
        </span>
      </header>
      <main>
        <Page route={route} />
      </main>
    </div>
  );
}

const saved = takeToken();
setToken(saved ?? '');
render(<App />, document.getElementById('app')!);
