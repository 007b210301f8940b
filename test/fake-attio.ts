// A local, in-memory stand-in for Attio's REST API v2, limited to the `companies` object.
//
// It is deliberately strict: request shapes, value types, filters and uniqueness are checked the way
// Attio's OpenAPI spec (shared/reference/attio-openapi.json) and docs describe them, and anything the
// fake does not understand is refused with a 400 rather than silently accepted. Errors always use
// Attio's envelope `{status_code, type, code, message}`.
//
// Order of processing per request: read body -> auth (401) -> rate limit (429) -> JSON parse (400)
// -> injected fault (`truncated` and `landed_*` run the route first: the work lands, the answer is
// lost) -> `intercept` hook -> route. Latency is applied before every answer.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import {
  RateWindow,
  isLandedFault,
  readBody,
  sendFault,
  sleep,
  type FaultKind,
  type FaultSchedule,
  type RequestInfo,
} from './faults.ts';

// ---------------------------------------------------------------------------------------------
// Public interface
// ---------------------------------------------------------------------------------------------

export interface FakeAttioOptions {
  apiKey?: string;
  latencyMs?: number | ((req: RequestInfo) => number);
  rateLimit?: { reads?: number; writes?: number };
  faults?: FaultSchedule;
  intercept?: (req: RequestInfo) => { status: number; body: unknown; headers?: Record<string, string> } | undefined;
  /**
   * A test hook: a request waits for the promise before the fake looks at it, so two clients'
   * requests can be made to arrive together (two runs creating the same company at once).
   */
  hold?: (req: RequestInfo) => Promise<void> | undefined;
  /**
   * Another writer, working while a client pages through a records query: called before each
   * query is answered, with its offset. Offset paging takes no snapshot ("add limit to offset"
   * until a short page, no promise that the set stays put: docs.attio.com/rest-api/how-to/pagination),
   * so what it writes or deletes before the offset shifts the pages that follow.
   */
  beforeQuery?: (query: { offset: number; limit: number; filter: unknown; sorts: unknown }) => void;
  /**
   * Attio's per-query score limit: "Each request receives a complexity score. The score is a
   * function of the requests' sorts and filters as well as the total record/entry count"; "The
   * score for an individual query may exceed the per-query limit. In this case, you should reduce
   * the complexity of your query and try again" (docs.attio.com/rest-api/guides/rate-limiting). The
   * docs give no formula: this fake scores (1 + sorts + filter conditions) x records in the object,
   * and answers a query over `maxQueryScore` with the documented 429 and Retry-After (the docs name
   * no other code for it, so it is the documented rate-limit envelope).
   */
  maxQueryScore?: number;
  slowMs?: number;
  standardAttributes?: boolean;
  /**
   * Render every `currency_value` in record JSON as a numeric string ("499.00", "13.3333": at least
   * two decimals, up to four) instead of a number. The spec types it as a number, but API-NOTES says
   * to tolerate a numeric string, so a test can check the sync does. Writes still take numbers only.
   */
  currencyValuesAsStrings?: boolean;
}

export interface PlainCompany {
  record_id: string;
  values: Record<string, unknown>;
}

export type FakeAttributeType = 'text' | 'currency' | 'select' | 'date' | 'domain' | 'number';

export interface AddAttributeInput {
  api_slug: string;
  type: FakeAttributeType;
  title?: string;
  /**
   * The API refuses custom unique attributes on companies (see createAttribute); this helper still
   * allows one, to model an older workspace that already has it (older developer docs allowed it).
   */
  is_unique?: boolean;
  is_multiselect?: boolean;
  is_archived?: boolean;
  currency?: string;
  options?: string[];
}

export interface FakeAttio {
  url: string;
  port: number;
  addAttribute(a: AddAttributeInput): void;
  removeOption(attribute: string, title: string): void;
  /** Archives a select option, as a person can in Attio: listed then only with show_archived=true. */
  archiveOption(attribute: string, title: string): void;
  addCompany(values: Record<string, unknown>): string;
  /** Deletes a company, as a person (or another client) can. */
  deleteCompany(record_id: string): void;
  setCompanyValues(record_id: string, values: Record<string, unknown>): void;
  companies(): PlainCompany[];
  attributes(): Array<{
    api_slug: string;
    type: string;
    is_unique: boolean;
    is_multiselect: boolean;
    is_archived: boolean;
    config: unknown;
    options: string[];
  }>;
  requests: Array<{ method: string; path: string; query: string; status: number; body: unknown }>;
  stats(): { total: number; reads: number; writes: number; rateLimited: number; faults: number };
  resetStats(): void;
  setFaults(f: FaultSchedule | undefined): void;
  close(): Promise<void>;
}

export const DEFAULT_API_KEY = 'attio_fake_valid_key_abcdef';

export async function startFakeAttio(opts: FakeAttioOptions = {}): Promise<FakeAttio> {
  const fake = new FakeAttioServer(opts);
  return fake.start();
}

// ---------------------------------------------------------------------------------------------
// Model
// ---------------------------------------------------------------------------------------------

const WORKSPACE_ID = '6f1b0c1e-5a5e-4d57-9a43-0f6a2b7c9d10';
const OBJECT_ID = 'a3c1f7de-2b1e-4c0a-8f43-5d7e9b2c1a20'; // the `companies` object
const API_TOKEN_ID = '0b9e3f4a-7c21-4e8d-9a55-1f2e3d4c5b60'; // created_by_actor of API writes
const MEMBER_ID = 'c7d8e9f0-1a2b-4c3d-8e5f-6a7b8c9d0e70'; // created_by_actor of helper ("UI") writes

const CURRENCY_CODES = new Set(
  'ARS AUD BRL BEL CAD CLP CNY COP CZK DKK EUR HKD ISK INR ILS JPY KRW MYR MXN NTD NZD NGN NOK XPF PEN PHP PLN GBP RWF SAR SGD ZAR SEK CHF AED UYU USD'.split(
    ' ',
  ),
);
const DISPLAY_TYPES = new Set(['code', 'name', 'narrowSymbol', 'symbol']);
const SPEC_ATTRIBUTE_TYPES = new Set([
  'text', 'number', 'checkbox', 'currency', 'date', 'timestamp', 'rating', 'status', 'select',
  'record-reference', 'actor-reference', 'location', 'domain', 'email-address', 'phone-number',
]);

interface SelectOption {
  option_id: string;
  title: string;
  is_archived: boolean;
}

interface Attribute {
  attribute_id: string;
  api_slug: string;
  title: string;
  description: string | null;
  type: FakeAttributeType;
  is_system_attribute: boolean;
  is_required: boolean;
  is_unique: boolean;
  is_multiselect: boolean;
  is_archived: boolean;
  created_at: string;
  currency: { code: string; display_type: string } | null;
  options: SelectOption[];
}

/** Stored form: text/date -> string, number/currency -> number, select -> option_id, domain -> normalised domain. */
type Scalar = string | number;

interface Actor {
  type: 'api-token' | 'workspace-member';
  id: string;
}

interface StoredValue {
  v: Scalar;
  active_from: string;
  actor: Actor;
}

interface CompanyRecord {
  record_id: string;
  created_at: string;
  values: Map<string, StoredValue[]>; // keyed by attribute_id
}

class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly type: string;
  readonly extra: Record<string, unknown>;
  constructor(status: number, code: string, message: string, type = 'invalid_request_error', extra: Record<string, unknown> = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.type = type;
    this.extra = extra;
  }
  body(): Record<string, unknown> {
    return { status_code: this.status, type: this.type, code: this.code, message: this.message, ...this.extra };
  }
}

const badRequest = (code: string, message: string, extra: Record<string, unknown> = {}) =>
  new ApiError(400, code, message, 'invalid_request_error', extra);
const notFound = (message: string) => new ApiError(404, 'not_found', message);
const validation = (message: string, path: string[] = []) =>
  badRequest('validation_type', message, path.length ? { validation_errors: [{ code: 'invalid', path, message }] } : {});
const filterError = (message: string, path: string[]) => badRequest('filter_error', message, { path });

interface Answer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/** A query over the per-query score limit (FakeAttioOptions.maxQueryScore). */
class QueryScoreExceeded extends Error {}

type Handler = (params: string[], query: URLSearchParams, body: unknown) => Answer;

