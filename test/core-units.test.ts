// Unit tests of the core's pure parts (retry and pacing, the window lister, the company helpers,
// the plan, escaping, the audit log's lines): nothing of Stripe, so a copy of the template keeps
// them. The keys and slugs in them are only data. The Stripe source's units are in sync.test.ts.
import { describe, expect, it } from 'vitest';
import {
  ApiError,
  plainValue,
  toAttioValues,
  attioTransient,
  auditIntentLine,
  auditLine,
  cleanName,
  companyDomain,
  companyName,
  cutGraphemes,
  diffValues,
  escapeText,
  fewKeys,
  firstCreated,
  hasUnusableDomain,
  hostDomain,
  isTransient,
  keyMatch,
  listByCreatedWindows,
  mapConcurrent,
  matchLinkedRecords,
  Pacer,
  parseRetryAfter,
  plannedChanges,
  planRecords,
  retryDelayMs,
  stoppedExitCode,
  withRetry,
  type CreatedWindow,
  type DesiredRecord,
  type LinkedRecord,
  type PlannedAction,
  type RetryPolicy,
} from '../sync.ts';
import { BAD_EMAIL_DOMAINS } from './hostile.ts';

describe('audit line', () => {
  it('says when, which record, what happened and each changed value, and nothing for a result that wrote nothing', () => {
    const line = auditLine(
      { key: 'cus_1', outcome: 'updated', recordId: 'rec_1', changes: [{ slug: 'stripe_mrr', before: 1, after: 2 }] },
      'stripe_customer_id',
      false,
      new Date(Date.UTC(2026, 11, 1)),
    );
    expect(JSON.parse(line!)).toEqual({ time: '2026-12-01T00:00:00.000Z', stripe_customer_id: 'cus_1', record_id: 'rec_1', action: 'updated', values: { stripe_mrr: { before: 1, after: 2 } } });
    expect(JSON.parse(auditLine({ key: 'cus_2', outcome: 'created', changes: [] }, 'k', true, new Date(0))!)).toMatchObject({ record_id: null, dry_run: true });
    for (const outcome of ['unchanged', 'deferred'] as const) expect(auditLine({ key: 'cus_3', outcome }, 'k', false, new Date(0))).toBeNull();
    // After an intent line, a conflict or failure closes it with the reason.
    expect(JSON.parse(auditLine({ key: 'cus_4', outcome: 'failed', detail: 'Attio 500' }, 'k', false, new Date(0))!)).toEqual({
      time: '1970-01-01T00:00:00.000Z',
      k: 'cus_4',
      record_id: null,
      action: 'failed',
      detail: 'Attio 500',
    });
  });
  it('announces a write before it is sent: the record, what is planned and the values it changes; nothing for a conflict', () => {
    const update: PlannedAction = { kind: 'update', key: 'cus_1', recordId: 'rec_1', changes: [{ slug: 'stripe_mrr', before: 1, after: 2 }] };
    expect(JSON.parse(auditIntentLine(update, 'k', new Date(0))!)).toEqual({
      time: '1970-01-01T00:00:00.000Z',
      k: 'cus_1',
      record_id: 'rec_1',
      action: 'intent',
      planned: 'update',
      values: { stripe_mrr: { before: 1, after: 2 } },
    });
    expect(JSON.parse(auditIntentLine({ kind: 'new', key: 'cus_2', changes: [] }, 'k', new Date(0))!)).toMatchObject({ record_id: null, planned: 'new' });
    expect(auditIntentLine({ kind: 'conflict', key: 'cus_3', reason: 'x' }, 'k', new Date(0))).toBeNull();
  });
  it('holds values from outside exactly, with no raw control, bidi or line-separator character', () => {
    const hostile = 'Acme\n::add-mask::x\u001b[31m\u0085\u009b\u007f\u202e\u2028##[error]y';
    const line = auditLine({ key: 'cus_1', outcome: 'updated', recordId: 'r', changes: [{ slug: 'stripe_plan', before: hostile, after: 'Pro' }] }, 'k', false, new Date(0))!;
    expect(line).not.toMatch(/[\p{Cc}\p{Bidi_Control}\u2028\u2029]/u);
    expect(line).not.toContain('##[');
    expect(JSON.parse(line).values.stripe_plan.before).toBe(hostile);
  });
});

