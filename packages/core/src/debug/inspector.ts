import {
  close as closeInspector,
  open as openInspector,
  url as inspectorUrl,
} from 'node:inspector';

/*
 * `svc.debug`: the Node.js inspector of this process, opened on demand
 * (`svc debug ID`) where the instance's config says
 * `debug: { inspector: true }`. The inspector asks nobody for a password:
 * whoever reaches its port runs code as this process. So it listens on
 * 127.0.0.1 only, on a port the system picks, and only when the config
 * allows it.
 */

/** Where a debugger attaches. */
export interface InspectorAddress {
  /** the inspector's WebSocket URL: ws://127.0.0.1:PORT/UUID */
  url: string;
  /** the same for Chrome DevTools (paste it into the address bar) */
  devtools: string;
  pid: number;
  /** false when it was already open (this call changed nothing) */
  opened: boolean;
}

/** Opens the inspector on 127.0.0.1 (a free port) unless it is open; answers where it listens. */
export function openDebugger(): InspectorAddress {
  let url = inspectorUrl();
  let opened = false;
  if (url === undefined) {
    openInspector(0, '127.0.0.1', false);
    url = inspectorUrl();
    opened = true;
  }
  if (url === undefined) throw new Error('the Node.js inspector did not open');
  return { url, devtools: devtoolsUrl(url), pid: process.pid, opened };
}

/** Closes the inspector; answers whether it was open. */
export function closeDebugger(): { closed: boolean; pid: number } {
  const open = inspectorUrl() !== undefined;
  if (open) closeInspector();
  return { closed: open, pid: process.pid };
}

/** The URL Chrome opens DevTools at for an inspector WebSocket URL (as Node's `/json/list` gives it). */
export function devtoolsUrl(wsUrl: string): string {
  return `devtools://devtools/bundled/js_app.html?experiments=true&v8only=true&ws=${wsUrl.replace(/^wss?:\/\//, '')}`;
}