type WriteMode = 'create' | 'assert' | 'patch';

type RequestLogEntry = FakeAttio['requests'][number];

// ---------------------------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------------------------

class FakeAttioServer {
  // Routing at a glance. Paths are matched without the query string.
  private readonly routes: Array<[method: string, pattern: RegExp, handler: Handler]> = [
    ['GET', /^\/v2\/([^/]+)\/([^/]+)\/attributes$/, (p, q) => this.listAttributes(p, q)],
    ['POST', /^\/v2\/([^/]+)\/([^/]+)\/attributes$/, (p, _q, b) => this.createAttribute(p, b)],
    ['GET', /^\/v2\/([^/]+)\/([^/]+)\/attributes\/([^/]+)\/options$/, (p, q) => this.listOptions(p, q)],
    ['POST', /^\/v2\/([^/]+)\/([^/]+)\/attributes\/([^/]+)\/options$/, (p, _q, b) => this.createOption(p, b)],
    ['PATCH', /^\/v2\/([^/]+)\/([^/]+)\/attributes\/([^/]+)\/options\/([^/]+)$/, (p, _q, b) => this.updateOption(p, b)],
    ['POST', /^\/v2\/objects\/([^/]+)\/records\/query$/, (p, _q, b) => this.queryRecords(p, b)],
    ['POST', /^\/v2\/objects\/([^/]+)\/records$/, (p, _q, b) => this.createRecord(p, b)],
    ['PUT', /^\/v2\/objects\/([^/]+)\/records$/, (p, q, b) => this.assertRecord(p, q, b)],
    ['GET', /^\/v2\/objects\/([^/]+)\/records\/([^/]+)$/, (p) => this.getRecord(p)],
    ['PATCH', /^\/v2\/objects\/([^/]+)\/records\/([^/]+)$/, (p, _q, b) => this.updateRecord(p, b)],
    ['DELETE', /^\/v2\/objects\/([^/]+)\/records\/([^/]+)$/, (p) => this.deleteRecord(p)],
  ];

  private readonly apiKey: string;
  private faults: FaultSchedule | undefined;
  private readonly readWindow: RateWindow | undefined;
  private readonly writeWindow: RateWindow | undefined;
  private readonly attrs: Attribute[] = [];
  private readonly records: CompanyRecord[] = [];
  private readonly requests: RequestLogEntry[] = [];
  private counters = { total: 0, reads: 0, writes: 0, rateLimited: 0, faults: 0 };
  private server: Server | undefined;

  private readonly opts: FakeAttioOptions;

  constructor(opts: FakeAttioOptions) {
    this.opts = opts;
    this.apiKey = opts.apiKey ?? DEFAULT_API_KEY;
    this.faults = opts.faults;
    if (opts.rateLimit?.reads !== undefined) this.readWindow = new RateWindow(opts.rateLimit.reads);
    if (opts.rateLimit?.writes !== undefined) this.writeWindow = new RateWindow(opts.rateLimit.writes);
    if (opts.standardAttributes ?? true) {
      const at = '2022-11-21T13:22:49.061281000Z';
      this.attrs.push(
        this.newAttribute({ api_slug: 'name', title: 'Name', type: 'text', is_system_attribute: true, created_at: at }),
        this.newAttribute({
          api_slug: 'domains', title: 'Domains', type: 'domain', is_unique: true, is_multiselect: true,
          is_system_attribute: true, created_at: at,
        }),
        this.newAttribute({ api_slug: 'description', title: 'Description', type: 'text', is_system_attribute: true, created_at: at }),
      );
    }
  }