describe('escaping text from outside', () => {
  const UNSAFE = /[\p{Cc}\p{Bidi_Control}\u2028\u2029]/u;
  it('makes every control, bidi and separator character a visible escape, on one line', () => {
    expect(escapeText('a\nb\rc\td')).toBe('a\\nb\\rc\\td');
    expect(escapeText('\u001b[31mred\u0000\u007f\u0085\u009b')).toBe('\\u001b[31mred\\u0000\\u007f\\u0085\\u009b');
    expect(escapeText('abc\u202edef\u2066\u200f\u2028\u2029')).toBe('abc\\u202edef\\u2066\\u200f\\u2028\\u2029');
    for (const format of ['log', 'markdown', 'json'] as const) expect(escapeText('x\u0000\n\u202e\u2029\u009f', format)).not.toMatch(UNSAFE);
  });
  it('leaves ordinary text as it is: letters, emoji with their joiners, accents, punctuation', () => {
    for (const text of ['Acme Inc.', '👨‍👩‍👧‍👦 Family Co', 'Bücher GmbH', 'São Paulo', 'a:b (c) 50% #1', 'cus_123', 'שלום', '東京']) expect(escapeText(text)).toBe(text);
  });
  it('never lets a value start a GitHub workflow command: "::" at the start, "##[" anywhere', () => {
    expect(escapeText('::error title=x::boom')).toBe('\\::error title=x::boom');
    expect(escapeText('  \u00a0::add-mask::created=')).toBe('  \u00a0\\::add-mask::created=');
    expect(escapeText('mid ::warning::ok')).toBe('mid ::warning::ok'); // not at a line start: the runner ignores it
    expect(escapeText('a ##[add-mask]created=')).toBe('a ##\\[add-mask]created=');
    expect(escapeText('x\n::error::y')).toBe('x\\n::error::y'); // the newline is escaped: no second line
    // Escaping twice changes nothing: the output sink escapes each line again.
    for (const text of ['::e::x', 'a ##[x]', 'q\n\u001b', '  ::x']) expect(escapeText(escapeText(text))).toBe(escapeText(text));
  });
  it('escapes Markdown in the job summary: links, emphasis, HTML, table pipes; not the underscore inside a word', () => {
    expect(escapeText('[click](https://evil) <img src=x> *b* `c` a|b ~s~ &amp; $x$ !', 'markdown')).toBe(
      '\\[click\\](https://evil) \\<img src=x\\> \\*b\\* \\`c\\` a\\|b \\~s\\~ \\&amp; \\$x\\$ \\!',
    );
    expect(escapeText('cus_123 _em_ snake_case_', 'markdown')).toBe('cus_123 \\_em\\_ snake_case\\_');
    expect(escapeText('a\nb', 'markdown')).toBe('a\\\\nb'); // one line; the backslash itself escaped
  });
  it('keeps JSON text valid: what it escapes reads back as the same value', () => {
    const value = { s: 'a\u007f\u0085\u202e\u2028b ##[x] \\ "q"' };
    const json = escapeText(JSON.stringify(value), 'json');
    expect(json).not.toMatch(UNSAFE);
    expect(json).not.toContain('##[');
    expect(JSON.parse(json)).toEqual(value);
  });
  it('names at most a few keys, escaped, and how many more', () => {
    expect(fewKeys([])).toBe('');
    expect(fewKeys(['cus_1', 'cus_2'])).toBe('cus_1, cus_2');
    expect(fewKeys(['cus_1', 'cus_2', 'cus_3', 'cus_4', 'cus_5'])).toBe('cus_1, cus_2, cus_3 and 2 more');
    expect(fewKeys(['a', 'b', 'c'], 2)).toBe('a, b and 1 more');
    expect(fewKeys(['x\n::error::y'])).toBe('x\\n::error::y');
  });
});

describe('a stopped run', () => {
  it('exits as a shell reports the signal', () => {
    expect(stoppedExitCode('SIGTERM')).toBe(143);
    expect(stoppedExitCode('SIGINT')).toBe(130);
  });
});

