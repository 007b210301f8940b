#!/usr/bin/env -S npx tsx
/**
 * Stripe -> Attio sync: one self-contained file.
 *
 *   npx tsx sync.ts --setup      create the Attio attributes this sync writes (safe to repeat)
 *   npx tsx sync.ts --dry-run    read everything, print the plan, write nothing
 *   npx tsx sync.ts              sync every customer with revenue or a subscription
 *   npx tsx sync.ts --only cus_X sync one customer
 *   npx tsx sync.ts --changes-since 3h   only the customers Stripe's events name in the last 3 hours
 *
 * HOW TO COPY. This file is also a template for syncing any source into Attio. It reads in the
 * order a copier needs it:
 *
 *   CONTRACT   what main needs of a source and a target: `Source`, `Target`, `DesiredRecord`, ...
 *   CORE 1-6   never edited, naming no source: configuration and CLI, retry and pacing, a parallel
 *              lister for any list with a `created` filter, company helpers (domain, name), the
 *              Attio sink (preflight, setup, load, plan, write), the run and its report
 *   the line   // ---- replace everything below this line ----
 *   SOURCE     Stripe: settings and flags, its listings and events, revenue and MRR arithmetic,
 *              mapping, and the attributes it writes (companies, then the billing contacts as people)
 *   SYNC       `SYNC = { source, target, moreTargets }`, what main runs, and the entry point
 *
 * To sync something else, delete everything below the marker line and write there a `Source`, a
 * `Target`, `const SYNC: Sync<Settings, Data> = { source, target };` and the entry point
 * `if (invokedDirectly) runCommandLine(SYNC);` (test/accounts-source.ts is a whole one in 40 lines).
 * The core gives it every flag but its own, the plan against Attio, creates that never happen
 * twice, retries, pacing, the audit log, the job summary and the exit codes. README "Make your own
 * sync from this template" lists the other files a copy edits.
 */
import { appendFileSync, closeSync, existsSync, openSync, statSync, unlinkSync } from 'node:fs';
import { domainToASCII, domainToUnicode, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import dotenv from 'dotenv';

// ================================================================================================
// CONTRACT: what main needs of a source and a target
// ================================================================================================

/** A value as the plan compares and writes it: one plain value per attribute (null clears it). */
export type PlainValue = string | number | boolean | null;

/** An attribute the target needs on its object: checked by preflight, created by --setup. */
export interface AttributeSpec {
  /** Its api_slug: the name values are written and read by. */
  slug: string;
  /** The title --setup gives it, as people see it in Attio. */
  title: string;
  /** The description --setup gives it: say which sync writes it, so nobody edits it by hand. */
  description?: string;
  /** Its Attio type: preflight refuses an attribute of another type, since its values would not fit. */
  type: 'text' | 'number' | 'currency' | 'date' | 'select' | 'checkbox' | 'domain' | 'email-address' | 'personal-name' | 'record-reference';
  /** A select's options: --setup adds or restores those missing, so every value has an option. */
  options?: string[];
  /** A record-reference's object: values are record ids of that object. */
  refersTo?: string;
  /** A standard attribute of the object: checked, never created. */
  standard?: boolean;
}

/** A record of an earlier target, by its key (a person's company, by the customer id): the core puts in that record's id. */
export interface RecordRef {
  object: string;
  key: string;
}

/** One record the source wants in Attio. */
export interface DesiredRecord {
  /** The value of the matching attribute: one record per key (Attio may or may not enforce it). */
  key: string;
  /** Values the sync owns: written whenever they differ. Includes the matching attribute. */
  values: Record<string, PlainValue>;
  /** Values written only when the sync creates the record (a company's name and domains), never after. */
  onCreate: Record<string, PlainValue>;
  /**
   * References written only while the record has none (a person's company): a value a person chose
   * is never replaced, and one that differs is reported. A new record whose reference points at a
   * record not written (failed, a conflict) waits: it is created by a later run, once that one is.
   */
  ifEmpty?: Record<string, RecordRef>;
  /** The value an existing, unlinked record is found by (see `linkBy`: a company's domain), or null. */
  linkValue: string | null;
  /**
   * Where the source says the record belongs, instead of `linkValue`: an exact record, or another
   * value to find it by. A hint that points nowhere, or at another key's record, is reported.
   * `label` names the hint in messages (where the user set it).
   */
  hint?: { recordId: string; label: string } | { linkValue: string; label: string };
  /** A reason the source already knows this record cannot be placed (a malformed hint): reported. */
  problem?: string;
  /** How to tell the source where the record belongs (`hint`), added to the conflicts a hint resolves: "set … in its metadata". */
  howToPlace?: string;
  /** Orders claims on a shared domain or record (older first), so every run picks the same winner. */
  claimOrder: string;
}

/** What the core hands a source while reading: how to retry and pace, and where to report progress. */
export interface ReadContext {
  /** The run's one retry policy: every retry is counted and shown. */
  policy: RetryPolicy;
  /** How long one request may take before it counts as lost (and is retried). */
  timeoutMs: number;
  /** The run's clock: the tests move it. */
  now: () => number;
  /** --only: one key, or null for everything. The core writes only that key whatever the source returns; reading less is the source's choice. */
  only: string | null;
  /** Pacing overrides (the tests turn pacing off); the source's own limits otherwise. */
  limits?: Record<string, number>;
  /** A line saying how far reading has got; shown at most a few times a second. */
  progress: (line: string) => void;
}

/** What the target tells the source before it maps: what is already in Attio. */
export interface TargetState {
  /** The currency of the target's currency attributes (null: none has one), a fact of the workspace. */
  currency: string | null;
  /** The keys records already hold (trimmed): a source can tell whether they are its own. */
  linkedKeys: ReadonlySet<string>;
  /**
   * A partial run's (SourceSettings.partial) look at the rest: up to 10 keys of other linked records,
   * so a source can check that it reads the account they came from. Empty in a full run.
   */
  otherKeys: readonly string[];
}

/** The source's records for the target, with what the run should say, or why it must not write. */
export interface SourcePlan {
  /** One per key; with --only the core keeps that key's alone. */
  records: DesiredRecord[];
  /** What was left out and why, for the output and the job summary. */
  notes: string[];
  /** Totals to check against the source itself (null: not a full run). */
  totals: string | null;
  /** Records for the targets after the first (`Sync.moreTargets`), by their object. */
  laterRecords?: Record<string, DesiredRecord[]>;
  /** Lists for people to act on, at the end of the output and in the job summary ("needs attention"). */
  attention?: AttentionList[];
  /** A reason to write nothing at all (exit 2), e.g. a key for another account. */
  stop: string | null;
}

/** A list of records that need a person, e.g. failed payments: at most `limit` rows shown, the total always. */
export interface AttentionList {
  title: string;
  columns: string[];
  /** Each row's cells, in `columns` order; a cell may be a link (`{ text, url }`). */
  rows: Array<Array<string | { text: string; url: string }>>;
  /** The whole list in one line ("3 customers, 1,200.00 USD MRR at stake"). */
  total: string;
}

/** A flag a source adds to the core's: parsed with them, and shown in --help with them. */
export interface SourceFlag {
  type: 'boolean' | 'string';
  /** A string flag's value in the synopsis (`--since DATE`). */
  value?: string;
  /** Its text in --help, one line per line. */
  help: string;
}

/** The source's part of the configuration: its settings, or the problems with them, and its secrets. */
export interface SourceSettings<Settings> {
  /** Whatever `read` and `map` need. */
  settings: Settings;
  /** Every problem at once, each naming the variable or flag and the fix: the run stops with exit 2. */
  problems: string[];
  /** Values never to be printed: scrubbed from every line of output. */
  secrets: string[];
  /**
   * The run covers only the keys `read` names (an incremental run: the records changed lately):
   * the core loads only the records holding them, once reading is done, and writes no other.
   */
  partial?: boolean;
}

/**
 * Everything main knows of a source: to sync something else into Attio, write an object of this
 * shape (test/template.test.ts has one in 40 lines) and a `Target`, and put both in SYNC.
 */
export interface Source<Settings, Data> {
  /** Its name in messages, and the `service` of its ApiErrors. */
  name: string;
  /** Its lines for --help: the environment variables it takes, and what --only takes. */
  usage: string;
  /** Its own flags, beyond the core's (none if absent). */
  flags?: Record<string, SourceFlag>;
  /** The variable holding its key: named when the key is rejected. */
  keyVariable: string;
  /** Text shaped like one of its secrets, scrubbed from all output even when masked. */
  secretShape?: RegExp;
  /** Reads its settings from the environment and its flags: problems name each variable and the fix. */
  configure(env: Record<string, string | undefined>, only: string | null, flags: Record<string, string | boolean | undefined>): SourceSettings<Settings>;
  /**
   * Reads everything (or, for a partial run, what changed), while Attio is checked. `summary` ends up
   * in "Read <summary> and …"; `requests` in the requests line; `keys`: the keys a partial run covers.
   */
  read(settings: Settings, context: ReadContext): Promise<{ data: Data; summary: string; requests: number; keys?: string[] }>;
  /** The records to write, once the target is known. A plain Error thrown here or in `read` is reported in one line. */
  map(settings: Settings, data: Data, target: TargetState, context: ReadContext): Promise<SourcePlan>;
}

/** Where records go: the Attio object, its attributes, the key attribute, and how unlinked records are found. */
export interface Target {
  /** The Attio object's slug (companies, people, or a custom object). */
  object: string;
  /** Every attribute written, the key's too: preflight checks them all before anything is read. */
  specs: readonly AttributeSpec[];
  /**
   * The attribute holding the source's key. With a `prefix` (every key starts with it), an owned one:
   * every record holding a key like it is loaded. Without, a standard unique one (people's
   * `email_addresses`): only the records holding the keys the source has are loaded, and a key
   * matches whatever its case (email addresses).
   */
  key: { slug: string; prefix?: string };
  /**
   * The unique attribute an unlinked record is found by, and the property its filter compares
   * (companies: `domains`, `domain`; people: `email_addresses`, `email_address`); null: never link.
   */
  linkBy: { slug: string; property: string } | null;
  /** An environment variable that turns this target off (`off`, `false`, `no` or `0`); named in --help. */
  switchedBy?: string;
}

/** What main runs: a source, and the target its records go to (SYNC, below the marker line). */
export interface Sync<Settings = unknown, Data = unknown> {
  source: Source<Settings, Data>;
  /** The first target: its key has a `prefix` (its linked records are loaded while the source is read). */
  target: Target;
  /**
   * Targets written after `target`, in order, each from `SourcePlan.laterRecords` (Stripe: people,
   * after the companies their `ifEmpty` references point at).
   */
  moreTargets?: readonly Target[];
}

// ================================================================================================
// CORE 1. CONFIGURATION AND CLI
// Everything below, down to the marker line, is the core: a copy keeps it as it is.
// ================================================================================================

/**
 * Attio's rate limits are 100 reads/s and 25 writes/s per workspace (docs: rate limiting); the sync
 * stays just below, so a healthy run sees almost no 429s. Lower them if something else uses the key.
 * `pageSize`: records per query page, the records query's default `limit` (spec).
 */
export const ATTIO_LIMITS = { readsPerSecond: 90, writesPerSecond: 24, concurrency: 12, pageSize: 500 };

/** Retry policy shared by every request: transient answers are retried with backoff. */
export const RETRY = {
  retries: 5,
  baseDelayMs: 1000,
  requestTimeoutMs: 30_000,
};

/** The codes Attio's currency attributes accept: `default_currency_code` in Attio's OpenAPI spec. */
const ATTIO_CURRENCY_CODES = 'ARS AUD BRL BEL CAD CLP CNY COP CZK DKK EUR HKD ISK INR ILS JPY KRW MYR MXN NTD NZD NGN NOK XPF PEN PHP PLN GBP RWF SAR SGD ZAR SEK CHF AED UYU USD'.split(' ');

const DEFAULT_ATTIO_API_URL = 'https://api.attio.com/v2';

/** The flags every sync takes, as `parseArgs` reads them; the source adds its own (`Source.flags`). */
const CORE_FLAGS = {
  'dry-run': { type: 'boolean' },
  setup: { type: 'boolean' },
  only: { type: 'string' },
  'max-minutes': { type: 'string' },
  'audit-log': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;
/** Taken only where the target has currency attributes: their currency is a fact of Attio, set by --setup. */
const CURRENCY_FLAG = { currency: { type: 'string' } } as const;

const CORE_FLAG_HELP = {
  dryRun: '  --dry-run          read everything, print the plan, write nothing (also DRY_RUN=1)',
  setup: '  --setup            create the missing Attio attributes and select options, then stop',
  currency: '  --currency CODE    currency of the currency attributes that --setup creates (default USD)',
  rest: `  --only KEY         sync one record: its key in the source
  --max-minutes N    start no new write after N minutes; what is left is written by the next run
  --audit-log PATH   append a JSON line before and after each write (in a dry run, one per planned write) to PATH`,
};

const ENVIRONMENT = `Environment (a .env file is read when present):
  ATTIO_API_KEY      required: an Attio access token
  ATTIO_API_URL      default ${DEFAULT_ATTIO_API_URL}
  DRY_RUN            1 or true: same as --dry-run`;

const EXIT_CODES = `Exit codes: 0 all written (or left for the next run by --max-minutes), 1 some records failed,
2 configuration or preflight problem (nothing written), 143 (130) stopped by SIGTERM (SIGINT): the writes
under way finished, the rest is left for the next run.`;

interface Config<Settings = unknown> {
  attioKey: string;
  attioUrl: string;
  dryRun: boolean;
  setup: boolean;
  /** The currency --setup gives the target's currency attributes. */
  setupCurrency: string;
  only: string | null;
  maxMinutes: number | null;
  auditLog: string | null;
  /** Where the job summary goes: GITHUB_STEP_SUMMARY, set by GitHub Actions. */
  stepSummary: string | null;
  help: boolean;
  /** The source's settings (null for --help, or when no source is given). */
  source: SourceSettings<Settings> | null;
  /** The targets written, in order: the first, then the later ones not switched off (Target.switchedBy). */
  targets: Target[];
}

/** Thrown for anything the user must fix before a run can start: exit code 2. */
export class ConfigError extends Error {}

/** Whether the target has currency attributes, so --currency means something. */
function hasCurrency(target: Target | undefined): boolean {
  return target?.specs.some((spec) => spec.type === 'currency') ?? false;
}

/** The command line, with the source's flags and (for a target with currency attributes) --currency; a bad one shows the usage. */
function parseFlags(argv: string[], sync: Sync<unknown, unknown> | undefined): Record<string, string | boolean | undefined> {
  const sourceFlags = Object.fromEntries(Object.entries(sync?.source.flags ?? {}).map(([name, flag]) => [name, { type: flag.type }]));
  const options = { ...CORE_FLAGS, ...(hasCurrency(sync?.target) ? CURRENCY_FLAG : {}), ...sourceFlags };
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    throw new ConfigError(`${escapeText((error as Error).message)}\n\n${usageText(sync)}`);
  }
}

/**
 * Flags and environment, with the source's own settings (`configure`): every problem at once, each
 * naming the flag or variable and the fix.
 */
export function parseConfig<Settings = undefined>(argv: string[], env: Record<string, string | undefined>, sync?: Sync<Settings, unknown>): Config<Settings> {
  const flags = parseFlags(argv, sync);
  const none = { dryRun: false, setup: false, setupCurrency: 'USD', only: null, maxMinutes: null, auditLog: null, stepSummary: null };
  if (flags.help) return { ...none, attioKey: '', attioUrl: '', help: true, source: null, targets: [] };

  const text = (name: string) => flags[name] as string | undefined;
  const only = text('only') ?? null;
  const sourceFlags = Object.fromEntries(Object.keys(sync?.source.flags ?? {}).map((name) => [name, flags[name]]));
  const source = sync?.source.configure(env, only, sourceFlags) ?? null;
  const problems: string[] = [...(source?.problems ?? [])];
  const attioKey = (env.ATTIO_API_KEY ?? '').trim();
  if (!attioKey) problems.push('ATTIO_API_KEY is not set: create an access token in Attio (Workspace settings > Developers).');
  else if (/\s/.test(attioKey)) problems.push('ATTIO_API_KEY contains white space.');
  const attioUrl = parseUrl('ATTIO_API_URL', env.ATTIO_API_URL || DEFAULT_ATTIO_API_URL, problems);

  const dryRunEnv = (env.DRY_RUN ?? '').trim().toLowerCase();
  if (!['', '0', 'false', '1', 'true'].includes(dryRunEnv)) problems.push('DRY_RUN must be 1, true, 0 or false.');

  const setupCurrency = (text('currency') ?? none.setupCurrency).toUpperCase();
  if (!ATTIO_CURRENCY_CODES.includes(setupCurrency)) problems.push(unsupportedCurrency(text('currency') ?? ''));
  if (text('currency') !== undefined && !flags.setup) problems.push('--currency only applies with --setup.');
  if (only !== null && flags.setup) problems.push('--only cannot be combined with --setup.');
  const maxMinutes = text('max-minutes') === undefined ? null : Number(text('max-minutes'));
  if (maxMinutes !== null && !(maxMinutes > 0)) problems.push(`--max-minutes takes a number of minutes above 0, got "${escapeText(text('max-minutes')!)}".`);
  const auditLog = text('audit-log') || null;
  const stepSummary = env.GITHUB_STEP_SUMMARY || null;
  problems.push(...outputFileProblems(auditLog, stepSummary));
  const targets = sync ? [sync.target, ...(sync.moreTargets ?? []).filter((target) => switchedOn(target, env, problems))] : [];
  if (sync && sync.target.key.prefix === undefined) problems.push(`The first target's key (${sync.target.key.slug}) needs a prefix in sync.ts: its records are loaded by it.`);

  if (problems.length) throw new ConfigError(problems.join('\n'));
  const dryRun = flags['dry-run'] === true || dryRunEnv === '1' || dryRunEnv === 'true';
  return {
    attioKey,
    attioUrl: attioUrl!.href.replace(/\/+$/, ''),
    dryRun,
    setup: flags.setup === true,
    setupCurrency,
    only,
    maxMinutes,
    auditLog,
    stepSummary,
    help: false,
    source,
    targets,
  };
}

/** Whether a later target is written: on unless its variable (Target.switchedBy) says off. */
function switchedOn(target: Target, env: Record<string, string | undefined>, problems: string[]): boolean {
  if (!target.switchedBy) return true;
  const value = (env[target.switchedBy] ?? '').trim().toLowerCase();
  if (['off', 'false', 'no', '0'].includes(value)) return false;
  if (!['', 'on', 'true', 'yes', '1'].includes(value)) problems.push(`${target.switchedBy} must be on or off (whether ${target.object} are written), got "${escapeText(value)}".`);
  return true;
}

/** `--name VALUE` and its help, in the columns of the core's flags. */
function flagHelp(name: string, flag: SourceFlag): { synopsis: string; lines: string } {
  const synopsis = `--${name}${flag.value ? ` ${flag.value}` : ''}`;
  const [first, ...rest] = flag.help.split('\n');
  const indent = ' '.repeat(21);
  const head = synopsis.length <= 16 ? `  ${synopsis.padEnd(19)}${first}` : `  ${synopsis}\n${indent}${first}`;
  return { synopsis, lines: [head, ...rest.map((line) => `${indent}${line}`)].join('\n') };
}

/** --help: the core's flags and variables, the source's flags among them and its variables after them, and the exit codes. */
export function usageText(sync?: Sync<unknown, unknown>): string {
  const currency = hasCurrency(sync?.target);
  const own = Object.entries(sync?.source.flags ?? {}).map(([name, flag]) => flagHelp(name, flag));
  const synopsis = [
    '[--dry-run]',
    currency ? '[--setup [--currency USD]]' : '[--setup]',
    '[--only KEY] [--max-minutes N] [--audit-log PATH]',
    ...own.map((f) => `[${f.synopsis}]`),
    '[--help]',
  ].join(' ');
  const flags = [CORE_FLAG_HELP.dryRun, CORE_FLAG_HELP.setup, ...(currency ? [CORE_FLAG_HELP.currency] : []), CORE_FLAG_HELP.rest, ...own.map((f) => f.lines)];
  const switches = (sync?.moreTargets ?? []).flatMap((t) => (t.switchedBy ? [`  ${t.switchedBy.padEnd(19)}on (default) or off: whether ${t.object} are written too`] : []));
  const usage = `Usage: npx tsx sync.ts ${synopsis}\n\n${flags.join('\n')}\n  --help             this text\n\n${[ENVIRONMENT, ...switches].join('\n')}`;
  return sync ? `${usage}\n\n${sync.source.usage}\n\n${EXIT_CODES}` : `${usage}\n\n${EXIT_CODES}`;
}

function unsupportedCurrency(code: string): string {
  const upper = code.toUpperCase();
  const hint = upper === 'TWD' ? ' Attio calls the Taiwan dollar NTD: use --currency NTD.' : '';
  return `--currency ${escapeText(code)} is not a currency Attio's currency attributes support.${hint} Attio supports: ${ATTIO_CURRENCY_CODES.join(' ')}.`;
}

function parseUrl(name: string, value: string, problems: string[]): URL | undefined {
  try {
    const url = new URL(value);
    if (url.protocol === 'http:' || url.protocol === 'https:') return url;
  } catch {
    // reported below
  }
  problems.push(`${name} must be an http(s) URL, got "${escapeText(value)}".`);
  return undefined;
}

/** The output files, tried before any request: a bad path must not end a run half done. */
function outputFileProblems(auditLog: string | null, stepSummary: string | null): string[] {
  const problems: string[] = [];
  const auditLogProblem = auditLog && appendableProblem(auditLog);
  if (auditLogProblem) problems.push(`--audit-log ${escapeText(auditLog)} cannot be written: ${auditLogProblem}. Name a file in a folder that exists and can be written.`);
  const stepSummaryProblem = stepSummary && appendableProblem(stepSummary);
  if (stepSummaryProblem) problems.push(`GITHUB_STEP_SUMMARY ${escapeText(stepSummary)} cannot be written: ${stepSummaryProblem}. Unset it, or name a file that can be written.`);
  return problems;
}

/**
 * Why lines cannot be appended to `path`, or null when they can: it must be a file, or not exist
 * yet in a folder that does. Tried, not guessed from permissions (root, read-only file systems and
 * ACLs all answer differently): an existing file is opened to append and closed, a missing one is
 * created and removed again, so a run that writes nothing leaves nothing behind.
 */
export function appendableProblem(path: string): string | null {
  try {
    if (existsSync(path)) {
      if (statSync(path).isDirectory()) return 'it is a folder, not a file';
      closeSync(openSync(path, 'a'));
    } else {
      closeSync(openSync(path, 'ax'));
      unlinkSync(path);
    }
    return null;
  } catch (error) {
    return fileProblem(error);
  }
}

/** What a file system error says about the path, in words. */
function fileProblem(error: unknown): string {
  switch ((error as NodeJS.ErrnoException | undefined)?.code) {
    case 'ENOENT':
      return 'its folder does not exist';
    case 'ENOTDIR':
      return 'a part of the path is a file, not a folder';
    case 'EISDIR':
      return 'it is a folder, not a file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EROFS':
      return 'the file system is read-only';
    case 'ENOSPC':
      return 'the disk is full';
    default:
      return escapeText((error as Error | undefined)?.message ?? String(error));
  }
}

// ================================================================================================
// CORE 2. RETRY AND PACING (nothing here knows the source or Attio)
// ================================================================================================

/** An API answer or failure, normalised so one retry policy can judge both APIs. */
export class ApiError extends Error {
  readonly service: string;
  /** undefined: no HTTP answer (network error, timeout, cut body). */
  readonly status: number | undefined;
  readonly code: string | undefined;
  readonly retryAfterMs: number | undefined;
  constructor(fields: { service: string; message: string; status?: number; code?: string; retryAfterMs?: number; cause?: unknown }) {
    super(fields.message, fields.cause === undefined ? undefined : { cause: fields.cause });
    this.service = fields.service;
    this.status = fields.status;
    this.code = fields.code;
    this.retryAfterMs = fields.retryAfterMs;
  }
}

/**
 * What every API's retry policy retries: no answer at all, a 429 (the request was not processed) and
 * a 5xx. A client adds to this what its own API is known to answer transiently (Attio: a 401 under
 * load, see attioTransient); a 401 from any other API means the key is wrong and is not retried.
 */
export function isTransient(error: ApiError): boolean {
  return error.status === undefined || error.status === 429 || error.status >= 500;
}

/** The shortest wait a Retry-After date can ask for (see parseRetryAfter). */
const RETRY_AFTER_FLOOR_MS = 1000;

/**
 * `Retry-After` in either form: delay-seconds, or an HTTP date. A date has one-second resolution and
 * names the second in which the limit resets, so the wait runs to the end of that second; and it is
 * at least a second, because a local clock running ahead of the server's reads a date still to
 * come there as already past (0 ms), and every retry would go out at once, into the same limit.
 */
export function parseRetryAfter(header: string | null | undefined, nowMs: number): number | undefined {
  if (!header) return undefined;
  const trimmed = header.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(RETRY_AFTER_FLOOR_MS, date + 1000 - nowMs);
}

export interface RetryPolicy {
  retries: number;
  baseDelayMs: number;
  sleep: (ms: number) => Promise<void>;
  random: () => number;
  /** Which failures are worth another try; isTransient unless the client knows better. */
  transient?: (error: ApiError) => boolean;
  /** Told before each retry (for the summary's retry count and the pacer's slow-down). */
  onRetry?: (error: ApiError, attempt: number, delayMs: number) => void;
}

/** Exponential backoff from `baseDelayMs` with jitter, unless the server said when to come back. */
export function retryDelayMs(error: ApiError, attempt: number, policy: Pick<RetryPolicy, 'baseDelayMs' | 'random'>): number {
  if (error.retryAfterMs !== undefined) return error.retryAfterMs;
  const exponential = policy.baseDelayMs * 2 ** attempt;
  return Math.round(exponential * (0.75 + 0.5 * policy.random()));
}

/** Runs `request` until it succeeds, fails for good, or runs out of retries. */
export async function withRetry<T>(request: () => Promise<T>, policy: RetryPolicy): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await request();
    } catch (error) {
      if (!(error instanceof ApiError) || !(policy.transient ?? isTransient)(error) || attempt >= policy.retries) throw error;
      const delay = retryDelayMs(error, attempt, policy);
      policy.onRetry?.(error, attempt, delay);
      await policy.sleep(delay);
    }
  }
}

/**
 * A client-side rate limiter that keeps every window of one second at or under `perSecond` starts,
 * which is how the APIs state their limits. Unlike evenly spaced starts, this makes up in the same
 * second for time spent waiting on a response (a listing's first page, say); starts stay at least
 * half the even spacing apart, so catching up is spread out, not a burst.
 * A 429 holds every caller until the server's Retry-After. At full pace it also halves the pace;
 * while slowed or recovering, a 429 only holds (and restarts the recovery), so a burst of 429s slows
 * the pace once, not once each. Once the last hold has passed, the pace climbs back to full over
 * RECOVERY_MS.
 */
export class Pacer {
  static readonly RECOVERY_MS = 3000;
  readonly maxPerSecond: number;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  /** Start times handed out, oldest first; only the last `maxPerSecond` (rounded up) matter. */
  private readonly starts: number[] = [];
  private holdUntilMs = 0;
  private readonly slowedTo: number;
  constructor(maxPerSecond: number, now: () => number = Date.now, sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms))) {
    this.maxPerSecond = maxPerSecond;
    this.now = now;
    this.sleep = sleep;
    this.slowedTo = Math.max(Math.min(1, maxPerSecond), maxPerSecond / 2);
  }
  /** The pace now: half during a hold, then back to full over RECOVERY_MS. */
  get perSecond(): number {
    if (this.holdUntilMs === 0) return this.maxPerSecond;
    const recovered = (this.now() - this.holdUntilMs) / Pacer.RECOVERY_MS;
    if (recovered >= 1) return this.maxPerSecond;
    return this.slowedTo + (this.maxPerSecond - this.slowedTo) * Math.max(0, recovered);
  }
  async take(): Promise<void> {
    if (!Number.isFinite(this.maxPerSecond)) return;
    for (;;) {
      const now = this.now();
      const hold = this.holdUntilMs;
      const pace = this.perSecond;
      // At most `count` starts in any `count / pace` seconds (one second at whole rates).
      const count = Math.max(1, Math.floor(pace));
      const windowMs = (1000 * count) / pace;
      const { starts } = this;
      let slot = Math.max(now, hold);
      if (starts.length >= count) slot = Math.max(slot, starts[starts.length - count]! + windowMs);
      if (starts.length > 0) slot = Math.max(slot, starts[starts.length - 1]! + 500 / pace);
      starts.push(slot);
      if (starts.length > Math.ceil(this.maxPerSecond)) starts.shift();
      if (slot > now) await this.sleep(slot - now);
      if (this.holdUntilMs === hold) return;
      // A 429 came while this caller waited: its slot was planned at the old pace. Plan again.
      const planned = starts.indexOf(slot);
      if (planned >= 0) starts.splice(planned, 1);
    }
  }
  rateLimited(retryAfterMs: number | undefined): void {
    this.holdUntilMs = Math.max(this.holdUntilMs, this.now() + (retryAfterMs ?? 1000));
  }
}

/** Runs `worker` over `items` with at most `concurrency` at once; results keep the input order. */
export async function mapConcurrent<T, R>(items: readonly T[], concurrency: number, worker: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await worker(items[index]!, index);
    }
  });
  await Promise.all(lanes);
  return results;
}

// ================================================================================================
// CORE 3. LISTING BY CREATED WINDOWS (any paged list, newest first, with a `created` filter)
// ================================================================================================

/** Where the oldest window starts unless the source says otherwise (`sinceUnix`): 2010, before the APIs a sync meets. */
const LISTING_EPOCH_UNIX = Date.UTC(2010, 0, 1) / 1000;

/** A page of a list, newest first, as Stripe-style APIs answer: `has_more` when older objects follow. */
export interface ListPage<T> {
  data: T[];
  has_more: boolean;
}

/**
 * The fan-out after the first page: windows of this many pages each (at that page's density) going
 * back in time, the last taking all that is older. Recent history is usually the densest; measured
 * against flat and other growing shapes on six account shapes, none did better.
 */
const FAN_OUT_PAGES = [4, 4, 8, 16, 32, 64, 128];
/**
 * A window is split when it has more than 1.25 times its share of the pages left, and at least 2
 * pages (every window ends in a short page, so a split costs one request). Measured: 1.5 and 2
 * leave one window reading alone at the end; 2-6 pages made no difference.
 */
const SPLIT_ABOVE_SHARE = 1.25;
const MIN_PAGES_TO_SPLIT = 2;

/** Step 1 of a listing: everything, newest first. */
function firstWindow(nowUnix: number, sinceUnix = LISTING_EPOCH_UNIX): CreatedWindow {
  return { gte: sinceUnix, lt: nowUnix + 1 };
}

export interface CreatedWindow {
  gte: number;
  lt: number;
  startingAfter?: string;
}

/** A window being read, with an estimate of its pages left (Infinity until its first page). */
interface Sized extends CreatedWindow {
  pagesLeft: number;
}

/** What a listing needs of an object: its id (the cursor) and when it was created (the windows). */
type Listed = { id: string; created: number };

/** The windows of one listing: those waiting and those being read, and what the empty ones showed. */
interface Windows {
  /** Step 1's window: everything. */
  first: Sized;
  queue: Sized[];
  running: Set<Sized>;
  concurrency: number;
  /** Every window below this came back empty. */
  dataStartsAfter: number;
  emptyWindows: CreatedWindow[];
}

/**
 * Lists every object of one list endpoint (Stripe's, or any of its shape), reading `created`
 * windows in parallel so that a large account is read at the rate limit instead of one round trip
 * per page:
 *
 *   1. One page of everything: a small account ends here.
 *   2. Fan out: the rest goes to windows of a few pages, then more and more, back in time.
 *   3. Size up: each page tells how many pages its window has left, at that page's density.
 *   4. Balance: a window with well over its share of what is left keeps its share and hands the
 *      older rest to a new window; a free lane takes the biggest window. All windows end together.
 *
 * Empty windows at the old end show where the data starts, so nothing older is split off again.
 * One failure (a page, or `onPage`) aborts `stop`, which ends every listing that shares it.
 */