  async start(): Promise<FakeAttio> {
    const server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        // A bug in the fake must be loud, not a hung request.
        console.error('fake-attio: internal error', err);
        if (!res.headersSent && !res.destroyed) {
          res.writeHead(500, { 'content-type': 'application/json' });
          res.end(JSON.stringify(faultEnvelope(500)));
        }
      });
    });
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    return {
      url: `http://127.0.0.1:${port}/v2`,
      port,
      addAttribute: (a) => this.helperAddAttribute(a),
      removeOption: (attribute, title) => this.helperRemoveOption(attribute, title),
      archiveOption: (attribute, title) => this.helperArchiveOption(attribute, title),
      addCompany: (values) => this.helperAddCompany(values),
      deleteCompany: (id) => void this.records.splice(this.records.indexOf(this.requireHelperRecord(id)), 1),
      setCompanyValues: (id, values) => this.helperSetCompanyValues(id, values),
      companies: () => this.records.map((r) => this.plainCompany(r)),
      attributes: () =>
        this.attrs.map((a) => ({
          api_slug: a.api_slug,
          type: a.type,
          is_unique: a.is_unique,
          is_multiselect: a.is_multiselect,
          is_archived: a.is_archived,
          config: this.attributeJson(a).config,
          options: a.options.filter((o) => !o.is_archived).map((o) => o.title),
        })),
      requests: this.requests,
      stats: () => ({ ...this.counters }),
      resetStats: () => {
        this.counters = { total: 0, reads: 0, writes: 0, rateLimited: 0, faults: 0 };
        this.requests.length = 0;
      },
      setFaults: (f) => {
        this.faults = f;
      },
      close: () =>
        new Promise<void>((resolve, reject) => {
          server.close((err) => (err ? reject(err) : resolve()));
          server.closeAllConnections();
        }),
    };
  }

  // -------------------------------------------------------------------------------------------
  // Request pipeline
  // -------------------------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const method = req.method ?? 'GET';
    const path = url.pathname;
    let raw: string;
    try {
      raw = await readBody(req);
    } catch {
      return; // the client went away while sending its body
    }
    let body: unknown = undefined;
    let invalidJson = false;
    if (raw.trim() !== '') {
      try {
        body = JSON.parse(raw);
      } catch {
        invalidJson = true;
      }
    }
    const info: RequestInfo = { method, path, query: url.searchParams, body };
    await this.opts.hold?.(info);
    const entry: RequestLogEntry = { method, path, query: url.search.replace(/^\?/, ''), status: 0, body };
    this.requests.push(entry);
    res.on('close', () => {
      entry.status = res.headersSent ? res.statusCode : 0;
    });

    const isRead = method === 'GET' || (method === 'POST' && /\/records\/query$/.test(path));
    this.counters.total += 1;
    if (isRead) this.counters.reads += 1;
    else this.counters.writes += 1;

    const latency = typeof this.opts.latencyMs === 'function' ? this.opts.latencyMs(info) : (this.opts.latencyMs ?? 0);
    const answer = async (status: number, payload: unknown, headers: Record<string, string> = {}, delay = latency) => {
      if (delay > 0) await sleep(delay);
      if (res.destroyed || res.writableEnded) return;
      entry.status = status;
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(payload));
    };

    // 1. Authentication.
    const auth = req.headers.authorization;
    if (auth === undefined) {
      return answer(401, envelope(401, 'auth_error', 'unauthorized', 'The Authorization header was not provided.'));
    }
    if (/^bearer (.*)$/i.exec(auth)?.[1] !== this.apiKey) {
      return answer(401, envelope(401, 'auth_error', 'unauthorized', 'The provided API key is invalid or has been revoked.'));
    }

    // 2. Rate limit (answered fast, like the real edge does).
    const window = isRead ? this.readWindow : this.writeWindow;
    const wait = window?.take() ?? 0;
    if (wait > 0) {
      this.counters.rateLimited += 1;
      const retryAfter = new Date(Date.now() + wait).toUTCString();
      return answer(
        429,
        envelope(429, 'rate_limit_error', 'rate_limit_exceeded', 'Rate limit exceeded, please try again later.'),
        { 'retry-after': retryAfter },
        Math.min(latency, 20),
      );
    }

    // 3. Body must be JSON when present.
    if (invalidJson) {
      return answer(400, envelope(400, 'invalid_request_error', 'validation_type', 'The request body is not valid JSON.'));
    }

    // 4. Injected fault replaces the answer.
    const fault = this.faults?.(info) ?? null;
    if (fault) {
      this.counters.faults += 1;
      // truncated and landed_*: the server did the work and only the answer is lost. landed_slow
      // sends that real answer, late.
      const landed = isLandedFault(fault) ? this.route(method, path, url.searchParams, body) : undefined;
      if (latency > 0) await sleep(latency);
      if (res.destroyed) return;
      entry.status = FAULT_STATUS[fault];
      sendFault(fault, res, faultEnvelope, this.opts.slowMs ?? 3000, landed);
      return;
    }

    // 5. Test hook.
    const intercepted = this.opts.intercept?.(info);
    if (intercepted) return answer(intercepted.status, intercepted.body, intercepted.headers);

    // 6. The fake itself.
    const result = this.route(method, path, url.searchParams, body);
    if (result.status === 429) this.counters.rateLimited += 1;
    return answer(result.status, result.body, result.headers);
  }

  private route(method: string, path: string, query: URLSearchParams, body: unknown): Answer {
    try {
      for (const [m, pattern, handler] of this.routes) {
        if (m !== method) continue;
        const match = pattern.exec(path);
        if (!match) continue;
        const params = match.slice(1).map((s) => decodeURIComponent(s ?? ''));
        return handler(params, query, body);
      }
      throw notFound(`No route for ${method} ${path}.`);
    } catch (err) {
      if (err instanceof ApiError) return { status: err.status, body: err.body() };
      if (err instanceof QueryScoreExceeded) {
        // The documented rate-limit answer: 429, the envelope, and Retry-After as a date (rate-limiting guide).
        const retryAfter = new Date(Math.ceil(Date.now() / 1000) * 1000).toUTCString();
        return { status: 429, body: faultEnvelope(429), headers: { 'retry-after': retryAfter } };
      }
      throw err;
    }
  }

  // -------------------------------------------------------------------------------------------
  // Endpoints: attributes
  // -------------------------------------------------------------------------------------------

  private listAttributes([target, identifier]: string[], query: URLSearchParams): Answer {
    this.requireObject(target, identifier);
    const showArchived = booleanParam(query, 'show_archived');
    const list = this.attrs.filter((a) => showArchived || !a.is_archived);
    const offset = integerParam(query, 'offset', 0);
    const limit = integerParam(query, 'limit', list.length);
    return { status: 200, body: { data: list.slice(offset, offset + limit).map((a) => this.attributeJson(a)) } };
  }

  private createAttribute([target, identifier]: string[], body: unknown): Answer {
    this.requireObject(target, identifier);
    const data = requireData(body);
    const allowed = ['title', 'description', 'api_slug', 'type', 'is_required', 'is_unique', 'is_multiselect', 'config', 'default_value'];
    rejectUnknownKeys(data, allowed, ['data']);
    for (const key of ['title', 'description', 'api_slug', 'type', 'is_required', 'is_unique', 'is_multiselect', 'config']) {
      if (!(key in data)) throw validation(`Body payload validation error: "data.${key}" is required.`, ['data', key]);
    }
    const { title, description, api_slug, type, is_required, is_unique, is_multiselect, config, default_value } = data;
    if (typeof title !== 'string' || title.trim() === '') throw validation('"data.title" must be a non-empty string.', ['data', 'title']);
    if (description !== null && typeof description !== 'string') throw validation('"data.description" must be a string or null.', ['data', 'description']);
    if (typeof api_slug !== 'string' || !/^[a-z][a-z0-9_-]*$/.test(api_slug)) {
      throw validation('"data.api_slug" must be a snake_case string.', ['data', 'api_slug']);
    }
    if (typeof type !== 'string' || !SPEC_ATTRIBUTE_TYPES.has(type)) throw validation(`"data.type" must be one of the attribute types, got ${JSON.stringify(type)}.`, ['data', 'type']);
    for (const [key, v] of [['is_required', is_required], ['is_unique', is_unique], ['is_multiselect', is_multiselect]] as const) {
      if (typeof v !== 'boolean') throw validation(`"data.${key}" must be a boolean.`, ['data', key]);
    }
    if (!isPlainObject(config)) throw validation('"data.config" must be an object (use {} when there is nothing to configure).', ['data', 'config']);
    rejectUnknownKeys(config, ['currency', 'record_reference'], ['data', 'config']);
    if (default_value !== undefined && default_value !== null) {
      throw validation('Default values are not currently supported on people or company objects.', ['data', 'default_value']);
    }
    if (type === 'domain') throw validation("It isn't currently possible to create domain attributes.", ['data', 'type']);
    if (type === 'status') throw validation('Attributes of type "status" are not supported on objects.', ['data', 'type']);
    if (!['text', 'number', 'currency', 'date', 'select'].includes(type)) {
      throw validation(`Attribute type "${type}" is not supported by this fake (text, number, currency, date, select only).`, ['data', 'type']);
    }
    if (type === 'select' && is_unique) throw validation('Select attributes cannot be unique.', ['data', 'is_unique']);
    // Companies (and people) cannot get a custom unique attribute: "While standard attributes like
    // domains have unique properties by default, you cannot create new custom attributes with a unique
    // constraint for Company objects." (docs.attio.com/docs/standard-objects/standard-objects-companies).
    // The help centre: only custom objects offer the Required and Unique options
    // (attio.com/help/reference/workspace/attributes), so the same holds for people. This fake serves
    // only `companies`. Older developer docs allowed it, so `addAttribute({is_unique: true})` still
    // models an older workspace that has one.
    if (is_unique) {
      throw validation(
        'Custom attributes on companies and people cannot be unique: only standard attributes (such as domains) and attributes of custom objects can have a uniqueness constraint.',
        ['data', 'is_unique'],
      );
    }
    if (type !== 'select' && is_multiselect) throw validation(`Attributes of type "${type}" cannot be multiselect.`, ['data', 'is_multiselect']);
    let currency: Attribute['currency'] = null;
    if (type === 'currency') {
      const c = config.currency;
      if (!isPlainObject(c)) throw validation('Currency attributes require "config.currency" with default_currency_code and display_type.', ['data', 'config', 'currency']);
      rejectUnknownKeys(c, ['default_currency_code', 'display_type'], ['data', 'config', 'currency']);
      if (typeof c.default_currency_code !== 'string' || !CURRENCY_CODES.has(c.default_currency_code)) {
        throw validation(`"config.currency.default_currency_code" must be a supported ISO4217 code, got ${JSON.stringify(c.default_currency_code)}.`, ['data', 'config', 'currency', 'default_currency_code']);
      }
      if (typeof c.display_type !== 'string' || !DISPLAY_TYPES.has(c.display_type)) {
        throw validation(`"config.currency.display_type" must be one of code, name, narrowSymbol, symbol.`, ['data', 'config', 'currency', 'display_type']);
      }
      currency = { code: c.default_currency_code, display_type: c.display_type };
    }
    if (this.attrs.some((a) => a.api_slug === api_slug)) {
      throw new ApiError(409, 'slug_conflict', 'An attribute with the same API slug already exists on this object. Please choose a different API slug.');
    }
    const attr = this.newAttribute({
      api_slug, title, description: description as string | null, type: type as FakeAttributeType,
      is_required: is_required as boolean, is_unique: is_unique as boolean, is_multiselect: is_multiselect as boolean, currency,
    });
    this.attrs.push(attr);
    return { status: 200, body: { data: this.attributeJson(attr) } };
  }

  private listOptions([target, identifier, attribute]: string[], query: URLSearchParams): Answer {
    this.requireObject(target, identifier);
    const attr = this.requireAttribute(attribute);
    if (attr.type !== 'select') throw validation('This attribute is not a select attribute.');
    const showArchived = booleanParam(query, 'show_archived');
    const options = attr.options.filter((o) => showArchived || !o.is_archived);
    return { status: 200, body: { data: options.map((o) => optionJson(attr, o)) } };
  }

  private createOption([target, identifier, attribute]: string[], body: unknown): Answer {
    this.requireObject(target, identifier);
    const attr = this.requireAttribute(attribute);
    const data = requireData(body);
    rejectUnknownKeys(data, ['title'], ['data']);
    if (typeof data.title !== 'string' || data.title.length < 1) throw validation('"data.title" must be a non-empty string.', ['data', 'title']);
    if (attr.type !== 'select') throw validation('This attribute is not a select attribute.');
    if (attr.options.some((o) => o.title === data.title)) {
      throw new ApiError(409, 'slug_conflict', `There is already another select option with the title "${data.title}".`);
    }
    const option: SelectOption = { option_id: randomUUID(), title: data.title, is_archived: false };
    attr.options.push(option);
    return { status: 200, body: { data: optionJson(attr, option) } };
  }

  /**
   * `PATCH …/options/{option}` with `{data: {title?, is_archived?}}`: the option by UUID or title;
   * `is_archived: false` restores an archived option; a title another option has is a 409 (spec).
   */
  private updateOption([target, identifier, attribute, option]: string[], body: unknown): Answer {
    this.requireObject(target, identifier);
    const attr = this.requireAttribute(attribute);
    if (attr.type !== 'select') throw validation('This attribute is not a select attribute.');
    const data = requireData(body);
    rejectUnknownKeys(data, ['title', 'is_archived'], ['data']);
    const found = attr.options.find((o) => o.option_id === option || o.title === option);
    if (!found) throw badRequest('value_not_found', `Cannot find select attribute with select option title "${option}".`);
    if (data.title !== undefined && (typeof data.title !== 'string' || data.title.length < 1)) throw validation('"data.title" must be a non-empty string.', ['data', 'title']);
    if (data.is_archived !== undefined && typeof data.is_archived !== 'boolean') throw validation('"data.is_archived" must be a boolean.', ['data', 'is_archived']);
    if (typeof data.title === 'string' && attr.options.some((o) => o !== found && o.title === data.title)) {
      throw new ApiError(409, 'slug_conflict', `There is already another select option with the title "${data.title}".`);
    }
    if (typeof data.title === 'string') found.title = data.title;
    if (typeof data.is_archived === 'boolean') found.is_archived = data.is_archived;
    return { status: 200, body: { data: optionJson(attr, found) } };
  }

  // -------------------------------------------------------------------------------------------
  // Endpoints: records
  // -------------------------------------------------------------------------------------------

  /** `DELETE …/records/{record_id}`: 200 with an empty object; 404 `not_found` for no such record (spec). */
  private deleteRecord([object, recordId]: string[]): Answer {
    this.requireObject('objects', object);
    const record = this.requireRecord(recordId);
    this.records.splice(this.records.indexOf(record), 1);
    return { status: 200, body: {} };
  }

  private getRecord([object, recordId]: string[]): Answer {
    this.requireObject('objects', object);
    return { status: 200, body: { data: this.recordJson(this.requireRecord(recordId)) } };
  }

  private createRecord([object]: string[], body: unknown): Answer {
    this.requireObject('objects', object);
    const values = this.parseWritePayload(body);
    const record = this.write(null, values, 'create');
    return { status: 200, body: { data: this.recordJson(record) } };
  }

  private updateRecord([object, recordId]: string[], body: unknown): Answer {
    this.requireObject('objects', object);
    const record = this.requireRecord(recordId);
    const values = this.parseWritePayload(body);
    this.write(record, values, 'patch');
    return { status: 200, body: { data: this.recordJson(record) } };
  }

  private assertRecord([object]: string[], query: URLSearchParams, body: unknown): Answer {
    this.requireObject('objects', object);
    const slug = query.get('matching_attribute');
    if (slug === null || slug === '') {
      throw validation('The "matching_attribute" query parameter is required.', ['matching_attribute']);
    }
    const matching = this.findAttribute(slug);
    if (!matching || matching.is_archived) {
      throw badRequest('value_not_found', `No attribute was found for matching_attribute slug/ID "${slug}".`);
    }
    if (!matching.is_unique) {
      throw badRequest(
        'matching_attribute_definition_not_unique',
        `The matching attribute "${matching.api_slug}" must have a uniqueness constraint to be used as a matching attribute.`,
      );
    }
    const values = this.parseWritePayload(body);
    const wanted = values.get(matching);
    if (!wanted || wanted.length === 0) {
      throw badRequest('missing_value', `The values must include a value for the matching attribute "${matching.api_slug}".`);
    }
    const keys = new Set(wanted.map((v) => uniqueKey(matching, v)));
    const matches = this.records.filter((r) => (r.values.get(matching.attribute_id) ?? []).some((sv) => keys.has(uniqueKey(matching, sv.v))));
    if (matches.length > 1) {
      throw badRequest(
        'multiple_match_results',
        `Multiple records match the value of matching attribute "${matching.api_slug}", so the record to update is ambiguous. Matching record IDs: ${matches.map((r) => r.record_id).join(', ')}`,
      );
    }
    const record = this.write(matches[0] ?? null, values, 'assert', matching);
    return { status: 200, body: { data: this.recordJson(record) } };
  }

  private queryRecords([object]: string[], body: unknown): Answer {
    this.requireObject('objects', object);
    if (!isPlainObject(body)) throw validation('The request body must be a JSON object.', []);
    rejectUnknownKeys(body, ['filter', 'sorts', 'limit', 'offset'], []);
    const limit = body.limit ?? 500;
    const offset = body.offset ?? 0;
    if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1) throw validation('"limit" must be a positive integer.', ['limit']);
    if (typeof offset !== 'number' || !Number.isInteger(offset) || offset < 0) throw validation('"offset" must be a non-negative integer.', ['offset']);
    let predicate: (r: CompanyRecord) => boolean = () => true;
    if (body.filter !== undefined) {
      if (!isPlainObject(body.filter)) throw filterError('"filter" must be an object.', ['filter']);
      predicate = this.compileFilter(body.filter, []);
    }
    if (this.opts.maxQueryScore !== undefined) {
      const score = (1 + (Array.isArray(body.sorts) ? body.sorts.length : 0) + countConditions(body.filter)) * this.records.length;
      if (score > this.opts.maxQueryScore) throw new QueryScoreExceeded();
    }
    this.opts.beforeQuery?.({ offset, limit, filter: body.filter, sorts: body.sorts });
    const matched = this.records.filter(predicate);
    if (body.sorts !== undefined) matched.sort(this.compileSorts(body.sorts));
    return { status: 200, body: { data: matched.slice(offset, offset + limit).map((r) => this.recordJson(r)) } };
  }

  // -------------------------------------------------------------------------------------------
  // Writing values
  // -------------------------------------------------------------------------------------------

  /** `{data: {values: {...}}}` strictly; returns the parsed values per attribute. */
  private parseWritePayload(body: unknown): Map<Attribute, Scalar[]> {
    const data = requireData(body);
    rejectUnknownKeys(data, ['values'], ['data']);
    if (!isPlainObject(data.values)) throw validation('"data.values" must be an object.', ['data', 'values']);
    const parsed = new Map<Attribute, Scalar[]>();
    for (const [key, raw] of Object.entries(data.values)) {
      const attr = this.findAttribute(key);
      if (!attr) throw badRequest('value_not_found', `Cannot find attribute with slug/ID "${key}".`);
      if (attr.is_archived) throw badRequest('value_not_found', `Cannot write to attribute with slug/ID "${key}": the attribute is archived.`);
      parsed.set(attr, parseInput(attr, raw, false));
    }
    return parsed;
  }

  /**
   * Computes the new values of `target` (null: a new record), checks uniqueness and required
   * attributes, and only then commits. Nothing changes when an error is thrown.
   */
  private write(target: CompanyRecord | null, parsed: Map<Attribute, Scalar[]>, mode: WriteMode, matching?: Attribute): CompanyRecord {
    const next = new Map<Attribute, Scalar[]>();
    for (const [attr, supplied] of parsed) {
      const existing = (target?.values.get(attr.attribute_id) ?? []).map((sv) => sv.v);
      if (!attr.is_multiselect || target === null) {
        next.set(attr, supplied);
      } else if (mode === 'patch') {
        // PATCH prepends new values to the existing ones (and cannot remove any).
        const have = new Set(existing.map((v) => uniqueKey(attr, v)));
        next.set(attr, [...supplied.filter((v) => !have.has(uniqueKey(attr, v))), ...existing]);
      } else if (attr === matching) {
        // Assert adds to the matching multiselect attribute and never deletes from it.
        const have = new Set(existing.map((v) => uniqueKey(attr, v)));
        next.set(attr, [...existing, ...supplied.filter((v) => !have.has(uniqueKey(attr, v)))]);
      } else {
        next.set(attr, supplied); // assert replaces every other multiselect attribute
      }
    }

    for (const [attr, vals] of next) {
      if (!attr.is_unique) continue;
      const own = new Set((target?.values.get(attr.attribute_id) ?? []).map((sv) => uniqueKey(attr, sv.v)));
      const conflicts = new Set<string>();
      for (const v of vals) {
        const key = uniqueKey(attr, v);
        if (own.has(key)) continue; // uniqueness only applies to new data
        for (const r of this.records) {
          if (r === target) continue;
          if ((r.values.get(attr.attribute_id) ?? []).some((sv) => uniqueKey(attr, sv.v) === key)) conflicts.add(r.record_id);
        }
      }
      if (conflicts.size > 0) {
        throw badRequest(
          'uniqueness_conflict',
          `A value provided for attribute with slug "${attr.api_slug}" conflicts with one already in the system. This attribute has a uniqueness constraint. Please ensure all values for this attribute do not exist on another record. Conflicting record IDs: ${[...conflicts].join(', ')}`,
        );
      }
    }

    if (target === null) {
      for (const attr of this.attrs) {
        if (attr.is_required && !attr.is_archived && (next.get(attr) ?? []).length === 0) {
          throw badRequest('missing_value', `Required value for attribute with ID "${attr.attribute_id}" was not provided.`);
        }
      }
    }

    const record = target ?? { record_id: randomUUID(), created_at: nanoTime(), values: new Map<string, StoredValue[]>() };
    this.commit(record, next, { type: 'api-token', id: API_TOKEN_ID });
    if (target === null) this.records.push(record);
    return record;
  }

  /** Replaces each given attribute's values, keeping unchanged values (and their active_from). */
  private commit(record: CompanyRecord, next: Map<Attribute, Scalar[]>, actor: Actor): void {
    const now = nanoTime();
    for (const [attr, vals] of next) {
      const old = record.values.get(attr.attribute_id) ?? [];
      record.values.set(
        attr.attribute_id,
        vals.map((v) => old.find((sv) => sv.v === v) ?? { v, active_from: now, actor }),
      );
    }
  }

  // -------------------------------------------------------------------------------------------
  // Filters and sorts
  // -------------------------------------------------------------------------------------------

  private compileFilter(node: unknown, path: string[]): (r: CompanyRecord) => boolean {
    if (!isPlainObject(node)) throw filterError('A filter must be an object.', path);
    const parts: Array<(r: CompanyRecord) => boolean> = [];
    for (const [key, value] of Object.entries(node)) {
      const at = [...path, key];
      if (key === '$and' || key === '$or') {
        if (!Array.isArray(value)) throw filterError(`"${key}" expects an array of filters.`, at);
        const subs = value.map((v, i) => this.compileFilter(v, [...at, String(i)]));
        parts.push(key === '$and' ? (r) => subs.every((s) => s(r)) : (r) => subs.some((s) => s(r)));
      } else if (key === '$not') {
        const sub = this.compileFilter(value, at);
        parts.push((r) => !sub(r));
      } else if (key.startsWith('$')) {
        throw filterError(`Unknown logical operator "${key}".`, at);
      } else if (key === 'record_id') {
        parts.push(compileRecordIdCondition(value, at));
      } else {
        const attr = this.findAttribute(key);
        if (!attr || attr.is_archived) {
          throw badRequest('unknown_filter_attribute_slug', `Unknown attribute slug: ${key}.`, { path: at });
        }
        parts.push(compileAttributeCondition(attr, value, at));
      }
    }
    return (r) => parts.every((p) => p(r));
  }

  private compileSorts(sorts: unknown): (a: CompanyRecord, b: CompanyRecord) => number {
    if (!Array.isArray(sorts)) throw validation('"sorts" must be an array.', ['sorts']);
    const comparators = sorts.map((s, i) => {
      const at = ['sorts', String(i)];
      if (!isPlainObject(s)) throw validation('Each sort must be an object.', at);
      if ('path' in s) throw validation('Sorting by "path" is not supported by this fake.', at);
      rejectUnknownKeys(s, ['direction', 'attribute', 'field'], at);
      if (s.direction !== 'asc' && s.direction !== 'desc') throw validation('"direction" must be "asc" or "desc".', [...at, 'direction']);
      if (typeof s.attribute !== 'string') throw validation('"attribute" must be a string.', [...at, 'attribute']);
      const attr = this.findAttribute(s.attribute);
      if (!attr || attr.is_archived) throw validation(`Unknown sort attribute "${s.attribute}".`, [...at, 'attribute']);
      const fields = FIELDS[attr.type];
      const fieldName = s.field ?? DEFAULT_FIELD[attr.type];
      const field = typeof fieldName === 'string' ? fields[fieldName] : undefined;
      if (!field) throw validation(`Unknown field ${JSON.stringify(s.field)} for attribute "${attr.api_slug}".`, [...at, 'field']);
      const sign = s.direction === 'asc' ? 1 : -1;
      const keyOf = (r: CompanyRecord) => {
        const first = r.values.get(attr.attribute_id)?.[0];
        return first === undefined ? undefined : field.get(attr, first.v);
      };
      return (a: CompanyRecord, b: CompanyRecord) => {
        const ka = keyOf(a);
        const kb = keyOf(b);
        if (ka === undefined || kb === undefined) return ka === kb ? 0 : ka === undefined ? 1 : -1; // empty last
        return ka < kb ? -sign : ka > kb ? sign : 0;
      };
    });
    return (a, b) => {
      for (const c of comparators) {
        const d = c(a, b);
        if (d !== 0) return d;
      }
      return 0;
    };
  }

  // -------------------------------------------------------------------------------------------
  // Test helpers (they bypass uniqueness and act as a workspace member)
  // -------------------------------------------------------------------------------------------

  private helperAddAttribute(a: AddAttributeInput): void {
    if (this.attrs.some((x) => x.api_slug === a.api_slug)) throw new Error(`fake-attio: attribute "${a.api_slug}" already exists`);
    if (a.options && a.type !== 'select') throw new Error('fake-attio: options are only for select attributes');
    const attr = this.newAttribute({
      api_slug: a.api_slug,
      title: a.title ?? a.api_slug,
      type: a.type,
      is_unique: a.is_unique ?? false,
      is_multiselect: a.is_multiselect ?? false,
      is_archived: a.is_archived ?? false,
      currency: a.type === 'currency' ? { code: a.currency ?? 'USD', display_type: 'symbol' } : null,
    });
    attr.options = (a.options ?? []).map((title) => ({ option_id: randomUUID(), title, is_archived: false }));
    this.attrs.push(attr);
  }

  /** Deletes the option; records holding it lose that value. */
  private helperRemoveOption(attribute: string, title: string): void {
    const attr = this.findAttribute(attribute);
    if (!attr || attr.type !== 'select') throw new Error(`fake-attio: no select attribute "${attribute}"`);
    const option = attr.options.find((o) => o.title === title);
    if (!option) throw new Error(`fake-attio: attribute "${attribute}" has no option "${title}"`);
    attr.options = attr.options.filter((o) => o !== option);
    for (const r of this.records) {
      const vals = r.values.get(attr.attribute_id);
      if (vals) r.values.set(attr.attribute_id, vals.filter((sv) => sv.v !== option.option_id));
    }
  }

  private helperArchiveOption(attribute: string, title: string): void {
    const attr = this.findAttribute(attribute);
    const option = attr?.options.find((o) => o.title === title);
    if (!option) throw new Error(`fake-attio: attribute "${attribute}" has no option "${title}"`);
    option.is_archived = true;
  }

  private requireHelperRecord(recordId: string): CompanyRecord {
    const record = this.records.find((r) => r.record_id === recordId);
    if (!record) throw new Error(`fake-attio: no company ${recordId}`);
    return record;
  }

  private helperAddCompany(values: Record<string, unknown>): string {
    const record: CompanyRecord = { record_id: randomUUID(), created_at: nanoTime(), values: new Map() };
    this.commit(record, this.parseHelperValues(values), { type: 'workspace-member', id: MEMBER_ID });
    this.records.push(record);
    return record.record_id;
  }

  private helperSetCompanyValues(recordId: string, values: Record<string, unknown>): void {
    const record = this.records.find((r) => r.record_id === recordId);
    if (!record) throw new Error(`fake-attio: no company ${recordId}`);
    this.commit(record, this.parseHelperValues(values), { type: 'workspace-member', id: MEMBER_ID });
  }

  private parseHelperValues(values: Record<string, unknown>): Map<Attribute, Scalar[]> {
    const parsed = new Map<Attribute, Scalar[]>();
    for (const [slug, raw] of Object.entries(values)) {
      const attr = this.findAttribute(slug);
      if (!attr) throw new Error(`fake-attio: unknown attribute "${slug}"`);
      try {
        parsed.set(attr, parseInput(attr, raw, true));
      } catch (err) {
        throw err instanceof ApiError ? new Error(`fake-attio: ${err.message}`) : err;
      }
    }
    return parsed;
  }

  private plainCompany(r: CompanyRecord): PlainCompany {
    const values: Record<string, unknown> = {};
    for (const attr of this.attrs) {
      const plain = (r.values.get(attr.attribute_id) ?? []).map((sv) =>
        attr.type === 'select' ? (attr.options.find((o) => o.option_id === sv.v)?.title ?? sv.v) : sv.v,
      );
      values[attr.api_slug] = attr.is_multiselect ? plain : (plain[0] ?? null);
    }
    return { record_id: r.record_id, values };
  }

  // -------------------------------------------------------------------------------------------
  // Lookups and JSON shapes
  // -------------------------------------------------------------------------------------------

  private requireObject(target: string | undefined, identifier: string | undefined): void {
    if (target === 'lists') throw notFound(`List with slug/ID "${identifier}" not found.`);
    if (target !== 'objects' || (identifier !== 'companies' && identifier !== OBJECT_ID)) {
      throw notFound(`Object with slug/ID "${identifier}" not found.`);
    }
  }

  private findAttribute(slugOrId: string | undefined): Attribute | undefined {
    return this.attrs.find((a) => a.api_slug === slugOrId || a.attribute_id === slugOrId);
  }

  private requireAttribute(slugOrId: string | undefined): Attribute {
    const attr = this.findAttribute(slugOrId);
    if (!attr) throw notFound(`Attribute with slug/ID "${slugOrId}" not found.`);
    return attr;
  }

  private requireRecord(recordId: string | undefined): CompanyRecord {
    const record = this.records.find((r) => r.record_id === recordId);
    if (!record) throw notFound(`Record with ID "${recordId}" not found.`);
    return record;
  }

  private newAttribute(a: Partial<Attribute> & Pick<Attribute, 'api_slug' | 'title' | 'type'>): Attribute {
    return {
      attribute_id: randomUUID(),
      description: null,
      is_system_attribute: false,
      is_required: false,
      is_unique: false,
      is_multiselect: false,
      is_archived: false,
      created_at: nanoTime(),
      currency: null,
      options: [],
      ...a,
    };
  }

  private attributeJson(a: Attribute) {
    return {
      id: { workspace_id: WORKSPACE_ID, object_id: OBJECT_ID, attribute_id: a.attribute_id },
      title: a.title,
      description: a.description,
      api_slug: a.api_slug,
      type: a.type,
      is_system_attribute: a.is_system_attribute,
      is_writable: true,
      is_required: a.is_required,
      is_unique: a.is_unique,
      is_multiselect: a.is_multiselect,
      is_default_value_enabled: false,
      is_archived: a.is_archived,
      default_value: null,
      relationship: null,
      created_at: a.created_at,
      config: {
        currency: { default_currency_code: a.currency?.code ?? null, display_type: a.currency?.display_type ?? null },
        record_reference: { allowed_object_ids: null },
      },
    };
  }

  private recordJson(r: CompanyRecord) {
    const values: Record<string, unknown[]> = {};
    for (const attr of this.attrs) {
      if (attr.is_archived) continue;
      values[attr.api_slug] = (r.values.get(attr.attribute_id) ?? []).map((sv) => valueJson(attr, sv, this.opts));
    }
    return {
      id: { workspace_id: WORKSPACE_ID, object_id: OBJECT_ID, record_id: r.record_id },
      created_at: r.created_at,
      web_url: `https://app.attio.com/fake-workspace/company/${r.record_id}`,
      values,
    };
  }
}