describe('domains and names', () => {
  it('takes the company domain from an email', () => {
    expect(companyDomain('Jane@Acme.COM')).toBe('acme.com');
    expect(companyDomain('jane@sub.acme.co.uk')).toBe('sub.acme.co.uk');
    expect(companyDomain('jane@bücher.de')).toBe('xn--bcher-kva.de');
  });
  it('drops a leading www. and a trailing dot, so the address matches the company\'s domain', () => {
    expect(companyDomain('x@www.acme.com')).toBe('acme.com');
    expect(companyDomain('x@WWW.Acme.com.')).toBe('acme.com');
    expect(companyDomain('x@www.com')).toBe('www.com'); // www is the name here
    expect(companyDomain('x@www.gmail.com')).toBeNull(); // free mail, after the www.
  });
  it('takes only host names: letter-digit-hyphen labels of at most 63, 253 in all, a TLD of letters or xn--', () => {
    expect(hostDomain('a-b.example')).toBe('a-b.example');
    expect(hostDomain('xn--bcher-kva.xn--p1ai')).toBe('xn--bcher-kva.xn--p1ai');
    expect(hostDomain('ＡＣＭＥ.com')).toBe('acme.com'); // full-width letters, as IDNA maps them
    expect(hostDomain(`${'a'.repeat(63)}.com`)).toBe(`${'a'.repeat(63)}.com`);
    expect(hostDomain(`${'a'.repeat(64)}.com`)).toBeNull();
    expect(hostDomain(`${'abcdefghi.'.repeat(25)}com`)).not.toBeNull(); // 253 characters: the most
    expect(hostDomain(`${'abcdefghi.'.repeat(25)}info`)).toBeNull(); // 254
    for (const bad of BAD_EMAIL_DOMAINS) {
      expect(hostDomain(bad), bad).toBeNull();
      expect(hasUnusableDomain(`x@${bad}`), bad).toBe(true);
    }
    expect(hasUnusableDomain('x@acme.com')).toBe(false);
    expect(hasUnusableDomain('x@gmail.com')).toBe(false); // free mail: no domain, but nothing wrong
    expect(hasUnusableDomain('no-at-sign')).toBe(false);
    expect(hasUnusableDomain(null)).toBe(false);
  });
  it('has no domain for free mail, missing or broken emails', () => {
    expect(companyDomain('jane@gmail.com')).toBeNull();
    expect(companyDomain('JANE@OUTLOOK.COM')).toBeNull();
    expect(companyDomain(null)).toBeNull();
    expect(companyDomain('no-at-sign')).toBeNull();
    expect(companyDomain('jane@')).toBeNull();
    expect(companyDomain('jane@localhost')).toBeNull();
    expect(companyDomain('jane@exa mple.com')).toBeNull();
  });
  it('names a company by name, then description, then domain, then id', () => {
    const f = { id: 'cus_1', name: null, description: null, email: null };
    expect(companyName({ ...f, name: ' Acme Inc ' })).toBe('Acme Inc');
    expect(companyName({ ...f, name: '  ', description: 'Acme by description' })).toBe('Acme by description');
    expect(companyName({ ...f, email: 'a@acme.com' })).toBe('acme.com');
    expect(companyName({ ...f, email: 'a@gmail.com' })).toBe('cus_1');
  });
  it('shortens a very long name without splitting an emoji', () => {
    const name = companyName({ id: 'cus_1', name: '🚀'.repeat(10_000), description: null, email: null });
    expect(Array.from(name)).toHaveLength(250);
    expect(name.endsWith('🚀…')).toBe(true);
  });
  it('cuts by grapheme: a family emoji (seven code points) is kept whole, 250 graphemes with the ellipsis', () => {
    const family = '👨‍👩‍👧‍👦';
    const name = companyName({ id: 'cus_1', name: `A${family.repeat(300)}`, description: null, email: null });
    const graphemes = Array.from(new Intl.Segmenter('en', { granularity: 'grapheme' }).segment(name), (s) => s.segment);
    expect(graphemes).toHaveLength(250);
    expect(graphemes.at(-1)).toBe('…');
    expect(graphemes.slice(1, -1).every((g) => g === family)).toBe(true);
    expect(cutGraphemes('e\u0301'.repeat(5), 3)).toBe('e\u0301e\u0301…'); // an accent stays on its letter
    expect(cutGraphemes('short', 250)).toBe('short');
  });
  it('strips control characters, ANSI sequences and bidi overrides from names; line breaks become a space', () => {
    expect(cleanName('Acme\u0000 Inc\u0007')).toBe('Acme Inc');
    expect(cleanName('\u001b[31mRed\u001b[0m Co')).toBe('Red Co');
    expect(cleanName('\u001b]8;;https://evil\u0007Link\u001b]8;;\u0007')).toBe('Link');
    expect(cleanName('\u202eocsiB\u202c Ltd')).toBe('ocsiB Ltd'); // no longer displays reversed
    expect(cleanName('Acme\r\n  Inc')).toBe('Acme Inc');
    expect(cleanName('👨‍👩‍👧‍👦 Family')).toBe('👨‍👩‍👧‍👦 Family'); // zero-width joiners stay
    for (const invisible of ['', '   ', '\u200b\u200b', '\u202e\u202c', '\u0000\u0001', '\u001b[0m', '\u3164', '\u00ad', '\u0301', '\ufeff\u2060'])
      expect(cleanName(invisible), JSON.stringify(invisible)).toBeNull();
  });
  it('names a company as for an empty name when nothing visible is left', () => {
    const f = { id: 'cus_1', name: null, description: null, email: null };
    expect(companyName({ ...f, name: '\u202e\u200b\u0000', description: 'Acme by description' })).toBe('Acme by description');
    expect(companyName({ ...f, name: '\u001b[2J', email: 'a@acme.com' })).toBe('acme.com');
    expect(companyName({ ...f, name: '\u3164' })).toBe('cus_1');
  });
});

describe('Retry-After', () => {
  const now = Date.parse('2026-11-27T10:00:00Z');
  it('reads seconds', () => expect(parseRetryAfter('3', now)).toBe(3000));
  // A date names a whole second: the wait runs to its end.
  it('reads an HTTP date, to the end of its second', () => expect(parseRetryAfter('Fri, 27 Nov 2026 10:00:02 GMT', now)).toBe(3000));
  it('waits at least a second for a date already past: the local clock may run ahead of the server\'s', () => {
    expect(parseRetryAfter('Fri, 27 Nov 2026 09:00:00 GMT', now)).toBe(1000);
    expect(parseRetryAfter('Fri, 27 Nov 2026 10:00:00 GMT', now + 400)).toBe(1000);
    expect(parseRetryAfter('Fri, 27 Nov 2026 10:00:00 GMT', now)).toBe(1000);
  });
  it('ignores nonsense', () => {
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });
});