export async function listByCreatedWindows<T extends Listed>(
  fetchPage: (window: CreatedWindow) => Promise<ListPage<T>>,
  onPage: (objects: T[]) => void,
  options: { concurrency: number; nowUnix: number; sinceUnix?: number; stop?: AbortController; firstPage?: ListPage<T> },
): Promise<void> {
  const stop = options.stop ?? new AbortController();
  const first: Sized = { ...firstWindow(options.nowUnix, options.sinceUnix), pagesLeft: Infinity };
  const windows: Windows = { first, queue: options.firstPage ? [] : [first], running: new Set(), concurrency: options.concurrency, dataStartsAfter: first.gte, emptyWindows: [] };
  // Step 1 may have been read already (as a permission check): go on from it.
  if (options.firstPage) {
    onPage(options.firstPage.data);
    afterPage(windows, first, options.firstPage);
  }
  await readWindows(windows, fetchPage, onPage, stop);
  stop.signal.throwIfAborted();
}

/** Reads the windows, at most `concurrency` at once and the biggest first, until none is left or `stop` is aborted. */
function readWindows<T extends Listed>(windows: Windows, fetchPage: (window: CreatedWindow) => Promise<ListPage<T>>, onPage: (objects: T[]) => void, stop: AbortController): Promise<void> {
  const { queue, running } = windows;
  return new Promise<void>((resolve) => {
    const pump = () => {
      if (stop.signal.aborted || (queue.length === 0 && running.size === 0)) return resolve();
      while (!stop.signal.aborted && running.size < windows.concurrency && queue.length > 0) {
        const window = takeBiggest(queue);
        running.add(window);
        const { gte, lt, startingAfter } = window;
        fetchPage(startingAfter ? { gte, lt, startingAfter } : { gte, lt })
          .then((page) => {
            running.delete(window);
            onPage(page.data);
            afterPage(windows, window, page);
          })
          .catch((error: unknown) => {
            running.delete(window);
            if (!stop.signal.aborted) stop.abort(error);
          })
          .finally(pump);
      }
    };
    pump();
  });
}

function takeBiggest(queue: Sized[]): Sized {
  let biggest = 0;
  for (let i = 1; i < queue.length; i++) if (queue[i]!.pagesLeft > queue[biggest]!.pagesLeft) biggest = i;
  return queue.splice(biggest, 1)[0]!;
}

/** What a page says about its window: empty (where the data starts), the end of it, or how many pages are left (step 3). */
function afterPage(windows: Windows, window: Sized, page: ListPage<Listed>): void {
  const newest = page.data[0];
  const oldest = page.data.at(-1);
  if (!newest || !oldest) {
    if (window.startingAfter) return;
    windows.emptyWindows.push(window);
    for (const w of windows.emptyWindows.sort((a, b) => a.gte - b.gte)) if (w.gte <= windows.dataStartsAfter) windows.dataStartsAfter = Math.max(windows.dataStartsAfter, w.lt);
    return;
  }
  if (!page.has_more) return;
  const span = Math.max(1, newest.created - oldest.created); // seconds of history one page holds here
  if (window === windows.first) fanOut(windows, window, oldest, span);
  else continueOrSplit(windows, window, oldest, span);
}

/** Step 2: the rest of the first window, in windows of more and more pages back in time. */
function fanOut(windows: Windows, window: Sized, oldest: Listed, span: number): void {
  const edges = [window.lt];
  for (let i = 0, back = 0; i < Math.min(FAN_OUT_PAGES.length, windows.concurrency - 1); i++) {
    back += FAN_OUT_PAGES[i]!;
    const edge = oldest.created - span * back;
    if (edge <= window.gte) break;
    edges.push(edge);
  }
  edges.push(window.gte);
  // The first window keeps its cursor and the newest few pages; each older one holds more.
  windows.queue.push({ gte: edges[1]!, lt: window.lt, startingAfter: oldest.id, pagesLeft: (oldest.created - edges[1]!) / span });
  for (let i = 2; i < edges.length; i++) windows.queue.push({ gte: edges[i]!, lt: edges[i - 1]!, pagesLeft: Infinity });
}

/** Step 4: a window goes on from its cursor, or keeps its share and hands the older rest to a new window. */
function continueOrSplit(windows: Windows, window: Sized, oldest: Listed, span: number): void {
  const { queue, running } = windows;
  const from = Math.max(window.gte, windows.dataStartsAfter);
  const pagesLeft = Math.max(0, (oldest.created - from) / span);
  let allPagesLeft = pagesLeft;
  for (const w of [...queue, ...running]) allPagesLeft += w.pagesLeft;
  const share = allPagesLeft / windows.concurrency; // Infinity while some window is not sized yet
  if (pagesLeft >= MIN_PAGES_TO_SPLIT && pagesLeft > share * SPLIT_ABOVE_SHARE) {
    const keep = Math.max(1, share);
    const split = Math.floor(oldest.created - span * keep);
    if (split > from && split < oldest.created) {
      queue.push({ gte: split, lt: window.lt, startingAfter: oldest.id, pagesLeft: keep }, { gte: from, lt: split, pagesLeft: pagesLeft - keep });
      return;
    }
  }
  queue.push({ gte: window.gte, lt: window.lt, startingAfter: oldest.id, pagesLeft });
}

// ================================================================================================
// CORE 4. COMPANY AND PERSON HELPERS: a domain from an email address, a name fit for Attio, an email address Attio takes
// ================================================================================================

/** Mail providers whose domain says nothing about the customer's company (a table, laid out by hand). */
// prettier-ignore
const FREE_MAIL_DOMAINS = new Set([
  'gmail.com', 'googlemail.com', 'outlook.com', 'hotmail.com', 'hotmail.co.uk', 'live.com', 'msn.com',
  'yahoo.com', 'yahoo.co.uk', 'yahoo.fr', 'ymail.com', 'icloud.com', 'me.com', 'mac.com', 'aol.com',
  'proton.me', 'protonmail.com', 'pm.me', 'gmx.com', 'gmx.de', 'gmx.net', 'web.de', 'mail.com',
  'zoho.com', 'yandex.com', 'yandex.ru', 'mail.ru', 'qq.com', '163.com', '126.com', 'fastmail.com',
  'hey.com', 'tutanota.com', 'duck.com', 'orange.fr', 'free.fr', 'libero.it', 't-online.de', 'comcast.net',
]);

/**
 * A host name as a company domain for Attio's `domains` attribute, or null when it is not one:
 * lower-case, international names as punycode (IDNA: node's domainToASCII), one trailing dot and a
 * leading `www.` dropped; then labels of letters, digits and hyphens, no hyphen first or last, at
 * most 63 characters each and 253 in all (RFC 1034 3.5, RFC 1123 2.1), at least two labels, the
 * last shaped like a public suffix: letters, or an `xn--` international one (never all-numeric:
 * RFC 3696 2). Attio documents that the attribute holds domains, not URLs
 * (docs.attio.com/docs/attribute-types/attribute-types-domain), not what else it refuses: the sync
 * sends only what is a domain under every reading.
 */
export function hostDomain(host: string): string | null {
  // ASCII other than letters, digits, dots and hyphens is never in a host name; domainToASCII would
  // read some of it as URL syntax (a path, a port, %-escapes) and quietly drop or decode it.
  if (/[\x00-\x2c\x2f\x3a-\x40\x5b-\x60\x7b-\x7f]/.test(host)) return null;
  const ascii = domainToASCII(host.replace(/\.$/, ''));
  const domain = ascii.replace(/^www\.(?=[^.]*\.)/, ''); // www.acme.com is acme.com; www.com stays
  const labels = domain.split('.');
  const valid =
    domain.length <= 253 &&
    labels.length >= 2 &&
    labels.every((label) => /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/.test(label) && (!label.startsWith('xn--') || isPunycodeLabel(label))) &&
    /^(?:[a-z]{2,}|xn--[a-z0-9-]+)$/.test(labels.at(-1)!);
  return valid ? domain : null;
}

/**
 * Whether an `xn--` label is real punycode: it decodes to another label that encodes back to it
 * (an IDNA A-label, RFC 5890). Checked here because Node's own `domainToASCII` refuses a label like
 * `xn--zz` on Node 20 but passes it through unchanged on Node 24.
 */
function isPunycodeLabel(label: string): boolean {
  const unicode = domainToUnicode(label);
  return unicode !== '' && unicode !== label && domainToASCII(unicode) === label;
}

/** What follows the last `@` of an email address, trimmed; null when nothing does. */
function emailHost(email: string | null): string | null {
  const at = email?.lastIndexOf('@') ?? -1;
  return (at >= 1 && email!.slice(at + 1).trim()) || null;
}

/** The company domain of an email address (see hostDomain), or null: none, not a domain, or free mail. */
export function companyDomain(email: string | null): string | null {
  const host = emailHost(email);
  const domain = host === null ? null : hostDomain(host);
  return domain && !FREE_MAIL_DOMAINS.has(domain) ? domain : null;
}

/** Whether an email address has something after its `@` that is not a domain (reported; the company gets none). */
export function hasUnusableDomain(email: string | null): boolean {
  const host = emailHost(email);
  return host !== null && hostDomain(host) === null;
}

/** RFC 5322's dot-atom: the local part every mail system takes (quoted and non-ASCII local parts are left out). */
const DOT_ATOM = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;

/**
 * An email address as a person's key in Attio, in lower case, or null when Attio may refuse it: it
 * validates "strictly … valid domain and local part formats" (docs: attribute-types-email-address)
 * without listing them, so only a dot-atom local part of at most 64 characters (RFC 5321 4.5.3.1)
 * at an ASCII domain that hostDomain takes is sent, as it is (hostDomain would drop a `www.`).
 */
export function usableEmail(email: string | null): string | null {
  const trimmed = email?.trim().toLowerCase() ?? '';
  const at = trimmed.lastIndexOf('@');
  const [local, host] = [trimmed.slice(0, at), trimmed.slice(at + 1)];
  const valid = at > 0 && local.length <= 64 && DOT_ATOM.test(local) && /^[a-z0-9.-]+$/.test(host) && hostDomain(host) !== null;
  return valid ? trimmed : null;
}

const MAX_NAME_LENGTH = 250;

/** ANSI escape sequences (CSI, OSC, and the two-character ones), removed whole rather than leaving "[31m" behind. */
const ANSI_SEQUENCE = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]?|\x9b[0-?]*[ -/]*[@-~]/g;
/** Nothing a reader can see: white space, controls, format characters (zero-width, bidi), marks on nothing, fillers. */
const NOTHING_VISIBLE = /^[\s\p{Cc}\p{Cf}\p{Z}\p{M}\u115f\u1160\u3164\uffa0\u2800]*$/u;

/**
 * Text as Attio should hold it in a name: ANSI sequences, control characters and bidirectional
 * controls (which display a name reversed) removed, line breaks and tabs as one space; null when
 * nothing visible is left. Zero-width joiners stay: emoji sequences need them.
 */
export function cleanName(text: string | null): string | null {
  if (!text) return null;
  const clean = text
    .replace(ANSI_SEQUENCE, '')
    .replace(/\s*[\t\n\v\f\r\u0085\u2028\u2029]+\s*/g, ' ')
    .replace(/[\p{Cc}\p{Bidi_Control}]/gu, '')
    .trim();
  return NOTHING_VISIBLE.test(clean) ? null : clean;
}

let graphemeSegmenter: Intl.Segmenter | undefined;

/** At most `max` graphemes (what a reader sees as one character: a whole emoji sequence), the last an ellipsis when cut. */
export function cutGraphemes(text: string, max: number): string {
  if (text.length <= max) return text; // a grapheme is at least one UTF-16 unit
  graphemeSegmenter ??= new Intl.Segmenter('en', { granularity: 'grapheme' });
  const graphemes = Array.from(graphemeSegmenter.segment(text), (s) => s.segment);
  return graphemes.length > max ? `${graphemes.slice(0, max - 1).join('')}…` : text;
}

/** The name a new company gets: its name, else description, else email domain, else the id (each as cleanName leaves it). */
export function companyName(facts: { id: string; name: string | null; description: string | null; email: string | null }): string {
  const candidates = [facts.name, facts.description, companyDomain(facts.email), facts.id];
  const chosen = candidates.map(cleanName).find((c) => c !== null) ?? facts.id;
  return cutGraphemes(chosen, MAX_NAME_LENGTH);
}

// ================================================================================================
// CORE 5. SINK: ATTIO (knows Attio, not the source)
// Preflight, setup, loading what the sync wrote before, the plan (a diff), and the writes.
// ================================================================================================

/** What a new record claims: the record its hint names, else the value it would be found (or created) by. */
function claimOf(record: DesiredRecord): string | null {
  if (record.hint && 'recordId' in record.hint) return `record ${record.hint.recordId}`;
  const value = record.hint?.linkValue ?? record.linkValue;
  return value ? `"${value}"` : null;
}

/** A conflict that a hint resolves (a value or record another key has), saying how to set one when the source says how. */
function placementConflict(record: DesiredRecord, reason: string): string {
  return record.howToPlace ? `${reason}; to place ${record.key} elsewhere, ${record.howToPlace}` : reason;
}

interface AttioClientOptions {
  baseUrl: string;
  /** The variable `baseUrl` came from, named when the host cannot be reached. */
  baseUrlVariable?: string;
  apiKey: string;
  timeoutMs: number;
  policy: RetryPolicy;
  readPacer: Pacer;
  writePacer: Pacer;
  onRequest?: (kind: 'read' | 'write') => void;
}

/** Sends one request, paced and retried until it succeeds or fails for good. */
interface AttioClient {
  <T>(method: string, path: string, body?: unknown): Promise<T>;
  /** The same request sent once, paced but not retried: for a create that must look before it retries. */
  once<T>(method: string, path: string, body?: unknown): Promise<T>;
  policy: RetryPolicy;
}

/**
 * Attio's transient failures: those of every API (isTransient), and a 401. Seen in production, not
 * documented by Attio (shared/reference/API-NOTES.md, the team's field guide): under sustained load
 * Attio sometimes answers 401 on a valid key, so an unattended job retries it with backoff. Only
 * the Attio client does: a 401 from another API (Stripe: "No valid API key provided") is final.
 */
export function attioTransient(error: ApiError): boolean {
  return isTransient(error) || error.status === 401;
}

/**
 * Why a request got no usable answer: a timeout, a body cut off, or no connection, which names the
 * host, the variable that set it and fetch's cause (ECONNREFUSED, ENOTFOUND, ...; "fetch failed" alone says nothing).
 */
function noAnswer(error: unknown, headersArrived: boolean, options: Pick<AttioClientOptions, 'baseUrl' | 'baseUrlVariable' | 'timeoutMs'>): string {
  if ((error as Error).name === 'TimeoutError') return `no answer within ${options.timeoutMs} ms`;
  const cause = ((error as Error).cause as Error | undefined)?.message ?? (error as Error).message;
  if (headersArrived) return `the answer was cut off (${cause})`;
  const variable = options.baseUrlVariable ? ` (set by ${options.baseUrlVariable})` : '';
  return `cannot reach ${new URL(options.baseUrl).host}${variable}: ${cause}`;
}

/** A fetch-based Attio client: JSON in and out, Attio's error envelope, pacing and retries. */
function createAttioClient(options: AttioClientOptions): AttioClient {
  const policy: RetryPolicy = { ...options.policy, transient: attioTransient };
  const once = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const kind = method === 'GET' || path.endsWith('/records/query') ? 'read' : 'write';
    const pacer = kind === 'read' ? options.readPacer : options.writePacer;
    await pacer.take();
    options.onRequest?.(kind);
    let response: Response;
    let text: string;
    let headersArrived = false;
    try {
      response = await fetch(`${options.baseUrl}${path}`, {
        method,
        headers: { authorization: `Bearer ${options.apiKey}`, 'content-type': 'application/json', accept: 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(options.timeoutMs),
      });
      headersArrived = true;
      text = await response.text();
    } catch (error) {
      const reason = noAnswer(error, headersArrived, options);
      throw new ApiError({ service: 'Attio', message: `${method} ${path}: ${reason}`, cause: error });
    }
    if (!response.ok) {
      const envelope = safeJson(text) as { code?: string; message?: string } | undefined;
      const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), Date.now());
      if (response.status === 429) pacer.rateLimited(retryAfterMs);
      const message = envelope?.message ?? (text.slice(0, 200) || response.statusText);
      throw new ApiError({ service: 'Attio', message, status: response.status, code: envelope?.code, retryAfterMs });
    }
    const parsed = safeJson(text);
    // A 200 whose body was cut off: nothing usable arrived (for a write: it may have landed).
    if (parsed === undefined) throw new ApiError({ service: 'Attio', message: `${method} ${path}: incomplete response body` });
    return parsed as T;
  };
  const client = <T>(method: string, path: string, body?: unknown) => withRetry(() => once<T>(method, path, body), policy);
  return Object.assign(client, { once, policy });
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

interface AttioAttribute {
  api_slug: string;
  type: string;
  is_unique: boolean;
  is_multiselect: boolean;
  is_archived: boolean;
  config?: { currency?: { default_currency_code?: string | null } | null } | null;
}

interface AttioValue {
  attribute_type?: string;
  active_until?: string | null;
  value?: unknown;
  currency_value?: number | string;
  option?: { title?: string };
  domain?: string;
  email_address?: string;
  full_name?: string;
  target_record_id?: string;
}

interface AttioRecord {
  id: { record_id: string };
  values: Record<string, AttioValue[] | undefined>;
}

/** Lists attributes page by page (archived ones too, so preflight can say an attribute is archived). */
async function listAttributes(attio: AttioClient, object: string): Promise<AttioAttribute[]> {
  const all: AttioAttribute[] = [];
  for (let offset = 0; ; offset += 100) {
    const page = await attio<{ data: AttioAttribute[] }>('GET', `/objects/${object}/attributes?limit=100&offset=${offset}&show_archived=true`);
    all.push(...page.data);
    if (page.data.length < 100) return all;
  }
}

/**
 * A select attribute's options, archived ones too: the spec lists archived options only with
 * `show_archived=true`, and an archived option must be restored, not created a second time.
 */
async function listOptions(attio: AttioClient, object: string, slug: string): Promise<{ active: Set<string>; archived: Map<string, string> }> {
  const page = await attio<{ data: Array<{ id: { option_id: string }; title: string; is_archived?: boolean }> }>('GET', `/objects/${object}/attributes/${slug}/options?show_archived=true`);
  const active = new Set(page.data.filter((o) => !o.is_archived).map((o) => o.title));
  const archived = new Map(page.data.filter((o) => o.is_archived && !active.has(o.title)).map((o) => [o.title, o.id.option_id]));
  return { active, archived };
}

interface PreflightResult {
  problems: string[];
  /** The currency all currency attributes share (the first one's default currency). */
  currency: string | null;
  missing: AttributeSpec[];
  missingOptions: Array<{ slug: string; titles: string[] }>;
  /** Options that exist but are archived: --setup restores them. */
  archivedOptions: Array<{ slug: string; titles: string[] }>;
  /** The checked attributes that Attio enforces as unique. */
  unique: string[];
}

/** Checks that every attribute the sync writes exists with the right type and options. */
async function preflight(attio: AttioClient, object: string, specs: readonly AttributeSpec[]): Promise<PreflightResult> {
  const bySlug = new Map((await listAttributes(attio, object)).map((a) => [a.api_slug, a]));
  const result: PreflightResult = { problems: [], currency: null, missing: [], missingOptions: [], archivedOptions: [], unique: [] };
  for (const spec of specs) {
    const attribute = bySlug.get(spec.slug);
    if (!attribute) {
      result.missing.push(spec);
      result.problems.push(
        spec.standard
          ? `"${spec.slug}" (${spec.type}) is missing on ${object}: it is a standard attribute, restore it in Attio.`
          : `"${spec.slug}" (${spec.type}) is missing on ${object}: run with --setup to create it.`,
      );
      continue;
    }
    if (attribute.is_archived) {
      result.problems.push(`"${spec.slug}" is archived: restore it in Attio (Settings > Objects > ${object} > Attributes), or rename the slug in sync.ts.`);
      continue;
    }
    if (attribute.type !== spec.type) {
      result.problems.push(`"${spec.slug}" is of type ${escapeText(attribute.type)}, the sync needs ${spec.type}: delete or rename it in Attio, then run --setup.`);
      continue;
    }
    if (attribute.is_unique) result.unique.push(spec.slug);
    if (!spec.standard && attribute.is_multiselect) result.problems.push(`"${spec.slug}" must hold a single value but allows many: delete it in Attio and run --setup.`);
    if (spec.type === 'currency') {
      const code = attribute.config?.currency?.default_currency_code?.toUpperCase() ?? null;
      if (!code) result.problems.push(`"${spec.slug}" has no default currency: set one in Attio.`);
      else if (result.currency === null) result.currency = code;
      else if (code !== result.currency)
        result.problems.push(`"${spec.slug}" is in ${escapeText(code)} but the other revenue attributes are in ${escapeText(result.currency)}: use one currency for all.`);
    }
    if (spec.options) {
      const { active, archived } = await listOptions(attio, object, spec.slug);
      const quoted = (titles: string[]) => titles.map((t) => `"${t}"`).join(', ');
      const restore = spec.options.filter((t) => !active.has(t) && archived.has(t));
      const titles = spec.options.filter((t) => !active.has(t) && !archived.has(t));
      if (restore.length) {
        result.archivedOptions.push({ slug: spec.slug, titles: restore });
        result.problems.push(`"${spec.slug}" has the option(s) ${quoted(restore)} archived: run with --setup to restore them.`);
      }
      if (titles.length) {
        result.missingOptions.push({ slug: spec.slug, titles });
        result.problems.push(`"${spec.slug}" lacks the option(s) ${quoted(titles)}: run with --setup to add them.`);
      }
    }
  }
  return result;
}

/**
 * Creates the missing attributes and select options, and restores archived options. Safe to run
 * again: it only adds what is missing, and a create that meets a 409 reads again and carries on.
 * Attributes are created without a unique constraint: Attio refuses custom unique attributes on
 * companies and people (docs.attio.com/docs/standard-objects/standard-objects-companies).
 */
async function setupAttributes(attio: AttioClient, object: string, specs: readonly AttributeSpec[], currency: string): Promise<string[]> {
  const before = await preflight(attio, object, specs);
  const done: string[] = [];
  for (const spec of before.missing) {
    if (spec.standard) continue;
    const config = spec.type === 'currency' ? { currency: { default_currency_code: currency, display_type: 'symbol' } } : {};
    const created = await createSetupObject(attio, `/objects/${object}/attributes`, {
      data: { title: spec.title, description: spec.description ?? null, api_slug: spec.slug, type: spec.type, is_required: false, is_unique: false, is_multiselect: false, config },
    });
    const what = `"${spec.slug}" (${spec.type}${spec.type === 'currency' ? `, ${currency}` : ''})`;
    done.push(created === 'created' ? `created ${what}` : `created ${what}: ${SETUP_CONFLICT[created]}`);
    if (spec.options) done.push(...(await ensureOptions(attio, object, spec.slug, spec.options)));
  }
  const incomplete = new Set([...before.missingOptions, ...before.archivedOptions].map((o) => o.slug));
  for (const spec of specs) if (spec.options && incomplete.has(spec.slug)) done.push(...(await ensureOptions(attio, object, spec.slug, spec.options)));
  return done;
}

/** What a 409 on a setup create means: which create answered it (see createSetupObject). */
const SETUP_CONFLICT = {
  landed: "the first attempt's answer was lost, but it had landed (409 on the retry)",
  existed: 'it already existed when created (409: made meanwhile by someone else)',
} as const;

/**
 * POSTs an attribute or a select option once, retried like any request. A 409 after a retry means
 * an earlier attempt whose answer was lost had landed; a 409 at once, that someone made it
 * meanwhile. Either way it exists now: the caller reads it again (ensureOptions lists the options,
 * setup's closing preflight the attributes) instead of failing until --setup is run again.
 */
async function createSetupObject(attio: AttioClient, path: string, body: unknown): Promise<'created' | keyof typeof SETUP_CONFLICT> {
  let attempts = 0;
  try {
    await withRetry(() => (attempts++, attio.once('POST', path, body)), attio.policy);
    return 'created';
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 409)) throw error;
    return attempts > 1 ? 'landed' : 'existed';
  }
}

/**
 * Makes every wanted option of a select attribute active: reads them (archived too), restores an
 * archived one (`PATCH …/options/{option}` with `is_archived: false`, spec) instead of creating a
 * twin, and creates the rest. Returns what it did, for setup's output.
 */
async function ensureOptions(attio: AttioClient, object: string, slug: string, wanted: readonly string[]): Promise<string[]> {
  const { active, archived } = await listOptions(attio, object, slug);
  const done: string[] = [];
  const quoted = (titles: string[]) => titles.map((t) => `"${t}"`).join(', ');
  const restore = wanted.filter((t) => !active.has(t) && archived.has(t));
  for (const title of restore) await attio('PATCH', `/objects/${object}/attributes/${slug}/options/${encodeURIComponent(archived.get(title)!)}`, { data: { is_archived: false } });
  if (restore.length) done.push(`restored the archived option(s) ${quoted(restore)} of "${slug}"`);
  const create = wanted.filter((t) => !active.has(t) && !archived.has(t));
  const conflicts: string[] = [];
  for (const title of create) {
    const created = await createSetupObject(attio, `/objects/${object}/attributes/${slug}/options`, { data: { title } });
    if (created !== 'created') conflicts.push(`"${title}": ${SETUP_CONFLICT[created]}`);
  }
  if (create.length) done.push(`added option(s) ${quoted(create)} to "${slug}"${conflicts.length ? ` (${conflicts.join('; ')})` : ''}`);
  return done;
}

/** Reads a record's value for one attribute in the plain form the plan compares. */
export function plainValue(values: AttioValue[] | undefined, type: AttributeSpec['type']): PlainValue {
  const current = (values ?? []).filter((v) => !v.active_until);
  const first = current[0];
  // A checkbox "does not support null values": unchecked reads false, whether Attio sends false or nothing (docs: attribute-types-checkbox).
  if (type === 'checkbox') return first?.value === true;
  if (!first) return null;
  switch (type) {
    case 'currency': {
      // A number in the spec; a numeric string is read as the number it says.
      const amount = typeof first.currency_value === 'string' ? Number(first.currency_value) : first.currency_value;
      return typeof amount === 'number' && Number.isFinite(amount) ? amount : null;
    }
    case 'select':
      return first.option?.title ?? null;
    case 'domain':
      return current.map((v) => v.domain).join(', ');
    case 'email-address':
      return current.map((v) => v.email_address).join(', ');
    case 'personal-name':
      return first.full_name || null;
    case 'record-reference':
      return first.target_record_id ?? null;
    default: // text, number, date, checkbox
      return (first.value as PlainValue | undefined) ?? null;
  }
}

/** A record's values for `specs`, in the plain form the plan compares. */
function plainValues(record: AttioRecord, specs: readonly AttributeSpec[]): Record<string, PlainValue> {
  const values: Record<string, PlainValue> = {};
  for (const spec of specs) values[spec.slug] = plainValue(record.values[spec.slug], spec.type);
  return values;
}

export interface LinkedRecord {
  recordId: string;
  values: Record<string, PlainValue>;
}

/** A key as people may type it: without the spaces around it, in lower case. */
function normalKey(key: string): string {
  return key.trim().toLowerCase();
}

/**
 * How a stored key stands to the source's key: the same; the same with spaces around it (typed or
 * pasted so); the same but for case (Stripe's ids are case-sensitive, so it may be another id, and
 * it is never taken as this key's without a person saying so); or another key (null).
 */
type KeyMatch = 'exact' | 'spaced' | 'cased';
export function keyMatch(stored: string, key: string): KeyMatch | null {
  if (stored === key) return 'exact';
  if (stored.trim() === key) return 'spaced';
  return normalKey(stored) === normalKey(key) ? 'cased' : null;
}

/**
 * The load's query, from the fullest to the simplest. Attio scores a records query by "the requests'
 * sorts and filters as well as the total record/entry count", and a query over the per-query limit
 * must be made simpler: "reduce the complexity of your query and try again" (docs: rate-limiting).
 * That 429 looks like every other (a 429 with Retry-After; the docs name no code for it), so every
 * 429 the load meets takes the next step instead of sending the same query again: the sort dropped
 * (paging then promises no order; de-duplication by record id and the look-up before each create
 * make that safe), then pages of a fifth the size (the docs do not say the page size counts; it
 * cannot hurt). The last step is retried like any request.
 */
const LOAD_QUERY_STEPS = [
  { sorted: true, pageShare: 1, says: '' },
  { sorted: false, pageShare: 1, says: 'without its sort' },
  { sorted: false, pageShare: 0.2, says: 'without its sort, in smaller pages' },
] as const;

/**
 * Every record whose key (the matching attribute) looks like one of the source's, or like `onlyKey`:
 * `$contains`, which matches "case-insensitively" (docs: filtering and sorting), so keys typed with
 * spaces around them or in another case are loaded too (`$starts_with` is not documented as
 * case-insensitive). Text attributes filter with $eq, $in, $contains, $starts_with and $ends_with
 * only (docs: attribute-types-text). Pages are sorted by the key: without `sorts` Attio does not
 * promise an order. Offset paging takes no snapshot (docs: pagination), so a record written while
 * the pages load can come twice (kept once, by record id) or be missed (the look-up before each
 * create finds it). matchLinkedRecords then sorts the records out per key.
 */
async function loadLinkedRecords(
  attio: AttioClient,
  object: string,
  matchSlug: string,
  specs: readonly AttributeSpec[],
  keys: { keyPrefix: string; onlyKey: string | null; onlyKeys?: readonly string[] },
  pageSize = ATTIO_LIMITS.pageSize,
): Promise<{ records: LinkedRecord[]; notes: string[] }> {
  if (keys.onlyKeys) return { records: await loadHoldersOf(attio, object, matchSlug, specs, keys.onlyKeys, pageSize), notes: [] };
  const byId = new Map<string, LinkedRecord>();
  const filter = { [matchSlug]: { value: { $contains: keys.onlyKey ?? keys.keyPrefix } } };
  const looksLikeKey = (key: string) => (keys.onlyKey ? keyMatch(key, keys.onlyKey) !== null : normalKey(key).startsWith(normalKey(keys.keyPrefix)));
  let step = 0;
  let offset = 0;
  let refused = 0;
  for (;;) {
    const page = await withRetry(async () => {
      const { sorted, pageShare } = LOAD_QUERY_STEPS[step]!;
      const limit = Math.max(1, Math.round(pageSize * pageShare));
      const query = { filter, ...(sorted ? { sorts: [{ attribute: matchSlug, direction: 'asc' }] } : {}), limit, offset };
      try {
        return { limit, data: (await attio.once<{ data: AttioRecord[] }>('POST', `/objects/${object}/records/query`, query)).data };
      } catch (error) {
        if (error instanceof ApiError && error.status === 429) refused += 1;
        // A simpler query starts again from the first page: its order is not the last one's.
        if (error instanceof ApiError && error.status === 429 && step < LOAD_QUERY_STEPS.length - 1) [step, offset] = [step + 1, 0];
        throw error;
      }
    }, attio.policy);
    for (const record of page.data) {
      const values = plainValues(record, specs);
      const key = values[matchSlug];
      if (typeof key === 'string' && looksLikeKey(key)) byId.set(record.id.record_id, { recordId: record.id.record_id, values });
    }
    if (page.data.length < page.limit) break;
    offset += page.limit;
  }
  const notes = refused
    ? [
        `the query for the linked records answered 429 ${refused} times (Attio's rate limit or its per-query score limit: the answer does not say which)${step ? `, so it was sent ${LOAD_QUERY_STEPS[step]!.says}` : ''}`,
      ]
    : [];
  return { records: [...byId.values()], notes };
}

/** The property a filter compares for an attribute of this type (docs: the attribute-type pages). */
function filterProperty(type: AttributeSpec['type']): string {
  return type === 'email-address' ? 'email_address' : type === 'domain' ? 'domain' : 'value';
}

