export { HttpEntrypointServer, type HttpServerOptions } from './server.js';
export { HttpError, type HttpRequest, type HttpResponse } from './types.js';
export { Router } from './router.js';