describe('retry helper', () => {
  const policy = (delays: number[]): RetryPolicy => ({ retries: 3, baseDelayMs: 1000, random: () => 0.5, sleep: async (ms) => void delays.push(ms) });
  const failing = (errors: ApiError[], value = 'ok') => {
    let calls = 0;
    const fn = async () => {
      const error = errors[calls++];
      if (error) throw error;
      return value;
    };
    return { fn, calls: () => calls };
  };
  const err = (status: number | undefined, retryAfterMs?: number) => new ApiError({ service: 'Attio', message: `status ${status}`, status, retryAfterMs });

  it.each([429, 500, 502, 503, undefined])('retries %s', async (status) => {
    const delays: number[] = [];
    const { fn, calls } = failing([err(status), err(status)]);
    await expect(withRetry(fn, policy(delays))).resolves.toBe('ok');
    expect(calls()).toBe(3);
    expect(delays).toEqual([1000, 2000]); // exponential from 1 s (jitter centred at random=0.5)
  });
  it('retries 401 only where the client says so: Attio does (answered under load), others do not', async () => {
    const attio = failing([err(401)]);
    await expect(withRetry(attio.fn, { ...policy([]), transient: attioTransient })).resolves.toBe('ok');
    expect(attio.calls()).toBe(2);
    const other = failing([err(401)]);
    await expect(withRetry(other.fn, policy([]))).rejects.toMatchObject({ status: 401 });
    expect(other.calls()).toBe(1);
    expect(isTransient(err(401))).toBe(false);
  });
  it('keeps the named fields and the cause of an ApiError', () => {
    const cause = new Error('connect ECONNREFUSED 127.0.0.1:9');
    const error = new ApiError({ service: 'Attio', message: 'no answer', code: 'x', retryAfterMs: 5, cause });
    expect(error).toMatchObject({ service: 'Attio', message: 'no answer', status: undefined, code: 'x', retryAfterMs: 5, cause });
  });
  it.each([400, 403, 404, 409])('does not retry %s', async (status) => {
    const delays: number[] = [];
    const { fn, calls } = failing([err(status)]);
    await expect(withRetry(fn, policy(delays))).rejects.toMatchObject({ status });
    expect(calls()).toBe(1);
    expect(delays).toEqual([]);
  });
  it('honours Retry-After instead of backing off', async () => {
    const delays: number[] = [];
    const { fn } = failing([err(429, 1500), err(429, 0)]);
    await withRetry(fn, policy(delays));
    expect(delays).toEqual([1500, 0]);
  });
  it('gives up after the last retry with the last error', async () => {
    const delays: number[] = [];
    const { fn, calls } = failing([err(503), err(503), err(503), err(500)]);
    await expect(withRetry(fn, policy(delays))).rejects.toMatchObject({ status: 500 });
    expect(calls()).toBe(4);
    expect(delays).toEqual([1000, 2000, 4000]);
  });
  it('jitters the backoff within ±25%', () => {
    const e = err(500);
    expect(retryDelayMs(e, 0, { baseDelayMs: 1000, random: () => 0 })).toBe(750);
    expect(retryDelayMs(e, 0, { baseDelayMs: 1000, random: () => 0.999999 })).toBe(1250);
    expect(retryDelayMs(e, 3, { baseDelayMs: 1000, random: () => 0.5 })).toBe(8000);
  });
  it('does not retry programming errors', async () => {
    let calls = 0;
    await expect(
      withRetry(async () => {
        calls++;
        throw new TypeError('bug');
      }, policy([])),
    ).rejects.toThrow('bug');
    expect(calls).toBe(1);
  });
});

