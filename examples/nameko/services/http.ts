import { HttpError, Service, http, type HttpRequest, type HttpResponse } from '@svc/core';

/** Nameko's example 1: HTTP routes with path variables and a POST that reads the body. */
export class HttpService extends Service {
  static override readonly serviceName = 'http_service';

  /** GET /get/<int:value>: answers the value back as JSON */
  @http('GET', '/get/:value') get_method(request: HttpRequest) {
    const raw = request.params['value'] ?? '';
    // Nameko's `<int:value>` converter: digits only, an optional sign.
    if (!/^-?\d{1,15}$/.test(raw)) {
      throw new HttpError(400, `value must be an integer, got "${raw}"`);
    }
    return { value: Number(raw) };
  }

  /** POST /post: echoes the JSON body */
  @http('POST', '/post') do_post(request: HttpRequest, response: HttpResponse) {
    const type = String(request.headers['content-type'] ?? '');
    if (!type.includes('json') || request.body === undefined) {
      throw new HttpError(400, 'POST /post expects a JSON body (Content-Type: application/json)');
    }
    this.log.info('echoing a JSON body');
    // json() rather than returning the body: a string body is JSON too, not text.
    response.json(request.body);
  }
}