/** The values a record holds for its key (each of a person's email addresses), in lower case. */
function heldKeys(record: AttioRecord, keySpec: AttributeSpec): string[] {
  const held = plainValue(record.values[keySpec.slug], keySpec.type);
  return typeof held === 'string' ? held.split(', ').map((key) => key.trim().toLowerCase()) : [];
}

const KEYS_PER_QUERY = 50;

/**
 * For a key in a standard unique attribute (people's `email_addresses`): the records holding any
 * of `keys`, found 50 keys a query with `$or` of `$contains` filters (docs: filtering and sorting,
 * whose example filters people by `email_addresses`; email addresses filter with $eq, $contains,
 * $starts_with and $ends_with: attribute-types-email-address), paged by offset. Attio keeps an email
 * address "normalized" without saying how, and `$contains` matches "case-insensitively" (filtering
 * guide), so a person whose address differs only in case is found either way; the exact comparison,
 * in lower case, is made here. `linked`: the record each key is held by; `duplicates`: keys held twice.
 */
async function loadRecordsByKeys(attio: AttioClient, target: Target, keys: readonly string[], pageSize = ATTIO_LIMITS.pageSize): Promise<Pick<LinkedState, 'linked' | 'duplicates'>> {
  const keySpec = target.specs.find((spec) => spec.slug === target.key.slug)!;
  const wanted = new Set(keys.map((key) => key.toLowerCase()));
  const holders = new Map<string, LinkedRecord[]>();
  for (const record of await recordsHoldingAny(attio, target.object, keySpec, keys, pageSize))
    for (const key of heldKeys(record, keySpec).filter((k) => wanted.has(k)))
      holders.set(key, [...(holders.get(key) ?? []), { recordId: record.id.record_id, values: plainValues(record, target.specs) }]);
  const state: Pick<LinkedState, 'linked' | 'duplicates'> = { linked: new Map(), duplicates: new Map() };
  for (const key of keys) {
    const found = holders.get(key.toLowerCase()) ?? [];
    if (found.length === 1) state.linked.set(key, found[0]!);
    else if (found.length > 1)
      state.duplicates.set(
        key,
        found.map((r) => r.recordId),
      );
  }
  return state;
}

/** Key queries under way at once: the read pacer keeps them under Attio's read limit; one at a time, 100,000 keys would take minutes. */
const KEY_QUERIES_AT_ONCE = 8;

/** The records whose key contains one of `keys`, 50 keys a query (recordsWithKeys), several queries at once, each record once. */
async function recordsHoldingAny(attio: AttioClient, object: string, keySpec: AttributeSpec, keys: readonly string[], pageSize: number): Promise<AttioRecord[]> {
  const batches: string[][] = [];
  for (let start = 0; start < keys.length; start += KEYS_PER_QUERY) batches.push(keys.slice(start, start + KEYS_PER_QUERY));
  const found = await mapConcurrent(batches, KEY_QUERIES_AT_ONCE, (batch) => recordsWithKeys(attio, object, keySpec, batch, pageSize));
  return [...new Map(found.flat().map((record) => [record.id.record_id, record])).values()];
}

/**
 * The records whose key contains one of `batch`, page by page. A 429 may be the per-query score
 * limit, which a simpler query passes ("reduce the complexity of your query": docs, rate limiting),
 * so a batch that meets one is split in two instead of sent again; one key is retried like any query.
 */
async function recordsWithKeys(attio: AttioClient, object: string, keySpec: AttributeSpec, batch: readonly string[], pageSize: number): Promise<AttioRecord[]> {
  const filter = { $or: batch.map((key) => ({ [keySpec.slug]: { [filterProperty(keySpec.type)]: { $contains: key } } })) };
  const policy: RetryPolicy = batch.length > 1 ? { ...attio.policy, transient: (e) => e.status !== 429 && attioTransient(e) } : attio.policy;
  try {
    const found: AttioRecord[] = [];
    for (let offset = 0; ; offset += pageSize) {
      const page = await withRetry(() => attio.once<{ data: AttioRecord[] }>('POST', `/objects/${object}/records/query`, { filter, limit: pageSize, offset }), policy);
      found.push(...page.data);
      if (page.data.length < pageSize) return found;
    }
  } catch (error) {
    if (!(batch.length > 1 && error instanceof ApiError && error.status === 429)) throw error;
    const half = Math.ceil(batch.length / 2);
    return [...(await recordsWithKeys(attio, object, keySpec, batch.slice(0, half), pageSize)), ...(await recordsWithKeys(attio, object, keySpec, batch.slice(half), pageSize))];
  }
}

/**
 * A partial run's load (SourceSettings.partial): the records holding one of `keys` as people type it
 * (keyMatch), 50 keys a query (recordsWithKeys: `$contains`, case-insensitive, as the full load).
 */
async function loadHoldersOf(attio: AttioClient, object: string, matchSlug: string, specs: readonly AttributeSpec[], keys: readonly string[], pageSize: number): Promise<LinkedRecord[]> {
  const keySpec = specs.find((spec) => spec.slug === matchSlug)!;
  const normal = new Set(keys.map(normalKey)); // keyMatch: the same key but for spaces around it or case
  return (await recordsHoldingAny(attio, object, keySpec, keys, pageSize)).flatMap((record) => {
    const values = plainValues(record, specs);
    const held = values[matchSlug];
    return typeof held === 'string' && normal.has(normalKey(held)) ? [{ recordId: record.id.record_id, values }] : [];
  });
}

/** Up to 10 keys of linked records, from one page of the full load's query (a partial run's look at the rest). */
async function sampleKeys(attio: AttioClient, target: Target, pageSize: number): Promise<string[]> {
  const filter = { [target.key.slug]: { value: { $contains: target.key.prefix ?? '' } } };
  const page = await attio<{ data: AttioRecord[] }>('POST', `/objects/${target.object}/records/query`, { filter, limit: Math.min(10, pageSize), offset: 0 });
  return page.data.flatMap((record) => {
    const key = plainValue(record.values[target.key.slug], 'text');
    return typeof key === 'string' && key.trim() ? [key.trim()] : [];
  });
}

/** The loaded records per source key: which to update, which keys to leave, and what to say. */
interface LinkedState {
  /** The record each key is written to: one holding it exactly, or with spaces around it (writing corrects it). */
  linked: Map<string, LinkedRecord>;
  /** Keys held by more than one record (near-misses included), with the records: reported, none written. */
  duplicates: Map<string, string[]>;
  /** Keys whose only record holds them in another case: reported with the fix; never written, never created beside. */
  nearMisses: Map<string, string>;
  /** The near-misses taken as their key's, one line each. */
  notes: string[];
  /** The keys held by records that hold no key of the source. */
  orphans: string[];
}

/** Sorts loaded records out per source key, comparing keys as people type them (keyMatch). */
export function matchLinkedRecords(records: readonly LinkedRecord[], keys: readonly string[], matchSlug: string): LinkedState {
  const wanted = new Set(keys);
  const byNormal = new Map<string, string[]>();
  for (const key of keys) byNormal.set(normalKey(key), [...(byNormal.get(normalKey(key)) ?? []), key]);
  const held = new Map<string, Array<{ record: LinkedRecord; stored: string; match: KeyMatch }>>();
  const state: LinkedState = { linked: new Map(), duplicates: new Map(), nearMisses: new Map(), notes: [], orphans: [] };
  for (const record of records) {
    const stored = String(record.values[matchSlug]);
    const owners = wanted.has(stored) ? [stored] : wanted.has(stored.trim()) ? [stored.trim()] : (byNormal.get(normalKey(stored)) ?? []);
    if (!owners.length) state.orphans.push(stored);
    for (const key of owners) held.set(key, [...(held.get(key) ?? []), { record, stored, match: keyMatch(stored, key)! }]);
  }
  for (const [key, holders] of held) {
    const only = holders[0]!;
    if (holders.length > 1)
      state.duplicates.set(
        key,
        holders.map((h) => holderLabel(h.record.recordId, h.match, h.stored)),
      );
    else if (only.match === 'cased') state.nearMisses.set(key, otherCaseReason(only.record.recordId, only.stored, key, matchSlug));
    else {
      state.linked.set(key, only.record);
      if (only.match === 'spaced')
        state.notes.push(
          `record ${only.record.recordId} holds ${JSON.stringify(only.stored)}, ${key} with spaces around it: taken as ${key}'s company; writing it sets ${matchSlug} to exactly ${key}`,
        );
    }
  }
  return state;
}

/** A record in a list of those holding one key: its id, and the key as it holds it unless exactly. */
function holderLabel(recordId: string, match: KeyMatch, stored: string): string {
  return match === 'exact' ? recordId : `${recordId} (${JSON.stringify(stored)})`;
}

function duplicatesReason(key: string, holders: readonly string[]): string {
  return `records ${holders.map((h) => escapeText(h)).join(', ')} all hold ${escapeText(key)}: none is written until you merge them in Attio (or clear the id on all but one)`;
}

function otherCaseReason(recordId: string, stored: string, key: string, matchSlug: string): string {
  return (
    `record ${recordId} holds ${JSON.stringify(stored)}, which differs from ${key} only in case; ids are case-sensitive, so it is not taken as ${key}'s ` +
    `and no second company is created beside it: if it is ${key}'s company, set its ${matchSlug} to exactly ${key} in Attio, otherwise clear it`
  );
}

interface ValueChange {
  slug: string;
  before: PlainValue;
  after: PlainValue;
}

/** The diff of owned values: what must change so Attio holds `desired`. Currency compares at 4 decimals. */
export function diffValues(desired: Record<string, PlainValue>, current: Record<string, PlainValue> | null): ValueChange[] {
  const changes: ValueChange[] = [];
  for (const [slug, after] of Object.entries(desired)) {
    const before = current?.[slug] ?? null;
    const same = typeof after === 'number' && typeof before === 'number' ? Math.abs(after - before) < 0.00005 : after === before;
    if (!same) changes.push({ slug, before, after });
  }
  return changes;
}

/** A reference left as a person set it (`DesiredRecord.ifEmpty`): the record it points at, and the one the source wanted. */
export interface KeptReference {
  slug: string;
  held: string;
  wanted: string;
}

export type PlannedAction =
  | { kind: 'unchanged'; key: string; recordId?: string; kept?: KeptReference[] }
  | { kind: 'update'; key: string; recordId: string; changes: ValueChange[]; kept?: KeptReference[] }
  | { kind: 'new'; key: string; changes: ValueChange[] } // resolved to create, link or conflict when written
  | { kind: 'conflict'; key: string; reason: string }
  | { kind: 'waiting'; key: string; reason: string }; // refers to a record not written: created by a later run

/**
 * Where an earlier target's key was written: its record id; `new` in a dry run (it would be
 * created); null where it was not written (failed, a conflict, left for the next run).
 */
export type Placed = (ref: RecordRef) => string | 'new' | null;

/** A dry run's stand-in for the id of a record it would create. */
const newRecordOf = (ref: RecordRef) => `(the new record for ${ref.key})`;

/**
 * The `ifEmpty` references of a record as changes: filled where the record has none (all of them
 * for a new record), kept and reported where it points elsewhere. `waiting`: a reference to a
 * record that was not written, which a new record cannot be created without.
 */
export function referenceChanges(record: DesiredRecord, current: LinkedRecord | undefined, placed: Placed): { changes: ValueChange[]; kept: KeptReference[]; waiting: string | null } {
  const result = { changes: [] as ValueChange[], kept: [] as KeptReference[], waiting: null as string | null };
  for (const [slug, ref] of Object.entries(record.ifEmpty ?? {})) {
    const id = placed(ref);
    const held = current?.values[slug] ?? null;
    if (id === null) {
      if (!current) result.waiting ??= `${slug} refers to ${ref.key}, which was not written in ${ref.object}: created once it is`;
      continue;
    }
    const wanted = id === 'new' ? newRecordOf(ref) : id;
    if (held === null) result.changes.push({ slug, before: null, after: wanted });
    else if (held !== wanted) result.kept.push({ slug, held: String(held), wanted });
  }
  return result;
}

/**
 * The plan: per desired record, leave it, update it, or add it. A new record's domain may belong to
 * an existing company (resolved at write time); two new records claiming one domain are decided
 * here, oldest first, so every run decides the same way. A key held by several records, or only
 * by one in another case (`nearMisses`, see matchLinkedRecords), is reported and not written.
 */
export function planRecords(
  desired: readonly DesiredRecord[],
  linked: Map<string, LinkedRecord>,
  duplicates: Map<string, string[]>,
  nearMisses: ReadonlyMap<string, string> = new Map(),
  placed: Placed = () => null,
): PlannedAction[] {
  const claims = new Map<string, DesiredRecord>();
  for (const record of [...desired].sort((a, b) => a.claimOrder.localeCompare(b.claimOrder))) {
    const claim = claimOf(record);
    if (claim && !record.problem && !linked.has(record.key) && !nearMisses.has(record.key) && !claims.has(claim)) claims.set(claim, record);
  }
  return desired.map((record): PlannedAction => {
    const dupes = duplicates.get(record.key);
    if (dupes) return { kind: 'conflict', key: record.key, reason: duplicatesReason(record.key, dupes) };
    const nearMiss = nearMisses.get(record.key);
    if (nearMiss) return { kind: 'conflict', key: record.key, reason: nearMiss };
    const current = linked.get(record.key);
    const hinted = record.hint && 'recordId' in record.hint ? record.hint : null;
    if (current && hinted && hinted.recordId !== current.recordId)
      return {
        kind: 'conflict',
        key: record.key,
        reason: `${hinted.label} names record ${hinted.recordId}, but ${record.key} is linked to record ${escapeText(current.recordId)}: clear the id on ${escapeText(current.recordId)} in Attio to move it`,
      };
    const refs = referenceChanges(record, current, placed);
    const changes = [...diffValues(record.values, current?.values ?? null), ...refs.changes];
    const kept = refs.kept.length ? { kept: refs.kept } : {};
    if (current)
      return changes.length ? { kind: 'update', key: record.key, recordId: current.recordId, changes, ...kept } : { kind: 'unchanged', key: record.key, recordId: current.recordId, ...kept };
    if (record.problem) return { kind: 'conflict', key: record.key, reason: record.problem };
    if (refs.waiting) return { kind: 'waiting', key: record.key, reason: refs.waiting };
    const claim = claimOf(record);
    const claimant = claim ? claims.get(claim) : undefined;
    if (claimant && claimant.key !== record.key)
      return { kind: 'conflict', key: record.key, reason: placementConflict(record, `${claim} is also claimed by ${claimant.key}, which gets the company`) };
    return { kind: 'new', key: record.key, changes };
  });
}

/**
 * Attio's input form: every value an array; an empty array clears the attribute. A currency
 * attribute "does not support null values" (docs: attribute-types-currency), so null writes 0; nor
 * does a checkbox (docs: attribute-types-checkbox): null writes false.
 */
export function toAttioValues(values: Record<string, PlainValue>, specs: readonly AttributeSpec[]): Record<string, unknown[]> {
  const bySlug = new Map(specs.map((s) => [s.slug, s]));
  const out: Record<string, unknown[]> = {};
  for (const [slug, value] of Object.entries(values)) {
    const spec = bySlug.get(slug);
    if (spec?.type === 'currency') out[slug] = [{ currency_value: value ?? 0 }];
    else if (spec?.type === 'checkbox') out[slug] = [value === true];
    else if (value === null) out[slug] = [];
    else if (spec?.type === 'personal-name') out[slug] = [personalName(String(value))];
    else if (spec?.type === 'record-reference') out[slug] = [{ target_object: spec.refersTo, target_record_id: value }];
    else out[slug] = [value];
  }
  return out;
}

/**
 * A full name in Attio's object syntax, which the docs recommend ("all three properties must be set";
 * the string syntax reads "Last, First"): the first word is the first name, the rest the last name.
 */
export function personalName(fullName: string): { first_name: string; last_name: string; full_name: string } {
  const full = fullName.trim().replace(/\s+/g, ' ');
  const space = full.indexOf(' ');
  return space < 0 ? { first_name: full, last_name: '', full_name: full } : { first_name: full.slice(0, space), last_name: full.slice(space + 1), full_name: full };
}

/** `deferred`: not started because the run's time budget was spent; the next run writes it. */
/** `waiting`: a new record refers to one that was not written (DesiredRecord.ifEmpty); a later run creates it. */
type WriteOutcome = 'created' | 'linked' | 'updated' | 'unchanged' | 'conflict' | 'failed' | 'deferred' | 'waiting';

interface WriteResult {
  key: string;
  outcome: WriteOutcome;
  detail?: string;
  /** The record written (not known for a create in a dry run). */
  recordId?: string;
  /** What the write changed, for the audit log. */
  changes?: ValueChange[];
}

interface AttioWriterOptions {
  attio: AttioClient;
  object: string;
  matchSlug: string;
  /**
   * Whether Attio enforces one record per key. Then a write is an assert on the key, Attio's upsert.
   * Companies cannot get a unique custom attribute, so usually not: the sync matches records itself
   * (updates by record id, creates once).
   */
  keyIsUnique: boolean;
  linkBy: Target['linkBy'];
  /**
   * For a key in a standard unique attribute (Target.key without a prefix): the property its filter
   * compares (`email_address`), and the key compares whatever its case. Null: an owned text key.
   */
  keyProperty: string | null;
  specs: readonly AttributeSpec[];
  dryRun: boolean;
  /** Told when a create's answer was lost, and whether a look-up found that it had landed. */
  onLostCreate?: (landed: boolean) => void;
  /**
   * Told when another record took a new key meanwhile: `found` by the look-up just before the create
   * (written there instead); `won` / `lost`: created at the same time as this run's record, which
   * was the first and stays / was not and was deleted.
   */
  onConcurrentCreate?: (what: 'found' | 'won' | 'lost') => void;
}

/**
 * The records holding `key` as people type it (see keyMatch), from the records query, which is up to
 * date (search "is eventually consistent": spec, search endpoint). `$contains` matches
 * case-insensitively (docs: filtering and sorting); the exact comparison is made here.
 */
async function recordsHolding(attio: AttioClient, options: AttioWriterOptions, key: string): Promise<Array<{ record: AttioRecord; match: KeyMatch }>> {
  if (options.keyProperty) {
    const keySpec = options.specs.find((spec) => spec.slug === options.matchSlug)!;
    const filter = { [options.matchSlug]: { [options.keyProperty]: { $contains: key } } }; // case-insensitive, as in loadRecordsByKeys
    const page = await attio<{ data: AttioRecord[] }>('POST', `/objects/${options.object}/records/query`, { filter, limit: 25 });
    return page.data.filter((record) => heldKeys(record, keySpec).includes(key.toLowerCase())).map((record) => ({ record, match: 'exact' as const }));
  }
  const found: AttioRecord[] = [];
  const limit = 25; // a whole key is contained in one or two records' keys; more pages if not
  for (let offset = 0; ; offset += limit) {
    const page = await attio<{ data: AttioRecord[] }>('POST', `/objects/${options.object}/records/query`, {
      filter: { [options.matchSlug]: { value: { $contains: key } } },
      limit,
      offset,
    });
    found.push(...page.data);
    if (page.data.length < limit) break;
  }
  return found.flatMap((record) => {
    const match = keyMatch(plainValue(record.values[options.matchSlug], 'text')?.toString() ?? '', key);
    return match ? [{ record, match }] : [];
  });
}

/** What a create left: the record its own answer named, or (its answer lost) the records holding the key. */
type Created = { recordId: string } | { holders: AttioRecord[] };

/**
 * Creates a record without a unique key to assert on, and never twice: a create whose answer was
 * lost (dropped connection, timeout, 5xx, a cut body) may have landed, so before it is sent again the
 * key is looked up, and what holds it then is what the create left (whether this run's create or
 * another run's, it cannot tell). A 429 was not processed (Attio's rate-limiting guide), so it is
 * simply sent again.
 */
async function createOnce(attio: AttioClient, options: AttioWriterOptions, key: string, values: Record<string, unknown[]>): Promise<Created> {
  let maybeLanded = false;
  return withRetry(async (): Promise<Created> => {
    if (maybeLanded) {
      const holders = (await recordsHolding(attio, options, key)).filter((h) => h.match === 'exact').map((h) => h.record);
      options.onLostCreate?.(holders.length > 0);
      if (holders.length) return { holders };
      maybeLanded = false;
    }
    try {
      const created = await attio.once<{ data: AttioRecord }>('POST', `/objects/${options.object}/records`, { data: { values } });
      return { recordId: created.data.id.record_id };
    } catch (error) {
      maybeLanded = error instanceof ApiError && (attio.policy.transient ?? isTransient)(error) && error.status !== 429;
      throw error;
    }
  }, attio.policy);
}

/** Records holding one key, in the order every run puts them: the earliest `created_at`, then `record_id`. */
export function firstCreated<R extends { created_at?: string; id: { record_id: string } }>(records: readonly R[]): R[] {
  const at = (r: R) => Date.parse(r.created_at ?? '') || Infinity;
  const text = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return [...records].sort((a, b) => at(a) - at(b) || text(a.created_at ?? '', b.created_at ?? '') || text(a.id.record_id, b.id.record_id));
}

/** The references a planned write fills (DesiredRecord.ifEmpty), from its changes. */
function fillsOf(desired: DesiredRecord, changes: readonly ValueChange[]): Record<string, PlainValue> {
  return Object.fromEntries(changes.filter((c) => desired.ifEmpty && c.slug in desired.ifEmpty).map((c) => [c.slug, c.after]));
}

/** Writes the owned values (and `fills`, where the record has none) to a record that already holds the key, if any differ. */
async function writeToHolder(record: AttioRecord, desired: DesiredRecord, options: AttioWriterOptions, detail: string, fills: Record<string, PlainValue> = {}): Promise<WriteResult> {
  const recordId = record.id.record_id;
  const current = plainValues(
    record,
    options.specs.filter((spec) => spec.slug in desired.values || spec.slug in fills),
  );
  const empty = Object.fromEntries(Object.entries(fills).filter(([slug]) => current[slug] === null));
  const changes = diffValues({ ...desired.values, ...empty }, current);
  if (changes.length) await options.attio('PATCH', `/objects/${options.object}/records/${recordId}`, { data: { values: toAttioValues({ ...desired.values, ...empty }, options.specs) } });
  return { key: desired.key, outcome: changes.length ? 'updated' : 'unchanged', recordId, detail, changes };
}

/**
 * Just before a create, the key is looked up: a record that took it since the load (another run
 * creating it at the same time, a person, or a page the load missed while records moved) is written
 * instead, and a near-miss or a second holder is reported. Null: nothing holds the key, create it.
 */
async function beforeCreate(desired: DesiredRecord, options: AttioWriterOptions, fills: Record<string, PlainValue>): Promise<WriteResult | null> {
  const key = desired.key;
  const holders = await recordsHolding(options.attio, options, key);
  if (!holders.length) return null;
  const only = holders[0]!;
  if (holders.length > 1) {
    const labels = holders.map((h) => holderLabel(h.record.id.record_id, h.match, plainValue(h.record.values[options.matchSlug], 'text') as string));
    return { key, outcome: 'conflict', detail: duplicatesReason(key, labels) };
  }
  const stored = plainValue(only.record.values[options.matchSlug], 'text') as string;
  if (only.match === 'cased') return { key, outcome: 'conflict', detail: otherCaseReason(only.record.id.record_id, stored, key, options.matchSlug) };
  options.onConcurrentCreate?.('found');
  return writeToHolder(only.record, desired, options, `record ${only.record.id.record_id} took ${key} after this run loaded the records: written there, not created again`, fills);
}

/**
 * After a create without a unique key, the key is looked up again: two runs at the same time may each
 * have created one. Every run puts the holders in the same order (firstCreated) and keeps the first;
 * a run whose fresh record is not first deletes that record, the one it created a moment ago and
 * never any other (`DELETE …/records/{record_id}`, spec), and writes to the first.
 */
async function afterCreate(recordId: string, desired: DesiredRecord, options: AttioWriterOptions, changes: ValueChange[]): Promise<WriteResult> {
  const key = desired.key;
  const created: WriteResult = { key, outcome: 'created', recordId, changes };
  const holders = (await recordsHolding(options.attio, options, key)).filter((h) => h.match === 'exact').map((h) => h.record);
  const first = firstCreated(holders)[0];
  if (!first || holders.length < 2) return created;
  if (first.id.record_id === recordId) {
    options.onConcurrentCreate?.('won');
    return created;
  }
  try {
    await options.attio('DELETE', `/objects/${options.object}/records/${recordId}`);
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 404)) throw error; // 404: an earlier attempt deleted it
  }
  options.onConcurrentCreate?.('lost');
  return writeToHolder(first, desired, options, `record ${first.id.record_id} for ${key} was created at the same time as this run's ${recordId}, and first: ${recordId} was deleted`);
}

/**
 * Creates a new record with `onCreate`, once: looked up just before (beforeCreate), created (an
 * assert where the key is unique, else createOnce), and, without a unique key, looked up after
 * (afterCreate). A domain taken meanwhile (`uniqueness_conflict`) links instead (`relink`).
 */
async function createNew(
  action: Extract<PlannedAction, { kind: 'new' }>,
  desired: DesiredRecord,
  options: AttioWriterOptions,
  relink: () => Promise<WriteResult | null>,
): Promise<WriteResult> {
  const { attio, object, matchSlug } = options;
  const key = action.key;
  const fills = fillsOf(desired, action.changes);
  const found = await beforeCreate(desired, options, fills);
  if (found) return found;
  const onCreate = Object.fromEntries(Object.entries(desired.onCreate).filter(([, value]) => value !== null));
  const createValues = { ...toAttioValues({ ...desired.values, ...fills }, options.specs), ...toAttioValues(onCreate, options.specs) };
  try {
    if (options.keyIsUnique) {
      // Attio's upsert: its uniqueness check is what keeps the key on one record.
      const assertPath = `/objects/${object}/records?matching_attribute=${encodeURIComponent(matchSlug)}`;
      const asserted = await attio<{ data: AttioRecord }>('PUT', assertPath, { data: { values: createValues } });
      return await keepFills(asserted.data, fills, { key, outcome: 'created', recordId: asserted.data.id.record_id, changes: action.changes }, options);
    }
    const created = await createOnce(attio, options, key, createValues);
    if ('recordId' in created) return await afterCreate(created.recordId, desired, options, action.changes);
    if (created.holders.length === 1) return { key, outcome: 'created', recordId: created.holders[0]!.id.record_id, changes: action.changes };
    const ids = created.holders.map((r) => r.id.record_id);
    return {
      key,
      outcome: 'conflict',
      detail: `${duplicatesReason(key, ids)}; another run created one at the same time as this run, whose answer was lost, so it cannot tell which is its own`,
    };
  } catch (error) {
    // The unique value was taken between our look-up and the create (or the look-up missed it).
    if (error instanceof ApiError && error.code === 'uniqueness_conflict') {
      const retried = await relink();
      if (retried) return retried;
    }
    throw error;
  }
}

/**
 * After a create, the references it set (`fills`) as the answer holds them. Attio matches or makes
 * a company for a new person "based on the domain of the person's email address" (docs: standard
 * objects, people); the docs do not say whether a company given in the create wins. Where the
 * answer holds another, the record this run just created is written again by id with its own.
 */
async function keepFills(record: AttioRecord, fills: Record<string, PlainValue>, created: WriteResult, options: AttioWriterOptions): Promise<WriteResult> {
  const held = plainValues(
    record,
    options.specs.filter((spec) => spec.slug in fills),
  );
  const moved = Object.keys(fills).filter((slug) => held[slug] !== fills[slug]);
  if (!moved.length) return created;
  await options.attio('PATCH', `/objects/${options.object}/records/${record.id.record_id}`, { data: { values: toAttioValues(fills, options.specs) } });
  return { ...created, detail: `Attio set ${moved.join(', ')} to ${moved.map((slug) => escapeText(String(held[slug]))).join(', ')} on create: set to the sync's` };
}

/**
 * Carries out one planned action with the owned values. An update writes by key (assert) or by
 * record id. A new record goes to the record its hint names, or to the unlinked record its domain
 * (the hint's, else its own) finds, with a PATCH by id; a record linked to another key is a conflict,
 * and so is a hint that finds nothing. Otherwise the record is created with `onCreate` (createNew).
 * `claimed` holds the records this run has linked, so two keys never link the same one.
 */
async function writeAction(action: PlannedAction, desired: DesiredRecord, options: AttioWriterOptions, claimed: Set<string>): Promise<WriteResult> {
  const key = action.key;
  if (action.kind === 'unchanged') return { key, outcome: 'unchanged', recordId: action.recordId };
  if (action.kind === 'conflict') return { key, outcome: 'conflict', detail: action.reason };
  if (action.kind === 'waiting') return { key, outcome: 'waiting', detail: action.reason };
  if (action.kind === 'update') return updateRecord(action, desired, options);
  const linkOrConflict = () => findAndLink(desired, options, claimed);
  const linked = await linkOrConflict();
  if (linked) return linked;
  if (options.dryRun) return { key, outcome: 'created', changes: action.changes };
  return createNew(action, desired, options, linkOrConflict);
}

/** An update: by key (Attio's assert) where the key is unique, else by record id. */
async function updateRecord(action: Extract<PlannedAction, { kind: 'update' }>, desired: DesiredRecord, options: AttioWriterOptions): Promise<WriteResult> {
  const { attio, object, matchSlug } = options;
  if (!options.dryRun) {
    const owned = toAttioValues({ ...desired.values, ...fillsOf(desired, action.changes) }, options.specs);
    // By id when the write corrects the key itself (spaces around it), where an assert would match
    // nothing and create, and for a standard key (a person's email), which owned values do not hold.
    if (options.keyIsUnique && !options.keyProperty && !action.changes.some((c) => c.slug === matchSlug))
      await attio('PUT', `/objects/${object}/records?matching_attribute=${encodeURIComponent(matchSlug)}`, { data: { values: owned } });
    else await attio('PATCH', `/objects/${object}/records/${action.recordId}`, { data: { values: owned } });
  }
  return { key: action.key, outcome: 'updated', recordId: action.recordId, changes: action.changes };
}

/**
 * For a new key: the record its hint names, or the unlinked record its link value (the hint's, else
 * its own) finds, linked; a conflict where the hint finds nothing. Null: nothing to link, create it.
 */
async function findAndLink(desired: DesiredRecord, options: AttioWriterOptions, claimed: Set<string>): Promise<WriteResult | null> {
  const { attio, object } = options;
  const key = desired.key;
  const hint = desired.hint;
  if (hint && 'recordId' in hint) {
    try {
      const found = await attio<{ data: AttioRecord }>('GET', `/objects/${object}/records/${encodeURIComponent(hint.recordId)}`);
      return await linkRecord(found.data, `${hint.label} ${hint.recordId}`, desired, options, claimed);
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) return { key, outcome: 'conflict', detail: `${hint.label} ${hint.recordId} is no record in Attio` };
      throw error;
    }
  }
  const value = hint?.linkValue ?? desired.linkValue;
  if (!value || !options.linkBy) return null;
  const { slug, property } = options.linkBy;
  const found = await attio<{ data: AttioRecord[] }>('POST', `/objects/${object}/records/query`, {
    filter: { [slug]: { [property]: { $eq: value } } },
    limit: 2,
  });
  if (found.data[0]) return linkRecord(found.data[0], `${property} ${value}`, desired, options, claimed);
  return hint ? { key, outcome: 'conflict', detail: `${hint.label} ${value} matches no record in Attio: add it to the right record, or remove the hint` } : null;
}

/** Writes the owned values to a found record by id, unless it holds another key or this run linked it to another already. */
async function linkRecord(record: AttioRecord, found: string, desired: DesiredRecord, options: AttioWriterOptions, claimed: Set<string>): Promise<WriteResult> {
  const key = desired.key;
  const recordId = record.id.record_id;
  const otherKey = plainValue(record.values[options.matchSlug], 'text');
  if (otherKey && otherKey !== key)
    return { key, outcome: 'conflict', detail: placementConflict(desired, `${found} is record ${escapeText(recordId)}, already linked to ${escapeText(String(otherKey))}`) };
  if (claimed.has(recordId) && otherKey !== key)
    return { key, outcome: 'conflict', detail: placementConflict(desired, `record ${escapeText(recordId)} (${found}) was linked to another record in this run`) };
  claimed.add(recordId);
  const before = plainValues(
    record,
    options.specs.filter((spec) => spec.slug in desired.values),
  );
  if (!options.dryRun) await options.attio('PATCH', `/objects/${options.object}/records/${recordId}`, { data: { values: toAttioValues(desired.values, options.specs) } });
  return { key, outcome: 'linked', detail: `record ${recordId} (${found})`, recordId, changes: diffValues(desired.values, before) };
}