describe('pacer', () => {
  /** Takes `count` starts on a virtual clock that only moves by the pacer's sleeps and `idle`. */
  const startsOf = async (pacer: Pacer, clock: { now: number }, count: number, idle: (i: number) => number = () => 0) => {
    const starts: number[] = [];
    for (let i = 0; i < count; i++) {
      clock.now += idle(i);
      await pacer.take();
      starts.push(clock.now);
    }
    return starts;
  };
  const virtualPacer = (perSecond: number) => {
    const clock = { now: 0 };
    const pacer = new Pacer(perSecond, () => clock.now, async (ms) => {
      clock.now += ms;
    });
    return { clock, pacer };
  };

  it('never starts more than its rate in any one second, nor closer than half the even spacing', async () => {
    const { clock, pacer } = virtualPacer(10);
    // Callers that come at random moments, as responses do.
    let state = 3;
    const random = () => ((state = (state * 1_664_525 + 1_013_904_223) >>> 0) / 2 ** 32);
    const starts = await startsOf(pacer, clock, 200, () => (random() < 0.2 ? random() * 400 : 0));
    for (let i = 10; i < starts.length; i++) expect(starts[i]! - starts[i - 10]!).toBeGreaterThanOrEqual(1000);
    for (let i = 1; i < starts.length; i++) expect(starts[i]! - starts[i - 1]!).toBeGreaterThanOrEqual(50); // half of 100 ms
  });

  it('makes up within the second for time spent waiting on a response', async () => {
    const { clock, pacer } = virtualPacer(10);
    // One request, 250 ms for its answer, then nine more: all ten fit in the first second, 50 ms
    // apart (evenly spaced starts would put the tenth at 1,050 ms); the eleventh waits for it.
    const starts = await startsOf(pacer, clock, 11, (i) => (i === 1 ? 250 : 0));
    expect(starts).toEqual([0, 250, 300, 350, 400, 450, 500, 550, 600, 650, 1000]);
  });

  it('paces rates below one a second', async () => {
    const { clock, pacer } = virtualPacer(0.5);
    expect(await startsOf(pacer, clock, 3)).toEqual([0, 2000, 4000]);
  });

  it('halves its pace and holds until Retry-After after a 429, then recovers with time', async () => {
    const { clock, pacer } = virtualPacer(10);
    await pacer.take();
    pacer.rateLimited(1000);
    expect(pacer.perSecond).toBe(5);
    const starts = await startsOf(pacer, clock, 3);
    expect(starts[0]).toBe(1000); // held until Retry-After
    // Back to full RECOVERY_MS after the hold, in a straight line: halfway there after 1.5 s.
    clock.now = 1000 + Pacer.RECOVERY_MS / 2;
    expect(pacer.perSecond).toBeCloseTo(7.5, 9);
    clock.now = 1000 + Pacer.RECOVERY_MS;
    expect(pacer.perSecond).toBe(10);
  });

  it('slows down once for a burst of 429s, however many and however long, and recovers after the last', async () => {
    const { clock, pacer } = virtualPacer(24);
    // Twelve requests in flight all come back 429 (Retry-After 1 s); then, for three seconds, every
    // request after each hold meets another 429, as when another integration spends the quota.
    await startsOf(pacer, clock, 12);
    for (let i = 0; i < 12; i++) {
      clock.now += 5;
      pacer.rateLimited(1000);
    }
    expect(pacer.perSecond).toBe(12); // halved once, not twelve times
    for (let window = 0; window < 3; window++) {
      await pacer.take(); // waits for the hold to pass
      pacer.rateLimited(1000);
      expect(pacer.perSecond).toBe(12);
    }
    const lastHoldEnds = clock.now + 1000;
    clock.now = lastHoldEnds + Pacer.RECOVERY_MS;
    expect(pacer.perSecond).toBe(24); // full again 3 s after the last hold
    // The old policy (halve on every 429, recover 2% a request) would be at 1/s here and need
    // ln(24)/ln(1.02) = 160 requests to get back.
  });

  it('plans again a caller that was waiting when a 429 came, so nobody starts inside the hold', async () => {
    let now = 0;
    const sleeps: Array<() => void> = [];
    const pacer = new Pacer(10, () => now, (ms) => new Promise<void>((resolve) => sleeps.push(() => ((now += ms), resolve()))));
    await pacer.take(); // 0
    const waiting = pacer.take(); // planned at 100 ms, sleeping
    await Promise.resolve();
    pacer.rateLimited(2000); // a 429 at 0 ms: hold until 2,000
    sleeps.shift()!(); // its sleep ends at 100 ms, inside the hold
    await Promise.resolve();
    await Promise.resolve();
    sleeps.shift()!(); // it planned again, for the end of the hold
    await waiting;
    expect(now).toBeGreaterThanOrEqual(2000);
  });
});

describe('mapConcurrent', () => {
  it('keeps order and never runs more than the limit', async () => {
    let running = 0;
    let peak = 0;
    const results = await mapConcurrent([5, 1, 4, 2, 3, 0], 2, async (n) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, n));
      running--;
      return n * 10;
    });
    expect(results).toEqual([50, 10, 40, 20, 30, 0]);
    expect(peak).toBe(2);
  });
});

