// A local, in-memory stand-in for Attio's REST API v2, limited to the `companies` and `people` objects.
//
// It is deliberately strict: request shapes, value types, filters and uniqueness are checked the way
// Attio's OpenAPI spec (shared/reference/attio-openapi.json) and docs describe them, and anything the
// fake does not understand is refused with a 400 rather than silently accepted. Errors always use
// Attio's envelope `{status_code, type, code, message}`.
//
// Order of processing per request: read body -> auth (401) -> rate limit (429) -> JSON parse (400)
// -> injected fault (`truncated` and `landed_*` run the route first: the work lands, the answer is
// lost) -> `intercept` hook -> route. Latency is applied before every answer. Every route serves both
// objects, by slug or by object ID; `requests`, `stats()`, faults and rate limits cover both.
//
// ---- People ------------------------------------------------------------------------------------------
// Sources: "people page" = docs.attio.com/docs/standard-objects/standard-objects-people; "email page",
// "name page", "reference page" = docs.attio.com/docs/attribute-types/attribute-types-email-address,
// -personal-name, -record-reference; "guide" = docs.attio.com/rest-api/guides/linking-referenced-records;
// "spec" = the OpenAPI spec above. (inferred) marks what no source says; each is explained where coded.
//
// Attributes (GET /v2/objects/people/attributes): email_addresses (email-address, unique, multiselect),
//   name (personal-name), company (record-reference, single, allowed object companies, a relationship
//   whose other half is companies' `team`), description, job_title, angellist, facebook, instagram,
//   linkedin, twitter (text), phone_numbers (phone-number, multiselect), primary_location (location):
//   the people page's "Writeable attributes". Custom attributes can be added (POST, or addAttribute
//   with `object: 'people'`), never unique ones (as for companies). Not served: associated_deals,
//   associated_users (only with Deals/Users activated) and enriched read-only ones (avatar_url ...).
// Writes (POST create, PUT assert, PATCH by id, DELETE) follow the same rules as companies' (write,
//   parseInput): values are arrays (a bare value for single-value attributes), `[]` clears, unknown
//   slugs are 400.
//   - assert `?matching_attribute=email_addresses`: "If the matching attribute is a multiselect
//     attribute, new values will be added and existing values will not be deleted. For any other
//     multiselect attribute, all values will be either created or deleted as necessary to match the
//     list of supplied values" (spec, assert endpoint). Emails of two people: 400 multiple_match_results.
//   - POST "will throw on conflicts of unique attributes, like email_addresses" (docs "Create a person
//     record"): 400 uniqueness_conflict naming the record, as for domains.
//   - PATCH: "the values supplied will be created and prepended to the list of values that already
//     exist" (spec).
// email-address: a string or {email_address} (email page, "Writing values"); "We strictly validate
//   that email addresses have valid domain and local part formats" (same): dot-atom local part, domain
//   by the domains attribute's rule, ASCII only, no trimming (the exact formats are inferred from the
//   RFCs: see isEmailAddress). Refused: 400 validation_type "... is not a valid email address" (the
//   wording is not documented). Normalisation: "email_address - the normalized form", but no doc says
//   what normalising does, so the fake keeps the address exactly as written (inferred): case counts for
//   $eq, uniqueness and assert matching; a client compares case-insensitively itself.
// personal-name: object {first_name, last_name, full_name}, "all three properties must be set", or a
//   string "Last name(s), First name(s)"; no comma: all first name; "Further commas will be ignored and
//   assumed to be part of the first name" (name page). full_name of the string form = "First Last" and
//   trimmed parts (inferred).
// record-reference (company): {target_object, target_record_id}, {target_object, <matching attr>:
//   [one value]}, or a domain string (reference page, spec, guide); "the write will fail if the target
//   record does not exist" (reference page), "fail if they do not find exactly one record" (guide): 400
//   validation_type (the code is not documented). Missing target_object: 400 "Missing target_object on
//   record reference value" (Attio's message as seen in public clients, not documented).
//   target_record_reference (the guide's create-or-match format) and writes to companies' `team` are
//   refused as not implemented; so are phone-number and location writes.
// Automatic company: "When creating a person, a related company record will automatically be generated
//   or matched based on the domain of the person's email address" (people page). The fake: on create
//   only, when no `company` is in the write, by the first email's domain, exact and lower-cased, matched
//   against companies' domains or else a new company with just that domain, none for personal
//   mailboxes (gmail.com ...) (all inferred: see autoCompanyFor). `autoCompany: false` turns it off.
// Relationship: "Updating an attribute value on either of the attributes automatically updates the
//   other attribute" (reference page). With `companyTeam: true` companies serve `team` ("Record
//   reference, Relationship, inverse of Person -> company, multiselect": docs standard-objects-companies),
//   kept equal to the people whose company is that record; off by default so companies' attribute list
//   and records stay as every companies test knows them. A deleted company is dropped from its people's
//   `company` (inferred).
// Filters: email_address (implicit), email_domain, email_root_domain, email_local_specifier with $eq,
//   $contains, $starts_with, $ends_with (email page); name parts with $eq, $not_empty, $contains,
//   $starts_with, $ends_with, implicit = full_name (name page); company's target_object and
//   target_record_id by equality, $in on the id, no shorthand (reference page). $and/$or/$not combine
//   them (filtering guide). Everything else is 400 filter_error. Details beside FIELDS and OPERATORS.
//
// ---- Variant table (people values the sync reads) -------------------------------------------------------
// Each documented variant of each value, whether the fake produces it (P), where a test covers it (C:
// test/fake-attio.test.ts, test names quoted in part), or why it cannot matter (X).
//   email-address value: {email_address, original_email_address, email_domain, email_root_domain,
//       email_local_specifier, attribute_type} + active_from/active_until/created_by_actor.
//     email_address == original_email_address (as written). P always; C "people assert: creates with
//       typed values", "people emails: kept exactly as written". email_address != original (Attio's
//       normalising): NOT produced, the rule is undocumented; the sync compares case-insensitively, so
//       a lower-cased email_address cannot mislead it.
//     email_domain: a subdomain, mixed case. P; C "kept exactly as written" (Mail.Example.COM).
//     email_root_domain: == email_domain, or shorter, multi-part suffix (acme.co.uk). P; C "creates with
//       typed values" (mail.acme.co.uk -> acme.co.uk).
//     email_local_specifier: dots, +tags, atext specials. P; C "is not a valid email address" (valid list).
//     several values (multiselect), in write order; PATCH prepends. P; C "only gains values", "PATCH by id".
//     created_by_actor: api-token, workspace-member (helpers). P; C "creates with typed values", "helpers".
//   personal-name value: {first_name, last_name, full_name, attribute_type}.
//     all three non-empty. P; C "creates with typed values", "object form needs all three parts".
//     last_name "" (string without a comma, or given so). P; C "object form needs all three parts" (Cher).
//     full_name not "first last" (object form is taken as given). P; C same test ("Jo (CEO)").
//     first_name with a comma ("Smith, John, Jr."). P; C same test.
//     no value ([]). P; C "a taken email is a uniqueness_conflict" (a create without name: values.name []).
//   record-reference value: {target_object, target_record_id, attribute_type}.
//     target_object "companies" (person.company), "people" (company.team with companyTeam). P; C
//       "creates with typed values", "companyTeam".
//     written by id / by domains / by a text attribute / by a domain string -> always read back as
//       {target_object, target_record_id} (guide: "Responses always return the resolved record"). P; C
//       "people company: by id, by domains".
//     created_by_actor "system" (the automatic company). P; C "gets the company of its email domain".
//     no value (none given, personal mailbox, autoCompany off, company deleted). P; C "no company is
//       generated or matched", "deleting a company empties".
//   phone_numbers, primary_location: always [] (writes refused). X: the sync neither writes nor reads them.
//   checkbox value (companies' stripe_delinquent): {value: true|false, attribute_type}. P both; C "checkbox
//     values". No value at all ([]) for a record never given one: P; C the same test. The docs say an
//     unchecked box reads false and that a checkbox "does not support null values", not what a record
//     never written holds: the sync reads [] as false (test/core-units.test.ts "checkbox"), so either way.
//
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
  /**
   * Attio's automatic company for a new person (default true): "When creating a person, a related
   * company record will automatically be generated or matched based on the domain of the person's
   * email address" (docs.attio.com/docs/standard-objects/standard-objects-people). See
   * `autoCompanyFor` for what the fake does and which parts are inferred. `false` turns it off.
   * The docs do not say whether a `company` given in the create wins over the automatic one: by
   * default it does (no automatic company then); `'even-when-given'` models the other reading, where
   * the automatic match replaces the company the create gave.
   */
  autoCompany?: boolean | 'even-when-given';
  /**
   * Serve companies' standard `team` attribute, the other half of the person.company relationship,
   * and keep it in step with people's `company` values (default false). Off by default because it
   * adds an attribute to companies' attribute list and a `team` key to every company record, which
   * would change what every existing companies test and the sync's companies preflight see. Writing
   * `team` is refused as not implemented by this fake (see `resolveRef`).
   */
  companyTeam?: boolean;
}