/**
 * Carries out the plan's writes with at most `concurrency` at once. A failed record never stops
 * the others, except where `explain` says a failure will repeat for every record (a rejected key).
 */
async function writePlan(
  plan: readonly PlannedAction[],
  desiredByKey: ReadonlyMap<string, DesiredRecord>,
  options: AttioWriterOptions & {
    concurrency: number;
    explain: (error: unknown) => { detail: string; stopsAll: boolean };
    onResult: (result: WriteResult) => void;
    /** Asked before each write: false once the time budget is spent (writes under way finish). */
    mayStart?: () => boolean;
    /** Told before an action starts that may send a write (the audit log's intent line); a throw fails it. */
    beforeWrite?: (action: PlannedAction) => void;
  },
): Promise<WriteResult[]> {
  const claimed = new Set<string>();
  let stopReason: string | null = null;
  return mapConcurrent(plan, options.concurrency, async (action) => {
    let result: WriteResult;
    if (stopReason) result = { key: action.key, outcome: 'failed', detail: `not attempted: ${stopReason}` };
    else if (options.mayStart && !options.mayStart()) result = { key: action.key, outcome: 'deferred' };
    else {
      try {
        options.beforeWrite?.(action);
        result = await writeAction(action, desiredByKey.get(action.key)!, options, claimed);
      } catch (error) {
        const { detail, stopsAll } = options.explain(error);
        result = { key: action.key, outcome: 'failed', detail };
        if (stopsAll) stopReason ??= detail;
      }
    }
    options.onResult(result);
    return result;
  });
}

// ================================================================================================
// CORE 6. RUN AND REPORT
// main: parse, setup, preflight and read, map and plan, write, report.
// ================================================================================================

export interface RunOptions {
  env?: Record<string, string | undefined>;
  output?: Output;
  isTTY?: boolean;
  /** Injectable for tests, so retries do not sleep for real. */
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  timeoutMs?: number;
  retries?: number;
  /** Pacing overrides: Attio's (`ATTIO_LIMITS` keys) and the source's (its own keys). */
  limits?: Partial<typeof ATTIO_LIMITS> & Record<string, number>;
  now?: () => number;
  /**
   * Stops the run when aborted, its reason the signal's name (the CLI: SIGTERM, SIGINT): no new
   * write starts, writes under way finish and are logged, the report follows, and main returns
   * 143 (130 for SIGINT). Before the writes, main returns at once.
   */
  stop?: AbortSignal;
}

/** The exit code of a run stopped by `signal`: 128 + the signal's number, as a shell reports it. */
export function stoppedExitCode(signal: unknown): number {
  return signal === 'SIGINT' ? 130 : 143;
}

/** How a run ends early: its exit code, and the message that says why. The steps throw it; main turns it into the exit code. */
class Exit extends Error {
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.code = code;
  }
}

const STOPPED = Symbol('stopped');

/** What `work` resolves to, or STOPPED as soon as `stop` is aborted (the work is left to end on its own). */
function unlessStopped<T>(work: Promise<T>, stop: AbortSignal | undefined): Promise<T | typeof STOPPED> {
  if (!stop) return work;
  return new Promise((resolve, reject) => {
    const stopped = () => resolve(STOPPED);
    if (stop.aborted) {
      work.catch(() => {});
      return stopped();
    }
    stop.addEventListener('abort', stopped, { once: true });
    const done = () => stop.removeEventListener('abort', stopped);
    work.then(
      (value) => {
        done();
        resolve(value);
      },
      (error: unknown) => {
        done();
        reject(error);
      },
    );
  });
}

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Runs a sync (SYNC unless told otherwise) and returns the exit code: 0 all written, 1 some records failed, 2 config/preflight. */
export async function main(argv: string[], options: RunOptions = {}, sync: Sync = SYNC): Promise<number> {
  const io = startOutput(options, sync.source.secretShape);
  try {
    return await runSteps(argv, options, sync, io);
  } catch (error) {
    if (!(error instanceof Exit)) throw error;
    io.errLine(error.message);
    return error.code;
  }
}

/** The pipeline, each step's value the next one's input: configure, then setup, or preflight and read, map and plan, write, report. */
async function runSteps(argv: string[], options: RunOptions, sync: Sync, io: Io): Promise<number> {
  const { source } = sync;
  const config = configure(argv, options.env ?? process.env, sync);
  if (config.help) {
    io.out(usageText(sync));
    return 0;
  }
  io.scrub([config.attioKey, ...config.source!.secrets]);
  const run = startRun(config, options, io, source);
  if (config.setup) {
    await setup(run, config.targets); // a few requests, and safe to run again
    return exitCode(run, 0);
  }
  const [target, ...later] = config.targets as [Target, ...Target[]];
  const ready = await beforeWriting(run, preflightAndRead(run, source, config.targets));
  const planned = await beforeWriting(run, mapAndPlan(run, source, target, ready));
  const steps: Step[] = [{ target, planned, written: await write(run, target, planned) }];
  // Each later target after the ones before: its references point at records they wrote.
  for (const [i, next] of later.entries()) {
    const plannedNext = await planLater(run, next, ready.laterChecks[i]!, planned, steps);
    steps.push({ target: next, planned: plannedNext, written: await write(run, next, plannedNext) });
  }
  return exitCode(run, report(run, source, ready, steps));
}

/** One target's plan and writes, for the report. */
interface Step {
  target: Target;
  planned: Planned;
  written: Written;
}

/** Flags and environment, or Exit 2 with every problem. */
function configure(argv: string[], env: Record<string, string | undefined>, sync: Sync): Config {
  try {
    return parseConfig(argv, env, sync);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    throw new Exit(2, `Configuration error:\n${error.message}`);
  }
}

/** `code`, unless the run was stopped (`RunOptions.stop`): then the signal's. */
function exitCode(run: Run, code: number): number {
  return run.stop?.aborted ? stoppedExitCode(run.stop.reason) : code;
}

/** What a step before the writes resolves to; stopped meanwhile, the run ends at once, having written nothing. */
async function beforeWriting<T>(run: Run, step: Promise<T>): Promise<T> {
  const result = await unlessStopped(step, run.stop);
  if (result !== STOPPED) return result;
  run.progress.finish();
  throw new Exit(stoppedExitCode(run.stop!.reason), 'Stopped before any write: nothing was written.');
}

/** Output that never shows a secret (see startOutput). */
interface Io {
  /** A line of results, on stdout. */
  out(line: string): void;
  /** Progress and problems, on stderr, as they come (no newline added). */
  err(text: string): void;
  errLine(line: string): void;
  /** Text with every secret removed, for the files the run writes. */
  redact(text: string): string;
  /** From now on, these are the secrets (once the configuration names them). */
  scrub(secrets: string[]): void;
}

/** Requests and retries, for the requests line and the notes. */
interface RequestCounts {
  retries: number;
  /** Retries by what answered ("Attio 429", "Stripe no answer"). */
  retriedFor: Record<string, number>;
  attioReads: number;
  attioWrites: number;
}

/** Everything a run's steps share. */
interface Run {
  config: Config;
  io: Io;
  now: () => number;
  startedAt: number;
  stop: AbortSignal | undefined;
  progress: Progress;
  /** A progress line, with the latest retry for 5 s after it. */
  showProgress: (line: string) => void;
  /** The one retry policy of every request, every retry counted and shown. */
  policy: RetryPolicy;
  attio: AttioClient;
  counts: RequestCounts;
  limits: typeof ATTIO_LIMITS;
  /** What a key problem means for every request alike, or null for any other error. */
  keyRejected: (error: unknown) => string | null;
  /** An error in one line of output. */
  describe: (error: unknown) => string;
  /** What the source is handed for reading and mapping. */
  readContext: ReadContext;
}

/**
 * Output that never shows a secret and that data cannot steer (every line through escapeText):
 * stdout for results, stderr for progress and problems.
 */
function startOutput(options: RunOptions, secretShape?: RegExp): Io {
  const raw = options.output ?? { out: (l: string) => process.stdout.write(`${l}\n`), err: (l: string) => process.stderr.write(l) };
  const env = options.env ?? process.env;
  // Until the configuration is read, every *_KEY variable counts as a secret.
  let redact = redactor(
    Object.entries(env).flatMap(([name, value]) => (/_KEY$/.test(name) && value ? [value.trim()] : [])),
    secretShape,
  );
  const err = (text: string) => raw.err(logSafe(redact(text)));
  return {
    out: (line: string) => raw.out(logSafe(redact(line))),
    err,
    errLine: (line: string) => err(`${line}\n`),
    redact: (text: string) => redact(text),
    scrub: (secrets: string[]) => void (redact = redactor(secrets, secretShape)),
  };
}

/** Everything a run shares: its clock, retry policy (every retry shown), Attio client and counters. */
function startRun(config: Config, options: RunOptions, io: Io, source: Source<unknown, unknown>): Run {
  const now = options.now ?? Date.now;
  const isTTY = options.isTTY ?? Boolean(process.stderr.isTTY);
  const progress = new Progress(io.err, isTTY, now);
  const counts: RequestCounts = { retries: 0, retriedFor: {}, attioReads: 0, attioWrites: 0 };
  const retries = options.retries ?? RETRY.retries;
  const reporter = retryReporter(progress, isTTY, now, counts, retries);
  const policy: RetryPolicy = { retries, baseDelayMs: RETRY.baseDelayMs, sleep: options.sleep ?? realSleep, random: options.random ?? Math.random, onRetry: reporter.onRetry };
  const limits = { ...ATTIO_LIMITS, ...options.limits };
  const timeoutMs = options.timeoutMs ?? RETRY.requestTimeoutMs;
  const attio = createAttioClient({
    baseUrl: config.attioUrl,
    baseUrlVariable: 'ATTIO_API_URL',
    apiKey: config.attioKey,
    timeoutMs,
    policy,
    readPacer: new Pacer(limits.readsPerSecond),
    writePacer: new Pacer(limits.writesPerSecond),
    onRequest: (kind) => (kind === 'read' ? counts.attioReads++ : counts.attioWrites++),
  });
  const readContext: ReadContext = { policy, timeoutMs, now, only: config.only, limits: options.limits, progress: reporter.show };
  const run = { config, io, now, startedAt: now(), stop: options.stop, progress, showProgress: reporter.show, policy, attio, counts, limits, readContext };
  return { ...run, keyRejected: (error) => keyRejected(error, source, retries), describe: (error) => describeError(error, source, retries) };
}

/** Tells of every retry: counted by what answered; shown in the progress line on a terminal, otherwise as a line at most every 10 s. */
function retryReporter(progress: Progress, isTTY: boolean, now: () => number, counts: RequestCounts, retries: number) {
  let lastRetry = { line: '', atMs: -Infinity, printedAtMs: -Infinity, unprinted: 0 };
  const onRetry = (error: ApiError, attempt: number, delayMs: number) => {
    counts.retries += 1;
    const why = `${error.service} ${error.status ?? 'no answer'}`;
    counts.retriedFor[why] = (counts.retriedFor[why] ?? 0) + 1;
    const line = `retrying ${error.service} ${error.status ?? 'request'}${error.code ? ` ${escapeText(error.code)}` : ''} (${escapeText(error.message)}): retry ${attempt + 1} of ${retries} in ${(delayMs / 1000).toFixed(1)}s`;
    lastRetry = { ...lastRetry, line, atMs: now() };
    if (isTTY) return;
    if (now() - lastRetry.printedAtMs < 10_000) {
      lastRetry.unprinted += 1;
      return;
    }
    progress.print(`${line}${lastRetry.unprinted ? ` (and ${lastRetry.unprinted} more retries since the last such line)` : ''}`);
    lastRetry = { ...lastRetry, printedAtMs: now(), unprinted: 0 };
  };
  const show = (line: string) => progress.update(() => (now() - lastRetry.atMs < 5000 ? `${line} · ${lastRetry.line}` : line));
  return { onRetry, show };
}

/** A key problem fails every request alike: say which key and how to fix it. Null for any other error. */
function keyRejected(error: unknown, source: Source<unknown, unknown>, retries: number): string | null {
  if (!(error instanceof ApiError) || (error.status !== 401 && error.status !== 403)) return null;
  const variable = error.service === source.name ? source.keyVariable : 'ATTIO_API_KEY';
  // Only the Attio client retries a 401 (attioTransient); the source's 401 is final at once.
  const retried = error.service === source.name ? '' : ` after ${retries} retries`;
  return error.status === 401
    ? `${error.service} rejected the key in ${variable} (401${retried}): check that it is current and has the permissions the README lists.`
    : `The key in ${variable} lacks a permission (${error.service} 403${error.code ? ` ${escapeText(error.code)}` : ''}: ${escapeText(error.message)}): grant the permissions the README lists.`;
}

/** An error in one line: a rejected key with its fix, an API's answer, or any other error's message (a source's own Error, say), never a stack. */
function describeError(error: unknown, source: Source<unknown, unknown>, retries: number): string {
  const rejected = keyRejected(error, source, retries);
  if (rejected) return rejected;
  if (error instanceof AuditLogError) return error.message;
  if (error instanceof ApiError) return `${error.service}${error.status ? ` ${error.status}` : ''}${error.code ? ` ${escapeText(error.code)}` : ''}: ${escapeText(error.message)}`;
  return escapeText(error instanceof Error ? error.message : String(error));
}

const notReady = (object: string, checked: PreflightResult) => `Attio is not ready for the sync (object "${object}"):\n${checked.problems.map((p) => `  - ${p}`).join('\n')}`;

/** --setup: create what is missing on each target's object, check, stop. Never reads the source. */
async function setup(run: Run, targets: readonly Target[]): Promise<void> {
  const done: string[] = [];
  const checks: PreflightResult[] = [];
  try {
    for (const target of targets) {
      const object = targets.length > 1 ? `${target.object}: ` : '';
      done.push(...(await setupAttributes(run.attio, target.object, target.specs, run.config.setupCurrency)).map((d) => `${object}${d}`));
      checks.push(await preflight(run.attio, target.object, target.specs));
    }
  } catch (error) {
    throw new Exit(exitCode(run, 2), `Setup failed: ${run.describe(error)}`);
  }
  run.io.out(done.length ? `Setup:\n${done.map((d) => `  ${d}`).join('\n')}` : 'Setup: every attribute and option already exists; nothing to do.');
  const problems = targets.flatMap((target, i) => (checks[i]!.problems.length ? [notReady(target.object, checks[i]!)] : []));
  if (problems.length) throw new Exit(exitCode(run, 2), problems.join('\n'));
  const currency = checks.find((c) => c.currency)?.currency;
  run.io.out(`Attio is ready${currency ? `; currency attributes are in ${escapeText(currency)}` : ''}. Next: npx tsx sync.ts --dry-run`);
}

/** What preflight and reading leave for mapping. */
interface Ready {
  checked: PreflightResult;
  /** The preflight of each later target (Sync.moreTargets), in order. */
  laterChecks: PreflightResult[];
  keyIsUnique: boolean;
  read: { data: unknown; summary: string; requests: number; keys?: string[] };
  linkedRecords: LinkedRecord[];
  /** A partial run's sample of other linked keys (TargetState.otherKeys). */
  otherKeys: string[];
  loadNotes: string[];
}

/** Reading failed for good, nothing was written: a rejected key is a configuration problem (2), anything else exit 1. */
function readFailed(run: Run, error: unknown): Exit {
  return new Exit(run.keyRejected(error) ? 2 : 1, `Reading failed, nothing was written: ${run.describe(error)}`);
}

/** Checks Attio while the source is read, then loads the records linked before. */
async function preflightAndRead(run: Run, source: Source<unknown, unknown>, targets: readonly Target[]): Promise<Ready> {
  const { io, now } = run;
  const target = targets[0]!;
  const readStarted = now();
  // One object after the other: a key Attio keeps refusing is retried (and reported) once, not per object.
  const checking = (async () => {
    const checks: PreflightResult[] = [];
    for (const t of targets) checks.push(await preflight(run.attio, t.object, t.specs));
    return checks;
  })();
  const reading = source.read(run.config.source!.settings, run.readContext);
  reading.catch(() => {}); // awaited below, once preflight has passed
  const checks = await checking.catch((error: unknown) => {
    throw new Exit(2, `Preflight failed: ${run.describe(error)}`);
  });
  const problems = targets.flatMap((t, i) => (checks[i]!.problems.length ? [notReady(t.object, checks[i]!)] : []));
  if (problems.length) throw new Exit(2, problems.join('\n'));
  const [checked, ...laterChecks] = checks;
  const keyIsUnique = checked!.unique.includes(target.key.slug);
  io.out(
    keyIsUnique
      ? `Matching: "${target.key.slug}" is unique in this workspace, so each record is upserted by it (Attio's assert).`
      : `Matching: "${target.key.slug}" is not unique (Attio allows no unique custom attribute on companies), so the sync matches records itself: updates by record id, creates each new one once.`,
  );
  const owned = target.specs.filter((spec) => !spec.standard);
  const load = (onlyKeys?: string[]) =>
    loadLinkedRecords(run.attio, target.object, target.key.slug, owned, { keyPrefix: target.key.prefix ?? '', onlyKey: run.config.only, onlyKeys }, run.limits.pageSize);
  try {
    // A partial run knows its keys once it has read, and looks at a few other linked records; a full run loads every linked record meanwhile.
    const partial = run.config.source!.partial === true;
    const sampling = partial ? sampleKeys(run.attio, target, run.limits.pageSize) : Promise.resolve([]);
    sampling.catch(() => {}); // awaited below, after reading
    const [read, state] = partial ? await reading.then(async (read) => [read, await load(read.keys ?? [])] as const) : await Promise.all([reading, load()]);
    const otherKeys = (await sampling).filter((key) => !(read.keys ?? []).includes(key));
    run.progress.finish(`Read ${read.summary} and ${state.records.length} linked Attio records in ${((now() - readStarted) / 1000).toFixed(1)}s.`);
    return { checked: checked!, laterChecks, keyIsUnique, read, linkedRecords: state.records, otherKeys, loadNotes: state.notes };
  } catch (error) {
    run.progress.finish();
    throw readFailed(run, error);
  }
}

/** The source's plan, and the core's: what to leave, update, or add, per key. */
interface Planned extends SourcePlan {
  plan: PlannedAction[];
  /** Keys held in Attio that the source no longer has. */
  orphans: string[];
  desiredByKey: Map<string, DesiredRecord>;
  keyIsUnique: boolean;
  /** Why a later target's records could not be loaded: none is written, and the run fails. */
  loadFailed?: string;
}

/** The source's records for this target (with --only, that key's alone), and the plan: what to leave, update, or add. */
async function mapAndPlan(run: Run, source: Source<unknown, unknown>, target: Target, ready: Ready): Promise<Planned> {
  const linkedKeys = new Set(ready.linkedRecords.map((r) => String(r.values[target.key.slug]).trim()));
  const state: TargetState = { currency: ready.checked.currency, linkedKeys, otherKeys: ready.otherKeys };
  const mapped = await source.map(run.config.source!.settings, ready.read.data, state, run.readContext).catch((error: unknown) => {
    throw readFailed(run, error);
  });
  if (mapped.stop) throw new Exit(2, mapped.stop);
  // --only is the core's promise, whatever the source returns: one key planned, nothing else created; a partial run's, its keys.
  const only = run.config.only;
  const covered = run.config.source!.partial ? new Set(ready.read.keys ?? []) : null;
  const records = mapped.records.filter((record) => (only === null || record.key === only) && (!covered || covered.has(record.key)));
  const matched = matchLinkedRecords(
    ready.linkedRecords,
    records.map((r) => r.key),
    target.key.slug,
  );
  const plan = planRecords(records, matched.linked, matched.duplicates, matched.nearMisses);
  const notes = [...mapped.notes, ...ready.loadNotes, ...matched.notes];
  return { ...mapped, records, notes, plan, orphans: matched.orphans, desiredByKey: new Map(records.map((d) => [d.key, d])), keyIsUnique: ready.keyIsUnique };
}

/**
 * Where the steps so far wrote each key: a record id, `new` for a record a dry run would create,
 * null for one not written. Unchanged records are in the plan, the rest in the results.
 */
function placedBy(steps: readonly Step[]): Placed {
  const byObject = new Map<string, Map<string, string | 'new' | null>>();
  const wrote = new Set<WriteOutcome>(['created', 'linked', 'updated', 'unchanged']);
  for (const { target, planned, written } of steps) {
    const placed = new Map<string, string | 'new' | null>();
    for (const action of planned.plan) if (action.kind === 'unchanged') placed.set(action.key, action.recordId ?? null);
    for (const result of written.results) placed.set(result.key, wrote.has(result.outcome) ? (result.recordId ?? 'new') : null);
    byObject.set(target.object, placed);
  }
  return (ref) => byObject.get(ref.object)?.get(ref.key) ?? null;
}

/**
 * A later target's plan (Sync.moreTargets): its records from the source's plan (with --only, those
 * referring to that key), the records holding their keys, and what to write, with the references
 * to the records the steps before it wrote. A load that fails leaves this target unwritten.
 */
async function planLater(run: Run, target: Target, checked: PreflightResult, first: Planned, steps: readonly Step[]): Promise<Planned> {
  const only = run.config.only;
  const all = first.laterRecords?.[target.object] ?? [];
  const records = only === null ? all : all.filter((r) => Object.values(r.ifEmpty ?? {}).some((ref) => ref.key === only));
  const planned: Planned = {
    records,
    notes: [],
    totals: null,
    stop: null,
    plan: [],
    orphans: [],
    desiredByKey: new Map(records.map((d) => [d.key, d])),
    keyIsUnique: checked.unique.includes(target.key.slug),
  };
  // Stopped (RunOptions.stop): nothing more is loaded; write() leaves every record for the next run.
  if (run.stop?.aborted) return { ...planned, plan: records.map((r) => ({ kind: 'new', key: r.key, changes: [] })) };
  try {
    if (target.key.prefix === undefined) {
      const { linked, duplicates } = await loadRecordsByKeys(run.attio, target, [...planned.desiredByKey.keys()], run.limits.pageSize);
      return { ...planned, plan: planRecords(records, linked, duplicates, new Map(), placedBy(steps)) };
    }
    const owned = target.specs.filter((spec) => !spec.standard);
    const onlyKeys = run.config.source!.partial ? records.map((r) => r.key) : undefined; // a partial run loads only what it covers
    const state = await loadLinkedRecords(run.attio, target.object, target.key.slug, owned, { keyPrefix: target.key.prefix, onlyKey: null, onlyKeys }, run.limits.pageSize);
    const matched = matchLinkedRecords(
      state.records,
      records.map((r) => r.key),
      target.key.slug,
    );
    const plan = planRecords(records, matched.linked, matched.duplicates, matched.nearMisses, placedBy(steps));
    return { ...planned, plan, notes: [...state.notes, ...matched.notes], orphans: matched.orphans };
  } catch (error) {
    const detail = `loading the ${target.object} records failed: ${run.describe(error)}`;
    return { ...planned, plan: records.map((r) => ({ kind: 'conflict', key: r.key, reason: detail })), loadFailed: detail };
  }
}

/** What the writes did, for the report. */
interface Written {
  results: WriteResult[];
  counts: Record<WriteOutcome, number>;
  lostCreates: { landed: number; resent: number };
  concurrentCreates: { found: number; won: number; lost: number };
  auditFailed: boolean;
}

/**
 * Writes the plan (in a dry run, resolves what would be written), within the time budget and until
 * the run is stopped (`RunOptions.stop`): then no new write starts and those under way finish.
 */
async function write(run: Run, target: Target, planned: Planned): Promise<Written> {
  const { config, io, now } = run;
  if (config.dryRun && target === config.targets[0]) io.out('DRY RUN: reading and planning only, nothing will be written.');
  const counts: Record<WriteOutcome, number> = { created: 0, linked: 0, updated: 0, unchanged: 0, conflict: 0, failed: 0, deferred: 0, waiting: 0 };
  const lostCreates = { landed: 0, resent: 0 };
  const concurrentCreates = { found: 0, won: 0, lost: 0 };
  const work = planned.plan.filter((a) => a.kind !== 'unchanged');
  counts.unchanged = planned.plan.length - work.length;
  const audit = startAuditLog(config.auditLog, target.key.slug, config.dryRun, now, io.redact);
  const started = now();
  let done = 0;
  const results = await writePlan(work, planned.desiredByKey, {
    attio: run.attio,
    object: target.object,
    matchSlug: target.key.slug,
    keyIsUnique: planned.keyIsUnique,
    linkBy: target.linkBy,
    keyProperty: target.key.prefix === undefined ? filterProperty(target.specs.find((spec) => spec.slug === target.key.slug)!.type) : null,
    specs: target.specs,
    dryRun: config.dryRun,
    onLostCreate: (landed) => (landed ? lostCreates.landed++ : lostCreates.resent++),
    onConcurrentCreate: (what) => void (concurrentCreates[what] += 1),
    concurrency: run.limits.concurrency,
    mayStart: () => !run.stop?.aborted && (config.maxMinutes === null || now() - run.startedAt < config.maxMinutes * 60_000),
    beforeWrite: (action) => audit.intent(action),
    // A key that stays rejected, or an audit log that cannot be written, fails every record alike: stop.
    explain: (error) => ({ detail: run.describe(error), stopsAll: run.keyRejected(error) !== null || error instanceof AuditLogError }),
    onResult: (result) => {
      counts[result.outcome] += 1;
      audit.outcome(result);
      if (result.outcome === 'failed') run.progress.print(`FAILED ${escapeText(result.key)}: ${result.detail}`);
      done += 1;
      run.showProgress(`${config.dryRun ? 'Planning' : 'Writing to Attio'}: ${done}/${work.length} (${formatRate(done, work.length, now() - started)})`);
    },
  });
  if (work.length) run.progress.finish(writtenLine(counts, work.length, config.dryRun, now() - started));
  if (audit.failure()) io.errLine(audit.failure()!.message);
  return { results, counts, lostCreates, concurrentCreates, auditFailed: audit.failure() !== null };
}

/** "Wrote 5 records in 1.2s (of 8 to write: 2 failed, 1 conflicts)": what landed, and apart from it what did not. */
function writtenLine(counts: Record<WriteOutcome, number>, toWrite: number, dryRun: boolean, elapsedMs: number): string {
  const written = counts.created + counts.linked + counts.updated;
  const notWritten = [counts.conflict && `${counts.conflict} conflicts`, counts.failed && `${counts.failed} failed`, counts.deferred && `${counts.deferred} left for the next run`].filter(
    Boolean,
  );
  const rest = notWritten.length ? ` (of ${toWrite} to write: ${notWritten.join(', ')})` : '';
  return `${dryRun ? 'Planned' : 'Wrote'} ${written} records in ${(elapsedMs / 1000).toFixed(1)}s${rest}.`;
}

/** The audit log could not be written: no further write is sent (a write with no line could land unrecorded). */
class AuditLogError extends Error {}

/**
 * The audit log (`--audit-log`): an intent line before each write that may land is sent, an outcome
 * line once it is done (in a dry run, outcome lines of the planned writes only). Each line is
 * appended with a synchronous write, so it is with the operating system before the request goes
 * out, and stays even if the process is killed (SIGKILL) a moment later. When a line cannot be
 * written, the next intent throws AuditLogError instead of letting a write go out unlogged.
 */
function startAuditLog(path: string | null, matchSlug: string, dryRun: boolean, now: () => number, redact: (text: string) => string) {
  const intended = new Set<string>();
  let failure: AuditLogError | null = null;
  const append = (line: string | null) => {
    if (!path || !line) return;
    try {
      appendFileSync(path, `${redact(line)}\n`);
    } catch (error) {
      failure ??= new AuditLogError(`The audit log ${escapeText(path)} could not be written (${fileProblem(error)}): no further write was sent.`);
    }
  };
  return {
    intent(action: PlannedAction): void {
      if (failure) throw failure;
      const line = dryRun || !path ? null : auditIntentLine(action, matchSlug, new Date(now()));
      if (!line) return;
      intended.add(action.key);
      append(line);
      if (failure) throw failure;
    },
    /** Every write's outcome; a conflict or failure only where an intent line announced a write. */
    outcome(result: WriteResult): void {
      const wrote = result.outcome === 'created' || result.outcome === 'linked' || result.outcome === 'updated';
      if (wrote || intended.has(result.key)) append(auditLine(result, matchSlug, dryRun, new Date(now())));
    },
    failure: () => failure,
  };
}

/** The report: on stdout, in the job summary, and as the exit code. */
function report(run: Run, source: Source<unknown, unknown>, ready: Ready, steps: readonly Step[]): number {
  const { config, io, counts: requests } = run;
  const [first, ...later] = steps as [Step, ...Step[]];
  const notes = [...stepNotes(run, source, first), ...later.flatMap((step) => stepNotes(run, source, step).map((note) => `${step.target.object}: ${note}`))];
  if (requests.retries) {
    const why = Object.entries(requests.retriedFor)
      .sort(([, a], [, b]) => b - a)
      .map(([what, n]) => `${what}: ${n}`);
    notes.push(`${requests.retries} requests were retried (${why.join(', ')})`);
  }
  const results = steps.flatMap((step) => step.written.results);
  const summary: RunSummary = {
    title: `${source.name} → Attio sync`,
    counts: steps.map((step) => ({ object: step.target.object, counts: step.written.counts })),
    totals: first.planned.totals,
    notes,
    failures: results.filter((r) => r.outcome === 'failed'),
    conflicts: results.filter((r) => r.outcome === 'conflict'),
    attention: first.planned.attention ?? [],
  };
  if (config.dryRun)
    for (const step of steps)
      for (const line of plannedChanges(step.planned.plan, step.written.results, step.planned.desiredByKey, step.target.key.slug, 20, step === first ? '' : step.target.object)) io.out(line);
  for (const conflict of summary.conflicts) io.out(`CONFLICT ${escapeText(conflict.key)}: ${conflict.detail}`);
  for (const note of notes) io.out(`note: ${note}`);
  if (summary.totals) io.out(summary.totals);
  for (const line of attentionLines(summary.attention)) io.out(line);
  io.out(
    `requests: ${ready.read.requests} ${source.name} requests, ${requests.attioReads} Attio reads, ${requests.attioWrites} Attio writes, ` +
      `${requests.retries} retried; ${((run.now() - run.startedAt) / 1000).toFixed(1)}s`,
  );
  // The first target's counts last: the line a log ends with.
  for (const step of later) io.out(`${config.dryRun ? 'DRY RUN (nothing written): ' : ''}${step.target.object}: ${summaryLine(step.written.counts)}`);
  io.out(`${config.dryRun ? 'DRY RUN (nothing written): ' : ''}${summaryLine(first.written.counts)}`);
  writeStepSummary(run, stepSummaryMarkdown(summary, config.dryRun));
  const failed = steps.some((step) => step.written.counts.failed > 0 || step.written.auditFailed || step.planned.loadFailed);
  return failed ? 1 : 0;
}