describe('listing by created windows', () => {
  // An in-memory list with Stripe's semantics: newest first, created filters, starting_after.
  const makeLister = (objects: Array<{ id: string; created: number }>) => {
    const sorted = [...objects].sort((a, b) => b.created - a.created || b.id.localeCompare(a.id));
    const calls: CreatedWindow[] = [];
    const fetchPage = async (w: CreatedWindow) => {
      calls.push(w);
      await new Promise((r) => setTimeout(r, 1)); // a round trip, so pages come back out of order as they do
      const inWindow = sorted.filter((o) => o.created >= w.gte && o.created < w.lt);
      const start = w.startingAfter ? inWindow.findIndex((o) => o.id === w.startingAfter) + 1 : 0;
      const data = inWindow.slice(start, start + 100);
      return { object: 'list' as const, url: '/v1/x', has_more: start + 100 < inWindow.length, data };
    };
    return { fetchPage, calls };
  };

  it.each([
    ['spread out', (i: number) => 1_700_000_000 + i * 37],
    ['many in the same second', (i: number) => 1_700_000_000 + Math.floor(i / 250)],
    ['all in one second', () => 1_700_000_000],
  ])('reads every object exactly once (%s)', async (_name, createdOf) => {
    const objects = Array.from({ length: 2345 }, (_, i) => ({ id: `ch_${String(i).padStart(5, '0')}`, created: createdOf(i) }));
    const { fetchPage, calls } = makeLister(objects);
    const seen: string[] = [];
    const nowUnix = Math.max(...objects.map((o) => o.created)) + 3600;
    await listByCreatedWindows(fetchPage, (data) => seen.push(...data.map((o) => o.id)), { concurrency: 6, nowUnix });
    expect(seen.sort()).toEqual(objects.map((o) => o.id).sort());
    // 24 full pages are the minimum; on top, about one short or empty page per window (the fan-out
    // makes up to 8), never a page per object or per second.
    expect(calls.length).toBeLessThanOrEqual(24 + 8);
  });

  it('reads a small account in one request', async () => {
    const { fetchPage, calls } = makeLister(Array.from({ length: 60 }, (_, i) => ({ id: `c_${i}`, created: 1_700_000_000 + i * 999 })));
    let seen = 0;
    await listByCreatedWindows(fetchPage, (data) => (seen += data.length), { concurrency: 8, nowUnix: 1_800_000_000 });
    expect(seen).toBe(60);
    expect(calls).toHaveLength(1);
  });

  it('reads in parallel once a listing is dense', async () => {
    const objects = Array.from({ length: 3000 }, (_, i) => ({ id: `ch_${i}`, created: 1_700_000_000 + i * 11 }));
    const { fetchPage } = makeLister(objects);
    let inFlight = 0;
    let peak = 0;
    await listByCreatedWindows(
      async (w) => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        await new Promise((r) => setTimeout(r, 2));
        const page = await fetchPage(w);
        inFlight--;
        return page;
      },
      () => {},
      { concurrency: 6, nowUnix: 1_800_000_000 },
    );
    expect(peak).toBe(6);
  });

  it('still shares out older data after a window between two busy spans came back empty', async () => {
    // A busy last day, nothing for months, then a busy stretch a year ago.
    const now = 1_800_000_000;
    const recent = Array.from({ length: 450 }, (_, i) => ({ id: `new_${i}`, created: now - 86_400 + i * 150 }));
    const old = Array.from({ length: 3000 }, (_, i) => ({ id: `old_${i}`, created: now - 400 * 86_400 + i * 600 }));
    const { fetchPage, calls } = makeLister([...recent, ...old]);
    let seen = 0;
    await listByCreatedWindows(fetchPage, (data) => (seen += data.length), { concurrency: 6, nowUnix: now });
    expect(seen).toBe(3450);
    // The old stretch (30 pages) is read through several windows at once, not one cursor.
    const [oldStart, oldEnd] = [old[0]!.created, old.at(-1)!.created];
    const oldWindows = new Set(calls.filter((w) => w.gte <= oldEnd && w.lt > oldStart).map((w) => `${w.gte}-${w.lt}`));
    expect(oldWindows.size).toBeGreaterThanOrEqual(4);
  });

  // Virtual time: pages cost 250 ms and a pacer holds 24 requests a second (the charges listing
  // against Stripe), with no real waiting, so how long a listing takes is exact on any machine.
  const listAtStripePace = async (created: number[], concurrency: number) => {
    let now = 0;
    let order = 0;
    const timers: Array<{ at: number; order: number; resolve: () => void }> = [];
    const sleep = (ms: number) => new Promise<void>((resolve) => timers.push({ at: now + ms, order: order++, resolve }));
    const pacer = new Pacer(24, () => now, sleep);
    const { fetchPage: page } = makeLister(created.map((c, i) => ({ id: `ch_${String(i).padStart(6, '0')}`, created: c })));
    let requests = 0;
    let lastAnswerMs = 0;
    const seen = new Set<string>();
    let done = false;
    const listing = listByCreatedWindows(
      async (w) => {
        await pacer.take();
        requests++;
        await sleep(250);
        lastAnswerMs = now;
        return page(w);
      },
      (data) => data.forEach((o) => seen.add(o.id)),
      { concurrency, nowUnix: Math.max(...created) + 3600 },
    ).finally(() => (done = true));
    while (!done) {
      await new Promise((r) => setTimeout(r, 2)); // lets every page that is due settle (makeLister waits 1 ms)
      timers.sort((a, b) => a.at - b.at || a.order - b.order);
      const next = timers.shift();
      if (!next) continue;
      now = Math.max(now, next.at);
      next.resolve();
    }
    await listing;
    return { seen: seen.size, requests, seconds: lastAnswerMs / 1000 };
  };

  it.each([
    ['evenly over two years', (r: number) => r],
    ['busier lately', (r: number) => Math.sqrt(r)],
  ])('shares a dense listing out so that its windows end together (%s)', async (_name, shape) => {
    let state = 7;
    const random = () => ((state = (state * 1_664_525 + 1_013_904_223) >>> 0) / 2 ** 32);
    const twoYears = 2 * 365 * 86_400;
    const created = Array.from({ length: 20_000 }, () => 1_790_000_000 - twoYears + Math.floor(shape(random()) * twoYears));
    const { seen, requests } = await listAtStripePace(created, 8);
    expect(seen).toBe(20_000);
    // 200 full pages; each window ends in one short page, and there are a dozen or two windows.
    // (How long it takes is the benchmark's to measure, not a test's.)
    expect(requests).toBeLessThanOrEqual(200 + 16);
  });

  it('stops every listing that shares a controller when one fails, and reports that failure', async () => {
    const stop = new AbortController();
    const objects = Array.from({ length: 3000 }, (_, i) => ({ id: `ch_${i}`, created: 1_700_000_000 + i * 11 }));
    const healthy = makeLister(objects);
    const failing = listByCreatedWindows(async () => Promise.reject(new ApiError({ service: 'Stripe', message: 'boom', status: 500 })), () => {}, { concurrency: 3, nowUnix: 1_800_000_000, stop });
    const other = listByCreatedWindows(healthy.fetchPage, () => {}, { concurrency: 3, nowUnix: 1_800_000_000, stop });
    await expect(failing).rejects.toThrow('boom');
    await expect(other).rejects.toThrow('boom');
    expect(healthy.calls.length).toBeLessThan(5); // it stopped after a page or two instead of reading all 30
  });

  it('reports an error thrown while folding a page', async () => {
    const { fetchPage } = makeLister(Array.from({ length: 300 }, (_, i) => ({ id: `x_${i}`, created: 1_700_000_000 + i })));
    await expect(
      listByCreatedWindows(fetchPage, () => {
        throw new Error('fold failed');
      }, { concurrency: 3, nowUnix: 1_700_001_000 }),
    ).rejects.toThrow('fold failed');
  });

  it('stops on the first failure and reports it', async () => {
    await expect(
      listByCreatedWindows(async () => Promise.reject(new ApiError({ service: 'Stripe', message: 'boom', status: 500 })), () => {}, { concurrency: 3, nowUnix: 1_800_000_000 }),
    ).rejects.toThrow('boom');
  });
});

