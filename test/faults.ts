// Shared fault injection, latency and rate limiting for the local fake Stripe and Attio servers.
// Everything here is deterministic for a given seed so that a fault-injection test fails the same
// way on every run.
import type { IncomingMessage, ServerResponse } from 'node:http';

export type FaultKind =
  | 'rate_limit_seconds' // 429 with `Retry-After: 1`
  | 'rate_limit_date' // 429 with `Retry-After: <HTTP date>` (Attio's form)
  | 'server_500'
  | 'server_502'
  | 'server_503'
  | 'spurious_401' // 401 although the key is valid (Attio under load)
  | 'drop' // the socket is destroyed before any response byte
  | 'slow' // the answer comes after `slowMs` (longer than the client's timeout)
  | 'truncated' // 200, a Content-Length larger than the body, then the socket is closed
  // "Landed but answer lost": the server does the work (a write is committed), then the answer is lost.
  // A fake runs its route first, then sends one of these. For read-only APIs they are plain drop/502/slow.
  | 'landed_drop' // the work is done, then the socket is destroyed before any response byte
  | 'landed_502' // the work is done, then a 502 in the API's error envelope
  | 'landed_slow'; // the work is done, the real answer comes after `slowMs` (the client times out first)

/**
 * The faults `randomFaults` draws from by default. The landed_* kinds are deliberately NOT here:
 * seeded schedules must keep drawing exactly the same faults as before. Use LANDED_FAULTS for them.
 */
export const ALL_FAULTS: FaultKind[] = [
  'rate_limit_seconds',
  'rate_limit_date',
  'server_500',
  'server_502',
  'server_503',
  'spurious_401',
  'drop',
  'slow',
  'truncated',
];

/** Faults where the request was processed but the client gets no usable answer (see FaultKind). */
export const LANDED_FAULTS: FaultKind[] = ['landed_drop', 'landed_502', 'landed_slow'];

/** True for the faults that let the request do its work before the answer is lost. */
export function isLandedFault(fault: FaultKind): boolean {
  return fault === 'truncated' || LANDED_FAULTS.includes(fault);
}

export interface RequestInfo {
  method: string;
  path: string; // without the query string
  query: URLSearchParams;
  body: unknown; // parsed JSON body, or undefined
}

/** Decides, per request, whether a fault replaces the real answer. */
export type FaultSchedule = (req: RequestInfo) => FaultKind | null;

/** mulberry32: a tiny seeded PRNG, so fault runs repeat exactly. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A share `rate` of matching requests gets a fault drawn from `kinds`, reproducibly for `seed`. */
export function randomFaults(opts: {
  seed: number;
  rate: number;
  kinds?: FaultKind[];
  match?: (req: RequestInfo) => boolean;
}): FaultSchedule {
  const random = seededRandom(opts.seed);
  const kinds = opts.kinds ?? ALL_FAULTS;
  return (req) => {
    if (opts.match && !opts.match(req)) return null;
    if (random() >= opts.rate) return null;
    return kinds[Math.floor(random() * kinds.length)] ?? null;
  };
}

/** The next `times` matching requests each get `fault`, then the schedule is spent. */
export function queuedFaults(
  entries: Array<{ fault: FaultKind; times?: number; match?: (req: RequestInfo) => boolean }>,
): FaultSchedule {
  const remaining = entries.map((e) => ({ ...e, left: e.times ?? 1 }));
  return (req) => {
    for (const entry of remaining) {
      if (entry.left > 0 && (!entry.match || entry.match(req))) {
        entry.left -= 1;
        return entry.fault;
      }
    }
    return null;
  };
}

/**
 * Writes the fault's answer. `errorBody` builds the API's own error envelope for a status, so a
 * fake Stripe answers like Stripe and a fake Attio like Attio. `landed` is the real answer of a
 * request the fake already processed (landed_* faults): `landed_slow` sends it late; without it,
 * `landed_slow` answers 503 late like `slow`.
 */
export function sendFault(
  fault: FaultKind,
  res: ServerResponse,
  errorBody: (status: number) => unknown,
  slowMs: number,
  landed?: { status: number; body: unknown },
): void {
  const send = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
    if (res.destroyed || res.writableEnded) return;
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(payload));
  };
  const json = (status: number, headers: Record<string, string> = {}) => send(status, errorBody(status), headers);
  const later = (answer: () => void) => {
    const timer = setTimeout(answer, slowMs);
    res.on('close', () => clearTimeout(timer));
  };
  switch (fault) {
    case 'rate_limit_seconds':
      return json(429, { 'retry-after': '1' });
    case 'rate_limit_date':
      return json(429, { 'retry-after': new Date(Math.ceil(Date.now() / 1000) * 1000 + 1000).toUTCString() });
    case 'server_500':
      return json(500);
    case 'server_502':
      return json(502);
    case 'server_503':
      return json(503);
    case 'spurious_401':
      return json(401);
    case 'drop':
    case 'landed_drop':
      res.socket?.destroy();
      return;
    case 'landed_502':
      return json(502);
    case 'slow':
      return later(() => json(503));
    case 'landed_slow':
      return later(() => (landed ? send(landed.status, landed.body) : json(503)));
    case 'truncated': {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '4096' });
      res.write('{"data": {"truncat');
      setTimeout(() => res.socket?.destroy(), 5);
      return;
    }
  }
}

/**
 * A per-second request budget, as Attio and Stripe count it. `take()` returns 0 when the request may
 * pass, or the milliseconds until the next second when it is over the limit (for `Retry-After`).
 */
export class RateWindow {
  private second = 0;
  private count = 0;
  readonly perSecond: number;
  constructor(perSecond: number) {
    this.perSecond = perSecond;
  }
  take(now = Date.now()): number {
    const second = Math.floor(now / 1000);
    if (second !== this.second) {
      this.second = second;
      this.count = 0;
    }
    this.count += 1;
    return this.count > this.perSecond ? (second + 1) * 1000 - now : 0;
  }
}

export async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