// ---------------------------------------------------------------------------------------------
// Value parsing (input) and rendering (output)
// ---------------------------------------------------------------------------------------------

/**
 * One attribute's raw input -> stored scalars. Per the spec, a value is an array; a bare single value
 * is accepted for single-value attributes only. `[]` clears. `lenient` (test helpers) also accepts a
 * bare value for multiselect attributes and null/undefined as "empty".
 */
function parseInput(attr: Attribute, raw: unknown, lenient: boolean): Scalar[] {
  let items: unknown[];
  if (Array.isArray(raw)) items = raw;
  else if (lenient && (raw === null || raw === undefined)) items = [];
  else if (raw === null || raw === undefined) {
    throw validation(`Invalid value was passed to attribute with slug "${attr.api_slug}": null is not a value (send [] to clear).`, ['data', 'values', attr.api_slug]);
  } else if (attr.is_multiselect && !lenient) {
    throw validation(`Invalid value was passed to attribute with slug "${attr.api_slug}": multiselect attributes require an array of values.`, ['data', 'values', attr.api_slug]);
  } else items = [raw];

  if (!attr.is_multiselect && items.length > 1) {
    throw validation(`Multiple values were passed to single-value attribute with slug "${attr.api_slug}".`, ['data', 'values', attr.api_slug]);
  }
  const out: Scalar[] = [];
  const seen = new Set<string>();
  for (const item of items) {
    const v = parseOne(attr, item);
    const key = uniqueKey(attr, v);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(v);
  }
  return out;
}