describe('plan', () => {
  const desired = (key: string, values: Record<string, string | number | null>, domain: string | null = null, claimOrder = key): DesiredRecord => ({
    key,
    values: { stripe_customer_id: key, ...values },
    onCreate: { name: key, domains: domain },
    linkValue: domain,
    claimOrder,
  });
  const linked = (entries: Array<[string, Record<string, string | number | null>]>) =>
    new Map<string, LinkedRecord>(entries.map(([key, values], i) => [key, { recordId: `rec_${i}`, values: { stripe_customer_id: key, ...values } }]));

  it('diffs values, with currency equal at 4 decimals', () => {
    expect(diffValues({ a: 1.23451, b: 'x', c: null }, { a: 1.23454, b: 'x', c: null })).toEqual([]);
    expect(diffValues({ a: 1.2346 }, { a: 1.2345 })).toEqual([{ slug: 'a', before: 1.2345, after: 1.2346 }]);
    expect(diffValues({ d: '2024-01-01' }, null)).toEqual([{ slug: 'd', before: null, after: '2024-01-01' }]);
    expect(diffValues({ d: null }, { d: '2024-01-01' })).toEqual([{ slug: 'd', before: '2024-01-01', after: null }]);
  });

  it('leaves equal records alone, updates changed ones, adds new ones', () => {
    const plan = planRecords(
      [desired('cus_a', { rev: 10 }), desired('cus_b', { rev: 20 }), desired('cus_c', { rev: 30 })],
      linked([
        ['cus_a', { rev: 10 }],
        ['cus_b', { rev: 19 }],
      ]),
      new Map(),
    );
    expect(plan.map((p) => p.kind)).toEqual(['unchanged', 'update', 'new']);
  });

  it('gives a shared domain to the oldest new customer and reports the others', () => {
    const plan = planRecords(
      [desired('cus_young', {}, 'acme.com', '2'), desired('cus_old', {}, 'acme.com', '1'), desired('cus_other', {}, 'other.com', '3')],
      new Map(),
      new Map(),
    );
    expect(plan[0]).toMatchObject({ kind: 'conflict', key: 'cus_young' });
    expect((plan[0] as { reason: string }).reason).toContain('cus_old');
    expect(plan.slice(1).map((p) => p.kind)).toEqual(['new', 'new']);
  });

  it('refuses to write a key that two records carry', () => {
    const plan = planRecords([desired('cus_a', {})], new Map(), new Map([['cus_a', ['rec_1', 'rec_2']]]));
    expect(plan[0]).toMatchObject({ kind: 'conflict' });
    expect((plan[0] as { reason: string }).reason).toMatch(/rec_1, rec_2.*merge/);
  });

  it('compares keys as people type them: spaces around, another case, or another key', () => {
    expect(keyMatch('cus_B', 'cus_B')).toBe('exact');
    expect(keyMatch('cus_B ', 'cus_B')).toBe('spaced');
    expect(keyMatch('\t cus_B', 'cus_B')).toBe('spaced');
    expect(keyMatch('CUS_B', 'cus_B')).toBe('cased');
    expect(keyMatch(' cus_b ', 'cus_B')).toBe('cased');
    expect(keyMatch('cus_Bx', 'cus_B')).toBeNull();
  });

  it('sorts loaded records out per key: near-misses taken, reported, or duplicates; ids in another case stay apart', () => {
    const record = (recordId: string, key: string): LinkedRecord => ({ recordId, values: { stripe_customer_id: key } });
    const state = matchLinkedRecords(
      [
        record('r_exact', 'cus_A'),
        record('r_spaced', ' cus_B '),
        record('r_cased', 'CUS_C'),
        record('r_d1', 'cus_D'),
        record('r_d2', 'cus_D '),
        record('r_orphan', 'cus_Gone'),
        record('r_e', 'cus_e'), // its own customer: exact wins over another customer's case
      ],
      ['cus_A', 'cus_B', 'cus_C', 'cus_D', 'cus_E', 'cus_e'],
      'stripe_customer_id',
    );
    expect([...state.linked].map(([key, r]) => [key, r.recordId])).toEqual([
      ['cus_A', 'r_exact'],
      ['cus_B', 'r_spaced'],
      ['cus_e', 'r_e'],
    ]);
    expect(state.duplicates).toEqual(new Map([['cus_D', ['r_d1', 'r_d2 ("cus_D ")']]]));
    expect([...state.nearMisses.keys()]).toEqual(['cus_C']);
    expect(state.nearMisses.get('cus_C')).toContain('record r_cased holds "CUS_C", which differs from cus_C only in case');
    expect(state.notes).toEqual([expect.stringContaining('record r_spaced holds " cus_B ", cus_B with spaces around it: taken as cus_B\'s company')]);
    expect(state.orphans).toEqual(['cus_Gone']);
    const plan = planRecords(['cus_A', 'cus_B', 'cus_C', 'cus_D'].map((k) => desired(k, {})), state.linked, state.duplicates, state.nearMisses);
    expect(plan.map((p) => p.kind)).toEqual(['unchanged', 'update', 'conflict', 'conflict']);
    expect(plan[1]).toMatchObject({ changes: [{ slug: 'stripe_customer_id', before: ' cus_B ', after: 'cus_B' }] });
  });

  it('orders the records holding one key the same way in every run: earliest created_at, then record_id', () => {
    const r = (record_id: string, created_at?: string) => ({ id: { record_id }, ...(created_at ? { created_at } : {}) });
    const order = (records: ReturnType<typeof r>[]) => firstCreated(records).map((x) => x.id.record_id);
    expect(order([r('b', '2026-01-01T00:00:00.000000002Z'), r('a', '2026-01-01T00:00:00.000000001Z')])).toEqual(['a', 'b']);
    expect(order([r('b', '2026-01-01T00:00:00.000Z'), r('a', '2026-01-01T00:00:00.001Z')])).toEqual(['b', 'a']);
    expect(order([r('b', '2026-01-01T00:00:00.000000000Z'), r('a', '2026-01-01T00:00:00.000000000Z')])).toEqual(['a', 'b']);
    expect(order([r('a'), r('b', '2026-01-01T00:00:00Z')])).toEqual(['b', 'a']); // no created_at: last
  });
});