export interface PlainCompany {
  record_id: string;
  values: Record<string, unknown>;
}

/** A person as a test sees it: emails as stored, the name's parts, and the company's record id. */
export interface PlainPerson {
  record_id: string;
  emails: string[];
  name: { first: string; last: string; full: string } | null;
  company: string | null;
  /** Every attribute by slug, plain: multiselects as arrays, empty single values as null. */
  values: Record<string, unknown>;
}

export type FakeAttributeType = 'text' | 'currency' | 'select' | 'date' | 'domain' | 'number' | 'checkbox';

export interface AddAttributeInput {
  /** The object to add it to (default companies). */
  object?: 'companies' | 'people';
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
  /**
   * Adds a person as a workspace member would (no uniqueness check, no automatic company: the values
   * are exactly the ones given). Values take the API's write forms, plus: a bare value for a
   * multiselect, null for empty, and a record id string for `company`.
   */
  addPerson(values: Record<string, unknown>): string;
  /** Replaces the given attributes' values of a person (same forms as addPerson). */
  setPersonValues(record_id: string, values: Record<string, unknown>): void;
  people(): PlainPerson[];
  /** Deletes a person, as a workspace member (or another client) can. */
  deletePerson(record_id: string): void;
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
const PEOPLE_OBJECT_ID = '5e2d9c4b-8a71-4f36-b0d2-7c19e4a6f830'; // the `people` object
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

/** What the fake stores: the helper's (custom) types plus the standard types of people's attributes. */
type AttributeType = FakeAttributeType | 'email-address' | 'personal-name' | 'record-reference' | 'phone-number' | 'location';

type ObjectSlug = 'companies' | 'people';

interface Attribute {
  attribute_id: string;
  /** The object it belongs to (its `id.object_id`). */
  object_id: string;
  api_slug: string;
  title: string;
  description: string | null;
  type: AttributeType;
  is_system_attribute: boolean;
  is_required: boolean;
  is_unique: boolean;
  is_multiselect: boolean;
  is_archived: boolean;
  created_at: string;
  currency: { code: string; display_type: string } | null;
  options: SelectOption[];
  /** record-reference: the one object it may point at (`config.record_reference.allowed_object_ids`). */
  allowed_object: ObjectSlug | null;
  /** A relationship attribute: the other attribute of the pair (`relationship.id`). */
  relationship: { object: ObjectSlug; attribute_id: string } | null;
}

interface PersonalName {
  first_name: string;
  last_name: string;
  full_name: string;
}

interface RecordRef {
  target_object: ObjectSlug;
  target_record_id: string;
}

/**
 * Stored form: text/date -> string, number/currency -> number, select -> option_id, domain ->
 * normalised domain, email-address -> the address as written, personal-name -> its three parts,
 * record-reference -> the resolved target.
 */
type Stored = string | number | boolean | PersonalName | RecordRef;

interface Actor {
  type: 'api-token' | 'workspace-member' | 'system';
  id: string | null;
}

/** Values Attio itself sets (the automatic company): the spec's actor type "system", id null. */
const SYSTEM_ACTOR: Actor = { type: 'system', id: null };

interface StoredValue {
  v: Stored;
  active_from: string;
  actor: Actor;
}

interface StoredRecord {
  record_id: string;
  created_at: string;
  values: Map<string, StoredValue[]>; // keyed by attribute_id
}

/** One object the fake serves: its attributes and records. */
interface ObjectModel {
  slug: ObjectSlug;
  object_id: string;
  /** The web_url path segment (the docs' examples: /company/, /person/). */
  noun: string;
  attrs: Attribute[];
  records: StoredRecord[];
  /** `records` by record_id (kept with it by addRecord and removeRecord): look-ups by id in constant time. */
  byId: Map<string, StoredRecord>;
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
/** What Attio accepts but this fake does not model: refused, never half-done (see the header). */
const notImplemented = (message: string, path: string[] = []) =>
  validation(`${message} This is not implemented by the fake Attio (test/fake-attio.ts).`, path);

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
  private readonly companies: ObjectModel = { slug: 'companies', object_id: OBJECT_ID, noun: 'company', attrs: [], records: [], byId: new Map() };
  private readonly people: ObjectModel = { slug: 'people', object_id: PEOPLE_OBJECT_ID, noun: 'person', attrs: [], records: [], byId: new Map() };
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
      const std = { is_system_attribute: true, created_at: at };
      this.companies.attrs.push(
        this.newAttribute(this.companies, { api_slug: 'name', title: 'Name', type: 'text', ...std }),
        this.newAttribute(this.companies, { api_slug: 'domains', title: 'Domains', type: 'domain', is_unique: true, is_multiselect: true, ...std }),
        this.newAttribute(this.companies, { api_slug: 'description', title: 'Description', type: 'text', ...std }),
      );
      // People's writable standard attributes, with the types and traits the docs' table gives them
      // (docs.attio.com/docs/standard-objects/standard-objects-people, "Writeable attributes"):
      // email_addresses (Email address, unique, multiselect), name ((Personal) name), company (Record
      // reference, relationship, inverse of Company -> team), description, job_title (Text),
      // phone_numbers (Phone number, multiselect), primary_location (Location), angellist, facebook,
      // instagram, linkedin, twitter (Text). Left out: associated_deals and associated_users ("only
      // available if Deals/Users activated"; this fake serves neither object) and the enriched,
      // read-only ones such as avatar_url ("cannot currently be set via the API": docs "Create a
      // person record"), which the sync never reads.
      const team = randomUUID(); // companies' `team`, served only with `companyTeam` (see the option)
      const company = this.newAttribute(this.people, {
        api_slug: 'company', title: 'Company', type: 'record-reference', allowed_object: 'companies',
        relationship: { object: 'companies', attribute_id: team }, ...std,
      });
      this.people.attrs.push(
        this.newAttribute(this.people, { api_slug: 'email_addresses', title: 'Email addresses', type: 'email-address', is_unique: true, is_multiselect: true, ...std }),
        this.newAttribute(this.people, { api_slug: 'name', title: 'Name', type: 'personal-name', ...std }),
        company,
        this.newAttribute(this.people, { api_slug: 'description', title: 'Description', type: 'text', ...std }),
        this.newAttribute(this.people, { api_slug: 'job_title', title: 'Job title', type: 'text', ...std }),
        this.newAttribute(this.people, { api_slug: 'phone_numbers', title: 'Phone numbers', type: 'phone-number', is_multiselect: true, ...std }),
        this.newAttribute(this.people, { api_slug: 'primary_location', title: 'Primary location', type: 'location', ...std }),
        ...(['angellist', 'facebook', 'instagram', 'linkedin', 'twitter'] as const).map((slug) =>
          this.newAttribute(this.people, { api_slug: slug, title: { angellist: 'AngelList', facebook: 'Facebook', instagram: 'Instagram', linkedin: 'LinkedIn', twitter: 'Twitter' }[slug], type: 'text', ...std }),
        ),
      );
      if (opts.companyTeam) {
        // Company `team`: "Record reference, Relationship, inverse of Person -> company, multiselect"
        // (docs.attio.com/docs/standard-objects/standard-objects-companies).
        this.companies.attrs.push({
          ...this.newAttribute(this.companies, {
            api_slug: 'team', title: 'Team', type: 'record-reference', is_multiselect: true, allowed_object: 'people',
            relationship: { object: 'people', attribute_id: company.attribute_id }, ...std,
          }),
          attribute_id: team,
        });
      }
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
      deleteCompany: (id) => this.removeRecord(this.companies, this.requireHelperRecord(this.companies, id)),
      setCompanyValues: (id, values) => this.helperSetCompanyValues(id, values),
      companies: () => this.companies.records.map((r) => this.plainCompany(r)),
      addPerson: (values) => this.helperAddPerson(values),
      setPersonValues: (id, values) => this.helperSetPersonValues(id, values),
      people: () => this.people.records.map((r) => this.plainPerson(r)),
      deletePerson: (id) => this.removeRecord(this.people, this.requireHelperRecord(this.people, id)),
      attributes: () =>
        this.companies.attrs.map((a) => ({
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
    const obj = this.requireObject(target, identifier);
    const showArchived = booleanParam(query, 'show_archived');
    const list = obj.attrs.filter((a) => showArchived || !a.is_archived);
    const offset = integerParam(query, 'offset', 0);
    const limit = integerParam(query, 'limit', list.length);
    return { status: 200, body: { data: list.slice(offset, offset + limit).map((a) => this.attributeJson(a)) } };
  }

  private createAttribute([target, identifier]: string[], body: unknown): Answer {
    const obj = this.requireObject(target, identifier);
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
    if (!['text', 'number', 'currency', 'date', 'select', 'checkbox'].includes(type)) {
      throw validation(`Attribute type "${type}" is not supported by this fake (text, number, currency, date, select, checkbox only).`, ['data', 'type']);
    }
    if (type === 'select' && is_unique) throw validation('Select attributes cannot be unique.', ['data', 'is_unique']);
    // Companies (and people) cannot get a custom unique attribute: "While standard attributes like
    // domains have unique properties by default, you cannot create new custom attributes with a unique
    // constraint for Company objects." (docs.attio.com/docs/standard-objects/standard-objects-companies).
    // The help centre: only custom objects offer the Required and Unique options
    // (attio.com/help/reference/workspace/attributes), so the same holds for people. Older developer
    // docs allowed it, so `addAttribute({is_unique: true})` still models an older workspace that has one.
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
    if (obj.attrs.some((a) => a.api_slug === api_slug)) {
      throw new ApiError(409, 'slug_conflict', 'An attribute with the same API slug already exists on this object. Please choose a different API slug.');
    }
    const attr = this.newAttribute(obj, {
      api_slug, title, description: description as string | null, type: type as FakeAttributeType,
      is_required: is_required as boolean, is_unique: is_unique as boolean, is_multiselect: is_multiselect as boolean, currency,
    });
    obj.attrs.push(attr);
    return { status: 200, body: { data: this.attributeJson(attr) } };
  }

  private listOptions([target, identifier, attribute]: string[], query: URLSearchParams): Answer {
    const attr = this.requireAttribute(this.requireObject(target, identifier), attribute);
    if (attr.type !== 'select') throw validation('This attribute is not a select attribute.');
    const showArchived = booleanParam(query, 'show_archived');
    const options = attr.options.filter((o) => showArchived || !o.is_archived);
    return { status: 200, body: { data: options.map((o) => optionJson(attr, o)) } };
  }

  private createOption([target, identifier, attribute]: string[], body: unknown): Answer {
    const attr = this.requireAttribute(this.requireObject(target, identifier), attribute);
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
    const attr = this.requireAttribute(this.requireObject(target, identifier), attribute);
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
    const obj = this.requireObject('objects', object);
    this.removeRecord(obj, this.requireRecord(obj, recordId));
    return { status: 200, body: {} };
  }

  private getRecord([object, recordId]: string[]): Answer {
    const obj = this.requireObject('objects', object);
    return { status: 200, body: { data: this.recordJson(obj, this.requireRecord(obj, recordId)) } };
  }

  private createRecord([object]: string[], body: unknown): Answer {
    const obj = this.requireObject('objects', object);
    const values = this.parseWritePayload(obj, body);
    const record = this.write(obj, null, values, 'create');
    return { status: 200, body: { data: this.recordJson(obj, record) } };
  }

  private updateRecord([object, recordId]: string[], body: unknown): Answer {
    const obj = this.requireObject('objects', object);
    const record = this.requireRecord(obj, recordId);
    const values = this.parseWritePayload(obj, body);
    this.write(obj, record, values, 'patch');
    return { status: 200, body: { data: this.recordJson(obj, record) } };
  }

  private assertRecord([object]: string[], query: URLSearchParams, body: unknown): Answer {
    const obj = this.requireObject('objects', object);
    const slug = query.get('matching_attribute');
    if (slug === null || slug === '') {
      throw validation('The "matching_attribute" query parameter is required.', ['matching_attribute']);
    }
    const matching = this.findAttribute(obj, slug);
    if (!matching || matching.is_archived) {
      throw badRequest('value_not_found', `No attribute was found for matching_attribute slug/ID "${slug}".`);
    }
    if (!matching.is_unique) {
      throw badRequest(
        'matching_attribute_definition_not_unique',
        `The matching attribute "${matching.api_slug}" must have a uniqueness constraint to be used as a matching attribute.`,
      );
    }
    const values = this.parseWritePayload(obj, body);
    const wanted = values.get(matching);
    if (!wanted || wanted.length === 0) {
      throw badRequest('missing_value', `The values must include a value for the matching attribute "${matching.api_slug}".`);
    }
    const keys = new Set(wanted.map((v) => uniqueKey(matching, v)));
    const matches = obj.records.filter((r) => (r.values.get(matching.attribute_id) ?? []).some((sv) => keys.has(uniqueKey(matching, sv.v))));
    if (matches.length > 1) {
      throw badRequest(
        'multiple_match_results',
        `Multiple records match the value of matching attribute "${matching.api_slug}", so the record to update is ambiguous. Matching record IDs: ${matches.map((r) => r.record_id).join(', ')}`,
      );
    }
    const record = this.write(obj, matches[0] ?? null, values, 'assert', matching);
    return { status: 200, body: { data: this.recordJson(obj, record) } };
  }

  private queryRecords([object]: string[], body: unknown): Answer {
    const obj = this.requireObject('objects', object);
    if (!isPlainObject(body)) throw validation('The request body must be a JSON object.', []);
    rejectUnknownKeys(body, ['filter', 'sorts', 'limit', 'offset'], []);
    const limit = body.limit ?? 500;
    const offset = body.offset ?? 0;
    if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1) throw validation('"limit" must be a positive integer.', ['limit']);
    if (typeof offset !== 'number' || !Number.isInteger(offset) || offset < 0) throw validation('"offset" must be a non-negative integer.', ['offset']);
    let predicate: (r: StoredRecord) => boolean = () => true;
    if (body.filter !== undefined) {
      if (!isPlainObject(body.filter)) throw filterError('"filter" must be an object.', ['filter']);
      predicate = this.compileFilter(obj, body.filter, []);
    }
    if (this.opts.maxQueryScore !== undefined) {
      const score = (1 + (Array.isArray(body.sorts) ? body.sorts.length : 0) + countConditions(body.filter)) * obj.records.length;
      if (score > this.opts.maxQueryScore) throw new QueryScoreExceeded();
    }
    this.opts.beforeQuery?.({ offset, limit, filter: body.filter, sorts: body.sorts });
    const matched = obj.records.filter(predicate);
    if (body.sorts !== undefined) matched.sort(this.compileSorts(obj, body.sorts));
    return { status: 200, body: { data: matched.slice(offset, offset + limit).map((r) => this.recordJson(obj, r)) } };
  }

  // -------------------------------------------------------------------------------------------
  // Writing values
  // -------------------------------------------------------------------------------------------

  /** `{data: {values: {...}}}` strictly; returns the parsed values per attribute. */
  private parseWritePayload(obj: ObjectModel, body: unknown): Map<Attribute, Stored[]> {
    const data = requireData(body);
    rejectUnknownKeys(data, ['values'], ['data']);
    if (!isPlainObject(data.values)) throw validation('"data.values" must be an object.', ['data', 'values']);
    const parsed = new Map<Attribute, Stored[]>();
    const ctx = this.parseContext(false);
    for (const [key, raw] of Object.entries(data.values)) {
      const attr = this.findAttribute(obj, key);
      if (!attr) throw badRequest('value_not_found', `Cannot find attribute with slug/ID "${key}".`);
      if (attr.is_archived) throw badRequest('value_not_found', `Cannot write to attribute with slug/ID "${key}": the attribute is archived.`);
      parsed.set(attr, parseInput(attr, raw, ctx));
    }
    return parsed;
  }

  private parseContext(lenient: boolean): ParseContext {
    return { lenient, resolveRef: (attr, item) => this.resolveRef(attr, item, lenient) };
  }

  /**
   * Computes the new values of `target` (null: a new record), checks uniqueness and required
   * attributes, and only then commits. Nothing changes when an error is thrown.
   */
  private write(obj: ObjectModel, target: StoredRecord | null, parsed: Map<Attribute, Stored[]>, mode: WriteMode, matching?: Attribute): StoredRecord {
    const next = new Map<Attribute, Stored[]>();
    for (const [attr, supplied] of parsed) {
      const existing = (target?.values.get(attr.attribute_id) ?? []).map((sv) => sv.v);
      if (!attr.is_multiselect || target === null) {
        next.set(attr, supplied);
      } else if (mode === 'patch') {
        // PATCH prepends new values to the existing ones (and cannot remove any).
        const have = new Set(existing.map((v) => uniqueKey(attr, v)));
        next.set(attr, [...supplied.filter((v) => !have.has(uniqueKey(attr, v))), ...existing]);
      } else if (attr === matching) {
        // Assert adds to the matching multiselect attribute and never deletes from it: "If the
        // matching attribute is a multiselect attribute, new values will be added and existing values
        // will not be deleted" (spec, assert endpoint; people: email_addresses).
        const have = new Set(existing.map((v) => uniqueKey(attr, v)));
        next.set(attr, [...existing, ...supplied.filter((v) => !have.has(uniqueKey(attr, v)))]);
      } else {
        // "For any other multiselect attribute, all values will be either created or deleted as
        // necessary to match the list of supplied values" (same description).
        next.set(attr, supplied);
      }
    }

    for (const [attr, vals] of next) {
      if (!attr.is_unique) continue;
      const own = new Set((target?.values.get(attr.attribute_id) ?? []).map((sv) => uniqueKey(attr, sv.v)));
      const conflicts = new Set<string>();
      for (const v of vals) {
        const key = uniqueKey(attr, v);
        if (own.has(key)) continue; // uniqueness only applies to new data
        for (const r of obj.records) {
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
      for (const attr of obj.attrs) {
        if (attr.is_required && !attr.is_archived && (next.get(attr) ?? []).length === 0) {
          throw badRequest('missing_value', `Required value for attribute with ID "${attr.attribute_id}" was not provided.`);
        }
      }
    }

    // Everything is checked: from here on the write lands.
    const auto = target === null && obj === this.people ? this.autoCompanyFor(next) : null;
    const record = target ?? { record_id: randomUUID(), created_at: nanoTime(), values: new Map<string, StoredValue[]>() };
    const before = this.companyOf(obj, record);
    this.commit(record, next, { type: 'api-token', id: API_TOKEN_ID });
    if (target === null) this.addRecord(obj, record);
    if (auto) this.commit(record, new Map([[auto.attr, [auto.ref]]]), SYSTEM_ACTOR);
    this.reflectTeam(obj, [before, this.companyOf(obj, record)]);
    return record;
  }

  /** Replaces each given attribute's values, keeping unchanged values (and their active_from). */
  private commit(record: StoredRecord, next: Map<Attribute, Stored[]>, actor: Actor): void {
    const now = nanoTime();
    for (const [attr, vals] of next) {
      const old = record.values.get(attr.attribute_id) ?? [];
      record.values.set(
        attr.attribute_id,
        vals.map((v) => old.find((sv) => uniqueKey(attr, sv.v) === uniqueKey(attr, v)) ?? { v, active_from: now, actor }),
      );
    }
  }

  /**
   * One record-reference input value -> its target. Forms (docs.attio.com/docs/attribute-types/
   * attribute-types-record-reference, "Writing values"; spec `input-value`):
   * - `{target_object, target_record_id}` (spec: exactly these two keys, target_object "A UUID or
   *   slug"). "Note that the write will fail if the target record does not exist, i.e. you can't
   *   create the target record automatically. For example, if you tried to assert a person and
   *   referenced a company that did not exist, the request would fail." The error's code is not
   *   documented: the fake answers 400 `validation_type`.
   * - `{target_object, <matching attribute slug or ID>: [value]}`: "The key should be the slug or ID
   *   of the matching attribute ... and the value should be an array containing a single value" (spec);
   *   "The first two formats fail if they do not find exactly one record" (docs.attio.com/rest-api/
   *   guides/linking-referenced-records). The spec says "Matching attributes must be unique", the
   *   newer guide "the matching attribute does not have to be unique": the fake takes any domain,
   *   text or number attribute (the types the guide lists that companies have) and requires exactly
   *   one record to match. Failing that: 400 `validation_type` (code not documented).
   * - a string: "If the allowed object is a company, string values will be interpreted as a domain".
   * - `target_record_reference` (the guide's third format, which can create the target): refused as
   *   not implemented by this fake; so is writing companies' `team` (a reference to people).
   * A missing target_object is refused with the message Attio gives, "Missing target_object on record
   * reference value" (seen in public clients' error handling, e.g. kesslerio/attio-mcp-server's
   * record-reference error enhancer; not in the docs).
   * `lenient` (test helpers) also takes a bare record id string.
   */
  private resolveRef(attr: Attribute, item: unknown, lenient: boolean): RecordRef {
    const path = ['data', 'values', attr.api_slug];
    const allowed = attr.allowed_object === 'people' ? this.people : this.companies;
    const one = (found: StoredRecord[], what: string): RecordRef => {
      if (found.length !== 1) {
        throw validation(`Invalid value was passed to attribute with slug "${attr.api_slug}": ${found.length === 0 ? 'no' : found.length} ${allowed.slug} record(s) match ${what}; a record reference must resolve to exactly one existing record.`, path);
      }
      return { target_object: allowed.slug, target_record_id: (found[0] as StoredRecord).record_id };
    };
    const byId = (id: unknown): RecordRef => {
      if (typeof id !== 'string' || !UUID.test(id)) throw validation(`Invalid value was passed to attribute with slug "${attr.api_slug}": "target_record_id" must be a UUID, got ${JSON.stringify(id)}.`, path);
      const found = allowed.byId.get(id);
      return one(found ? [found] : [], `record ID "${id}" (the target record must exist)`);
    };
    const byMatch = (matchAttr: Attribute | undefined, key: string, value: unknown): RecordRef => {
      if (!matchAttr || matchAttr.is_archived) throw badRequest('value_not_found', `Cannot find attribute with slug/ID "${key}" on ${allowed.slug}.`);
      if (!['domain', 'text', 'number'].includes(matchAttr.type)) {
        throw validation(`Invalid value was passed to attribute with slug "${attr.api_slug}": records cannot be matched by attribute "${matchAttr.api_slug}" of type ${matchAttr.type}.`, path);
      }
      const wanted = uniqueKey(matchAttr, parseOne(matchAttr, value, this.parseContext(false)));
      return one(
        allowed.records.filter((r) => (r.values.get(matchAttr.attribute_id) ?? []).some((sv) => uniqueKey(matchAttr, sv.v) === wanted)),
        `${matchAttr.api_slug} = ${JSON.stringify(value)}`,
      );
    };
    if (typeof item === 'string') {
      if (lenient && UUID.test(item)) return byId(item);
      return byMatch(this.findAttribute(allowed, 'domains'), 'domains', item);
    }
    if (!isPlainObject(item)) throw validation(`Invalid value was passed to attribute with slug "${attr.api_slug}": expected a record reference, got ${JSON.stringify(item)}.`, path);
    if (!('target_object' in item)) throw validation('Missing target_object on record reference value', path);
    const object = this.findObject(item.target_object);
    if (object !== allowed) {
      throw validation(`Invalid value was passed to attribute with slug "${attr.api_slug}": it only allows records of ${allowed.slug}, got target_object ${JSON.stringify(item.target_object)}.`, path);
    }
    if ('target_record_reference' in item) throw notImplemented('The "target_record_reference" write format is not supported.', path);
    const keys = Object.keys(item).filter((k) => k !== 'target_object');
    if (keys.length === 1 && keys[0] === 'target_record_id') return byId(item.target_record_id);
    if (keys.length === 1) {
      const key = keys[0] as string;
      const raw = item[key];
      if (!Array.isArray(raw) || raw.length !== 1) {
        throw validation(`Invalid value was passed to attribute with slug "${attr.api_slug}": the matching attribute "${key}" takes an array holding exactly one value ("Matching on multiple values is not currently supported").`, path);
      }
      return byMatch(this.findAttribute(allowed, key), key, raw[0]);
    }
    throw validation(`Invalid value was passed to attribute with slug "${attr.api_slug}": expected {target_object, target_record_id} or {target_object, <matching attribute>: [value]}, got keys ${JSON.stringify(Object.keys(item))}.`, path);
  }

  /**
   * The company a new person gets when none is given. The docs say only this: "When creating a
   * person, a related company record will automatically be generated or matched based on the domain
   * of the person's email address, but they can also be created manually via the web application or
   * the API" (docs.attio.com/docs/standard-objects/standard-objects-people; the companies page says
   * the same). Attio's help centre adds that "Attio automatically links people to companies when
   * their email domain matches the company domain" (attio.com/help/reference/email-and-calendar/
   * email-and-calendar-syncing). Everything else here is inferred, not documented:
   * - it runs when a person is created (POST, or an assert that creates), never on an update;
   * - a `company` value in the write (even `[]`) wins and nothing is generated or matched;
   * - the domain is that of the person's first email address, lower-cased (domains are stored
   *   lower-cased, see normaliseDomain); a company whose `domains` holds exactly it is matched (the
   *   first, in creation order), else a company with `domains: [domain]` and nothing else is created,
   *   written by the "system" actor (Attio enriches the rest later; the fake does not);
   * - personal email domains (gmail.com and the other PERSONAL_EMAIL_DOMAINS) get no company: no doc
   *   says so, but a company "generated" from gmail.com would hold every Gmail user;
   * - the person's `company` value is written by the "system" actor.
   * `autoCompany: false` turns it off. Returns null when no company applies.
   */
  private autoCompanyFor(next: Map<Attribute, Stored[]>): { attr: Attribute; ref: RecordRef } | null {
    if (this.opts.autoCompany === false) return null;
    const attr = this.findAttribute(this.people, 'company');
    const emails = this.findAttribute(this.people, 'email_addresses');
    const domains = this.findAttribute(this.companies, 'domains');
    if (!attr || attr.is_archived || (next.has(attr) && this.opts.autoCompany !== 'even-when-given') || !emails || !domains || domains.is_archived) return null;
    const first = next.get(emails)?.[0];
    if (typeof first !== 'string') return null;
    const domain = normaliseDomain(emailParts(first).domain);
    if (domain === null || PERSONAL_EMAIL_DOMAINS.has(domain)) return null;
    let company = this.companies.records.find((r) => (r.values.get(domains.attribute_id) ?? []).some((sv) => sv.v === domain));
    if (!company) {
      company = { record_id: randomUUID(), created_at: nanoTime(), values: new Map() };
      this.commit(company, new Map([[domains, [domain]]]), SYSTEM_ACTOR);
      this.addRecord(this.companies, company);
    }
    return { attr, ref: { target_object: 'companies', target_record_id: company.record_id } };
  }

  /** The company record id a person's `company` points at (null for none, or for a company record). */
  private companyOf(obj: ObjectModel, record: StoredRecord): string | null {
    if (obj !== this.people) return null;
    const attr = this.findAttribute(this.people, 'company');
    const v = attr ? record.values.get(attr.attribute_id)?.[0]?.v : undefined;
    return isRecordRef(v) ? v.target_record_id : null;
  }

  /**
   * Keeps companies' `team` in step with people's `company` (only with `companyTeam`): "Updating an
   * attribute value on either of the attributes automatically updates the other attribute"
   * (attribute-types-record-reference, relationship attributes). `team` lists the company's people in
   * the order they were created (the order Attio uses is not documented).
   */
  private reflectTeam(obj: ObjectModel, companyIds: Array<string | null>): void {
    const team = this.findAttribute(this.companies, 'team');
    const company = this.findAttribute(this.people, 'company');
    if (obj !== this.people || !team || !company) return;
    for (const id of new Set(companyIds)) {
      const record = id === null ? undefined : this.companies.byId.get(id);
      if (!record) continue;
      const members = this.people.records
        .filter((p) => this.companyOf(this.people, p) === id)
        .map((p): RecordRef => ({ target_object: 'people', target_record_id: p.record_id }));
      this.commit(record, new Map([[team, members]]), SYSTEM_ACTOR);
    }
  }

  /** Adds a new record to its object: its list (creation order) and the index by id. */
  private addRecord(obj: ObjectModel, record: StoredRecord): void {
    obj.records.push(record);
    obj.byId.set(record.record_id, record);
  }

  /**
   * Deletes a record. A deleted company is also dropped from every person's `company`, so no value
   * points at a record that is gone: inferred, the docs do not say what becomes of references to a
   * deleted record.
   */
  private removeRecord(obj: ObjectModel, record: StoredRecord): void {
    const company = this.companyOf(obj, record);
    obj.records.splice(obj.records.indexOf(record), 1);
    obj.byId.delete(record.record_id);
    if (obj === this.people) this.reflectTeam(obj, [company]);
    const attr = this.findAttribute(this.people, 'company');
    if (obj === this.companies && attr) {
      for (const p of this.people.records) if (this.companyOf(this.people, p) === record.record_id) p.values.set(attr.attribute_id, []);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Filters and sorts
  // -------------------------------------------------------------------------------------------

  private compileFilter(obj: ObjectModel, node: unknown, path: string[]): (r: StoredRecord) => boolean {
    if (!isPlainObject(node)) throw filterError('A filter must be an object.', path);
    const parts: Array<(r: StoredRecord) => boolean> = [];
    for (const [key, value] of Object.entries(node)) {
      const at = [...path, key];
      if (key === '$and' || key === '$or') {
        if (!Array.isArray(value)) throw filterError(`"${key}" expects an array of filters.`, at);
        const subs = value.map((v, i) => this.compileFilter(obj, v, [...at, String(i)]));
        parts.push(key === '$and' ? (r) => subs.every((s) => s(r)) : (r) => subs.some((s) => s(r)));
      } else if (key === '$not') {
        const sub = this.compileFilter(obj, value, at);
        parts.push((r) => !sub(r));
      } else if (key.startsWith('$')) {
        throw filterError(`Unknown logical operator "${key}".`, at);
      } else if (key === 'record_id') {
        parts.push(compileRecordIdCondition(value, at));
      } else {
        const attr = this.findAttribute(obj, key);
        if (!attr || attr.is_archived) {
          throw badRequest('unknown_filter_attribute_slug', `Unknown attribute slug: ${key}.`, { path: at });
        }
        parts.push(compileAttributeCondition(attr, value, at));
      }
    }
    return (r) => parts.every((p) => p(r));
  }

  private compileSorts(obj: ObjectModel, sorts: unknown): (a: StoredRecord, b: StoredRecord) => number {
    if (!Array.isArray(sorts)) throw validation('"sorts" must be an array.', ['sorts']);
    const comparators = sorts.map((s, i) => {
      const at = ['sorts', String(i)];
      if (!isPlainObject(s)) throw validation('Each sort must be an object.', at);
      if ('path' in s) throw validation('Sorting by "path" is not supported by this fake.', at);
      rejectUnknownKeys(s, ['direction', 'attribute', 'field'], at);
      if (s.direction !== 'asc' && s.direction !== 'desc') throw validation('"direction" must be "asc" or "desc".', [...at, 'direction']);
      if (typeof s.attribute !== 'string') throw validation('"attribute" must be a string.', [...at, 'attribute']);
      const attr = this.findAttribute(obj, s.attribute);
      if (!attr || attr.is_archived) throw validation(`Unknown sort attribute "${s.attribute}".`, [...at, 'attribute']);
      const fields = FIELDS[attr.type];
      const fieldName = s.field ?? DEFAULT_FIELD[attr.type];
      const field = typeof fieldName === 'string' ? fields[fieldName] : undefined;
      if (!field) throw validation(`Unknown field ${JSON.stringify(s.field)} for attribute "${attr.api_slug}".`, [...at, 'field']);
      const sign = s.direction === 'asc' ? 1 : -1;
      const keyOf = (r: StoredRecord) => {
        const first = r.values.get(attr.attribute_id)?.[0];
        return first === undefined ? undefined : field.get(attr, first.v);
      };
      return (a: StoredRecord, b: StoredRecord) => {
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
    const obj = a.object === 'people' ? this.people : this.companies;
    if (obj.attrs.some((x) => x.api_slug === a.api_slug)) throw new Error(`fake-attio: attribute "${a.api_slug}" already exists`);
    if (a.options && a.type !== 'select') throw new Error('fake-attio: options are only for select attributes');
    const attr = this.newAttribute(obj, {
      api_slug: a.api_slug,
      title: a.title ?? a.api_slug,
      type: a.type,
      is_unique: a.is_unique ?? false,
      is_multiselect: a.is_multiselect ?? false,
      is_archived: a.is_archived ?? false,
      currency: a.type === 'currency' ? { code: a.currency ?? 'USD', display_type: 'symbol' } : null,
    });
    attr.options = (a.options ?? []).map((title) => ({ option_id: randomUUID(), title, is_archived: false }));
    obj.attrs.push(attr);
  }

  /** Deletes the option of a companies attribute; records holding it lose that value. */
  private helperRemoveOption(attribute: string, title: string): void {
    const attr = this.findAttribute(this.companies, attribute);
    if (!attr || attr.type !== 'select') throw new Error(`fake-attio: no select attribute "${attribute}"`);
    const option = attr.options.find((o) => o.title === title);
    if (!option) throw new Error(`fake-attio: attribute "${attribute}" has no option "${title}"`);
    attr.options = attr.options.filter((o) => o !== option);
    for (const r of this.companies.records) {
      const vals = r.values.get(attr.attribute_id);
      if (vals) r.values.set(attr.attribute_id, vals.filter((sv) => sv.v !== option.option_id));
    }
  }

  private helperArchiveOption(attribute: string, title: string): void {
    const attr = this.findAttribute(this.companies, attribute);
    const option = attr?.options.find((o) => o.title === title);
    if (!option) throw new Error(`fake-attio: attribute "${attribute}" has no option "${title}"`);
    option.is_archived = true;
  }

  private requireHelperRecord(obj: ObjectModel, recordId: string): StoredRecord {
    const record = obj.byId.get(recordId);
    if (!record) throw new Error(`fake-attio: no ${obj.noun} ${recordId}`);
    return record;
  }

  private helperAddCompany(values: Record<string, unknown>): string {
    const record: StoredRecord = { record_id: randomUUID(), created_at: nanoTime(), values: new Map() };
    this.commit(record, this.parseHelperValues(this.companies, values), { type: 'workspace-member', id: MEMBER_ID });
    this.addRecord(this.companies, record);
    return record.record_id;
  }

  private helperSetCompanyValues(recordId: string, values: Record<string, unknown>): void {
    const record = this.requireHelperRecord(this.companies, recordId);
    this.commit(record, this.parseHelperValues(this.companies, values), { type: 'workspace-member', id: MEMBER_ID });
  }

  private helperAddPerson(values: Record<string, unknown>): string {
    const parsed = this.parseHelperValues(this.people, values);
    const record: StoredRecord = { record_id: randomUUID(), created_at: nanoTime(), values: new Map() };
    this.commit(record, parsed, { type: 'workspace-member', id: MEMBER_ID });
    this.addRecord(this.people, record);
    this.reflectTeam(this.people, [this.companyOf(this.people, record)]);
    return record.record_id;
  }

  private helperSetPersonValues(recordId: string, values: Record<string, unknown>): void {
    const record = this.requireHelperRecord(this.people, recordId);
    const parsed = this.parseHelperValues(this.people, values);
    const before = this.companyOf(this.people, record);
    this.commit(record, parsed, { type: 'workspace-member', id: MEMBER_ID });
    this.reflectTeam(this.people, [before, this.companyOf(this.people, record)]);
  }

  private parseHelperValues(obj: ObjectModel, values: Record<string, unknown>): Map<Attribute, Stored[]> {
    const parsed = new Map<Attribute, Stored[]>();
    const ctx = this.parseContext(true);
    for (const [slug, raw] of Object.entries(values)) {
      const attr = this.findAttribute(obj, slug);
      if (!attr) throw new Error(`fake-attio: unknown attribute "${slug}"`);
      try {
        parsed.set(attr, parseInput(attr, raw, ctx));
      } catch (err) {
        throw err instanceof ApiError ? new Error(`fake-attio: ${err.message}`) : err;
      }
    }
    return parsed;
  }

  /** Every attribute's values, plain: select -> title, personal-name -> {first, last, full}, record-reference -> record id. */
  private plainValues(obj: ObjectModel, r: StoredRecord): Record<string, unknown> {
    const values: Record<string, unknown> = {};
    for (const attr of obj.attrs) {
      const plain = (r.values.get(attr.attribute_id) ?? []).map((sv) => {
        const v = sv.v;
        if (attr.type === 'select') return attr.options.find((o) => o.option_id === v)?.title ?? v;
        if (isRecordRef(v)) return v.target_record_id;
        if (isPersonalName(v)) return { first: v.first_name, last: v.last_name, full: v.full_name };
        return v;
      });
      values[attr.api_slug] = attr.is_multiselect ? plain : (plain[0] ?? null);
    }
    return values;
  }

  private plainCompany(r: StoredRecord): PlainCompany {
    return { record_id: r.record_id, values: this.plainValues(this.companies, r) };
  }

  private plainPerson(r: StoredRecord): PlainPerson {
    const values = this.plainValues(this.people, r);
    const emails = values.email_addresses;
    return {
      record_id: r.record_id,
      emails: Array.isArray(emails) ? (emails as string[]) : [],
      name: (values.name as PlainPerson['name'] | undefined) ?? null,
      company: (values.company as string | null | undefined) ?? null,
      values,
    };
  }

  // -------------------------------------------------------------------------------------------
  // Lookups and JSON shapes
  // -------------------------------------------------------------------------------------------

  /** The object by slug or ID (the spec's `object` path parameter: "A UUID or slug"). */
  private findObject(slugOrId: unknown): ObjectModel | undefined {
    return [this.companies, this.people].find((o) => o.slug === slugOrId || o.object_id === slugOrId);
  }

  private requireObject(target: string | undefined, identifier: string | undefined): ObjectModel {
    if (target === 'lists') throw notFound(`List with slug/ID "${identifier}" not found.`);
    const obj = target === 'objects' ? this.findObject(identifier) : undefined;
    if (!obj) throw notFound(`Object with slug/ID "${identifier}" not found.`);
    return obj;
  }

  private findAttribute(obj: ObjectModel, slugOrId: string | undefined): Attribute | undefined {
    return obj.attrs.find((a) => a.api_slug === slugOrId || a.attribute_id === slugOrId);
  }

  private requireAttribute(obj: ObjectModel, slugOrId: string | undefined): Attribute {
    const attr = this.findAttribute(obj, slugOrId);
    if (!attr) throw notFound(`Attribute with slug/ID "${slugOrId}" not found.`);
    return attr;
  }

  private requireRecord(obj: ObjectModel, recordId: string | undefined): StoredRecord {
    const record = recordId === undefined ? undefined : obj.byId.get(recordId);
    if (!record) throw notFound(`Record with ID "${recordId}" not found.`);
    return record;
  }

  private newAttribute(obj: ObjectModel, a: Partial<Attribute> & Pick<Attribute, 'api_slug' | 'title' | 'type'>): Attribute {
    return {
      attribute_id: randomUUID(),
      object_id: obj.object_id,
      description: null,
      is_system_attribute: false,
      is_required: false,
      is_unique: false,
      is_multiselect: false,
      is_archived: false,
      created_at: nanoTime(),
      currency: null,
      options: [],
      allowed_object: null,
      relationship: null,
      ...a,
    };
  }

  private attributeJson(a: Attribute) {
    const objectId = (slug: ObjectSlug) => (slug === 'people' ? PEOPLE_OBJECT_ID : OBJECT_ID);
    return {
      id: { workspace_id: WORKSPACE_ID, object_id: a.object_id, attribute_id: a.attribute_id },
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
      // "If the attribute is also a relationship attribute, the relationship property will be an
      // object containing an id property" naming the other attribute; otherwise null
      // (attribute-types-record-reference).
      relationship: a.relationship
        ? { id: { workspace_id: WORKSPACE_ID, object_id: objectId(a.relationship.object), attribute_id: a.relationship.attribute_id } }
        : null,
      created_at: a.created_at,
      config: {
        currency: { default_currency_code: a.currency?.code ?? null, display_type: a.currency?.display_type ?? null },
        // "allowed_object_ids which is an array of object IDs" (attribute-types-record-reference).
        record_reference: { allowed_object_ids: a.allowed_object ? [objectId(a.allowed_object)] : null },
      },
    };
  }

  private recordJson(obj: ObjectModel, r: StoredRecord) {
    const values: Record<string, unknown[]> = {};
    for (const attr of obj.attrs) {
      if (attr.is_archived) continue;
      values[attr.api_slug] = (r.values.get(attr.attribute_id) ?? []).map((sv) => valueJson(attr, sv, this.opts));
    }
    return {
      id: { workspace_id: WORKSPACE_ID, object_id: obj.object_id, record_id: r.record_id },
      created_at: r.created_at,
      web_url: `https://app.attio.com/fake-workspace/${obj.noun}/${r.record_id}`,
      values,
    };
  }
}

// ---------------------------------------------------------------------------------------------
// Value parsing (input) and rendering (output)
// ---------------------------------------------------------------------------------------------

interface ParseContext {
  /** Test helpers: a bare value for multiselect attributes, null/undefined as "empty", a record id for a reference. */
  lenient: boolean;
  /** Resolves one record-reference input (the server's resolveRef: it needs the records). */
  resolveRef(attr: Attribute, item: unknown): RecordRef;
}

/**
 * One attribute's raw input -> stored values. Per the spec, a value is an array; a bare single value
 * is accepted for single-value attributes only ("If writing to a multi-select attribute, you must wrap
 * your input values in an array": attribute-types-email-address, and the domain page). `[]` clears.
 */
function parseInput(attr: Attribute, raw: unknown, ctx: ParseContext): Stored[] {
  const lenient = ctx.lenient;
  if (attr.type === 'record-reference' && attr.allowed_object === 'people') {
    // Companies' `team` (with `companyTeam`): refused whole, `[]` too, so it cannot drift from people.
    throw notImplemented(`Writing the relationship attribute "${attr.api_slug}" (references to people) is not supported; write each person's "company" instead.`, ['data', 'values', attr.api_slug]);
  }
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
  const out: Stored[] = [];
  const seen = new Set<string>();
  for (const item of items) {
    const v = parseOne(attr, item, ctx);
    const key = uniqueKey(attr, v);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(v);
  }
  return out;
}

function parseOne(attr: Attribute, item: unknown, ctx: ParseContext): Stored {
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
    case 'checkbox': {
      // "you can use either the boolean values true/false or their string equivalents "true"/"false"",
      // raw or as {value} (docs.attio.com/docs/attribute-types/attribute-types-checkbox).
      const v = unwrap('value');
      if (v === 'true' || v === 'false') return v === 'true';
      if (typeof v !== 'boolean') throw invalid('true, false, "true", "false" or {value}');
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
    case 'email-address': {
      // "Email address values can be written by passing in a string of the email you would like to
      // write. We also support passing values with a single key, email_address" (attribute-types-
      // email-address). Stored as written: see isEmailAddress for what is refused and why.
      const v = unwrap('email_address');
      if (typeof v !== 'string' || !isEmailAddress(v)) {
        throw validation(`Invalid value was passed to attribute with slug "${slug}": ${JSON.stringify(v)} is not a valid email address.`, ['data', 'values', slug]);
      }
      return v;
    }
    case 'personal-name':
      return parsePersonalName(item, invalid);
    case 'record-reference':
      return ctx.resolveRef(attr, item);
    case 'phone-number':
    case 'location':
      // Documented (attribute-types-phone-number, attribute-types-location) but not modelled: the sync
      // never writes them, and a half-checked write would be worse than a refusal.
      throw notImplemented(`Writing ${attr.type} values (attribute "${slug}") is not supported.`, ['data', 'values', slug]);
  }
}

/**
 * (Personal) name input (docs.attio.com/docs/attribute-types/attribute-types-personal-name, "Writing
 * values"): "When writing values using the object syntax, all three properties must be set" (the
 * spec types them as strings; extra keys and non-strings are refused, null too: null is not "set").
 * "When writing using a string, the string must match format 'Last name(s), First name(s)'. Text
 * without a comma is interpreted as solely comprising the first name. Further commas will be ignored
 * and assumed to be part of the first name." What full_name becomes for the string syntax is not
 * documented: the fake makes it "First Last" (the order of the docs' example "John Smith"), and trims
 * the spaces around each part (also not documented).
 */
function parsePersonalName(item: unknown, invalid: (expected: string) => ApiError): PersonalName {
  if (typeof item === 'string') {
    const comma = item.indexOf(',');
    const last = comma < 0 ? '' : item.slice(0, comma).trim();
    const first = (comma < 0 ? item : item.slice(comma + 1)).trim();
    return { first_name: first, last_name: last, full_name: [first, last].filter((p) => p !== '').join(' ') };
  }
  const keys = ['first_name', 'last_name', 'full_name'];
  if (!isPlainObject(item) || Object.keys(item).some((k) => !keys.includes(k)) || keys.some((k) => typeof item[k] !== 'string')) {
    throw invalid('"Last, First" or {first_name, last_name, full_name} with all three set to strings');
  }
  return { first_name: item.first_name as string, last_name: item.last_name as string, full_name: item.full_name as string };
}

function valueJson(attr: Attribute, sv: StoredValue, opts: Pick<FakeAttioOptions, 'currencyValuesAsStrings'>): Record<string, unknown> {
  const base = { active_from: sv.active_from, active_until: null, created_by_actor: sv.actor, attribute_type: attr.type };
  switch (attr.type) {
    case 'text':
    case 'number':
    case 'date':
    case 'checkbox': // "you'll get the true property back, otherwise it will be false" (attribute-types-checkbox)
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
    case 'email-address': {
      // The five properties of attribute-types-email-address ("Reading values"). `email_address` is
      // "the normalized form": what normalising does is not documented (the docs' examples are all
      // lower case already), so the fake normalises nothing and both forms are the address as written;
      // a client compares addresses case-insensitively itself.
      const address = String(sv.v);
      const { local, domain } = emailParts(address);
      return {
        ...base,
        email_address: address,
        original_email_address: address,
        email_domain: domain,
        email_root_domain: emailRootDomain(domain),
        email_local_specifier: local,
      };
    }
    case 'personal-name': {
      const n = sv.v as PersonalName;
      return { ...base, first_name: n.first_name, last_name: n.last_name, full_name: n.full_name };
    }
    case 'record-reference': {
      // "Responses always return the resolved record as target_object and target_record_id"
      // (linking-referenced-records); target_object is the object's api_slug (record-reference page).
      const ref = sv.v as RecordRef;
      return { ...base, target_object: ref.target_object, target_record_id: ref.target_record_id };
    }
    case 'phone-number':
    case 'location':
      throw new Error(`fake-attio: ${attr.type} values are never stored`);
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

/**
 * Identity of a value for uniqueness, matching and de-duplication. Email addresses compare exactly,
 * as written: whether Attio treats "Ann@x.com" and "ann@x.com" as one address (for uniqueness and for
 * assert matching) is not documented, and the fake normalises nothing (see valueJson).
 */
function uniqueKey(attr: Attribute, v: Stored): string {
  if (isPersonalName(v)) return `name:${JSON.stringify([v.first_name, v.last_name, v.full_name])}`;
  if (isRecordRef(v)) return `ref:${v.target_object}:${v.target_record_id}`;
  return attr.type === 'domain' ? String(v).toLowerCase() : `${typeof v}:${v}`;
}

function isPersonalName(v: unknown): v is PersonalName {
  return isPlainObject(v) && typeof v.full_name === 'string';
}

function isRecordRef(v: unknown): v is RecordRef {
  return isPlainObject(v) && typeof v.target_record_id === 'string';
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * "We strictly validate that email addresses have valid domain and local part formats"
 * (attribute-types-email-address, "Writing values"). The formats are not spelled out, so the fake
 * takes the standard ones, strictly: a local part that is an RFC 5322 dot-atom (3.2.3: atext
 * characters, dots only between them) of at most 64 characters (RFC 5321 4.5.3.1.1), one "@", and a
 * domain part that is an internet domain name by the same rule as the domains attribute
 * (isDomainName), 254 characters in all (RFC 5321 4.5.3.1.3 less the brackets). Quoted local parts,
 * comments, IP-literal domains, spaces (so no trimming) and non-ASCII addresses (RFC 6531) are
 * refused: whether Attio takes them is not documented.
 */
function isEmailAddress(s: string): boolean {
  if (s.length > 254) return false;
  const at = s.lastIndexOf('@');
  if (at <= 0) return false;
  const local = s.slice(0, at);
  const atext = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+";
  return local.length <= 64 && new RegExp(`^${atext}(?:\\.${atext})*$`).test(local) && isDomainName(s.slice(at + 1).toLowerCase());
}

function emailParts(address: string): { local: string; domain: string } {
  const at = address.lastIndexOf('@');
  return { local: address.slice(0, at), domain: address.slice(at + 1) };
}

/** The root domain of an email's domain part, in the case it was written (rootDomain's rule). */
function emailRootDomain(domain: string): string {
  const labels = rootDomain(domain.toLowerCase()).split('.').length;
  return domain.split('.').slice(-labels).join('.');
}

/**
 * Email domains of mailbox providers, whose users get no automatic company (see autoCompanyFor).
 * Inferred: no Attio doc lists them or says they are skipped.
 */
const PERSONAL_EMAIL_DOMAINS: ReadonlySet<string> = new Set([
  'gmail.com', 'googlemail.com', 'yahoo.com', 'yahoo.co.uk', 'ymail.com', 'hotmail.com', 'hotmail.co.uk', 'outlook.com',
  'live.com', 'msn.com', 'icloud.com', 'me.com', 'mac.com', 'aol.com', 'proton.me', 'protonmail.com', 'gmx.com', 'gmx.de',
  'web.de', 'mail.com', 'yandex.ru', 'mail.ru', 'qq.com', '163.com', 'zoho.com', 'fastmail.com', 'hey.com',
]);

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
  return isDomainName(d) ? d : null;
}

/** The rule of normaliseDomain for what is left: a lower-case internet domain name. */
function isDomainName(d: string): boolean {
  const label = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
  const ok = new RegExp(`^(?:${label}\\.)+(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$`).test(d);
  return ok && d.length <= 253;
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
// - email-address: "filtered by the email_address, email_domain, email_root_domain and
//   email_local_specifier properties", operators "$eq for an exact match" and "$contains,
//   $starts_with and $ends_with"; "In implicit mode, the email_address property is checked for
//   equality" (docs.attio.com/docs/attribute-types/attribute-types-email-address). So no $in, no
//   $not_empty, no original_email_address. $eq is exact: case counts (see uniqueKey).
// - personal-name: "You can filter by any of the properties [first_name, last_name, full_name],
//   using these operators: $eq, $not_empty, $contains, $starts_with, $ends_with"; "Using the
//   implicit filter syntax, you can search for exact matches of full_name"
//   (docs.attio.com/docs/attribute-types/attribute-types-personal-name). $not_empty sits on a
//   property there ("where last_name is specified").
// - record-reference: "filtered by target_object and target_record_id using exact equality
//   matches"; "record reference values also support the $in operator" on target_record_id
//   (docs.attio.com/docs/attribute-types/attribute-types-record-reference). No shorthand form is
//   documented, so `{"company": "<id>"}` is refused; "paths" (drill-down filters) are not
//   implemented by this fake (refused as an unknown attribute "path").
// - phone-number and location: not modelled (never stored), so every filter on them is refused.

type FieldKind = 'string' | 'domain' | 'number' | 'currency' | 'date' | 'option' | 'email' | 'name' | 'ref_object' | 'ref_id';
interface Field {
  kind: FieldKind;
  /** The comparable value of a stored scalar (option title for selects). */
  get(attr: Attribute, v: Stored): string | number;
}

const plainField = (kind: FieldKind): Field => ({ kind, get: (_a, v) => v as string | number });
const emailField = (part: (address: string) => string): Field => ({ kind: 'email', get: (_a, v) => part(String(v)) });
const nameField = (part: keyof PersonalName): Field => ({ kind: 'name', get: (_a, v) => (v as PersonalName)[part] });
const FIELDS: Record<AttributeType, Record<string, Field>> = {
  text: { value: plainField('string') },
  number: { value: plainField('number') },
  checkbox: {}, // filtered by $eq on true/false (attribute-types-checkbox): the sync never filters on one, so not served
  date: { value: plainField('date') },
  currency: { currency_value: plainField('currency') },
  select: { option: { kind: 'option', get: (a, v) => a.options.find((o) => o.option_id === v)?.title ?? '' } },
  domain: { domain: plainField('domain'), root_domain: { kind: 'domain', get: (_a, v) => rootDomain(String(v)) } },
  'email-address': {
    email_address: emailField((a) => a),
    email_domain: emailField((a) => emailParts(a).domain),
    email_root_domain: emailField((a) => emailRootDomain(emailParts(a).domain)),
    email_local_specifier: emailField((a) => emailParts(a).local),
  },
  'personal-name': { first_name: nameField('first_name'), last_name: nameField('last_name'), full_name: nameField('full_name') },
  'record-reference': {
    target_object: { kind: 'ref_object', get: (_a, v) => (v as RecordRef).target_object },
    target_record_id: { kind: 'ref_id', get: (_a, v) => (v as RecordRef).target_record_id },
  },
  'phone-number': {},
  location: {},
};
/** The property shorthand and attribute-level operators use; none: no shorthand is documented. */
const DEFAULT_FIELD: Partial<Record<AttributeType, string>> = {
  text: 'value', number: 'value', date: 'value', currency: 'currency_value', select: 'option', domain: 'domain',
  'email-address': 'email_address', 'personal-name': 'full_name',
};
const OPERATORS: Record<FieldKind, string[]> = {
  string: ['$eq', '$in', '$contains', '$starts_with', '$ends_with'], // attribute-types-text
  domain: ['$eq', '$contains', '$starts_with', '$ends_with'], // attribute-types-domain ($not_empty: attribute level)
  number: ['$eq', '$gt', '$gte', '$lt', '$lte'], // attribute-types-number
  currency: ['$eq', '$gt', '$gte', '$lt', '$lte'], // attribute-types-currency
  date: ['$eq', '$gt', '$gte', '$lt', '$lte'], // attribute-types-date
  option: ['$eq'], // attribute-types-select: equality only
  email: ['$eq', '$contains', '$starts_with', '$ends_with'], // attribute-types-email-address
  name: ['$eq', '$not_empty', '$contains', '$starts_with', '$ends_with'], // attribute-types-personal-name
  ref_object: ['$eq'], // attribute-types-record-reference: exact equality
  ref_id: ['$eq', '$in'], // attribute-types-record-reference: exact equality and $in
};
/** Attribute types that take `{slug: {$not_empty: boolean}}` (filtering guide: its example is `domains`). */
const NOT_EMPTY_TYPES: ReadonlySet<AttributeType> = new Set(['domain']);

/**
 * `{slug: primitive}` (shorthand $eq on the default field), `{slug: {$op: x, ...}}` (operators on the
 * default field, plus `$not_empty` on domain attributes), or `{slug: {field: primitive | {$op: x}}}`
 * (verbose).
 */
function compileAttributeCondition(attr: Attribute, cond: unknown, path: string[]): (r: StoredRecord) => boolean {
  const fields = FIELDS[attr.type];
  const defaultName = DEFAULT_FIELD[attr.type];
  const valuesOf = (r: StoredRecord) => r.values.get(attr.attribute_id) ?? [];
  const defaultField = (at: string[]): Field => {
    const field = defaultName === undefined ? undefined : fields[defaultName];
    if (!field) throw filterError(`Attribute "${attr.api_slug}" of type ${attr.type} has no shorthand filter: name the property (${Object.keys(fields).join(', ') || 'none is filterable'}).`, at);
    return field;
  };
  if (isPrimitive(cond)) return compileOperator(attr, defaultField(path), '$eq', cond, path, valuesOf);
  if (!isPlainObject(cond) || Object.keys(cond).length === 0) {
    throw filterError(`Invalid condition for attribute "${attr.api_slug}".`, path);
  }
  const parts: Array<(r: StoredRecord) => boolean> = [];
  for (const [key, operand] of Object.entries(cond)) {
    const at = [...path, key];
    if (key === '$not_empty') {
      if (!NOT_EMPTY_TYPES.has(attr.type)) {
        throw filterError(`Operator "$not_empty" is not supported for attribute "${attr.api_slug}" of type ${attr.type}.`, at);
      }
      if (typeof operand !== 'boolean') throw filterError('"$not_empty" expects a boolean.', at);
      parts.push((r) => (valuesOf(r).length > 0) === operand);
    } else if (key.startsWith('$')) {
      parts.push(compileOperator(attr, defaultField(at), key, operand, at, valuesOf));
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
  valuesOf: (r: StoredRecord) => StoredValue[],
): (r: StoredRecord) => boolean {
  if (!OPERATORS[field.kind].includes(op)) {
    throw filterError(`Operator "${op}" is not supported for attribute "${attr.api_slug}" of type ${attr.type}.`, path);
  }
  if (op === '$not_empty') {
    // personal-name properties: "...where last_name is specified" (attribute-types-personal-name).
    if (typeof operand !== 'boolean') throw filterError('"$not_empty" expects a boolean.', path);
    return (r) => valuesOf(r).some((sv) => String(field.get(attr, sv.v)) !== '') === operand;
  }
  const operands = op === '$in' ? operand : [operand];
  if (!Array.isArray(operands)) throw filterError('"$in" expects an array.', path);
  const wanted = operands.map((x) => checkOperand(attr, field.kind, x, path));
  const wantedLower = wanted.map((w) => String(w).toLowerCase());
  const test = (have: string | number): boolean => {
    const h = field.kind === 'domain' ? String(have).toLowerCase() : have;
    const hLower = op === '$contains' ? String(h).toLowerCase() : '';
    return wanted.some((w, i) => {
      switch (op) {
        case '$eq':
        case '$in':
          return h === w;
        case '$contains':
          // "$contains can be used for matching parts of a string, case-insensitively" (filtering guide).
          return hLower.includes(wantedLower[i]!);
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
    case 'ref_object':
      // target_object by slug; an object ID is taken too, as everywhere else the object is named.
      if (typeof x !== 'string') throw fail('a string');
      return x === OBJECT_ID ? 'companies' : x === PEOPLE_OBJECT_ID ? 'people' : x;
    case 'string':
    case 'option':
    case 'email':
    case 'name':
    case 'ref_id':
      if (typeof x !== 'string') throw fail('a string');
      return x;
  }
}

function compileRecordIdCondition(cond: unknown, path: string[]): (r: StoredRecord) => boolean {
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