function parseOne(attr: Attribute, item: unknown): Scalar {
  const slug = attr.api_slug;
  const invalid = (expected: string) =>
    validation(`Invalid value was passed to attribute with slug "${slug}" (type ${attr.type}): expected ${expected}, got ${JSON.stringify(item)}.`, ['data', 'values', slug]);
  /** Unwraps `{key: x}` (exactly the allowed keys, `key` required). */
  const unwrap = (key: string, allowed: string[] = [key]): unknown => {
    if (!isPlainObject(item)) return item;
    if (!(key in item) || Object.keys(item).some((k) => !allowed.includes(k))) throw invalid(`a value or {${key}}`);
    return item[key];
  };

  switch (attr.type) {
    case 'text': {
      const v = unwrap('value');
      if (typeof v !== 'string') throw invalid('a string');
      return v;
    }
    case 'number': {
      const v = unwrap('value');
      if (typeof v !== 'number' || !Number.isFinite(v)) throw invalid('a number');
      return v;
    }
    case 'currency': {
      if (isPlainObject(item) && 'currency_code' in item && item.currency_code !== attr.currency?.code) {
        throw validation(`Invalid value was passed to attribute with slug "${slug}": currency_code ${JSON.stringify(item.currency_code)} does not match the attribute's currency ${attr.currency?.code}; values cannot override the attribute currency.`, ['data', 'values', slug]);
      }
      const v = unwrap('currency_value', ['currency_value', 'currency_code']);
      if (typeof v !== 'number' || !Number.isFinite(v)) throw invalid('a number or {currency_value}');
      if (Number(v.toFixed(4)) !== v) throw invalid('a number with at most 4 decimal places');
      return v;
    }
    case 'date': {
      const v = unwrap('value');
      if (typeof v !== 'string' || !isCalendarDate(v)) throw invalid('a calendar date "YYYY-MM-DD"');
      return v;
    }
    case 'select': {
      const v = unwrap('option');
      if (typeof v !== 'string' || v === '') throw invalid('an option title or {option}');
      const option = attr.options.find((o) => !o.is_archived && (o.title === v || o.option_id === v));
      if (!option) throw badRequest('value_not_found', `Cannot find select attribute with select option title "${v}".`);
      return option.option_id;
    }
    case 'domain': {
      const v = unwrap('domain');
      const d = typeof v === 'string' ? normaliseDomain(v) : null;
      if (d === null) {
        throw validation(`Invalid value was passed to attribute with slug "${slug}": ${JSON.stringify(v)} is not a valid domain.`, ['data', 'values', slug]);
      }
      return d;
    }
  }
}