/** What one target's writes leave to say: orphans, the time budget or a stop, lost and concurrent creates, references kept, records waiting. */
function stepNotes(run: Run, source: Source<unknown, unknown>, { target, planned, written }: Step): string[] {
  const { counts, lostCreates, concurrentCreates: concurrent } = written;
  const notes = [...planned.notes];
  if (planned.loadFailed) notes.push(`none was written: ${planned.loadFailed}`);
  if (planned.orphans.length)
    notes.push(`${planned.orphans.length} Attio records hold a ${target.key.slug} that ${source.name} no longer has (${fewKeys(planned.orphans)}); left as they are`);
  if (counts.deferred && run.stop?.aborted) notes.push(`stopped by ${escapeText(String(run.stop.reason))}: ${counts.deferred} records were not started and are left for the next run`);
  else if (counts.deferred) notes.push(`the time budget (--max-minutes ${run.config.maxMinutes}) was reached: ${counts.deferred} records are left for the next run`);
  if (lostCreates.landed + lostCreates.resent)
    notes.push(
      `${lostCreates.landed + lostCreates.resent} creates lost their answer: ${lostCreates.landed} had landed (found by ${target.key.slug}, not sent again), ${lostCreates.resent} had not (sent again)`,
    );
  notes.push(...concurrentCreateNotes(concurrent, target.key.slug, target === run.config.targets[0] ? 'company' : 'record'));
  const kept = planned.plan.flatMap((a) => (a.kind === 'update' || a.kind === 'unchanged' ? (a.kept ?? []).map((k) => ({ key: a.key, ...k })) : []));
  if (kept.length)
    notes.push(
      `${kept.length} records already refer elsewhere than the sync would (${kept
        .slice(0, 3)
        .map((k) => `${escapeText(k.key)}: ${k.slug} ${escapeText(k.held)}, not ${escapeText(k.wanted)}`)
        .join('; ')}${kept.length > 3 ? '; …' : ''}): left as a person set them`,
    );
  const waiting = written.results.filter((r) => r.outcome === 'waiting');
  if (waiting.length) notes.push(`${waiting.length} new records wait for a record they refer to, which was not written (${fewKeys(waiting.map((r) => r.key))}): created once it is`);
  return notes;
}

/** Appends the job summary; one that cannot be written (checked at the start, so rare) is a warning, not a failed run. */
function writeStepSummary(run: Run, markdown: string): void {
  const path = run.config.stepSummary;
  if (!path) return;
  try {
    appendFileSync(path, run.io.redact(markdown));
  } catch (error) {
    run.io.errLine(`warning: the job summary could not be written to ${escapeText(path)} (${fileProblem(error)}); the run itself is unaffected.`);
  }
}

/** What the run says about new keys another record took meanwhile (see onConcurrentCreate). */
function concurrentCreateNotes(counts: { found: number; won: number; lost: number }, matchSlug: string, noun: string): string[] {
  const notes: string[] = [];
  if (counts.found)
    notes.push(
      `${counts.found} new records had a ${noun} by the time they were created (another run at the same time, a person, or a page that moved while loading): found by ${matchSlug} just before the create, written there instead`,
    );
  if (counts.won) notes.push(`${counts.won} records were created by another run too, at the same time: this run's ${noun} was the first and stays (the other run deletes its own)`);
  if (counts.lost)
    notes.push(`${counts.lost} records were created by another run too, at the same time, and first: this run deleted the ${noun} it had just created and wrote to the other run's`);
  return notes;
}

export interface Output {
  out: (line: string) => void;
  err: (line: string) => void;
}

/** Removes every secret, and anything shaped like one of the source's keys (even masked), from a line of output. */
export function redactor(secrets: readonly string[], shape?: RegExp): (text: string) => string {
  const present = secrets.filter((s) => s.length >= 4);
  return (text) => {
    let clean = text;
    for (const secret of present) clean = clean.split(secret).join('[redacted]');
    return shape ? clean.replace(new RegExp(shape.source, 'g'), '[redacted]') : clean;
  };
}

/** Control characters (C0, DEL, C1), bidirectional controls, and the line and paragraph separators. */
const UNPRINTABLE = /[\p{Cc}\p{Bidi_Control}\u2028\u2029]/gu;
const SHORT_ESCAPES: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * Text from outside (Stripe, Attio, the command line) made safe to show: the one function every
 * such value goes through on its way to the log, the job summary or the audit log.
 *
 * Every control character, line or paragraph separator and bidirectional control becomes a visible
 * escape (`\n`, `\u001b`, `\u202e`), so a value stays on its line and cannot recolour, reorder or
 * hide what is around it. Nothing in it can start a GitHub Actions workflow command: the runner
 * takes a line that starts with `::` after leading white space, and `##[` anywhere in a line
 * (actions/runner src/Runner.Common/ActionCommand.cs, TryParseV2 and TryParse).
 * - `log`: one line for stdout or stderr; `##[` becomes `##\[`, a leading `::` becomes `\::`.
 * - `markdown`: for the job summary; also backslash-escapes every character Markdown would render
 *   (links, emphasis, code, HTML, entities, math) and the table's `|`.
 * - `json`: applied to JSON text (JSON.stringify escapes C0 itself); what it leaves raw is escaped
 *   in JSON's own `\u` notation, so the line still parses back to exactly the same values.
 */