describe('dry-run report', () => {
  it('lists the first planned writes with before and after, then how many more', () => {
    const desired = new Map(
      Array.from({ length: 25 }, (_, i): [string, DesiredRecord] => [
        `cus_${i}`,
        { key: `cus_${i}`, values: { stripe_customer_id: `cus_${i}`, stripe_mrr: i }, onCreate: { name: `Co ${i}`, domains: i === 0 ? 'co0.example' : null }, linkValue: null, claimOrder: String(i) },
      ]),
    );
    const plan = [...desired.values()].map(
      (d, i): PlannedAction =>
        i === 1
          ? { kind: 'update', key: d.key, recordId: 'rec_1', changes: [{ slug: 'stripe_mrr', before: 0, after: 1 }] }
          : { kind: 'new', key: d.key, changes: [{ slug: 'stripe_customer_id', before: null, after: d.key }, { slug: 'stripe_mrr', before: null, after: i }] },
    );
    const results = plan.map((a) => ({ key: a.key, outcome: a.kind === 'update' ? ('updated' as const) : ('created' as const) }));
    const lines = plannedChanges(plan, results, desired, 'stripe_customer_id', 20);
    expect(lines[0]).toBe('DRY RUN: no writes. Planned changes:');
    expect(lines[1]).toBe('  created cus_0 as a new record (name "Co 0", domains "co0.example")');
    expect(lines[2]).toBe('      stripe_mrr: null -> 0');
    expect(lines[3]).toBe('  updated cus_1');
    expect(lines[4]).toBe('      stripe_mrr: 0 -> 1');
    expect(lines).toHaveLength(1 + 20 * 2 + 1);
    expect(lines.at(-1)).toBe('  ... and 5 more');
  });
});

describe('checkbox values', () => {
  it('read [] (never written) as unchecked, as Attio reads an unchecked box; null writes false, never a clear', () => {
    expect(plainValue([], 'checkbox')).toBe(false);
    expect(plainValue(undefined, 'checkbox')).toBe(false);
    expect(plainValue([{ value: false }], 'checkbox')).toBe(false);
    expect(plainValue([{ value: true }], 'checkbox')).toBe(true);
    expect(plainValue([{ value: true, active_until: '2026-01-01T00:00:00Z' }], 'checkbox')).toBe(false);
    const specs = [{ slug: 'flag', title: 'Flag', type: 'checkbox' as const }];
    expect(toAttioValues({ flag: null }, specs)).toEqual({ flag: [false] });
    expect(toAttioValues({ flag: true }, specs)).toEqual({ flag: [true] });
  });
});