function valueJson(attr: Attribute, sv: StoredValue, opts: Pick<FakeAttioOptions, 'currencyValuesAsStrings'>): Record<string, unknown> {
  const base = { active_from: sv.active_from, active_until: null, created_by_actor: sv.actor, attribute_type: attr.type };
  switch (attr.type) {
    case 'text':
    case 'number':
    case 'date':
      return { ...base, value: sv.v };
    case 'currency': {
      // The spec types currency_value as a number; API-NOTES: tolerate a numeric string on read.
      const v = opts.currencyValuesAsStrings ? currencyString(Number(sv.v)) : sv.v;
      return { ...base, currency_value: v, currency_code: attr.currency?.code ?? null };
    }
    case 'select': {
      const option = attr.options.find((o) => o.option_id === sv.v);
      return { ...base, option: option ? optionJson(attr, option) : null };
    }
    case 'domain':
      return { ...base, domain: sv.v, root_domain: rootDomain(String(sv.v)) };
  }
}

/** 499 -> "499.00", 12.5 -> "12.50", 13.3333 -> "13.3333": at least two decimals, up to four. */
function currencyString(v: number): string {
  let out = v.toFixed(4);
  while (out.endsWith('0') && out.length - out.indexOf('.') > 3) out = out.slice(0, -1);
  return out;
}