export function escapeText(text: string, format: 'log' | 'markdown' | 'json' = 'log'): string {
  const visible = text.replace(UNPRINTABLE, (c) => SHORT_ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  if (format === 'json') return visible.replace(/##\[/g, '##\\u005b');
  // `_` inside a word cannot start or end emphasis (CommonMark's flanking rules): cus_123 stays as it is.
  if (format === 'markdown') return visible.replace(/[\\`*[\]<>|~!#&$]|(?<![\p{L}\p{N}])_|_(?![\p{L}\p{N}])/gu, '\\$&');
  return visible.replace(/##\[/g, '##\\[').replace(/^(\s*)::/, '$1\\::');
}

/** The line-clearing prefix of the progress display on a terminal: the one control sequence the sync prints itself. */
const CLEAR_LINE = '\r\x1b[2K';

/** Text for stdout or stderr: each of its lines through escapeText (a leading CLEAR_LINE kept). */
function logSafe(text: string): string {
  const clear = text.startsWith(CLEAR_LINE) ? CLEAR_LINE : '';
  return (
    clear +
    text
      .slice(clear.length)
      .split('\n')
      .map((line) => escapeText(line))
      .join('\n')
  );
}

/**
 * At most `max` keys (customer ids, say), escaped, for a note or message: "cus_1, cus_2, cus_3 and
 * 4 more". Empty for no keys.
 */
export function fewKeys(keys: Iterable<string>, max = 3): string {
  const all = [...keys];
  const shown = all.slice(0, max).map((key) => escapeText(key));
  return all.length > max ? `${shown.join(', ')} and ${all.length - max} more` : shown.join(', ');
}

/**
 * Live progress: redrawn in place at most 4 times a second on a terminal, one plain line every
 * 15 seconds otherwise (GitHub Actions logs), so a log never fills with redraws.
 */
export class Progress {
  private readonly write: (text: string) => void;
  private readonly isTTY: boolean;
  private readonly now: () => number;
  private lastDrawMs: number;
  private drawn = false;
  constructor(write: (text: string) => void, isTTY: boolean, now: () => number = Date.now) {
    this.write = write;
    this.isTTY = isTTY;
    this.now = now;
    this.lastDrawMs = now();
  }
  update(line: () => string): void {
    const now = this.now();
    if (now - this.lastDrawMs < (this.isTTY ? 250 : 15_000)) return;
    this.lastDrawMs = now;
    if (this.isTTY) {
      this.write(`${CLEAR_LINE}${line()}`);
      this.drawn = true;
    } else this.write(`${line()}\n`);
  }
  /** A line of its own while a phase goes on: a progress line on screen is cleared first, and redrawn by the next update. */
  print(line: string): void {
    this.write(`${this.isTTY && this.drawn ? CLEAR_LINE : ''}${line}\n`);
    this.drawn = false;
  }
  /** Ends the phase with a line of its own; with no line, only clears what was drawn. */
  finish(line = ''): void {
    const clear = this.isTTY && this.drawn ? CLEAR_LINE : '';
    this.write(line ? `${clear}${line}\n` : clear);
    this.drawn = false;
    this.lastDrawMs = this.now();
  }
}

function perSecond(done: number, elapsedMs: number): number {
  return elapsedMs > 0 ? (done * 1000) / elapsedMs : 0;
}

/** "12.3/s, ~1m05s left" for a progress line. */
export function formatRate(done: number, total: number, elapsedMs: number): string {
  const rate = perSecond(done, elapsedMs);
  const left = rate > 0 ? Math.ceil((total - done) / rate) : null;
  const eta = left === null ? '' : `, ~${left >= 60 ? `${Math.floor(left / 60)}m${String(left % 60).padStart(2, '0')}s` : `${left}s`} left`;
  return `${rate.toFixed(1)}/s${eta}`;
}

interface RunSummary {
  /** "<source> → Attio sync" */
  title: string;
  /** Each target's counts, the first target's first. */
  counts: Array<{ object: string; counts: Record<WriteOutcome, number> }>;
  /** The source's account-wide totals, for a person to check against the source (null: not a full run). */
  totals: string | null;
  notes: string[];
  failures: WriteResult[];
  conflicts: WriteResult[];
  attention: AttentionList[];
}

/** A dry run's report: the first `limit` planned writes, each with its values before and after. */
export function plannedChanges(
  plan: readonly PlannedAction[],
  results: readonly WriteResult[],
  desiredByKey: ReadonlyMap<string, DesiredRecord>,
  matchSlug: string,
  limit: number,
  object = '',
): string[] {
  const lines = [`DRY RUN: no writes. Planned changes${object ? ` to ${object}` : ''}:`];
  const planned = plan.filter((a): a is Extract<PlannedAction, { changes: ValueChange[] }> => a.kind === 'update' || a.kind === 'new');
  const outcomes = new Map(results.map((r) => [r.key, r]));
  for (const action of planned.slice(0, limit)) {
    const result = outcomes.get(action.key);
    const onCreate = Object.entries(desiredByKey.get(action.key)!.onCreate).filter(([, value]) => value !== null);
    const what =
      result?.outcome === 'created'
        ? ` as a new record${onCreate.length ? ` (${onCreate.map(([slug, value]) => `${slug} ${JSON.stringify(value)}`).join(', ')})` : ''}`
        : result?.detail
          ? ` (${result.detail})`
          : '';
    lines.push(`  ${result?.outcome ?? action.kind} ${action.key}${what}`);
    const changes = action.changes.filter((c) => c.slug !== matchSlug);
    lines.push(`      ${changes.map((c) => `${c.slug}: ${JSON.stringify(c.before)} -> ${JSON.stringify(c.after)}`).join(', ')}`);
  }
  if (planned.length > limit) lines.push(`  ... and ${planned.length - limit} more`);
  return lines;
}

/** A JSON line of the audit log: JSON.stringify, then escapeText's `json` form (what JSON leaves raw, in `\u` escapes). */
function auditJson(entry: Record<string, unknown>): string {
  return escapeText(JSON.stringify(entry), 'json');
}

/** Each owned value a write changes, before and after, as the audit log holds them. */
function auditValues(changes: readonly ValueChange[] | undefined): Record<string, { before: PlainValue; after: PlainValue }> {
  const values: Record<string, { before: PlainValue; after: PlainValue }> = {};
  for (const change of changes ?? []) values[change.slug] = { before: change.before, after: change.after };
  return values;
}

/**
 * The audit log's outcome line for a write (or a planned one): when, which record, what happened,
 * and for a write each owned value before and after; for a conflict or failure (after an intent
 * line) the reason. Null for results that are no outcome of a write (unchanged, deferred).
 */
export function auditLine(result: WriteResult, matchSlug: string, dryRun: boolean, time: Date): string | null {
  if (result.outcome === 'unchanged' || result.outcome === 'deferred') return null;
  const wrote = result.outcome === 'created' || result.outcome === 'linked' || result.outcome === 'updated';
  return auditJson({
    time: time.toISOString(),
    [matchSlug]: result.key,
    record_id: result.recordId ?? null,
    action: result.outcome,
    ...(dryRun ? { dry_run: true } : {}),
    ...(wrote ? { values: auditValues(result.changes) } : { detail: result.detail ?? null }),
  });
}

/**
 * The audit log's intent line, written before an action that may send a write starts: the record
 * (null for a new one: found by its domain or created), what is planned (`update` or `new`), and the
 * owned values it would change. An intent with no outcome line after it is a write that may have
 * landed (the run was killed): the next run's plan shows whether it did.
 */
export function auditIntentLine(action: PlannedAction, matchSlug: string, time: Date): string | null {
  if (action.kind !== 'update' && action.kind !== 'new') return null;
  return auditJson({
    time: time.toISOString(),
    [matchSlug]: action.key,
    record_id: action.kind === 'update' ? action.recordId : null,
    action: 'intent',
    planned: action.kind,
    values: auditValues(action.changes),
  });
}

function summaryLine(counts: Record<WriteOutcome, number>): string {
  const line = `created=${counts.created} linked=${counts.linked} updated=${counts.updated} unchanged=${counts.unchanged} conflicts=${counts.conflict} failed=${counts.failed}`;
  return `${line}${counts.deferred ? ` left=${counts.deferred}` : ''}${counts.waiting ? ` waiting=${counts.waiting}` : ''}`;
}

/** A cell of an attention list as plain text: a link as its text and address. */
function cellText(cell: AttentionList['rows'][number][number]): string {
  return typeof cell === 'string' ? cell : `${cell.text} ${cell.url}`;
}

/** The attention lists at the end of the output: each its title and total, then its rows. */
function attentionLines(lists: readonly AttentionList[]): string[] {
  const lines: string[] = [];
  for (const list of lists) {
    lines.push(`Needs attention: ${list.title}: ${list.total}`);
    for (const row of list.rows) lines.push(`  ${row.map(cellText).join(' · ')}`);
  }
  return lines;
}

/** The attention lists in Markdown: a table each, links as links, every text through escapeText. */
function attentionMarkdown(lists: readonly AttentionList[], md: (text: string) => string): string[] {
  const lines: string[] = [];
  for (const list of lists) {
    lines.push('', `#### Needs attention: ${md(list.title)}`, '', md(list.total));
    if (!list.rows.length) continue;
    lines.push('', `| ${list.columns.map(md).join(' | ')} |`, `| ${list.columns.map(() => '---').join(' | ')} |`);
    // A link's address is Stripe's or Attio's, built by the source from ids: only its text is escaped; a space would end it.
    const link = (cell: { text: string; url: string }) =>
      /^https:\/\//.test(cell.url) ? `[${md(cell.text)}](${encodeURI(cell.url).replace(/[()]/g, encodeURIComponent)})` : md(cellText(cell));
    for (const row of list.rows) lines.push(`| ${row.map((cell) => (typeof cell === 'string' ? md(cell) : link(cell))).join(' | ')} |`);
  }
  return lines;
}

/** The job summary, in Markdown: every text in it through escapeText (its `markdown` form), so no value can add markup, a line or a table cell. */
function stepSummaryMarkdown(summary: RunSummary, dryRun: boolean): string {
  const md = (text: string) => escapeText(text, 'markdown');
  const lines = [
    `### ${md(summary.title)}${dryRun ? ' (dry run: no writes)' : ''}`,
    '',
    '| object | created | linked | updated | unchanged | conflicts | failed |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...summary.counts.map(({ object, counts: c }) => `| ${md(object)} | ${c.created} | ${c.linked} | ${c.updated} | ${c.unchanged} | ${c.conflict} | ${c.failed} |`),
    '',
  ];
  if (summary.totals) lines.push(md(summary.totals), '');
  for (const note of summary.notes) lines.push(`- ${md(note)}`);
  lines.push(...attentionMarkdown(summary.attention, md));
  const problems = [...summary.failures, ...summary.conflicts].slice(0, 50);
  if (problems.length) {
    lines.push('', '| key | outcome | detail |', '| --- | --- | --- |');
    for (const p of problems) lines.push(`| ${md(p.key)} | ${p.outcome} | ${md(p.detail ?? '')} |`);
  }
  return `${lines.join('\n')}\n`;
}

/** Whether this file was started as the program (`npx tsx sync.ts`), not imported (by the tests). */
const invokedDirectly = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;

/**
 * The command line: reads .env, runs `sync`, exits with its code. SIGTERM or SIGINT: no new write
 * starts, the writes under way finish and get their audit lines, the report is printed, exit 143
 * (130). Bounded: after DRAIN_MS, or when the same signal comes again (Ctrl-C twice), exit at once;
 * each write still out has its intent line. A cancelled GitHub job gets SIGINT, SIGTERM 7.5 s later
 * and SIGKILL 2.5 s after that (actions/runner src/Runner.Sdk/ProcessInvoker.cs): that SIGTERM does
 * not cut the drain short.
 */
function runCommandLine(sync: Sync): void {
  dotenv.config({ quiet: true });
  const DRAIN_MS = 10_000;
  const stop = new AbortController();
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.on(signal, () => {
      const code = stoppedExitCode(stop.signal.reason ?? signal);
      if (stop.signal.reason === signal) process.exit(code);
      if (stop.signal.aborted) return;
      process.stderr.write(`\nStopped by ${signal}: no new write starts; writes under way finish and are logged (at most ${DRAIN_MS / 1000} s).\n`);
      stop.abort(signal);
      setTimeout(() => {
        process.stderr.write(`Writes still under way after ${DRAIN_MS / 1000} s: exiting; the audit log has an intent line for each.\n`);
        process.exit(code);
      }, DRAIN_MS).unref();
    });
  main(process.argv.slice(2), { stop: stop.signal }, sync).then(
    // Exit at once: after a failed read, requests still under way have nothing left to add.
    (code) => process.exit(code),
    (error: unknown) => {
      const keys = Object.entries(process.env).flatMap(([name, value]) => (/_KEY$/.test(name) && value ? [value.trim()] : []));
      process.stderr.write(`${logSafe(redactor(keys, sync.source.secretShape)(`Unexpected error: ${(error as Error)?.stack ?? String(error)}`))}\n`);
      process.exit(1); // at once, as above: reads or writes still under way must not keep a failed run going
    },
  );
}

// ---- replace everything below this line ----

// ================================================================================================
// SOURCE: STRIPE 1. SETTINGS, LIMITS AND PERMISSIONS
// ================================================================================================

import Stripe from 'stripe';

const DEFAULT_STRIPE_API_URL = 'https://api.stripe.com';

/** Charges cannot predate Stripe; the oldest listing window starts here. */
const STRIPE_EPOCH_UNIX = Date.UTC(2010, 0, 1) / 1000;

/** Every Stripe customer id starts so: linked companies are loaded by this prefix (a documented text filter). */
const STRIPE_CUSTOMER_ID_PREFIX = 'cus_';

/**
 * Stripe's documented limits: 25 requests/s per endpoint; 100/s overall in live mode, 25/s in test
 * mode (docs.stripe.com/rate-limits). The sync stays just below per endpoint and takes only half of
 * the live limit overall: your own app shares it (many read Stripe on every page load), and the
 * sync rarely needs more than two listings at full speed. Raise `livePerSecond` towards 90 only if
 * nothing else uses the account's API while the sync runs.
 */
export const STRIPE_LIMITS = { perEndpointPerSecond: 24, livePerSecond: 50, testPerSecond: 24, concurrencyPerListing: 8 };

/**
 * Which discounts lower MRR: the two switches of Stripe's Billing overview (Configure): "You can
 * decide to subtract recurring discounts from MRR, subtract one-time discounts from MRR, or both.
 * These settings apply to subscription-level coupons, line-item-level coupons, and stacked coupons"
 * (support.stripe.com/questions/metric-configurations). Recurring: coupons of duration `forever` or
 * `repeating` (they apply invoice after invoice); one-time: `once`. Stripe does not document the
 * defaults; recurring only is the sync's default, because Stripe's earlier article made forever
 * coupons (and only those) lower MRR. STRIPE_MRR_DISCOUNTS sets them (README, "Coupons").
 */
interface MrrDiscounts {
  recurring: boolean;
  oneTime: boolean;
}
export const DEFAULT_MRR_DISCOUNTS: MrrDiscounts = { recurring: true, oneTime: false };

/**
 * The read permissions of a restricted key that the sync uses, named as Stripe's 403 names them
 * ("Having the 'rak_charge_read' permission would allow this request to continue"; the names are the
 * permissions reference's, docs.stripe.com/stripe-apps/reference/permissions), with the dashboard's
 * name for each (Developers > API keys > restricted key) and what the sync reads with it. Every
 * endpoint and every expansion needs its object's permission (docs.stripe.com/keys#limit-access).
 */
export const STRIPE_PERMISSIONS = {
  customer_read: { dashboard: 'Customers', reads: 'customers: name, email, metadata hints, customer discounts' },
  charge_read: { dashboard: 'Charges', reads: 'charges and refunds: lifetime revenue, payment dates; the charges of disputes' },
  balance_read: { dashboard: 'Balance', reads: 'balance transactions expanded on charges: what Stripe settled in another currency' },
  dispute_read: { dashboard: 'Disputes', reads: 'disputes: lost ones are subtracted from revenue' },
  subscription_read: { dashboard: 'Subscriptions', reads: 'subscriptions and their items: MRR, status, plan, cancel date' },
  coupon_read: { dashboard: 'Coupons', reads: 'coupons expanded on discounts: which discounts lower MRR, and by how much' },
  plan_read: { dashboard: 'Prices', reads: 'tiers and currency options of the prices subscriptions use' },
  product_read: { dashboard: 'Products', reads: 'product names for stripe_plan' },
  // Optional: without it such a subscription's MRR keeps its tax, and a note says so.
  invoice_read: { dashboard: 'Invoices', reads: 'the latest invoice of a subscription under Stripe Tax with tax-inclusive prices: its tax', optional: true },
  // Needed by --changes-since only.
  event_read: { dashboard: 'Events', reads: 'with --changes-since: the events of the window, which name the customers to read again', optional: true },
} as const;
type StripePermission = keyof typeof STRIPE_PERMISSIONS;

/** The Stripe source's settings, from its environment variables. */
interface StripeSettings {
  key: string;
  url: URL;
  testMode: boolean;
  discounts: MrrDiscounts;
  /** --allow-account-mismatch: write even though the linked companies look like another account's. */
  allowAccountMismatch: boolean;
  /** --changes-since: how far back the events go, in seconds (null: a full run), and the flag as given. */
  changesSince: { seconds: number; text: string } | null;
}

/** Stripe lists events "going back up to 30 days" (docs: list all events): a window of at most 29 days leaves a day's margin. */
export const MAX_CHANGES_SINCE_DAYS = 29;

/** --changes-since: `90m`, `3h`, `2d` (minutes, hours, days), at most 29 days; the problem otherwise. */
export function parseChangesSince(value: string | undefined, problems: string[]): StripeSettings['changesSince'] {
  if (value === undefined) return null;
  const match = /^(\d+)([mhd])$/.exec(value.trim());
  const seconds = match ? Number(match[1]) * { m: 60, h: 3600, d: 86_400 }[match[2] as 'm' | 'h' | 'd'] : NaN;
  if (!(seconds > 0)) problems.push(`--changes-since takes a duration such as 90m, 3h or 2d, got "${escapeText(value)}".`);
  else if (seconds > MAX_CHANGES_SINCE_DAYS * 86_400)
    problems.push(
      `--changes-since ${escapeText(value)} is more than ${MAX_CHANGES_SINCE_DAYS} days: Stripe keeps events for 30 days only, so older changes cannot be read from them. Run without --changes-since (a full run) instead.`,
    );
  else return { seconds, text: value.trim() };
  return null;
}

/** STRIPE_MRR_DISCOUNTS: `recurring`, `one-time`, both (comma-separated) or `none`; unset: the default. */
export function parseMrrDiscounts(value: string | undefined, problems: string[]): MrrDiscounts {
  const words = (value ?? '')
    .split(',')
    .map((w) => w.trim().toLowerCase())
    .filter(Boolean);
  if (words.length === 0) return DEFAULT_MRR_DISCOUNTS;
  const bad = words.filter((w) => !['recurring', 'one-time', 'none'].includes(w) || (w === 'none' && words.length > 1));
  if (bad.length) problems.push(`STRIPE_MRR_DISCOUNTS takes recurring, one-time, recurring,one-time or none (as set in Stripe's Billing overview > Configure), got "${value}".`);
  return { recurring: words.includes('recurring'), oneTime: words.includes('one-time') };
}

// ================================================================================================
// SOURCE: STRIPE 2. REQUESTS: errors, pacing, the permission check
// ================================================================================================

/**
 * Turns any error of the Stripe SDK into an ApiError the retry policy understands. Its default
 * policy (isTransient) does not retry a 401: Stripe documents it as "No valid API key provided".
 * A connection error keeps its cause (ECONNREFUSED, ENOTFOUND: the SDK's `detail`), which names the host.
 */
function stripeApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof Stripe.errors.StripeError) {
    const answered = error.type !== 'StripeConnectionError' && typeof error.statusCode === 'number' && error.statusCode >= 300;
    const retryAfter = (error.headers as Record<string, string> | undefined)?.['retry-after'];
    const cause = error.type === 'StripeConnectionError' ? (error.detail as Error | undefined) : undefined;
    const message = cause?.message ? `${error.message} (${cause.message}; host from STRIPE_API_URL)` : error.message;
    return new ApiError({ service: 'Stripe', message, status: answered ? error.statusCode : undefined, code: error.code, retryAfterMs: parseRetryAfter(retryAfter, Date.now()), cause });
  }
  return new ApiError({ service: 'Stripe', message: (error as Error)?.message ?? String(error) });
}

type StripeEndpoint = 'customers' | 'charges' | 'subscriptions' | 'subscription_items' | 'prices' | 'products' | 'disputes' | 'invoices' | 'events';

/**
 * The pacers of each endpoint: its own at Stripe's per-endpoint limit, behind a share of the overall
 * budget. In live mode the charges listing, the longest, keeps its own share of the budget and the
 * rest share what is left, so the shorter listings never hold it back; in test mode all share one.
 */
export function stripePacers(limits: typeof STRIPE_LIMITS, testMode: boolean): Record<StripeEndpoint, Pacer[]> {
  const own = () => new Pacer(limits.perEndpointPerSecond);
  const shared = new Pacer(testMode ? limits.testPerSecond : limits.livePerSecond - limits.perEndpointPerSecond);
  const behindShared = () => [shared, own()];
  return {
    charges: testMode ? [shared, own()] : [own()],
    customers: behindShared(),
    subscriptions: behindShared(),
    subscription_items: behindShared(),
    prices: behindShared(),
    products: behindShared(),
    disputes: behindShared(),
    invoices: behindShared(),
    events: behindShared(),
  };
}

/** The permission a 403 names ("Having the 'rak_charge_read' permission would allow this request to continue"), else the one the request needed. */
export function missingPermissionOf(error: ApiError, needed: StripePermission): string {
  return /'rak_([a-z_]+)'/.exec(error.message)?.[1] ?? needed;
}

/** A 403 that names every permission the key lacks, with where to grant them. */
class MissingPermissions extends ApiError {
  readonly permissions: string[];
  constructor(permissions: readonly string[]) {
    const unique = [...new Set(permissions)];
    const names = unique.map((p) => (p in STRIPE_PERMISSIONS ? `${STRIPE_PERMISSIONS[p as StripePermission].dashboard} (${p})` : p));
    super({
      service: 'Stripe',
      message: `Read is missing on ${names.join(', ')}; edit the restricted key in the Stripe dashboard (Developers > API keys)`,
      status: 403,
      code: 'missing_permissions',
    });
    this.permissions = unique;
  }
}

/**
 * Runs the first requests of a read at once, as a permission check: when the key lacks any, one
 * error names them all (a 403 for each), before any long listing; any other failure is thrown as is.
 */
export async function checkPermissions<T extends Record<string, Promise<unknown> | null>>(first: T, needed: Record<keyof T, StripePermission>): Promise<{ [K in keyof T]: Awaited<T[K]> }> {
  const names = Object.keys(first) as Array<keyof T>;
  const settled = await Promise.allSettled(names.map((name) => first[name]));
  const missing = settled.flatMap((r, i) => {
    if (r.status !== 'rejected' || !(r.reason instanceof ApiError) || r.reason.status !== 403) return [];
    return r.reason instanceof MissingPermissions ? r.reason.permissions : [missingPermissionOf(r.reason, needed[names[i]!])];
  });
  if (missing.length) throw new MissingPermissions(missing);
  const failed = settled.find((r) => r.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
  return Object.fromEntries(names.map((name, i) => [name, (settled[i] as PromiseFulfilledResult<unknown>).value])) as { [K in keyof T]: Awaited<T[K]> };
}

// ================================================================================================
// SOURCE: STRIPE 3. READING
// Customers, charges, subscriptions and disputes, page by page, into small per-customer facts
// (memory grows with customers, never with charges).
// ================================================================================================

/**
 * What the mapping needs to know about one Stripe customer: plain facts, no API objects, and no
 * target currency: money is kept per currency, with what Stripe settled into other currencies, so
 * reading needs nothing from Attio and the target currency is chosen when mapping.
 */
interface CustomerFacts {
  id: string;
  email: string | null;
  name: string | null;
  description: string | null;
  createdUnix: number;
  livemode: boolean;
  /** Where the customer belongs in Attio, from its Stripe metadata (`attio_domain`, `attio_record_id`). */
  hints: { domain: string | null; recordId: string | null } | null;
  /** Net revenue (captured − refunded − lost disputes) per currency charged, in minor units. */
  revenueMinor: Record<string, number>;
  /** Of that, what Stripe settled in another currency: "eur>usd" -> charged (eur) and settled (usd) minor units. */
  settledMinor?: Record<string, { charged: number; settled: number }>;
  firstPaymentUnix: number | null;
  lastPaymentUnix: number | null;
  payments: number;
  /** Monthly recurring revenue per subscription currency, minor units (fractional until rounded). */
  mrrMinor: Record<string, number>;
  subscriptionStatuses: Stripe.Subscription.Status[];
  /** What the active and past-due subscriptions are on: product name -> quantity (names resolved after reading). */
  plan?: Record<string, number>;
  /** For each active or past-due subscription, when it is set to end (unix), or null if it renews. */
  scheduledEndsUnix?: Array<number | null>;
  /** The customer's own discount (`Customer.discount`), only where it has one: subscriptions without discounts of their own inherit it. */
  discount?: Stripe.Discount;
  /** What the customer's discount would apply to: each counting subscription without discounts of its own. */
  inheriting?: InheritingMrr[];
  /** The person's name on the customer (`individual_name`), and the business's (`business_name`), where Stripe has them. */
  individualName?: string | null;
  businessName?: string | null;
  /** `Customer.delinquent`: an invoice's automatic payment failed or its due date passed, and none was paid since. */
  delinquent?: boolean;
  /** The earliest `trial_end` of the trialing subscriptions, and what they bill a month once the trial ends, per currency. */
  trialEndsUnix?: number;
  trialMrrMinor?: Record<string, number>;
  /** The earliest period end of the active and past-due subscriptions not set to end. */
  renewsUnix?: number;
  /** The latest `ended_at` of the canceled subscriptions. */
  lastEndedUnix?: number;
  /** The latest failed charge, and the latest one that succeeded (a payment that went through). */
  lastFailure?: { unix: number; text: string };
  lastSucceededUnix?: number;
}

/** How many times something happened, and the first few customers it happened to (for a note that names them). */
interface Tally {
  count: number;
  customers: string[];
  /** Other customers too, beyond the first three. */
  more: boolean;
}

/** Run-wide notes from reading: what was left out and why, so the summary can say so. */
interface SourceNotes {
  chargesWithoutCustomer: number;
  /** Succeeded charges of customers that no longer exist (deleted) or were never listed. */
  chargesOfUnknownCustomers: Tally;
  /** Items whose price could not be priced (no tiers, no option in the subscription's currency): left out of MRR. */
  unpricedItems: Tally;
  unappliedDiscounts: Tally;
  /** Charges whose `amount_refunded` was below zero: counted as no refund. */
  negativeRefunds: Tally;
  /** Subscriptions under Stripe Tax with tax-inclusive prices whose latest invoice could not tell the tax: counted with it. */
  taxUnknown: Tally;
  /** The key may not read invoices (Invoices is optional): the tax of those subscriptions stays in. */
  invoicesForbidden?: boolean;
  /** Lost disputes, subtracted from lifetime revenue. */
  lostDisputes: number;
  /** Disputes not decided yet: their charges still count as revenue until a dispute is lost. */
  openDisputes: number;
  pages: number;
}

export function emptySourceNotes(): SourceNotes {
  return {
    chargesWithoutCustomer: 0,
    chargesOfUnknownCustomers: tally(),
    unpricedItems: tally(),
    unappliedDiscounts: tally(),
    negativeRefunds: tally(),
    taxUnknown: tally(),
    lostDisputes: 0,
    openDisputes: 0,
    pages: 0,
  };
}

function tally(): Tally {
  return { count: 0, customers: [], more: false };
}

/** Counts `n` more for `customerId`, keeping the first three customers by name. */
export function addTally(t: Tally, customerId: string, n = 1): void {
  if (n <= 0) return;
  t.count += n;
  if (t.customers.includes(customerId)) return;
  if (t.customers.length < 3) t.customers.push(customerId);
  else t.more = true;
}

export function emptyFacts(
  customer: Pick<Stripe.Customer, 'id' | 'email' | 'name' | 'description' | 'created'> &
    Partial<Pick<Stripe.Customer, 'livemode' | 'metadata' | 'discount' | 'delinquent' | 'individual_name' | 'business_name'>>,
): CustomerFacts {
  const facts: CustomerFacts = {
    id: customer.id,
    email: customer.email ?? null,
    name: customer.name ?? null,
    description: customer.description ?? null,
    createdUnix: customer.created,
    livemode: customer.livemode ?? false,
    hints:
      customer.metadata?.attio_domain || customer.metadata?.attio_record_id
        ? { domain: customer.metadata.attio_domain?.trim() || null, recordId: customer.metadata.attio_record_id?.trim() || null }
        : null,
    revenueMinor: {},
    firstPaymentUnix: null,
    lastPaymentUnix: null,
    payments: 0,
    mrrMinor: {},
    subscriptionStatuses: [],
    individualName: customer.individual_name?.trim() || null,
    businessName: customer.business_name?.trim() || null,
    delinquent: customer.delinquent === true,
  };
  if (customer.discount) facts.discount = customer.discount;
  return facts;
}

interface StripeSourceOptions {
  stripe: Stripe;
  only: string | null;
  /** These customers alone, each read completely with the listings' `customer` filter (an incremental run); null or absent: `only`, else all. */
  customers?: readonly string[] | null;
  policy: RetryPolicy;
  /** Per endpoint, the pacers each request takes in order: shared budgets first, the endpoint's own last. */
  pacers: Record<StripeEndpoint, Pacer[]>;
  concurrency: number;
  nowUnix: number;
  /** Which discounts lower MRR (STRIPE_MRR_DISCOUNTS). */
  discounts?: MrrDiscounts;
  onProgress?: (counts: { customers: number; charges: number; subscriptions: number; pages: number }) => void;
}

/** The client every Stripe request goes through (stripeRequest): the SDK, the run's retry policy, the endpoints' pacers. */
type StripeClient = Pick<StripeSourceOptions, 'stripe' | 'policy' | 'pacers'>;

/**
 * One Stripe request, paced and retried: reading and the account check alike. The endpoint's own
 * pacer comes last: a wait for a shared one must not push more than the endpoint's limit into one
 * second (Stripe's per-endpoint limit is the one it enforces). A 429 holds the endpoint's pacers.
 * Within a read, `read.stop` ends it once another request has failed for good (not retried), and
 * `read.onAnswer` counts the pages.
 */
function stripeRequest<T>(client: StripeClient, endpoint: StripeEndpoint, call: (stripe: Stripe) => Promise<T>, read?: { stop: AbortSignal; onAnswer: () => void }): Promise<T> {
  return withRetry(async () => {
    if (read?.stop.aborted) throw new Error('stopped: another read failed'); // not retried
    for (const pacer of client.pacers[endpoint]) await pacer.take();
    try {
      const result = await call(client.stripe);
      read?.onAnswer();
      return result;
    } catch (error) {
      const apiError = stripeApiError(error);
      if (apiError.status === 429) {
        for (const pacer of client.pacers[endpoint]) pacer.rateLimited(apiError.retryAfterMs);
      }
      throw apiError;
    }
  }, client.policy);
}

/** One read of Stripe: what the listings' folds and look-ups share, from the first pages to the facts. */
interface StripeRead {
  options: StripeSourceOptions;
  /** The customers read (--only, or an incremental run's), or null for all of them. */
  wanted: readonly string[] | null;
  counted: MrrDiscounts;
  /** This read's requests (stripeRequest); once one has failed for good, `stop` ends every other: a partial read is never written. */
  request: <T>(endpoint: StripeEndpoint, call: (stripe: Stripe) => Promise<T>) => Promise<T>;
  stop: AbortController;
  counts: { customers: number; charges: number; subscriptions: number; pages: number };
  notes: SourceNotes;
  customers: Map<string, CustomerFacts>;
  /** Facts of customers not listed (yet): charges and subscriptions may arrive before their customer. */
  pending: Map<string, CustomerFacts>;
  /** Folds of subscriptions that wait for more reads (items, price details, an invoice). */
  laterFolds: Promise<void>[];
  /** Product names, read a hundred a request, each product once. */
  products: { names: Map<string, string>; seen: Set<string>; toRead: string[]; reads: Promise<void>[] };
  /** Price tiers and currency options, read once per price and kind. */
  prices: { reads: Map<string, Promise<void>>; details: Map<string, PriceDetails> };
  /** Latest invoices of Stripe Tax subscriptions with tax-inclusive prices: their tax. */
  invoices: Map<string, Pick<Stripe.Invoice, 'subtotal' | 'subtotal_excluding_tax'>>;
}

/** Ends the read with its first failure (the one reported); every listing sharing `stop` ends too. */
function failRead(read: StripeRead, error: unknown): void {
  if (!read.stop.signal.aborted) read.stop.abort(error);
}

function startRead(options: StripeSourceOptions): StripeRead {
  const stop = new AbortController();
  const counts = { customers: 0, charges: 0, subscriptions: 0, pages: 0 };
  const answered = { stop: stop.signal, onAnswer: () => void (counts.pages += 1) };
  return {
    options,
    wanted: options.customers ?? (options.only ? [options.only] : null),
    counted: options.discounts ?? DEFAULT_MRR_DISCOUNTS,
    request: (endpoint, call) => stripeRequest(options, endpoint, call, answered),
    stop,
    counts,
    notes: emptySourceNotes(),
    customers: new Map(),
    pending: new Map(),
    laterFolds: [],
    products: { names: new Map(), seen: new Set(), toRead: [], reads: [] },
    prices: { reads: new Map(), details: new Map() },
    invoices: new Map(),
  };
}

/** A listing's parameters for one window; `list` is the SDK's own, so its types check each listing. */
type ListParams = { limit: number; created: { gte: number; lt: number }; starting_after?: string; customer?: string; status?: 'all'; expand: string[] };

/**
 * A Stripe listing the sync reads, as singer-io tap-stripe tables its streams: the endpoint, its
 * parameters and expansions, the permission it needs, and how a page folds into the facts.
 */
interface Listing<T> {
  endpoint: StripeEndpoint;
  permission: StripePermission;
  list: (stripe: Stripe, params: ListParams) => Promise<Stripe.ApiList<T>>;
  /** Parameters of every page besides its window, cursor and --only's customer. */
  params: { status?: 'all' };
  /** Expansions of each object (`data.` is added for the listing). Each needs its object's permission too. */
  expand: string[];
  /** Whether --only narrows the listing to the customer (`customer=`): disputes cannot be listed by customer. */
  byCustomer: boolean;
  fold: (read: StripeRead, objects: T[]) => void;
}

/**
 * The four listings, read at the same time. Expanding needs the expanded object's permission:
 * balance transactions (Balance) on charges, coupons (Coupons) on customers and subscriptions,
 * charges on disputes.
 */
const LISTINGS: {
  customers: Listing<Stripe.Customer>;
  charges: Listing<Stripe.Charge>;
  subscriptions: Listing<Stripe.Subscription>;
  disputes: Listing<Stripe.Dispute>;
} = {
  customers: {
    endpoint: 'customers',
    permission: 'customer_read',
    list: (s, p) => s.customers.list(p),
    params: {},
    expand: ['discount.source.coupon'],
    byCustomer: false,
    fold: foldCustomers,
  },
  charges: { endpoint: 'charges', permission: 'charge_read', list: (s, p) => s.charges.list(p), params: {}, expand: ['balance_transaction'], byCustomer: true, fold: foldCharges },
  subscriptions: {
    endpoint: 'subscriptions',
    permission: 'subscription_read',
    list: (s, p) => s.subscriptions.list(p),
    params: { status: 'all' }, // canceled ones too: they say a customer churned
    expand: ['discounts.source.coupon'],
    byCustomer: true,
    fold: foldSubscriptions,
  },
  disputes: { endpoint: 'disputes', permission: 'dispute_read', list: (s, p) => s.disputes.list(p), params: {}, expand: ['charge'], byCustomer: false, fold: foldDisputes },
};

/** One page of a listing: a window of `created`, from its cursor on; one customer's where the listing can be narrowed to it. */
function listPage<T>(read: StripeRead, listing: Listing<T>, w: CreatedWindow, customer: string | null = null): Promise<Stripe.ApiList<T>> {
  const only = listing.byCustomer && customer ? { customer } : {};
  const cursor = w.startingAfter ? { starting_after: w.startingAfter } : {};
  const params = { limit: 100, created: { gte: w.gte, lt: w.lt }, ...cursor, ...only, ...listing.params, expand: listing.expand.map((e) => `data.${e}`) };
  return read.request(listing.endpoint, (stripe) => listing.list(stripe, params));
}

/** The rest of a listing (one customer's, where given) after its first page, folded page by page, with the counts so far reported after each. */
function listAll<T extends { id: string; created: number }>(read: StripeRead, listing: Listing<T>, firstPage: ListPage<T> | null, customer: string | null = null): Promise<void> {
  const { concurrency, nowUnix, onProgress } = read.options;
  const onPage = (objects: T[]) => {
    listing.fold(read, objects);
    onProgress?.(read.counts);
  };
  const page = (w: CreatedWindow) => listPage(read, listing, w, customer);
  return listByCreatedWindows(page, onPage, { concurrency, nowUnix, sinceUnix: STRIPE_EPOCH_UNIX, stop: read.stop, firstPage: firstPage ?? undefined });
}

/** Each wanted customer's listing (the first customer's first page given), or the whole listing when all are wanted. */
function listEach<T extends { id: string; created: number }>(read: StripeRead, listing: Listing<T>, firstPage: ListPage<T> | null): Promise<void> {
  if (!read.wanted || !listing.byCustomer) return listAll(read, listing, firstPage);
  return Promise.all(read.wanted.map((customer, i) => listAll(read, listing, i === 0 ? firstPage : null, customer))).then(() => {});
}

/** A customer by id (the deleted stub for a deleted one), or null when the account has no such customer. */
function retrieveCustomer(read: StripeRead, id: string): Promise<Stripe.Customer | Stripe.DeletedCustomer | null> {
  return read
    .request('customers', (stripe) => stripe.customers.retrieve(id, { expand: LISTINGS.customers.expand }))
    .catch((error: unknown) => {
      if (error instanceof ApiError && error.status === 404) return null; // main reports it as not found
      throw error;
    });
}

/**
 * The pages every listing starts with (with --only, the customer instead of the customers), and one
 * request for Products and Prices: together the permission check (checkPermissions), then the
 * listings go on from them.
 */
function firstPages(read: StripeRead) {
  const w0 = firstWindow(read.options.nowUnix, STRIPE_EPOCH_UNIX);
  const only = read.wanted?.[0] ?? null;
  const { customers, charges, subscriptions, disputes } = LISTINGS;
  return checkPermissions(
    {
      customer: only ? retrieveCustomer(read, only) : null,
      customers: read.wanted ? null : listPage(read, customers, w0),
      charges: listPage(read, charges, w0, only),
      subscriptions: listPage(read, subscriptions, w0, only),
      disputes: listPage(read, disputes, w0),
      catalogue: readCatalogue(read),
    },
    {
      customer: 'customer_read',
      customers: customers.permission,
      charges: charges.permission,
      subscriptions: subscriptions.permission,
      disputes: disputes.permission,
      catalogue: 'product_read',
    },
  );
}

/**
 * The newest hundred products with their default prices: the Products and Prices check in one
 * request, and most accounts' every plan name. Prices is asked apart only when Products is missing.
 */
function readCatalogue(read: StripeRead): Promise<Stripe.ApiList<Stripe.Product>> {
  return read
    .request('products', (stripe) => stripe.products.list({ limit: 100, expand: ['data.default_price'] }))
    .catch(async (error: unknown) => {
      if (!(error instanceof ApiError && error.status === 403 && missingPermissionOf(error, 'product_read') === 'product_read')) throw error;
      const prices = await read
        .request('prices', (stripe) => stripe.prices.list({ limit: 1 }))
        .then(
          () => null,
          (e: unknown) => e,
        );
      throw new MissingPermissions(prices instanceof ApiError && prices.status === 403 ? ['product_read', missingPermissionOf(prices, 'plan_read')] : ['product_read']);
    });
}

/** Reads everything the mapping needs from Stripe: the first pages (the permission check), then the four listings at the same time. */
export async function readStripe(options: StripeSourceOptions): Promise<{ facts: Map<string, CustomerFacts>; notes: SourceNotes }> {
  const read = startRead(options);
  const first = await firstPages(read);
  for (const product of first.catalogue.data) read.products.names.set(product.id, product.name);
  for (const id of read.products.names.keys()) read.products.seen.add(id);
  // Once subscriptions and their later folds are done, every product is known: read the last names
  // then, while the other listings go on.
  const subscriptionsRead = listEach(read, LISTINGS.subscriptions, first.subscriptions)
    .then(() => Promise.all(read.laterFolds)) // all started by now
    .then(() => read.products.toRead.length && readProductNames(read));
  const listings = [readCustomers(read, first), listEach(read, LISTINGS.charges, first.charges), subscriptionsRead, listEach(read, LISTINGS.disputes, first.disputes)];
  await Promise.all(listings.map((listing) => listing.catch((error: unknown) => failRead(read, error))));
  await Promise.all(read.products.reads.map((reading) => reading.catch((error: unknown) => failRead(read, error))));
  read.stop.signal.throwIfAborted();
  for (const facts of read.customers.values()) finishFacts(facts, read.products.names, read.counted, read.notes);
  // Facts left pending belong to customers that no longer exist (deleted) or were never listed.
  for (const facts of read.pending.values()) addTally(read.notes.chargesOfUnknownCustomers, facts.id, facts.payments);
  read.notes.pages = read.counts.pages;
  return { facts: read.customers, notes: read.notes };
}

/**
 * The event types that name what changed (a trailing `*` is a wildcard: Events.d.ts), one listing
 * each: customers (and their discounts and subscriptions), charges (refunds, captures, disputes),
 * products and prices (names, currency options). Coupons are left out: a coupon's amount and
 * duration cannot change once it exists (docs: update a coupon), so no MRR does.
 */
const CHANGE_EVENT_TYPES = ['customer.*', 'charge.*', 'product.*', 'price.*'] as const;

/** What an event's object names: a customer, a disputed charge, a product or a price. Payloads are read as change marks only, never as values. */
export function changeNamedBy(event: Pick<Stripe.Event, 'data'>): { customer?: string; charge?: string; product?: string; price?: string } {
  const object = event.data.object as { object?: string; id?: string; customer?: unknown; charge?: unknown };
  const idOf = (value: unknown) => (typeof value === 'string' ? value : typeof value === 'object' && value !== null && 'id' in value ? String(value.id) : undefined);
  switch (object.object) {
    case 'customer':
      return { customer: object.id };
    case 'dispute':
      return { charge: idOf(object.charge) };
    case 'product':
      return { product: object.id };
    case 'price':
      return { price: object.id };
    default: // a charge, subscription, discount, tax id, ...: its customer
      return { customer: idOf(object.customer) };
  }
}

/** Every object of a cursor-paged list (newest first), page by page: `page(after)` asks for the page after that id. */
async function eachListed<T extends { id: string }>(page: (after: string | undefined) => Promise<Stripe.ApiList<T>>, use: (object: T) => void): Promise<void> {
  for (let after: string | undefined, more = true; more;) {
    const list = await page(after);
    list.data.forEach(use);
    [more, after] = [list.has_more, list.data.at(-1)?.id];
  }
}

const cursor = (after: string | undefined) => (after ? { starting_after: after } : {});

/**
 * The customers whose data changed since `sinceUnix`, by Stripe's events: one listing per type of
 * CHANGE_EVENT_TYPES (a missing Events permission named once, as the full run's check does), then
 * what the events name turned into customers: a dispute's charge (retrieved), a product's prices
 * and a price's subscriptions (listed with `product` and `price`; canceled ones are not listed).
 */
export async function changedCustomers(client: StripeClient, sinceUnix: number): Promise<{ customers: string[]; events: number; requests: number }> {
  let requests = 0;
  const request = <T>(endpoint: StripeEndpoint, call: (stripe: Stripe) => Promise<T>) => (requests++, stripeRequest(client, endpoint, call));
  const named = { customers: new Set<string>(), charges: new Set<string>(), products: new Set<string>(), prices: new Set<string>() };
  let events = 0;
  const noteEvent = (event: Stripe.Event) => {
    events += 1;
    const { customer, charge, product, price } = changeNamedBy(event);
    if (customer) named.customers.add(customer);
    if (charge) named.charges.add(charge);
    if (product) named.products.add(product);
    if (price) named.prices.add(price);
  };
  const listings = CHANGE_EVENT_TYPES.map((type) =>
    eachListed((after) => request('events', (stripe) => stripe.events.list({ type, created: { gte: sinceUnix }, limit: 100, ...cursor(after) })), noteEvent),
  );
  await checkPermissions(Object.fromEntries(CHANGE_EVENT_TYPES.map((type, i) => [type, listings[i]!])), Object.fromEntries(CHANGE_EVENT_TYPES.map((type) => [type, 'event_read' as const])));
  const addCustomer = (customer: string | { id: string } | null) => void (customer && named.customers.add(typeof customer === 'string' ? customer : customer.id));
  const charges = [...named.charges].map((id) => request('charges', (stripe) => stripe.charges.retrieve(id)).then((charge) => addCustomer(charge.customer), notFound));
  const productPrices = [...named.products].map((product) =>
    eachListed(
      (after) => request('prices', (stripe) => stripe.prices.list({ product, limit: 100, ...cursor(after) })),
      (price) => void named.prices.add(price.id),
    ),
  );
  await Promise.all([...charges, ...productPrices]);
  await Promise.all(
    [...named.prices].map((price) =>
      eachListed(
        (after) => request('subscriptions', (stripe) => stripe.subscriptions.list({ price, limit: 100, ...cursor(after) })),
        (sub) => addCustomer(sub.customer),
      ),
    ),
  );
  return { customers: [...named.customers].sort(), events, requests };
}

/** A look-up of something deleted or gone since its event: nothing to read (a 404), anything else fails. */
function notFound(error: unknown): void {
  if (!(error instanceof ApiError && error.status === 404)) throw error;
}

/** The customers: listed, or each wanted one retrieved (the first with the first pages). */
async function readCustomers(read: StripeRead, first: Awaited<ReturnType<typeof firstPages>>): Promise<void> {
  if (!read.wanted) return listAll(read, LISTINGS.customers, first.customers);
  const found = await Promise.all(read.wanted.map((id, i) => (i === 0 ? first.customer : retrieveCustomer(read, id))));
  for (const customer of found) if (customer) acceptCustomer(read, customer);
}

/** A customer's facts, created empty (and kept aside) when a charge or subscription comes first. */
function factsFor(read: StripeRead, customerId: string): CustomerFacts {
  let facts = read.customers.get(customerId) ?? read.pending.get(customerId);
  if (!facts) {
    facts = emptyFacts({ id: customerId, email: null, name: null, description: null, created: 0 });
    read.pending.set(customerId, facts);
  }
  return facts;
}

function foldCustomers(read: StripeRead, customers: Stripe.Customer[]): void {
  customers.forEach((customer) => acceptCustomer(read, customer));
}

function acceptCustomer(read: StripeRead, customer: Stripe.Customer | Stripe.DeletedCustomer): void {
  if ('deleted' in customer && customer.deleted) return;
  const live = customer as Stripe.Customer;
  const fresh = emptyFacts(live);
  const facts = read.pending.get(live.id);
  // Charges or subscriptions that came first keep their facts; the customer's own fields join them.
  if (facts) {
    const { email, name, description, createdUnix, livemode, hints, individualName, businessName, delinquent } = fresh;
    Object.assign(facts, { email, name, description, createdUnix, livemode, hints, individualName, businessName, delinquent });
    if (fresh.discount) facts.discount = fresh.discount;
  }
  read.pending.delete(live.id);
  read.customers.set(live.id, facts ?? fresh);
  read.counts.customers += 1;
}

function foldCharges(read: StripeRead, charges: Stripe.Charge[]): void {
  for (const charge of charges) {
    read.counts.charges += 1;
    const customerId = typeof charge.customer === 'string' ? charge.customer : (charge.customer?.id ?? null);
    if (customerId === null) {
      if (chargeRevenue(charge)) read.notes.chargesWithoutCustomer += 1;
      continue;
    }
    addCharge(factsFor(read, customerId), charge, read.notes);
  }
}

/** Disputes have no customer filter: with --only, every dispute is read and the others skipped. */
function foldDisputes(read: StripeRead, disputes: Stripe.Dispute[]): void {
  for (const dispute of disputes) {
    const charge = typeof dispute.charge === 'object' ? dispute.charge : null;
    const customerId = typeof charge?.customer === 'string' ? charge.customer : (charge?.customer?.id ?? null);
    if (customerId === null || (read.wanted && !read.wanted.includes(customerId))) continue;
    if (OPEN_DISPUTE_STATUSES.has(dispute.status)) read.notes.openDisputes += 1;
    const loss = disputeLoss(dispute);
    if (!loss) continue;
    read.notes.lostDisputes += 1;
    addRevenue(factsFor(read, customerId), loss, -1);
  }
}

function foldSubscriptions(read: StripeRead, subscriptions: Stripe.Subscription[]): void {
  for (const subscription of subscriptions) {
    read.counts.subscriptions += 1;
    foldWhenRead(read, subscription);
  }
}

/** What a subscription needs read before it can be folded: nothing for one that does not count. */
function readsFor(subscription: Stripe.Subscription, nowUnix: number) {
  const first = subscription.items.data;
  // One that counts but earns nothing (collection paused for good) still needs all its items for
  // the plan and the cancel date; one that does not count needs nothing more.
  if (!earnsMrr(subscription))
    return countsInMrr(subscription.status) && subscription.items.has_more ? { itemDiscounts: false, priced: () => [], detailsOf: () => null, invoice: null } : null;
  const currency = subscription.currency.toLowerCase();
  const priced = (items: readonly Stripe.SubscriptionItem[]) => items.filter((item) => pricedInMrr(item, nowUnix));
  const detailsOf = (item: Stripe.SubscriptionItem) => {
    const tiers = item.price.billing_scheme === 'tiered';
    const options = item.price.currency.toLowerCase() !== currency;
    return tiers || options ? { priceId: item.price.id, tiers, options } : null;
  };
  const itemDiscounts = first.some((item) => item.discounts.length > 0);
  const needsItems = subscription.items.has_more || itemDiscounts;
  const invoice = subscription.automatic_tax?.enabled && typeof subscription.latest_invoice === 'string' ? subscription.latest_invoice : null;
  const needsDetails = priced(first).some((item) => detailsOf(item) !== null);
  if (!needsItems && !needsDetails && !invoice) return null;
  return { itemDiscounts, priced, detailsOf, invoice };
}

/**
 * A subscription whose page does not hold all it needs (more items, coupons of item discounts,
 * tiers or currency options of its prices, the latest invoice under Stripe Tax) is folded once
 * those are read; each runs on its own. One that cannot earn MRR needs nothing more.
 */
function foldWhenRead(read: StripeRead, subscription: Stripe.Subscription): void {
  const reads = readsFor(subscription, read.options.nowUnix);
  if (!reads) {
    foldSubscription(read, subscription, subscription.items.data);
    return;
  }
  const folding = (async () => {
    // Item discounts' coupons: a listing of subscriptions cannot expand that deep (4 levels at most).
    const first = subscription.items.data;
    const items = reads.itemDiscounts ? await readItems(read, subscription, []) : subscription.items.has_more ? await readItems(read, subscription, first) : first;
    const details = reads.priced(items).flatMap((item) => reads.detailsOf(item) ?? []);
    await Promise.all([...details.map((d) => readPriceDetails(read, d.priceId, d)), reads.invoice ? readInvoice(read, reads.invoice) : null]);
    foldSubscription(read, subscription, items);
  })();
  folding.catch((error: unknown) => failRead(read, error)); // awaited at the end with the others; meanwhile the listings stop
  read.laterFolds.push(folding);
}

function foldSubscription(read: StripeRead, subscription: Stripe.Subscription, items: Stripe.SubscriptionItem[]): void {
  const customerId = typeof subscription.customer === 'string' ? subscription.customer : subscription.customer.id;
  const latest = typeof subscription.latest_invoice === 'string' ? read.invoices.get(subscription.latest_invoice) : undefined;
  const context = { discounts: read.counted, nowUnix: read.options.nowUnix, detailsOf: (id: string) => read.prices.details.get(id), latestInvoice: latest };
  const mrr = subscriptionMrr(subscription, items, context);
  // A trial's MRR-to-be, from what is at hand (tiers and other currencies are read only for subscriptions that count).
  const trialMrr = subscription.status === 'trialing' ? subscriptionMrr({ ...subscription, status: 'active' }, items, context) : null;
  addLifecycle(factsFor(read, customerId), subscription, items, trialMrr);
  addTally(read.notes.unpricedItems, customerId, mrr.unpricedItems);
  addTally(read.notes.unappliedDiscounts, customerId, mrr.unappliedDiscounts);
  if (mrr.taxUnknown) addTally(read.notes.taxUnknown, customerId);
  addSubscription(factsFor(read, customerId), subscription, items, mrr);
  if (countsInMrr(subscription.status)) for (const { productId } of planOf(items)) readProductName(read, productId);
}

/** A subscription's items after `known`, with their discounts' coupons. */
async function readItems(read: StripeRead, subscription: Stripe.Subscription, known: Stripe.SubscriptionItem[]): Promise<Stripe.SubscriptionItem[]> {
  const items = [...known];
  for (let more = true; more;) {
    const last = items.at(-1)?.id;
    const next = await read.request('subscription_items', (stripe) =>
      stripe.subscriptionItems.list({
        subscription: subscription.id,
        limit: 100,
        expand: ['data.discounts.source.coupon'],
        ...(last ? { starting_after: last } : {}),
      }),
    );
    items.push(...next.data);
    more = next.has_more && next.data.length > 0;
  }
  return items;
}

/**
 * Product names, a hundred products a request (`ids`), each product once: a listing of
 * subscriptions cannot expand data.items.data.price.product (5 levels; Stripe expands at most 4).
 */
function readProductName(read: StripeRead, productId: string): void {
  const { products } = read;
  if (products.seen.has(productId)) return;
  products.seen.add(productId);
  products.toRead.push(productId);
  if (products.toRead.length === 100) readProductNames(read);
}

function readProductNames(read: StripeRead): void {
  const { products } = read;
  const ids = products.toRead;
  products.toRead = [];
  const reading = read
    .request('products', (stripe) => stripe.products.list({ ids, limit: 100 }))
    .then((page) => {
      for (const product of page.data) products.names.set(product.id, product.name);
    });
  reading.catch((error: unknown) => failRead(read, error));
  products.reads.push(reading);
}

/**
 * A price's tiers and currency options, read once per price and kind (a listing cannot expand
 * them; currency_options "won't [be] include[d] ... by default", docs.stripe.com/products-prices/manage-prices).
 */
function readPriceDetails(read: StripeRead, priceId: string, need: { tiers: boolean; options: boolean }): Promise<void> {
  const { prices } = read;
  const expand = [...(need.tiers ? ['tiers'] : []), ...(need.options ? ['currency_options'] : [])];
  const key = `${priceId} ${expand.join(',')}`;
  if (!prices.reads.has(key))
    prices.reads.set(
      key,
      read
        .request('prices', (stripe) => stripe.prices.retrieve(priceId, { expand }))
        .then((price) => {
          const known = prices.details.get(priceId) ?? {};
          prices.details.set(priceId, { ...known, ...(price.tiers ? { tiers: price.tiers } : {}), ...(price.currency_options ? { currencyOptions: price.currency_options } : {}) });
        }),
    );
  return prices.reads.get(key)!;
}

/** A latest invoice's tax. Invoices is optional (STRIPE_PERMISSIONS): without it, the tax stays in and a note says so. */
async function readInvoice(read: StripeRead, invoiceId: string): Promise<void> {
  if (read.notes.invoicesForbidden) return;
  try {
    const invoice = await read.request('invoices', (stripe) => stripe.invoices.retrieve(invoiceId));
    read.invoices.set(invoiceId, { subtotal: invoice.subtotal, subtotal_excluding_tax: invoice.subtotal_excluding_tax });
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 403)) throw error;
    read.notes.invoicesForbidden = true;
  }
}

/** Once everything is read: product ids become names, and the customer's own discount applies. */
function finishFacts(facts: CustomerFacts, productNames: ReadonlyMap<string, string>, counted: MrrDiscounts, notes: SourceNotes): void {
  addTally(notes.unappliedDiscounts, facts.id, applyCustomerDiscount(facts, counted));
  if (!facts.plan) return;
  const byName: Record<string, number> = {};
  for (const [productId, quantity] of Object.entries(facts.plan)) {
    // A product name is text from outside like a customer's: cleaned as a company name is.
    const name = cleanName(productNames.get(productId) ?? null) ?? productId;
    byName[name] = (byName[name] ?? 0) + quantity;
  }
  facts.plan = byName;
}

// ================================================================================================
// SOURCE: STRIPE 4. REVENUE AND MRR ARITHMETIC (pure)
// ================================================================================================

/** Money in one currency, and what Stripe settled it as in another (when it did). */
interface Money {
  currency: string;
  minor: number;
  settled?: { currency: string; minor: number };
}

/**
 * A charge's net revenue (captured minus refunded), or null when it moved no money: it failed, it
 * is an authorisation never captured (`succeeded` but `captured: false`), or it captured nothing (a
 * 0-amount charge is no payment). A refund is at least 0 and at most what was captured. When Stripe
 * settled the charge in another currency, its balance transaction holds Stripe's own conversion of
 * the captured amount, scaled here by the share not refunded.
 */
export function chargeRevenue(charge: Pick<Stripe.Charge, 'status' | 'captured' | 'currency' | 'amount_captured' | 'amount_refunded' | 'balance_transaction'>): Money | null {
  if (charge.status !== 'succeeded' || !charge.captured || !(charge.amount_captured > 0)) return null;
  const minor = Math.max(0, charge.amount_captured - Math.max(0, charge.amount_refunded));
  const currency = charge.currency.toLowerCase();
  const settlement = charge.balance_transaction;
  if (!settlement || typeof settlement !== 'object' || settlement.currency.toLowerCase() === currency) return { currency, minor };
  return { currency, minor, settled: { currency: settlement.currency.toLowerCase(), minor: Math.round((settlement.amount * minor) / charge.amount_captured) } };
}

/**
 * What a lost dispute took back, or null: open and won disputes, and inquiries, take nothing back
 * (yet). In another settlement currency, what Stripe withdrew there (its balance transactions).
 */
export function disputeLoss(dispute: Pick<Stripe.Dispute, 'status' | 'amount' | 'currency' | 'balance_transactions'>): Money | null {
  if (dispute.status !== 'lost') return null;
  const currency = dispute.currency.toLowerCase();
  const elsewhere = (dispute.balance_transactions ?? []).filter((t) => t.currency.toLowerCase() !== currency);
  if (!elsewhere.length) return { currency, minor: dispute.amount };
  return { currency, minor: dispute.amount, settled: { currency: elsewhere[0]!.currency.toLowerCase(), minor: -elsewhere.reduce((sum, t) => sum + t.amount, 0) } };
}

/** Adds money (a negative `sign` subtracts it) to the customer's revenue, with what was settled where. */
export function addRevenue(facts: CustomerFacts, money: Money, sign: 1 | -1 = 1): void {
  facts.revenueMinor[money.currency] = (facts.revenueMinor[money.currency] ?? 0) + sign * money.minor;
  if (!money.settled) return;
  const pair = ((facts.settledMinor ??= {})[`${money.currency}>${money.settled.currency}`] ??= { charged: 0, settled: 0 });
  pair.charged += sign * money.minor;
  pair.settled += sign * money.settled.minor;
}