function optionJson(attr: Attribute, o: SelectOption) {
  return {
    id: { workspace_id: WORKSPACE_ID, object_id: OBJECT_ID, attribute_id: attr.attribute_id, option_id: o.option_id },
    title: o.title,
    is_archived: o.is_archived,
  };
}

/** Identity of a value for uniqueness, matching and de-duplication. */
function uniqueKey(attr: Attribute, v: Scalar): string {
  return attr.type === 'domain' ? String(v).toLowerCase() : `${typeof v}:${v}`;
}

function isCalendarDate(s: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (mo < 1 || mo > 12 || d < 1) return false;
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][mo - 1] ?? 0;
  return d <= days;
}

/**
 * Lower-cases and trims scheme, path, query and port; null when what is left is not a domain.
 * Attio: "Domain attributes represent an internet domain, for example, "apple.com""; they "store
 * domains, not URLs. Any inputted values will have paths and query parameters trimmed"; `domain`
 * holds "the entire domain, after normalization" (docs.attio.com/docs/attribute-types/
 * attribute-types-domain). What Attio refuses is not documented, so the fake refuses whatever is no
 * internet domain name: labels of letters, digits and hyphens, no hyphen first or last, at most 63
 * characters (RFC 1034 3.5, RFC 1123 2.1), 253 in all (RFC 1035 2.3.4), at least two labels, and a
 * top-level label that is not all-numeric (RFC 3696 2): letters, or an international `xn--` one.
 * Refused as `400 validation_type` "... is not a valid domain" (the answer reported in issue 19).
 * Whether Attio also drops a leading `www.` is not documented either: the fake keeps it.
 */
function normaliseDomain(input: string): string | null {
  let d = input.trim().toLowerCase();
  d = d.replace(/^[a-z][a-z0-9+.-]*:\/\//, '');
  d = d.split(/[/?#]/)[0] ?? '';
  d = d.replace(/:\d+$/, '').replace(/\.$/, '');
  const label = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
  const ok = new RegExp(`^(?:${label}\\.)+(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$`).test(d);
  return ok && d.length <= 253 ? d : null;
}

const MULTI_PART_SUFFIXES = new Set([
  'co.uk', 'org.uk', 'ac.uk', 'gov.uk', 'ltd.uk', 'plc.uk', 'me.uk', 'com.au', 'net.au', 'org.au', 'edu.au',
  'co.nz', 'org.nz', 'co.jp', 'ne.jp', 'or.jp', 'com.br', 'com.mx', 'com.ar', 'co.in', 'co.za', 'com.cn',
  'com.hk', 'com.sg', 'com.tr', 'co.kr', 'co.il', 'com.tw',
]);

function rootDomain(domain: string): string {
  const labels = domain.split('.');
  const lastTwo = labels.slice(-2).join('.');
  return MULTI_PART_SUFFIXES.has(lastTwo) && labels.length >= 3 ? labels.slice(-3).join('.') : lastTwo;
}

// ---------------------------------------------------------------------------------------------
// Filter conditions on one attribute
// ---------------------------------------------------------------------------------------------
//
// Only the operators each attribute type's docs page lists are accepted; anything else is a 400
// `filter_error`, never "match everything". Sources:
// - text: "$eq, $in, $contains, $starts_with and $ends_with"; implicit syntax is $eq
//   (docs.attio.com/docs/attribute-types/attribute-types-text).
// - number: "$eq, $gte, $gt, $lte, $lt" (docs.attio.com/docs/attribute-types/attribute-types-number).
// - currency: "$eq, $gt, $gte, $lt, $lte", "using either JSON strings or numbers"
//   (docs.attio.com/docs/attribute-types/attribute-types-currency).
// - date: "$eq, $gt, $gte, $lt, $lte" (docs.attio.com/docs/attribute-types/attribute-types-date).
// - select: "filtered by equality, using either the implicit syntax or the explicit one"; several
//   options via $or, not $in (docs.attio.com/docs/attribute-types/attribute-types-select).
// - domain: "by either the root_domain or domain property", operators "$eq", "$not_empty",
//   "$contains, $starts_with and $ends_with"; implicit mode checks `domain` for equality
//   (docs.attio.com/docs/attribute-types/attribute-types-domain).
// - "$not_empty is also available on some attribute types", the example being
//   `{"domains": {"$not_empty": true}}` (docs.attio.com/rest-api/how-to/filtering-and-sorting), so it
//   is accepted on domain attributes only, in that attribute-level form.
// - Operators may sit directly on the attribute, without the property name: `{"name": {"$eq": ...}}`,
//   `{"name": {"$contains": "LTD"}}` (same guide). `$contains` matches "case-insensitively" (same guide).

type FieldKind = 'string' | 'domain' | 'number' | 'currency' | 'date' | 'option';
interface Field {
  kind: FieldKind;
  /** The comparable value of a stored scalar (option title for selects). */
  get(attr: Attribute, v: Scalar): string | number;
}

const plainField = (kind: FieldKind): Field => ({ kind, get: (_a, v) => v });
const FIELDS: Record<FakeAttributeType, Record<string, Field>> = {
  text: { value: plainField('string') },
  number: { value: plainField('number') },
  date: { value: plainField('date') },
  currency: { currency_value: plainField('currency') },
  select: { option: { kind: 'option', get: (a, v) => a.options.find((o) => o.option_id === v)?.title ?? '' } },
  domain: { domain: plainField('domain'), root_domain: { kind: 'domain', get: (_a, v) => rootDomain(String(v)) } },
};
const DEFAULT_FIELD: Record<FakeAttributeType, string> = {
  text: 'value', number: 'value', date: 'value', currency: 'currency_value', select: 'option', domain: 'domain',
};
const OPERATORS: Record<FieldKind, string[]> = {
  string: ['$eq', '$in', '$contains', '$starts_with', '$ends_with'], // attribute-types-text
  domain: ['$eq', '$contains', '$starts_with', '$ends_with'], // attribute-types-domain ($not_empty: attribute level)
  number: ['$eq', '$gt', '$gte', '$lt', '$lte'], // attribute-types-number
  currency: ['$eq', '$gt', '$gte', '$lt', '$lte'], // attribute-types-currency
  date: ['$eq', '$gt', '$gte', '$lt', '$lte'], // attribute-types-date
  option: ['$eq'], // attribute-types-select: equality only
};
/** Attribute types that take `{slug: {$not_empty: boolean}}` (filtering guide: its example is `domains`). */
const NOT_EMPTY_TYPES: ReadonlySet<FakeAttributeType> = new Set(['domain']);

/**
 * `{slug: primitive}` (shorthand $eq on the default field), `{slug: {$op: x, ...}}` (operators on the
 * default field, plus `$not_empty` on domain attributes), or `{slug: {field: primitive | {$op: x}}}`
 * (verbose).
 */
function compileAttributeCondition(attr: Attribute, cond: unknown, path: string[]): (r: CompanyRecord) => boolean {
  const fields = FIELDS[attr.type];
  const defaultField = fields[DEFAULT_FIELD[attr.type]] as Field;
  const valuesOf = (r: CompanyRecord) => r.values.get(attr.attribute_id) ?? [];
  if (isPrimitive(cond)) return compileOperator(attr, defaultField, '$eq', cond, path, valuesOf);
  if (!isPlainObject(cond) || Object.keys(cond).length === 0) {
    throw filterError(`Invalid condition for attribute "${attr.api_slug}".`, path);
  }
  const parts: Array<(r: CompanyRecord) => boolean> = [];
  for (const [key, operand] of Object.entries(cond)) {
    const at = [...path, key];
    if (key === '$not_empty') {
      if (!NOT_EMPTY_TYPES.has(attr.type)) {
        throw filterError(`Operator "$not_empty" is not supported for attribute "${attr.api_slug}" of type ${attr.type}.`, at);
      }
      if (typeof operand !== 'boolean') throw filterError('"$not_empty" expects a boolean.', at);
      parts.push((r) => (valuesOf(r).length > 0) === operand);
    } else if (key.startsWith('$')) {
      parts.push(compileOperator(attr, defaultField, key, operand, at, valuesOf));
    } else {
      const field = fields[key];
      if (!field) throw filterError(`Unknown property "${key}" for attribute "${attr.api_slug}" of type ${attr.type}.`, at);
      if (isPrimitive(operand)) {
        parts.push(compileOperator(attr, field, '$eq', operand, at, valuesOf));
      } else if (isPlainObject(operand) && Object.keys(operand).length > 0) {
        for (const [op, x] of Object.entries(operand)) parts.push(compileOperator(attr, field, op, x, [...at, op], valuesOf));
      } else {
        throw filterError(`Invalid condition on property "${key}" of attribute "${attr.api_slug}".`, at);
      }
    }
  }
  return (r) => parts.every((p) => p(r));
}

function compileOperator(
  attr: Attribute,
  field: Field,
  op: string,
  operand: unknown,
  path: string[],
  valuesOf: (r: CompanyRecord) => StoredValue[],
): (r: CompanyRecord) => boolean {
  if (!OPERATORS[field.kind].includes(op)) {
    throw filterError(`Operator "${op}" is not supported for attribute "${attr.api_slug}" of type ${attr.type}.`, path);
  }
  const operands = op === '$in' ? operand : [operand];
  if (!Array.isArray(operands)) throw filterError('"$in" expects an array.', path);
  const wanted = operands.map((x) => checkOperand(attr, field.kind, x, path));
  const test = (have: string | number): boolean => {
    const h = field.kind === 'domain' ? String(have).toLowerCase() : have;
    return wanted.some((w) => {
      switch (op) {
        case '$eq':
        case '$in':
          return h === w;
        case '$contains':
          // "$contains can be used for matching parts of a string, case-insensitively" (filtering guide).
          return String(h).toLowerCase().includes(String(w).toLowerCase());
        case '$starts_with':
          return String(h).startsWith(String(w));
        case '$ends_with':
          return String(h).endsWith(String(w));
        case '$gt':
          return h > w;
        case '$gte':
          return h >= w;
        case '$lt':
          return h < w;
        case '$lte':
          return h <= w;
        default:
          return false;
      }
    });
  };
  return (r) => valuesOf(r).some((sv) => test(field.get(attr, sv.v)));
}

function checkOperand(attr: Attribute, kind: FieldKind, x: unknown, path: string[]): string | number {
  const fail = (expected: string) =>
    filterError(`Invalid filter value ${JSON.stringify(x)} for attribute "${attr.api_slug}": expected ${expected}.`, path);
  switch (kind) {
    case 'number':
      if (typeof x !== 'number' || !Number.isFinite(x)) throw fail('a number');
      return x;
    case 'currency':
      // "Currency attribute values can be filtered by their value, using either JSON strings or
      // numbers", e.g. "399.00" (attribute-types-currency).
      if (typeof x === 'string' && /^-?\d+(\.\d+)?$/.test(x.trim())) return Number(x);
      if (typeof x !== 'number' || !Number.isFinite(x)) throw fail('a number or a numeric string');
      return x;
    case 'date':
      if (typeof x !== 'string' || !isCalendarDate(x)) throw fail('a date "YYYY-MM-DD"');
      return x;
    case 'domain':
      if (typeof x !== 'string') throw fail('a string');
      return x.trim().toLowerCase();
    case 'string':
    case 'option':
      if (typeof x !== 'string') throw fail('a string');
      return x;
  }
}

function compileRecordIdCondition(cond: unknown, path: string[]): (r: CompanyRecord) => boolean {
  const ids = (list: unknown[]) => {
    if (!list.every((x) => typeof x === 'string')) throw filterError('record_id filters expect strings.', path);
    return new Set(list as string[]);
  };
  let set: Set<string>;
  if (typeof cond === 'string') set = ids([cond]);
  else if (isPlainObject(cond) && Object.keys(cond).length === 1 && '$eq' in cond) set = ids([cond.$eq]);
  else if (isPlainObject(cond) && Object.keys(cond).length === 1 && Array.isArray(cond.$in)) set = ids(cond.$in);
  else throw filterError('record_id supports a string, {$eq} or {$in} only.', path);
  return (r) => set.has(r.record_id);
}

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

/** How many attribute conditions a filter has (for the fake's query score). */
function countConditions(filter: unknown): number {
  if (!isPlainObject(filter)) return 0;
  let count = 0;
  for (const [key, value] of Object.entries(filter)) {
    if (key === '$and' || key === '$or') count += Array.isArray(value) ? value.reduce((n: number, sub) => n + countConditions(sub), 0) : 0;
    else if (key === '$not') count += countConditions(value);
    else count += 1;
  }
  return count;
}

function envelope(status: number, type: string, code: string, message: string) {
  return { status_code: status, type, code, message };
}

/** Attio-style envelopes for injected faults. */
function faultEnvelope(status: number) {
  switch (status) {
    case 401:
      return envelope(401, 'auth_error', 'unauthorized', 'The provided API key is invalid or has been revoked.');
    case 429:
      return envelope(429, 'rate_limit_error', 'rate_limit_exceeded', 'Rate limit exceeded, please try again later.');
    case 502:
      return envelope(502, 'internal_server_error', 'bad_gateway', 'Bad gateway.');
    case 503:
      return envelope(503, 'internal_server_error', 'service_unavailable', 'The service is temporarily unavailable.');
    default:
      return envelope(status, 'internal_server_error', 'internal_server_error', 'An unexpected error occurred.');
  }
}

/**
 * The status a fault produces, for the request log (0: no answer). `slow` and `landed_slow` are
 * updated when (if) they answer.
 */
const FAULT_STATUS: Record<FaultKind, number> = {
  rate_limit_seconds: 429,
  rate_limit_date: 429,
  server_500: 500,
  server_502: 502,
  server_503: 503,
  spurious_401: 401,
  drop: 0,
  slow: 0,
  truncated: 200,
  landed_drop: 0,
  landed_502: 502,
  landed_slow: 0,
};

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function isPrimitive(x: unknown): x is string | number | boolean {
  return typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean';
}

function requireData(body: unknown): Record<string, unknown> {
  if (!isPlainObject(body)) throw validation('Body payload validation error: the body must be a JSON object with "data".', []);
  if (!isPlainObject(body.data)) throw validation('Body payload validation error: "data" is required and must be an object.', ['data']);
  return body.data;
}

function rejectUnknownKeys(obj: Record<string, unknown>, allowed: string[], path: string[]): void {
  const extra = Object.keys(obj).filter((k) => !allowed.includes(k));
  if (extra.length > 0) {
    const where = path.length ? `"${path.join('.')}"` : 'the body';
    throw validation(`Body payload validation error: unrecognized key(s) in ${where}: ${extra.map((k) => `"${k}"`).join(', ')}.`, path);
  }
}

function booleanParam(query: URLSearchParams, name: string): boolean {
  const v = query.get(name);
  if (v === null || v === 'false') return false;
  if (v === 'true') return true;
  throw validation(`Query parameter "${name}" must be "true" or "false".`, [name]);
}

function integerParam(query: URLSearchParams, name: string, fallback: number): number {
  const v = query.get(name);
  if (v === null) return fallback;
  if (!/^\d+$/.test(v)) throw validation(`Query parameter "${name}" must be a non-negative integer.`, [name]);
  return Number(v);
}

/** Attio's timestamp format, with nanoseconds: 2023-01-01T15:00:00.000000000Z */
function nanoTime(d = new Date()): string {
  return d.toISOString().replace('Z', '000000Z');
}