/** Adds a charge to its customer's facts; a negative `amount_refunded` (counted as none) is noted. */
export function addCharge(facts: CustomerFacts, charge: Stripe.Charge, notes?: Pick<SourceNotes, 'negativeRefunds'>): void {
  addPaymentOutcome(facts, charge);
  const revenue = chargeRevenue(charge);
  if (!revenue) return;
  if (charge.amount_refunded < 0 && notes) addTally(notes.negativeRefunds, facts.id);
  addRevenue(facts, revenue);
  facts.payments += 1;
  facts.firstPaymentUnix = facts.firstPaymentUnix === null ? charge.created : Math.min(facts.firstPaymentUnix, charge.created);
  facts.lastPaymentUnix = facts.lastPaymentUnix === null ? charge.created : Math.max(facts.lastPaymentUnix, charge.created);
}

/**
 * Keeps the latest failed charge (`status: 'failed'`) and the latest that went through (`succeeded`
 * and `captured`: an authorisation that was never captured took no money, so it recovers nothing).
 */
export function addPaymentOutcome(facts: CustomerFacts, charge: Pick<Stripe.Charge, 'status' | 'captured' | 'created' | 'failure_code' | 'failure_message' | 'outcome'>): void {
  if (charge.status === 'failed' && charge.created >= (facts.lastFailure?.unix ?? -Infinity)) facts.lastFailure = { unix: charge.created, text: paymentFailureText(charge) };
  if (charge.status === 'succeeded' && charge.captured) facts.lastSucceededUnix = Math.max(facts.lastSucceededUnix ?? -Infinity, charge.created);
}

/**
 * Why a charge failed, for a person: its `failure_code` ("card_declined"; null when Radar blocked
 * it), the decline code or Radar rule in `outcome.reason` ("insufficient_funds"), and Stripe's
 * message: `failure_message`, else `outcome.seller_message` (Charge.d.ts). E.g.
 * "card_declined (insufficient_funds): Your card has insufficient funds."
 */
export function paymentFailureText(charge: Pick<Stripe.Charge, 'failure_code' | 'failure_message' | 'outcome'>): string {
  const code = charge.failure_code ?? charge.outcome?.type ?? 'failed';
  const reason = charge.outcome?.reason && charge.outcome.reason !== code ? ` (${charge.outcome.reason})` : '';
  const message = charge.failure_message ?? charge.outcome?.seller_message ?? null;
  return `${code}${reason}${message ? `: ${message}` : ''}`;
}

/** The latest failed payment, while no payment went through after it (a payment in the same second counts as after). */
export function unrecoveredFailure(facts: Pick<CustomerFacts, 'lastFailure' | 'lastSucceededUnix'>): { unix: number; text: string } | null {
  const failure = facts.lastFailure;
  return failure && !(failure.unix <= (facts.lastSucceededUnix ?? -Infinity)) ? failure : null;
}

/** Dispute statuses still undecided: the charge counts until the dispute is lost. */
export const OPEN_DISPUTE_STATUSES: ReadonlySet<string> = new Set([
  'warning_needs_response',
  'warning_under_review',
  'needs_response',
  'under_review',
  'appeal_needs_response',
  'appeal_under_review',
]);

/**
 * Whether a subscription counts as a customer's (for MRR, the plan and the cancel date): `active` or
 * `past_due`. "When a subscriber's subscription is canceled or marked as unpaid, then the
 * subscription is considered churn and no longer counts towards MRR" (billing analytics glossary).
 */
function countsInMrr(status: Stripe.Subscription.Status): boolean {
  return status === 'active' || status === 'past_due';
}

/**
 * Whether a subscription adds to MRR: it counts, and its collection is not paused for good. Stripe
 * says only that pausing collection "can affect accounting data, such as monthly recurring revenue"
 * (docs.stripe.com/billing/subscriptions/pause-payment). The sync's rule, stated in the README:
 * `void` and `mark_uncollectible` ("offer services for free") count zero while paused;
 * `keep_as_draft` ("collect payment later") counts, since its invoices are still to be collected.
 */
export function earnsMrr(subscription: Pick<Stripe.Subscription, 'status'> & Partial<Pick<Stripe.Subscription, 'pause_collection'>>): boolean {
  const paused = subscription.pause_collection?.behavior;
  return countsInMrr(subscription.status) && paused !== 'void' && paused !== 'mark_uncollectible';
}

/** Months per billing interval: Stripe's MRR normalisation (month 1/n, year 1/12n, week 52/12n, day 365/12n). */
export function monthlyFactor(interval: Stripe.Price.Recurring.Interval, intervalCount: number): number {
  const perYear: Record<string, number> = { day: 365, week: 52, month: 12, year: 1 };
  return (perYear[interval] ?? 12) / 12 / intervalCount;
}

/**
 * What one billing period of `quantity` units costs at a tiered price, in minor units (fractional):
 * graduated prices charge each tier's units at that tier's price (plus the flat amount of every tier
 * reached); volume prices charge every unit at the price of the tier the quantity falls in (plus its
 * flat amount). Stripe's price docs: billing_scheme, tiers_mode, tiers. Null when it cannot be
 * priced: no tiers at all, or a tier without a price.
 */
export function tieredAmountMinor(tiers: readonly Stripe.Price.Tier[], mode: Stripe.Price.TiersMode, quantity: number): number | null {
  if (tiers.length === 0) return null;
  if (quantity <= 0) return 0;
  const unitOf = (tier: Stripe.Price.Tier) => tier.unit_amount ?? (tier.unit_amount_decimal === null ? 0 : Number(String(tier.unit_amount_decimal)));
  const flatOf = (tier: Stripe.Price.Tier) => tier.flat_amount ?? (tier.flat_amount_decimal === null ? 0 : Number(String(tier.flat_amount_decimal)));
  if (tiers.some((t) => !Number.isFinite(unitOf(t)) || !Number.isFinite(flatOf(t)))) return null;
  if (mode === 'volume') {
    const tier = tiers.find((t) => t.up_to === null || quantity <= t.up_to);
    return tier ? quantity * unitOf(tier) + flatOf(tier) : null;
  }
  let amount = 0;
  let below = 0;
  for (const tier of tiers) {
    const upTo = tier.up_to ?? Infinity;
    const units = Math.min(quantity, upTo) - below;
    if (units <= 0) break;
    amount += units * unitOf(tier) + flatOf(tier);
    below = upTo;
  }
  return amount;
}

/**
 * The quantity a per-unit price bills: `transform_quantity` ("Apply a transformation to the reported
 * usage or set quantity before computing the amount billed", Price.d.ts) divides it by `divide_by`
 * and rounds `up` or `down`: 12 seats at "10.00 per 5, round up" bill 3 packages.
 */
export function billedQuantity(quantity: number, transform: Stripe.Price.TransformQuantity | null): number {
  if (!transform || !(transform.divide_by > 0)) return quantity;
  const divided = quantity / transform.divide_by;
  return transform.round === 'down' ? Math.floor(divided) : Math.ceil(divided);
}

/** What a price's retrieve adds to the price a listing embeds: tiers and currency options, which come only when expanded. */
interface PriceDetails {
  tiers?: readonly Stripe.Price.Tier[];
  currencyOptions?: Record<string, Stripe.Price.CurrencyOptions>;
}

type PriceForMrr = Pick<Stripe.Price, 'id' | 'currency' | 'billing_scheme' | 'tiers_mode' | 'unit_amount' | 'unit_amount_decimal' | 'transform_quantity' | 'tax_behavior'>;

/**
 * A price's amounts in the subscription's currency: "each purchase uses one of the multi-currency
 * Price's supported currencies" (docs.stripe.com/products-prices/manage-prices), so a subscription
 * in another currency than the price's default is billed at its currency option there
 * (`currency_options[currency]`, with its own tiers and tax behaviour). Null when that is not known.
 */
function priceAmountsIn(price: PriceForMrr, currency: string, details: PriceDetails | undefined) {
  if (price.currency.toLowerCase() === currency) return { unit: price.unit_amount, decimal: price.unit_amount_decimal, tiers: details?.tiers, taxBehavior: price.tax_behavior };
  const option = details?.currencyOptions?.[currency];
  if (!option) return null;
  return { unit: option.unit_amount, decimal: option.unit_amount_decimal, tiers: option.tiers, taxBehavior: option.tax_behavior ?? price.tax_behavior };
}

/**
 * One billing period of a licensed item in the subscription's currency, in minor units (fractional),
 * or null when it cannot be priced: per unit from `unit_amount` (or `unit_amount_decimal` when the
 * price has only that) times the billed quantity; tiered from the tiers (a listing cannot expand
 * them: `details` holds what the price's retrieve read).
 */
export function itemAmountMinor(price: PriceForMrr, quantity: number, currency: string, details: PriceDetails | undefined): number | null {
  const amounts = priceAmountsIn(price, currency, details);
  if (!amounts) return null;
  if (price.billing_scheme === 'tiered') return amounts.tiers ? tieredAmountMinor(amounts.tiers, price.tiers_mode ?? 'graduated', quantity) : null;
  const unit = amounts.unit ?? (amounts.decimal === null ? null : Number(String(amounts.decimal)));
  return unit === null || !Number.isFinite(unit) ? null : unit * billedQuantity(quantity, price.transform_quantity);
}

/** Whether a discount's coupon lowers MRR under the account's switches (see MrrDiscounts). */
function couponLowersMrr(coupon: Pick<Stripe.Coupon, 'duration'>, counted: MrrDiscounts): boolean {
  return coupon.duration === 'once' ? counted.oneTime : counted.recurring;
}

/**
 * Applies discounts to an amount in their order: a percent-off scales it, an amount-off in the same
 * currency (per billing period, times `amountOffScale` to bring it to the amount's period) is
 * subtracted. Returns the new amount and how many could not be applied (coupon not expanded, or an
 * amount-off in another currency).
 */
export function applyDiscounts(
  amountMinor: number,
  discounts: ReadonlyArray<string | Stripe.Discount> | null | undefined,
  currency: string,
  counted: MrrDiscounts,
  amountOffScale = 1,
): { amountMinor: number; unapplied: number } {
  let amount = amountMinor;
  let unapplied = 0;
  for (const discount of discounts ?? []) {
    const coupon = typeof discount === 'object' ? discount.source?.coupon : null;
    if (!coupon || typeof coupon !== 'object') {
      unapplied += 1;
      continue;
    }
    if (!couponLowersMrr(coupon, counted)) continue;
    if (coupon.percent_off != null) amount *= 1 - coupon.percent_off / 100;
    else if (coupon.amount_off != null && coupon.currency?.toLowerCase() === currency) amount -= coupon.amount_off * amountOffScale;
    else unapplied += 1;
  }
  return { amountMinor: Math.max(0, amount), unapplied };
}

/**
 * Inclusive tax rates' percentage on an item: its own `tax_rates`, else the subscription's
 * `default_tax_rates` ("When set, the default_tax_rates do not apply to this item", Subscriptions.d.ts).
 * Only inclusive percentage rates are inside the price (TaxRate.d.ts `inclusive`); exclusive ones
 * are added on top and never were in the amount.
 */
export function inclusiveTaxPercent(
  item: { tax_rates?: readonly Pick<Stripe.TaxRate, 'inclusive' | 'percentage' | 'rate_type'>[] | null },
  subscription: { default_tax_rates?: readonly Pick<Stripe.TaxRate, 'inclusive' | 'percentage' | 'rate_type'>[] | null },
): number {
  const rates = item.tax_rates?.length ? item.tax_rates : (subscription.default_tax_rates ?? []);
  return rates.filter((rate) => rate.inclusive && rate.rate_type !== 'flat_amount').reduce((sum, rate) => sum + rate.percentage, 0);
}

/**
 * Under Stripe Tax the rate is not on the subscription; its latest invoice holds the tax: the
 * inclusive tax is `subtotal − subtotal_excluding_tax` (Invoice.d.ts: `subtotal` is "before any
 * invoice level discount or exclusive tax", `subtotal_excluding_tax` "before any invoice level
 * discount or tax"), spread over what the tax-inclusive items bill a period. The share of that
 * amount that is not tax, or null when the invoice cannot tell.
 */
export function taxFreeShare(invoice: Pick<Stripe.Invoice, 'subtotal' | 'subtotal_excluding_tax'> | undefined, inclusiveMinor: number): number | null {
  if (!invoice || invoice.subtotal_excluding_tax === null || !(inclusiveMinor > 0)) return null;
  return Math.min(1, Math.max(0, 1 - (invoice.subtotal - invoice.subtotal_excluding_tax) / inclusiveMinor));
}

/** A subscription with no discounts of its own: its MRR before discounts, so the customer's discount can be applied once read. */
interface InheritingMrr {
  currency: string;
  mrrMinor: number;
  /** The same as billed, inclusive tax in: a discount comes off this (see subscriptionMrr). */
  billedMinor: number;
  /** Months one invoice covers (the shortest item interval): an amount-off is per invoice. */
  monthsPerInvoice: number;
}

/**
 * MRR after subscription-level (or inherited customer) discounts. A coupon's `amount_off` is taken
 * "off the subtotal" (Coupons.d.ts), and an invoice's subtotal still holds inclusive tax
 * (Invoices.d.ts `subtotal`: "before any invoice level discount or exclusive tax"), so the discount
 * comes off the billed amount, and the tax-free share of what is left is MRR: 119.00 at 19%
 * inclusive less 19.00 off is (119 − 19) / 1.19 = 84.03, not 119 / 1.19 − 19. A percent-off gives
 * the same either way.
 */
function afterDiscounts(mrr: Pick<InheritingMrr, 'currency' | 'mrrMinor' | 'billedMinor' | 'monthsPerInvoice'>, discounts: ReadonlyArray<string | Stripe.Discount>, counted: MrrDiscounts) {
  const discounted = applyDiscounts(mrr.billedMinor, discounts, mrr.currency, counted, 1 / mrr.monthsPerInvoice);
  const mrrMinor = mrr.billedMinor > 0 ? mrr.mrrMinor * (discounted.amountMinor / mrr.billedMinor) : 0;
  return { mrrMinor, unapplied: discounted.unapplied };
}

interface SubscriptionMrr {
  currency: string;
  /** Monthly amount in minor units, fractional (rounded only when converted to major units). */
  mrrMinor: number;
  unpricedItems: number;
  unappliedDiscounts: number;
  /** Under Stripe Tax with tax-inclusive items, the latest invoice could not tell the tax (counted with it). */
  taxUnknown: boolean;
  inheriting?: InheritingMrr;
}

/** What pricing a subscription needs besides the subscription: the switches, the clock, and what was read for it. */
export interface MrrContext {
  discounts: MrrDiscounts;
  nowUnix: number;
  detailsOf: (priceId: string) => PriceDetails | undefined;
  /** The subscription's latest invoice, read when it is under Stripe Tax with tax-inclusive items. */
  latestInvoice?: Pick<Stripe.Invoice, 'subtotal' | 'subtotal_excluding_tax'>;
}

type SubscriptionForMrr = Pick<Stripe.Subscription, 'status' | 'currency' | 'discounts'> & Partial<Pick<Stripe.Subscription, 'pause_collection' | 'default_tax_rates' | 'automatic_tax'>>;
type ItemForMrr = Pick<Stripe.SubscriptionItem, 'price' | 'quantity' | 'discounts'> & Partial<Pick<Stripe.SubscriptionItem, 'tax_rates' | 'current_trial'>>;

/** Whether an item is in a trial of its own now (`SubscriptionItem.current_trial`): Stripe's MRR excludes trials. */
function inItemTrial(item: Pick<ItemForMrr, 'current_trial'>, nowUnix: number): boolean {
  return Boolean(item.current_trial && item.current_trial.end_date > nowUnix);
}

/** Whether an item is priced into MRR: recurring, licensed (metered usage is not in MRR), not in a trial of its own. */
function pricedInMrr(item: Pick<ItemForMrr, 'price' | 'current_trial'>, nowUnix: number): boolean {
  const recurring = item.price.recurring;
  return Boolean(recurring) && recurring!.usage_type !== 'metered' && !inItemTrial(item, nowUnix);
}

/** Whether an item's price may hold tax under Stripe Tax: anything but `exclusive` (unspecified follows the account's default, which the sync does not read). */
function mayIncludeTax(item: ItemForMrr, currency: string, details: PriceDetails | undefined): boolean {
  return priceAmountsIn(item.price, currency, details)?.taxBehavior !== 'exclusive';
}

/**
 * A subscription's contribution to MRR, as Stripe's billing analytics defines it (glossary): active
 * and past_due subscriptions whose collection is not paused for good (earnsMrr); each licensed item
 * not in a trial of its own, priced in the subscription's currency for its billed quantity over its
 * billing period, less its own discounts and any tax inside the price, normalised to a month and
 * summed; less the subscription's discounts ("Subscription item discounts are applied before
 * subscription discounts", Subscriptions.d.ts), an amount-off spread over the months one invoice
 * covers (the shortest item interval, as mixed intervals bill under flexible billing mode). Without
 * discounts of its own a subscription "inherits the discount from the subscription's customer"
 * (SubscriptionCreateParams.discounts): `inheriting` says so, applyCustomerDiscount applies it.
 */
export function subscriptionMrr(subscription: SubscriptionForMrr, items: readonly ItemForMrr[], context: MrrContext): SubscriptionMrr {
  const currency = subscription.currency.toLowerCase();
  const result: SubscriptionMrr = { currency, mrrMinor: 0, unpricedItems: 0, unappliedDiscounts: 0, taxUnknown: false };
  if (!earnsMrr(subscription)) return result;
  const automaticTax = subscription.automatic_tax?.enabled === true;
  // Per item: what one period bills (inclusive tax in), its monthly factor, and what of it is not tax.
  const lines: Array<{ periodMinor: number; factor: number; taxFree: number; taxed: boolean }> = [];
  let monthsPerInvoice: number | null = null;
  for (const item of items) {
    if (!pricedInMrr(item, context.nowUnix)) continue;
    const { interval, interval_count } = item.price.recurring!;
    const factor = monthlyFactor(interval, interval_count);
    monthsPerInvoice = Math.min(monthsPerInvoice ?? Infinity, 1 / factor);
    const details = context.detailsOf(item.price.id);
    const amount = itemAmountMinor(item.price, item.quantity ?? 1, currency, details);
    if (amount === null) {
      result.unpricedItems += 1;
      continue;
    }
    const discounted = applyDiscounts(amount, item.discounts, currency, context.discounts);
    result.unappliedDiscounts += discounted.unapplied;
    const taxFree = automaticTax ? 1 : 1 / (1 + inclusiveTaxPercent(item, subscription) / 100);
    lines.push({ periodMinor: discounted.amountMinor, factor, taxFree, taxed: automaticTax && mayIncludeTax(item, currency, details) });
  }
  if (monthsPerInvoice === null) return result;
  const taxedMinor = lines.filter((l) => l.taxed).reduce((sum, l) => sum + l.periodMinor, 0);
  const share = taxedMinor > 0 ? taxFreeShare(context.latestInvoice, taxedMinor) : 1;
  result.taxUnknown = share === null;
  const billedMinor = lines.reduce((sum, l) => sum + l.periodMinor * l.factor, 0);
  const monthlyMinor = lines.reduce((sum, l) => sum + l.periodMinor * l.taxFree * (l.taxed ? (share ?? 1) : 1) * l.factor, 0);
  const mrr = { currency, mrrMinor: monthlyMinor, billedMinor, monthsPerInvoice };
  if (subscription.discounts.length === 0) {
    result.mrrMinor = monthlyMinor;
    result.inheriting = mrr;
    return result;
  }
  const discounted = afterDiscounts(mrr, subscription.discounts, context.discounts);
  result.unappliedDiscounts += discounted.unapplied;
  result.mrrMinor = discounted.mrrMinor;
  return result;
}

/** Applies the customer's own discount to the subscriptions that inherit it; returns how many could not be applied. */
export function applyCustomerDiscount(facts: CustomerFacts, counted: MrrDiscounts): number {
  const inheriting = facts.inheriting ?? [];
  delete facts.inheriting;
  if (!facts.discount) return 0;
  let unapplied = 0;
  for (const sub of inheriting) {
    const discounted = afterDiscounts(sub, [facts.discount], counted);
    facts.mrrMinor[sub.currency] = (facts.mrrMinor[sub.currency] ?? 0) - sub.mrrMinor + discounted.mrrMinor;
    unapplied += discounted.unapplied;
  }
  return unapplied;
}

/**
 * When a subscription is set to end: `cancel_at` (which Stripe also sets when `cancel_at_period_end`
 * is true: docs "billing mode compare"), else with `cancel_at_period_end` the earliest period end of
 * its items ("always resolves to the earliest item period end", changelog 2025-07-30). Null when it renews.
 */
export function scheduledEndUnix(
  subscription: Pick<Stripe.Subscription, 'cancel_at' | 'cancel_at_period_end'>,
  items: readonly Pick<Stripe.SubscriptionItem, 'current_period_end'>[],
): number | null {
  if (subscription.cancel_at) return subscription.cancel_at;
  if (!subscription.cancel_at_period_end || items.length === 0) return null;
  return Math.min(...items.map((item) => item.current_period_end));
}

/** The product ids and quantities a subscription is on (quantity 1 for an item without one, e.g. metered; none for quantity 0). */
export function planOf(items: readonly Pick<Stripe.SubscriptionItem, 'price' | 'quantity'>[]): Array<{ productId: string; quantity: number }> {
  return items
    .filter((item) => item.quantity !== 0)
    .map((item) => ({
      productId: typeof item.price.product === 'string' ? item.price.product : item.price.product.id,
      quantity: item.quantity ?? 1,
    }));
}

/**
 * The dates a subscription gives its customer: a trial's end (`trial_end`, while `trialing`) and
 * what it will bill a month then (`trialMrrMinor`, priced as MRR prices an active one); the next
 * renewal of one that counts and is not set to end (its items' earliest `current_period_end`:
 * periods live on items since 2025-03-31); and when a canceled one ended (`ended_at`, else
 * `canceled_at`). Stripe's Subscription.d.ts defines each field.
 */
export function addLifecycle(
  facts: CustomerFacts,
  subscription: Pick<Stripe.Subscription, 'status' | 'trial_end' | 'ended_at' | 'canceled_at' | 'cancel_at' | 'cancel_at_period_end'>,
  items: readonly Pick<Stripe.SubscriptionItem, 'current_period_end'>[],
  trialMrr: { currency: string; mrrMinor: number } | null,
): void {
  if (subscription.status === 'trialing' && subscription.trial_end) {
    facts.trialEndsUnix = Math.min(facts.trialEndsUnix ?? Infinity, subscription.trial_end);
    if (trialMrr && trialMrr.mrrMinor) (facts.trialMrrMinor ??= {})[trialMrr.currency] = (facts.trialMrrMinor?.[trialMrr.currency] ?? 0) + trialMrr.mrrMinor;
  }
  if (countsInMrr(subscription.status) && scheduledEndUnix(subscription, items) === null && items.length)
    facts.renewsUnix = Math.min(facts.renewsUnix ?? Infinity, ...items.map((item) => item.current_period_end));
  const ended = subscription.ended_at ?? subscription.canceled_at;
  if (subscription.status === 'canceled' && ended) facts.lastEndedUnix = Math.max(facts.lastEndedUnix ?? -Infinity, ended);
}

/** The statuses under which a customer has not churned: a subscription that still runs or is owed. */
const NOT_CHURNED: ReadonlySet<Stripe.Subscription.Status> = new Set(['active', 'past_due', 'unpaid', 'trialing']);

/** When the customer's last subscription ended, while none is active, past due, unpaid or trialing; null otherwise. */
export function churnedOnUnix(facts: Pick<CustomerFacts, 'subscriptionStatuses' | 'lastEndedUnix'>): number | null {
  if (facts.lastEndedUnix === undefined || facts.subscriptionStatuses.some((status) => NOT_CHURNED.has(status))) return null;
  return facts.lastEndedUnix;
}

function addSubscription(facts: CustomerFacts, subscription: Stripe.Subscription, items: readonly Stripe.SubscriptionItem[], mrr: SubscriptionMrr): void {
  facts.subscriptionStatuses.push(subscription.status);
  if (countsInMrr(subscription.status)) {
    // Product ids for now; readStripe turns them into names once each product is read.
    const plan = (facts.plan ??= {});
    for (const { productId, quantity } of planOf(items)) plan[productId] = (plan[productId] ?? 0) + quantity;
    (facts.scheduledEndsUnix ??= []).push(scheduledEndUnix(subscription, items));
  }
  if (mrr.mrrMinor !== 0) facts.mrrMinor[mrr.currency] = (facts.mrrMinor[mrr.currency] ?? 0) + mrr.mrrMinor;
  if (mrr.inheriting && mrr.inheriting.mrrMinor !== 0) (facts.inheriting ??= []).push(mrr.inheriting);
}

// ================================================================================================
// SOURCE: STRIPE 5. MAPPING: facts -> Attio values, totals, notes, and the checks before any write
// ================================================================================================

const SUBSCRIPTION_STATUSES = ['Active', 'Past due', 'Trialing', 'Paused', 'Unpaid', 'Canceled', 'None'] as const;
type SubscriptionStatusTitle = (typeof SUBSCRIPTION_STATUSES)[number];

/**
 * Stripe's statuses by how far along a customer is; `incomplete` never started, so it says nothing.
 * `unpaid` is churn in Stripe's analytics ("canceled or marked as unpaid ... is considered churn",
 * glossary), so it has its own title, below Paused.
 */
const STATUS_TITLES: Partial<Record<Stripe.Subscription.Status, SubscriptionStatusTitle>> = {
  active: 'Active',
  past_due: 'Past due',
  unpaid: 'Unpaid',
  trialing: 'Trialing',
  paused: 'Paused',
  canceled: 'Canceled',
  incomplete_expired: 'Canceled',
};

/** The most advanced status among a customer's subscriptions (Active > Past due > Trialing > Paused > Unpaid > Canceled > None). */
export function subscriptionStatusTitle(statuses: readonly Stripe.Subscription.Status[]): SubscriptionStatusTitle {
  let best = SUBSCRIPTION_STATUSES.indexOf('None');
  for (const status of statuses) {
    const title = STATUS_TITLES[status];
    if (title) best = Math.min(best, SUBSCRIPTION_STATUSES.indexOf(title));
  }
  return SUBSCRIPTION_STATUSES[best]!;
}

const ZERO_DECIMAL = new Set('bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf'.split(' '));
const THREE_DECIMAL = new Set('bhd jod kwd omr tnd'.split(' '));

/** Digits after the decimal point in a currency's major unit (docs.stripe.com/currencies). */
function currencyExponent(currency: string): number {
  const code = currency.toLowerCase();
  return ZERO_DECIMAL.has(code) ? 0 : THREE_DECIMAL.has(code) ? 3 : 2;
}

/** Minor units -> major units with the currency's exponent, at most 4 decimals (Attio's precision). */
export function minorToMajor(minor: number, currency: string): number {
  return Math.round((minor / 10 ** currencyExponent(currency)) * 10_000) / 10_000;
}

/** The Stripe currency (lower case) an Attio currency code stands for: Attio's NTD is Stripe's twd. */
export function stripeCurrencyOf(attioCode: string): string {
  return attioCode.toUpperCase() === 'NTD' ? 'twd' : attioCode.toLowerCase();
}

/** The Attio currency code for a Stripe currency, or null where Attio has none (KWD, BHD, ...). */
export function attioCurrencyOf(stripeCurrency: string): string | null {
  const code = stripeCurrency.toUpperCase() === 'TWD' ? 'NTD' : stripeCurrency.toUpperCase();
  return ATTIO_CURRENCY_CODES.includes(code) ? code : null;
}

/**
 * A customer's revenue and MRR in the target currency: what was charged in it, plus what Stripe
 * settled into it from other currencies. The rest stays per currency: it is left out (and listed),
 * never added at a guessed rate.
 */
export function inCurrency(
  facts: Pick<CustomerFacts, 'revenueMinor' | 'settledMinor' | 'mrrMinor'>,
  targetCurrency: string,
): { revenueMinor: number; mrrMinor: number; otherRevenueMinor: Record<string, number>; otherMrrMinor: Record<string, number> } {
  const target = targetCurrency.toLowerCase();
  let revenueMinor = facts.revenueMinor[target] ?? 0;
  const otherRevenueMinor: Record<string, number> = {};
  for (const [currency, minor] of Object.entries(facts.revenueMinor)) {
    if (currency === target) continue;
    const settled = facts.settledMinor?.[`${currency}>${target}`];
    revenueMinor += settled?.settled ?? 0;
    const left = minor - (settled?.charged ?? 0);
    if (left !== 0) otherRevenueMinor[currency] = left;
  }
  const otherMrrMinor = Object.fromEntries(Object.entries(facts.mrrMinor).filter(([currency]) => currency !== target));
  return { revenueMinor, mrrMinor: facts.mrrMinor[target] ?? 0, otherRevenueMinor, otherMrrMinor };
}

function unixToDate(unix: number | null): string | null {
  return unix === null ? null : new Date(unix * 1000).toISOString().slice(0, 10);
}

/** "Pro ×5, Support add-on": products by name, in a stable order so an unchanged plan never causes a write. */
export function planText(plan: Record<string, number>): string | null {
  const names = Object.keys(plan).sort((a, b) => a.localeCompare(b, 'en'));
  return names.length ? names.map((name) => (plan[name]! > 1 ? `${name} ×${plan[name]}` : name)).join(', ') : null;
}

/** When the customer's recurring revenue stops: every subscription that counts is set to end, the last of them. */
export function cancelsOnUnix(scheduledEndsUnix: readonly (number | null)[]): number | null {
  if (scheduledEndsUnix.length === 0 || scheduledEndsUnix.some((end) => end === null)) return null;
  return Math.max(...(scheduledEndsUnix as number[]));
}

/** The customer's page in the Stripe dashboard; test-mode objects live under /test/. */
export function dashboardUrl(customerId: string, livemode: boolean): string {
  return `https://dashboard.stripe.com/${livemode ? '' : 'test/'}customers/${customerId}`;
}

const DAY_SECONDS = 86_400;
/** How far ahead the attention lists look: trials ending within a week, cancellations within 30 days. */
export const ATTENTION_WINDOWS = { trialDays: 7, cancelDays: 30, rows: 20 } as const;

/**
 * What customer success acts on (the job summary's "needs attention"): failed payments not yet
 * recovered, trials ending within 7 days, cancellations within 30, each with the company, the date,
 * the MRR at stake (a trial's: what it bills a month once it ends) and the customer in Stripe; the
 * most MRR first, at most 20 rows each, the total over all of them.
 */
export function attentionLists(facts: readonly CustomerFacts[], targetCurrency: string, nowUnix: number): AttentionList[] {
  const mrrOf = (f: CustomerFacts) => inCurrency(f, targetCurrency).mrrMinor;
  const within = (unix: number | null, days: number) => unix !== null && unix >= nowUnix && unix <= nowUnix + days * DAY_SECONDS;
  const failed = facts.flatMap((f) => {
    const failure = unrecoveredFailure(f);
    return failure ? [{ f, unix: failure.unix, mrrMinor: mrrOf(f), extra: [failure.text] }] : [];
  });
  const trials = facts.flatMap((f) =>
    within(f.trialEndsUnix ?? null, ATTENTION_WINDOWS.trialDays) ? [{ f, unix: f.trialEndsUnix!, mrrMinor: f.trialMrrMinor?.[targetCurrency] ?? 0, extra: [] }] : [],
  );
  const cancels = facts.flatMap((f) => {
    const unix = cancelsOnUnix(f.scheduledEndsUnix ?? []);
    return within(unix, ATTENTION_WINDOWS.cancelDays) ? [{ f, unix: unix!, mrrMinor: mrrOf(f), extra: [] }] : [];
  });
  return [
    attentionList('failed payments not yet recovered', ['Company', 'Customer', 'Failed on', 'Failure', 'MRR'], failed, targetCurrency),
    attentionList(`trials ending in the next ${ATTENTION_WINDOWS.trialDays} days`, ['Company', 'Customer', 'Trial ends', 'MRR after the trial'], trials, targetCurrency),
    attentionList(`cancellations in the next ${ATTENTION_WINDOWS.cancelDays} days`, ['Company', 'Customer', 'Cancels on', 'MRR'], cancels, targetCurrency),
  ];
}

/** One attention list: the most MRR first (then the soonest), the first rows, and the total. */
function attentionList(title: string, columns: string[], entries: Array<{ f: CustomerFacts; unix: number; mrrMinor: number; extra: string[] }>, currency: string): AttentionList {
  const sorted = [...entries].sort((a, b) => b.mrrMinor - a.mrrMinor || a.unix - b.unix || a.f.id.localeCompare(b.f.id));
  const rows = sorted
    .slice(0, ATTENTION_WINDOWS.rows)
    .map(({ f, unix, mrrMinor, extra }) => [companyName(f), { text: f.id, url: dashboardUrl(f.id, f.livemode) }, unixToDate(unix)!, ...extra, formatMoney(mrrMinor, currency)]);
  const atStake = formatMoney(
    entries.reduce((sum, e) => sum + e.mrrMinor, 0),
    currency,
  );
  const shown = entries.length > rows.length ? ` (the first ${rows.length} shown)` : '';
  return { title, columns, rows, total: entries.length ? `${entries.length} ${entries.length === 1 ? 'customer' : 'customers'}, ${atStake} MRR at stake${shown}` : 'none' };
}

/**
 * Where the customer's Stripe metadata says it belongs: `attio_record_id` (that exact company; a
 * UUID, Attio's record ids) wins over `attio_domain` (a domain to find the company by, instead of the
 * email's). A malformed hint is a problem to report, never ignored.
 */
export function placementHint(hints: CustomerFacts['hints']): Pick<DesiredRecord, 'hint' | 'problem'> {
  if (!hints) return {};
  if (hints.recordId) {
    const label = 'Stripe metadata attio_record_id';
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(hints.recordId))
      return { problem: `${label} "${escapeText(hints.recordId)}" is not an Attio record id (a UUID, from the company's URL in Attio)` };
    return { hint: { recordId: hints.recordId.toLowerCase(), label } };
  }
  if (hints.domain) {
    const label = 'Stripe metadata attio_domain';
    const domain = companyDomain(`x@${hints.domain.replace(/^https?:\/\//i, '').split('/')[0]}`) ?? null;
    if (!domain) return { problem: `${label} "${escapeText(hints.domain)}" is not a company domain` };
    return { hint: { linkValue: domain, label } };
  }
  return {};
}

/** Which customers the sync writes: any payment or subscription, or already linked in Attio. */
export function shouldSync(facts: CustomerFacts, linkedInAttio: boolean): boolean {
  return linkedInAttio || facts.payments > 0 || facts.subscriptionStatuses.length > 0;
}

/** The sync-owned values for one customer, plain (number, string, or null to clear). */
export function customerValues(facts: CustomerFacts, targetCurrency: string): Record<string, PlainValue> {
  const money = inCurrency(facts, targetCurrency);
  return {
    [ATTRIBUTES.customerId]: facts.id,
    [ATTRIBUTES.lifetimeRevenue]: minorToMajor(money.revenueMinor, targetCurrency),
    [ATTRIBUTES.mrr]: minorToMajor(money.mrrMinor, targetCurrency),
    [ATTRIBUTES.subscriptionStatus]: subscriptionStatusTitle(facts.subscriptionStatuses),
    [ATTRIBUTES.firstPaymentDate]: unixToDate(facts.firstPaymentUnix),
    [ATTRIBUTES.lastPaymentDate]: unixToDate(facts.lastPaymentUnix),
    [ATTRIBUTES.customerSince]: unixToDate(facts.createdUnix),
    [ATTRIBUTES.plan]: planText(facts.plan ?? {}),
    [ATTRIBUTES.cancelsOn]: unixToDate(cancelsOnUnix(facts.scheduledEndsUnix ?? [])),
    [ATTRIBUTES.dashboardUrl]: dashboardUrl(facts.id, facts.livemode),
    [ATTRIBUTES.trialEndsOn]: unixToDate(facts.trialEndsUnix ?? null),
    [ATTRIBUTES.renewsOn]: unixToDate(facts.renewsUnix ?? null),
    [ATTRIBUTES.churnedOn]: unixToDate(churnedOnUnix(facts)),
    [ATTRIBUTES.paymentFailedOn]: unixToDate(unrecoveredFailure(facts)?.unix ?? null),
    [ATTRIBUTES.paymentFailure]: unrecoveredFailure(facts)?.text ?? null,
    [ATTRIBUTES.delinquent]: facts.delinquent === true,
  };
}

function formatMinor(byCurrency: Record<string, number>): string {
  return Object.entries(byCurrency)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([currency, minor]) => `${minorToMajor(minor, currency)} ${currency.toUpperCase()}`)
    .join(', ');
}

/** The account as a whole, in the target currency, to hold against Stripe's Billing overview. */
interface AccountTotals {
  mrrMinor: number;
  lifetimeRevenueMinor: number;
  /** Active and past-due subscriptions: the ones MRR counts. */
  activeSubscriptions: number;
  /** Left out of the two totals above, per currency, and how many customers that is. */
  otherMrrMinor: Record<string, number>;
  otherRevenueMinor: Record<string, number>;
  customersWithOtherMrr: number;
  customersWithOtherRevenue: number;
}

/** One pass over every customer: the totals line, the currency notes and the mismatch check all read it. */
export function accountTotals(facts: Iterable<CustomerFacts>, targetCurrency: string): AccountTotals {
  const totals: AccountTotals = {
    mrrMinor: 0,
    lifetimeRevenueMinor: 0,
    activeSubscriptions: 0,
    otherMrrMinor: {},
    otherRevenueMinor: {},
    customersWithOtherMrr: 0,
    customersWithOtherRevenue: 0,
  };
  for (const f of facts) {
    const money = inCurrency(f, targetCurrency);
    totals.mrrMinor += money.mrrMinor;
    totals.lifetimeRevenueMinor += money.revenueMinor;
    totals.activeSubscriptions += f.subscriptionStatuses.filter(countsInMrr).length;
    const otherMrr = Object.entries(money.otherMrrMinor);
    const otherRevenue = Object.entries(money.otherRevenueMinor);
    if (otherMrr.length) totals.customersWithOtherMrr += 1;
    if (otherRevenue.length) totals.customersWithOtherRevenue += 1;
    for (const [c, v] of otherMrr) totals.otherMrrMinor[c] = (totals.otherMrrMinor[c] ?? 0) + v;
    for (const [c, v] of otherRevenue) totals.otherRevenueMinor[c] = (totals.otherRevenueMinor[c] ?? 0) + v;
  }
  return totals;
}

/** Run-wide notes: what the totals leave out, per currency, and why. */
export function currencyNotes(totals: AccountTotals, source: SourceNotes, targetCurrency: string): string[] {
  const notes: string[] = [];
  const target = targetCurrency.toUpperCase();
  if (totals.customersWithOtherRevenue)
    notes.push(
      `revenue not in ${target} and not settled in ${target}, left out of lifetime revenue (${totals.customersWithOtherRevenue} customers): ${formatMinor(totals.otherRevenueMinor)}`,
    );
  if (totals.customersWithOtherMrr)
    notes.push(`MRR of subscriptions billed in other currencies, left out (${totals.customersWithOtherMrr} customers): ${formatMinor(totals.otherMrrMinor)} per month`);
  if (source.chargesWithoutCustomer) notes.push(`${source.chargesWithoutCustomer} succeeded charges have no customer and belong to no company`);
  const tallied = (t: Tally, text: string) => t.count && notes.push(`${t.count} ${text} (${namedFew(t)})`);
  tallied(source.chargesOfUnknownCustomers, 'succeeded charges belong to deleted customers and were skipped');
  tallied(source.unpricedItems, "subscription items could not be priced (a tiered price without tiers, or no amount in the subscription's currency) and are not in MRR");
  if (source.lostDisputes) notes.push(`${source.lostDisputes} lost disputes were subtracted from lifetime revenue`);
  if (source.openDisputes) notes.push(`${source.openDisputes} disputes are still open: their charges count as revenue unless the dispute is lost`);
  tallied(source.unappliedDiscounts, 'discounts could not be applied to MRR (coupon not expandable or in another currency)');
  tallied(source.negativeRefunds, 'charges have a negative amount_refunded, counted as no refund');
  tallied(
    source.taxUnknown,
    source.invoicesForbidden
      ? 'subscriptions use Stripe Tax with tax-inclusive prices, and the key may not read invoices: their MRR includes the tax (grant Read on Invoices, invoice_read, to leave it out)'
      : 'subscriptions use Stripe Tax with tax-inclusive prices but have no latest invoice that tells the tax: their MRR includes it',
  );
  return notes;
}

/** "1,234.56 USD": major units with the currency's own decimals, for people to read. */
function formatMoney(minor: number, currency: string): string {
  const digits = currencyExponent(currency);
  const major = minorToMajor(minor, currency).toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
  return `${major} ${currency.toUpperCase()}`;
}

/** "customer cus_A" or "customers cus_A, cus_B, cus_C, …": the first few customers a tally names. */
function namedFew(t: Tally): string {
  return `${t.customers.length === 1 ? 'customer' : 'customers'} ${fewKeys(t.customers)}${t.more ? ', …' : ''}`;
}

/** One line with the account's totals, and what they leave out. */
export function totalsLine(totals: AccountTotals, targetCurrency: string): string {
  const money = (byCurrency: Record<string, number>) =>
    Object.entries(byCurrency)
      .filter(([, minor]) => minor !== 0)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([c, minor]) => formatMoney(minor, c))
      .join(', ');
  const leftOut = [money(totals.otherMrrMinor) && `MRR ${money(totals.otherMrrMinor)}`, money(totals.otherRevenueMinor) && `revenue ${money(totals.otherRevenueMinor)}`].filter(Boolean);
  return (
    `Stripe totals: MRR ${formatMoney(totals.mrrMinor, targetCurrency)}, ${totals.activeSubscriptions} active subscriptions, ` +
    `lifetime revenue ${formatMoney(totals.lifetimeRevenueMinor, targetCurrency)}` +
    (leftOut.length ? `; left out, in other currencies: ${leftOut.join('; ')}` : '')
  );
}

/**
 * When nothing at all is in (or settled in) the attributes' currency but revenue exists in others,
 * the attributes were set up in the wrong currency: writing would zero every company.
 */
export function currencyMismatch(totals: AccountTotals, targetCurrency: string): string | null {
  const inTarget = totals.lifetimeRevenueMinor + totals.mrrMinor;
  const others = new Set<string>();
  for (const [currency, minor] of [...Object.entries(totals.otherRevenueMinor), ...Object.entries(totals.otherMrrMinor)]) if (minor > 0) others.add(currency);
  if (inTarget > 0 || others.size === 0) return null;
  const seen = [...others].sort();
  const target = targetCurrency.toUpperCase();
  const supported = seen.map(attioCurrencyOf).find((code) => code !== null);
  return (
    `The revenue attributes are in ${target}, but no charge or subscription is in ${target} or settled in it ` +
    `(Stripe has ${seen.map((c) => c.toUpperCase()).join(', ')}): every company would get 0. Nothing was written.\n` +
    (supported
      ? `Fix: in Attio, change the currency of "${ATTRIBUTES.lifetimeRevenue}" and "${ATTRIBUTES.mrr}" to the one your Stripe account settles in, ` +
        `or delete both and run: npx tsx sync.ts --setup --currency ${supported}`
      : `Attio has no currency attribute for ${seen.map((c) => c.toUpperCase()).join(', ')}: set the Stripe account's settlement currency to one Attio supports (${ATTIO_CURRENCY_CODES.join(' ')}).`)
  );
}

/**
 * How many of `ids` belong to the account the key reads: a deleted customer is still there (retrieved
 * as `deleted: true`), a customer of another account, or of the other mode, is a 404.
 */
async function probeCustomers(retrieve: (id: string) => Promise<unknown>, ids: readonly string[]): Promise<number> {
  let here = 0;
  for (const id of ids) {
    try {
      await retrieve(id);
      here += 1;
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 404)) throw error;
    }
  }
  return here;
}

/**
 * Whether the linked companies look like another account's: none of their customers was listed, or
 * at least 10 are linked and 90% are missing. (Deleted customers are missing too; a probe tells.)
 */
export function looksLikeAnotherAccount(linked: number, missing: number): boolean {
  return linked > 0 && (missing === linked || (linked >= 10 && missing >= 0.9 * linked));
}

function wrongAccountMessage(linked: number, missing: number, checked: readonly string[], testMode: boolean): string {
  const mode = testMode ? 'test' : 'live';
  return (
    `None of the ${linked} Attio companies linked to Stripe customers ${missing === linked ? 'has its customer' : `but ${linked - missing} has its customer`} ` +
    `in the Stripe account that STRIPE_API_KEY reads (${mode} mode). Looked up ${checked.length} of the ${missing} missing ids (${fewKeys(checked, 5)}): ` +
    `0 found, not even as deleted customers.\n` +
    `Likely cause: the key belongs to another Stripe account, or is a ${testMode ? 'test-mode key while the companies came from live mode' : 'live-mode key while the companies came from test mode'}` +
    `${linked < 10 ? `; or, with so few linked, an id was typed or pasted into ${ATTRIBUTES.customerId} by hand and is wrong` : ''}. ` +
    `Writing would create a second set of companies. Nothing was written.\n` +
    `Fix: use the key of the account the companies came from${linked < 10 ? `, or correct or clear ${ATTRIBUTES.customerId} on the companies holding those ids in Attio` : ''}. ` +
    `To sync this account anyway, run again with --allow-account-mismatch.`
  );
}

// ================================================================================================
// SOURCE: STRIPE 6. THE ATTRIBUTES IT WRITES, AND THE SOURCE OBJECT
// ================================================================================================

/** The Attio object this sync writes, and the attributes it reads and writes there. Rename here, nowhere else. */
const ATTIO_OBJECT = 'companies';
const ATTRIBUTES = {
  customerId: 'stripe_customer_id',
  lifetimeRevenue: 'stripe_lifetime_revenue',
  mrr: 'stripe_mrr',
  subscriptionStatus: 'stripe_subscription_status',
  firstPaymentDate: 'stripe_first_payment_date',
  lastPaymentDate: 'stripe_last_payment_date',
  customerSince: 'stripe_customer_since',
  plan: 'stripe_plan',
  cancelsOn: 'stripe_cancels_on',
  dashboardUrl: 'stripe_dashboard_url',
  trialEndsOn: 'stripe_trial_ends_on',
  renewsOn: 'stripe_renews_on',
  churnedOn: 'stripe_churned_on',
  paymentFailedOn: 'stripe_payment_failed_on',
  paymentFailure: 'stripe_payment_failure',
  delinquent: 'stripe_delinquent',
  // Standard company attributes, written only when the sync creates the company.
  name: 'name',
  domains: 'domains',
} as const;

/** The attributes the sync needs on `companies`: checked by preflight, created by --setup. */
export const ATTRIBUTE_SPECS: AttributeSpec[] = [
  { slug: ATTRIBUTES.customerId, title: 'Stripe customer ID', type: 'text', description: 'Written by the Stripe sync: the match key.' },
  { slug: ATTRIBUTES.lifetimeRevenue, title: 'Stripe lifetime revenue', type: 'currency', description: 'Written by the Stripe sync: net of refunds.' },
  { slug: ATTRIBUTES.mrr, title: 'Stripe MRR', type: 'currency', description: 'Written by the Stripe sync: active and past-due subscriptions.' },
  { slug: ATTRIBUTES.subscriptionStatus, title: 'Stripe subscription status', type: 'select', options: [...SUBSCRIPTION_STATUSES], description: 'Written by the Stripe sync.' },
  { slug: ATTRIBUTES.firstPaymentDate, title: 'Stripe first payment', type: 'date', description: 'Written by the Stripe sync.' },
  { slug: ATTRIBUTES.lastPaymentDate, title: 'Stripe last payment', type: 'date', description: 'Written by the Stripe sync.' },
  { slug: ATTRIBUTES.customerSince, title: 'Stripe customer since', type: 'date', description: 'Written by the Stripe sync.' },
  { slug: ATTRIBUTES.plan, title: 'Stripe plan', type: 'text', description: 'Written by the Stripe sync: products of active and past-due subscriptions.' },
  { slug: ATTRIBUTES.cancelsOn, title: 'Stripe cancels on', type: 'date', description: 'Written by the Stripe sync: when every subscription that counts is set to end.' },
  { slug: ATTRIBUTES.dashboardUrl, title: 'Stripe dashboard', type: 'text', description: 'Written by the Stripe sync: the customer in the Stripe dashboard.' },
  { slug: ATTRIBUTES.trialEndsOn, title: 'Stripe trial ends on', type: 'date', description: 'Written by the Stripe sync: the earliest end of a trialing subscription.' },
  { slug: ATTRIBUTES.renewsOn, title: 'Stripe renews on', type: 'date', description: 'Written by the Stripe sync: the next period end of the subscriptions that renew.' },
  { slug: ATTRIBUTES.churnedOn, title: 'Stripe churned on', type: 'date', description: 'Written by the Stripe sync: when the last subscription ended, while none runs.' },
  { slug: ATTRIBUTES.paymentFailedOn, title: 'Stripe payment failed on', type: 'date', description: 'Written by the Stripe sync: the latest failed payment, until one goes through.' },
  { slug: ATTRIBUTES.paymentFailure, title: 'Stripe payment failure', type: 'text', description: "Written by the Stripe sync: why that payment failed, in Stripe's words." },
  { slug: ATTRIBUTES.delinquent, title: 'Stripe delinquent', type: 'checkbox', description: "Written by the Stripe sync: Stripe's delinquent flag on the customer." },
  { slug: ATTRIBUTES.name, title: 'Name', type: 'text', standard: true },
  { slug: ATTRIBUTES.domains, title: 'Domains', type: 'domain', standard: true },
];

/** Stripe customers into Attio companies, found by their domains when not linked yet. */
const COMPANIES: Target = {
  object: ATTIO_OBJECT,
  specs: ATTRIBUTE_SPECS,
  key: { slug: ATTRIBUTES.customerId, prefix: STRIPE_CUSTOMER_ID_PREFIX },
  linkBy: { slug: ATTRIBUTES.domains, property: 'domain' },
};

/** People's standard attributes the sync writes: the key, and two written only when the person is new or has none. */
const PEOPLE_ATTRIBUTES = { email: 'email_addresses', name: 'name', company: 'company' } as const;

/**
 * Each customer's billing contact (its email) as an Attio person, after the companies: asserted by
 * `email_addresses`, a standard unique attribute (docs: standard objects, people), named only when
 * created, and placed at the customer's company only while the person has none.
 */
const PEOPLE: Target = {
  object: 'people',
  specs: [
    { slug: PEOPLE_ATTRIBUTES.email, title: 'Email addresses', type: 'email-address', standard: true },
    { slug: PEOPLE_ATTRIBUTES.name, title: 'Name', type: 'personal-name', standard: true },
    { slug: PEOPLE_ATTRIBUTES.company, title: 'Company', type: 'record-reference', refersTo: ATTIO_OBJECT, standard: true },
  ],
  key: { slug: PEOPLE_ATTRIBUTES.email },
  linkBy: null,
  switchedBy: 'SYNC_PEOPLE',
};

/**
 * The person's name: Stripe's `individual_name`, else `name` ("the customer's full name or business
 * name", Customer.d.ts) unless it is the `business_name`. Null: Attio shows the email address.
 */
export function personName(facts: Pick<CustomerFacts, 'name' | 'individualName' | 'businessName'>): string | null {
  const name = facts.individualName ?? (facts.name && facts.name.trim() !== facts.businessName ? facts.name : null);
  const clean = cleanName(name);
  return clean === null ? null : cutGraphemes(clean, MAX_NAME_LENGTH);
}

/**
 * A person per email address among the companies' customers (the oldest customer's, where several
 * share one), placed at that customer's company; `shared`: the addresses more than one customer has,
 * `unusable`: customers whose email Attio may refuse.
 */
export function personRecords(facts: ReadonlyMap<string, CustomerFacts>, companies: readonly DesiredRecord[]): { records: DesiredRecord[]; shared: string[]; unusable: string[] } {
  const byEmail = new Map<string, DesiredRecord>();
  const shared = new Set<string>();
  const unusable: string[] = [];
  for (const company of [...companies].sort((a, b) => a.claimOrder.localeCompare(b.claimOrder))) {
    const f = facts.get(company.key);
    const email = usableEmail(f?.email ?? null);
    if (!f || !email) {
      if (f?.email) unusable.push(f.id);
      continue;
    }
    if (byEmail.has(email)) shared.add(email);
    else
      byEmail.set(email, {
        key: email,
        values: {},
        onCreate: { [PEOPLE_ATTRIBUTES.email]: email, [PEOPLE_ATTRIBUTES.name]: personName(f) },
        ifEmpty: { [PEOPLE_ATTRIBUTES.company]: { object: ATTIO_OBJECT, key: f.id } },
        linkValue: null,
        claimOrder: company.claimOrder,
      });
  }
  return { records: [...byEmail.values()], shared: [...shared], unusable };
}

/** What reading Stripe leaves for mapping: the facts, the run notes, and the client (for look-ups). */
interface StripeData {
  facts: Map<string, CustomerFacts>;
  notes: SourceNotes;
  client: StripeClient;
  /** An incremental run's customers (--changes-since), or null for a full run. */
  changed: { customers: string[]; events: number } | null;
}

/**
 * The Stripe source, as main sees it: its settings and their problems, reading (readStripe), and
 * mapping to records for Attio, with the checks that stop a run before any write.
 */
export const stripeSource: Source<StripeSettings, StripeData> = {
  name: 'Stripe',
  keyVariable: 'STRIPE_API_KEY',
  // Stripe's own error messages include a key's last characters: scrub anything key-shaped.
  secretShape: /\b(sk|rk|pk)_(test|live)_[A-Za-z0-9*_]*/g,
  usage: `Stripe (the source):
  STRIPE_API_KEY     required: sk_... or rk_... (a restricted read-only key is recommended)
  STRIPE_API_URL     default ${DEFAULT_STRIPE_API_URL}
  STRIPE_MRR_DISCOUNTS
                     which discounts lower MRR, as set in Stripe's Billing overview > Configure:
                     recurring (default), one-time, recurring,one-time, or none
  --only cus_...     one customer`,
  flags: {
    'allow-account-mismatch': {
      type: 'boolean',
      help: "write even though none of the linked records' keys is in the source\n(another account, or test data instead of live)",
    },
    'changes-since': {
      type: 'string',
      value: 'DURATION',
      help: `an incremental run: only the customers Stripe's events name in the last\nDURATION (90m, 3h, 2d; at most ${MAX_CHANGES_SINCE_DAYS}d), read again whole and written`,
    },
  },

  configure(env, only, flags) {
    const problems: string[] = [];
    const key = (env.STRIPE_API_KEY ?? '').trim();
    if (!key) problems.push('STRIPE_API_KEY is not set: create a restricted key in the Stripe dashboard (Developers > API keys).');
    else if (!/^(sk|rk)_(test|live)_[A-Za-z0-9_]+$/.test(key)) problems.push('STRIPE_API_KEY does not look like a Stripe secret (sk_...) or restricted (rk_...) key.');
    const url = parseUrl('STRIPE_API_URL', env.STRIPE_API_URL || DEFAULT_STRIPE_API_URL, problems);
    if (only !== null && !/^cus_[A-Za-z0-9]+$/.test(only)) problems.push(`--only takes a Stripe customer id (cus_...), got "${escapeText(only)}".`);
    const discounts = parseMrrDiscounts(env.STRIPE_MRR_DISCOUNTS, problems);
    const changesSince = parseChangesSince(flags['changes-since'] as string | undefined, problems);
    if (changesSince && only !== null) problems.push('--changes-since and --only cannot be combined: --only reads its customer whole already.');
    const allowAccountMismatch = flags['allow-account-mismatch'] === true;
    const settings = { key, url: url ?? new URL(DEFAULT_STRIPE_API_URL), testMode: /^(sk|rk)_test_/.test(key), discounts, allowAccountMismatch, changesSince };
    return { settings, problems, secrets: [key], partial: changesSince !== null };
  },

  async read(settings, context) {
    const limits = { ...STRIPE_LIMITS, ...context.limits };
    const stripe = new Stripe(settings.key, {
      host: settings.url.hostname,
      port: Number(settings.url.port || (settings.url.protocol === 'https:' ? 443 : 80)),
      protocol: settings.url.protocol === 'https:' ? 'https' : 'http',
      maxNetworkRetries: 0, // the retry helper is the one retry policy
      timeout: context.timeoutMs,
      telemetry: false,
    });
    const started = context.now();
    const client: StripeClient = { stripe, policy: context.policy, pacers: stripePacers(limits, settings.testMode) };
    const changed = settings.changesSince ? await changedCustomers(client, Math.floor(context.now() / 1000) - settings.changesSince.seconds) : null;
    if (changed?.customers.length === 0)
      return {
        data: { facts: new Map(), notes: emptySourceNotes(), client, changed },
        summary: `no changed Stripe customer (${changed.events} events)`,
        requests: changed.requests,
        keys: [],
      };
    const { facts, notes } = await readStripe({
      ...client,
      only: context.only,
      customers: changed?.customers ?? null,
      concurrency: limits.concurrencyPerListing,
      nowUnix: Math.floor(context.now() / 1000),
      discounts: settings.discounts,
      onProgress: (c) =>
        context.progress(
          `Reading Stripe: ${c.customers} customers, ${c.charges} charges, ${c.subscriptions} subscriptions (${c.pages} pages, ${perSecond(c.pages, context.now() - started).toFixed(1)} pages/s)`,
        ),
    });
    if (!changed) return { data: { facts, notes, client, changed }, summary: `${facts.size} Stripe customers (${notes.pages} pages)`, requests: notes.pages };
    const summary = `${changed.customers.length} Stripe customers named by ${changed.events} events in the last ${settings.changesSince!.text} (${facts.size} still there; ${changed.requests + notes.pages} requests)`;
    return { data: { facts, notes, client, changed }, summary, requests: changed.requests + notes.pages, keys: changed.customers };
  },

  async map(settings, { facts, notes, client, changed }, target, context) {
    if (context.only && !facts.has(context.only)) return stop(`Customer ${context.only} was not found in Stripe (or is deleted).`);
    if (!target.currency) return stop(`"${ATTRIBUTES.lifetimeRevenue}" and "${ATTRIBUTES.mrr}" need a currency: run with --setup.`);
    const targetCurrency = stripeCurrencyOf(target.currency);
    // The totals and the checks that need the whole account run on full runs; an incremental run checks the account with a sample.
    const whole = !context.only && !changed;
    const wrongAccount =
      settings.allowAccountMismatch || context.only
        ? null
        : whole
          ? await anotherAccount(client, facts, target.linkedKeys, settings.testMode)
          : facts.size
            ? await otherAccount(client, target.otherKeys, settings.testMode)
            : null;
    if (wrongAccount) return stop(wrongAccount);
    const totals = accountTotals(facts.values(), targetCurrency);
    const mismatch = whole ? currencyMismatch(totals, targetCurrency) : null;
    if (mismatch) return stop(mismatch);
    const { records, noDomain } = companyRecords(facts, target.linkedKeys, targetCurrency);
    const domainNote = noDomain.length
      ? [
          `${noDomain.length} customers have an email address with no valid domain after the @ (${fewKeys(noDomain)}): ` +
            "their companies get no domain, as for free mail; set attio_record_id or attio_domain in a customer's Stripe metadata to link it to an existing company",
        ]
      : [];
    const people = personRecords(facts, records);
    const incremental = changed
      ? [
          `an incremental run (--changes-since ${settings.changesSince!.text}): ${changed.customers.length} customers named by ${changed.events} events were read again; the totals, needs attention and the currency check are on full runs`,
        ]
      : [];
    return {
      records,
      notes: [...incremental, ...currencyNotes(totals, notes, targetCurrency), ...domainNote, ...peopleNotes(people)],
      totals: whole ? totalsLine(totals, targetCurrency) : null,
      stop: null,
      laterRecords: { [PEOPLE.object]: people.records },
      attention: changed
        ? []
        : attentionLists(
            records.map((r) => facts.get(r.key)!),
            targetCurrency,
            Math.floor(context.now() / 1000),
          ),
    };
  },
};

/** What the people's records leave to say: shared billing emails, and emails Attio may refuse. */
function peopleNotes(people: ReturnType<typeof personRecords>): string[] {
  const notes: string[] = [];
  if (people.shared.length)
    notes.push(
      `${people.shared.length} email addresses are the billing email of more than one customer (${fewKeys(people.shared)}): each is one person, placed at the oldest customer's company`,
    );
  if (people.unusable.length) notes.push(`${people.unusable.length} customers have an email address Attio may refuse (${fewKeys(people.unusable)}): no person is written for them`);
  return notes;
}

function stop(reason: string): SourcePlan {
  return { records: [], notes: [], totals: null, stop: reason };
}

/**
 * Why the key looks like another Stripe account's (or the other mode's), which would create a second
 * set of companies: the linked companies' customers are missing, and a look-up of a few (with the
 * one paced, retried Stripe request) finds none of them, not even deleted. Null when all is well.
 */
async function anotherAccount(client: StripeClient, facts: ReadonlyMap<string, CustomerFacts>, linkedKeys: ReadonlySet<string>, testMode: boolean): Promise<string | null> {
  const missing = [...linkedKeys].filter((key) => !facts.has(key));
  if (!looksLikeAnotherAccount(linkedKeys.size, missing.length)) return null;
  const retrieve = (id: string) => stripeRequest(client, 'customers', (stripe) => stripe.customers.retrieve(id));
  const checked = missing.slice(0, 5);
  return (await probeCustomers(retrieve, checked)) === 0 ? wrongAccountMessage(linkedKeys.size, missing.length, checked, testMode) : null;
}

/**
 * An incremental run's account check: the customers of three companies it did not read, looked up
 * (three requests). None there, not even deleted: the key reads another account (or mode), and
 * writing would start a second set of companies.
 */
async function otherAccount(client: StripeClient, otherKeys: readonly string[], testMode: boolean): Promise<string | null> {
  const checked = otherKeys.slice(0, 3);
  const retrieve = (id: string) => stripeRequest(client, 'customers', (stripe) => stripe.customers.retrieve(id));
  if (!checked.length || (await probeCustomers(retrieve, checked)) > 0) return null;
  return (
    `None of the customers of ${checked.length} Attio companies looked up (${fewKeys(checked)}) is in the Stripe account that STRIPE_API_KEY reads (${testMode ? 'test' : 'live'} mode), not even as a deleted customer: ` +
    `the key belongs to another Stripe account or mode, and writing would create a second set of companies. Nothing was written.\n` +
    `Fix: use the key of the account the companies came from. To sync this account anyway, run again with --allow-account-mismatch.`
  );
}

/** A company record per customer the sync writes; and the new ones whose email's domain is not a domain (for a note). */
function companyRecords(facts: ReadonlyMap<string, CustomerFacts>, linkedKeys: ReadonlySet<string>, targetCurrency: string): { records: DesiredRecord[]; noDomain: string[] } {
  const records: DesiredRecord[] = [];
  const noDomain: string[] = [];
  for (const f of facts.values()) {
    if (!shouldSync(f, linkedKeys.has(f.id))) continue;
    const domain = companyDomain(f.email);
    if (!linkedKeys.has(f.id) && !f.hints && hasUnusableDomain(f.email)) noDomain.push(f.id);
    records.push({
      key: f.id,
      values: customerValues(f, targetCurrency),
      onCreate: { [ATTRIBUTES.name]: companyName(f), [ATTRIBUTES.domains]: domain },
      linkValue: domain,
      ...placementHint(f.hints),
      howToPlace: 'set attio_record_id or attio_domain in its Stripe metadata',
      claimOrder: `${String(f.createdUnix).padStart(12, '0')} ${f.id}`,
    });
  }
  return { records, noDomain };
}

// ================================================================================================
// SYNC: the source and target main runs, and the entry point
// ================================================================================================

/** The sync main runs: a copy of this template plugs its own source and targets in here. */
export const SYNC: Sync<StripeSettings, StripeData> = { source: stripeSource, target: COMPANIES, moreTargets: [PEOPLE] };

if (invokedDirectly) runCommandLine(SYNC);
