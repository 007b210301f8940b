// Exercises the fake Attio over real HTTP and asserts its answers.
// Run: npx vitest run test/fake-attio.test.ts
import assert from 'node:assert/strict';
import { afterAll, beforeAll, it } from 'vitest';
import { DEFAULT_API_KEY, startFakeAttio, type FakeAttio, type FakeAttioOptions } from './fake-attio.ts';
import { ALL_FAULTS, LANDED_FAULTS, queuedFaults, type FaultKind } from './faults.ts';

interface Reply {
  status: number;
  headers: Headers;
  json: any; // test code reads arbitrary JSON
}

function client(fake: FakeAttio, key = DEFAULT_API_KEY) {
  return async (method: string, path: string, body?: unknown, init: RequestInit = {}): Promise<Reply> => {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (key) headers.authorization = `Bearer ${key}`;
    const res = await fetch(fake.url + path, {
      method,
      headers,
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      ...init,
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, json: text ? JSON.parse(text) : undefined };
  };
}

function assertError(r: Reply, status: number, code: string, type = 'invalid_request_error'): void {
  assert.equal(r.status, status, `expected ${status} ${code}, got ${r.status} ${JSON.stringify(r.json)}`);
  assert.equal(r.json.status_code, status);
  assert.equal(r.json.type, type);
  assert.equal(r.json.code, code, `code: ${JSON.stringify(r.json)}`);
  assert.equal(typeof r.json.message, 'string');
}

const values = (c: { values: Record<string, unknown> }) => c.values;

async function withFake(opts: FakeAttioOptions, fn: (fake: FakeAttio) => Promise<void>): Promise<void> {
  const fake = await startFakeAttio(opts);
  try {
    await fn(fake);
  } finally {
    await fake.close();
  }
}

// Attributes the sync is expected to create (mirrors what a Stripe sync would need). The unique
// `stripe_customer_id` cannot be created through the API on companies (see the POST attributes test),
// so it comes from the helper: an older workspace that already has one.
async function setUpSyncAttributes(api: ReturnType<typeof client>, target: FakeAttio): Promise<void> {
  const base = { description: null, is_required: false, is_unique: false, is_multiselect: false, config: {} };
  const make = (data: Record<string, unknown>) => api('POST', '/objects/companies/attributes', { data: { ...base, ...data } });
  target.addAttribute({ title: 'Stripe customer ID', api_slug: 'stripe_customer_id', type: 'text', is_unique: true });
  assert.equal((await make({ title: 'MRR', api_slug: 'mrr', type: 'currency', config: { currency: { default_currency_code: 'USD', display_type: 'symbol' } } })).status, 200);
  assert.equal((await make({ title: 'Plan', api_slug: 'plan', type: 'select' })).status, 200);
  assert.equal((await make({ title: 'Customer since', api_slug: 'customer_since', type: 'date' })).status, 200);
  assert.equal((await make({ title: 'Seats', api_slug: 'seats', type: 'number' })).status, 200);
  for (const title of ['Starter', 'Pro']) {
    assert.equal((await api('POST', '/objects/companies/attributes/plan/options', { data: { title } })).status, 200);
  }
}

// One fake shared by the tests below, in order: later tests build on the records earlier ones wrote.
let fake!: FakeAttio;
let api!: ReturnType<typeof client>;

beforeAll(async () => {
  fake = await startFakeAttio();
  api = client(fake);
});

afterAll(async () => {
  await fake?.close();
});

it('server listens on 127.0.0.1 with /v2 base url', async () => {
  assert.match(fake.url, /^http:\/\/127\.0\.0\.1:\d+\/v2$/);
  assert.equal(fake.url, `http://127.0.0.1:${fake.port}/v2`);
});

it('auth: missing and wrong bearer -> 401 auth_error; right one passes', async () => {
  assertError(await client(fake, '')('GET', '/objects/companies/attributes'), 401, 'unauthorized', 'auth_error');
  assertError(await client(fake, 'attio_wrong')('GET', '/objects/companies/attributes'), 401, 'unauthorized', 'auth_error');
  assert.equal((await api('GET', '/objects/companies/attributes')).status, 200);
});

it('GET attributes: standard attributes with the spec attribute shape', async () => {
  const r = await api('GET', '/objects/companies/attributes');
  assert.deepEqual(r.json.data.map((a: any) => a.api_slug), ['name', 'domains', 'description']);
  const domains = r.json.data[1];
  for (const key of ['id', 'title', 'description', 'api_slug', 'type', 'is_system_attribute', 'is_writable', 'is_required', 'is_unique',
    'is_multiselect', 'is_default_value_enabled', 'is_archived', 'default_value', 'relationship', 'created_at', 'config']) {
    assert.ok(key in domains, `attribute lacks ${key}`);
  }
  assert.deepEqual(Object.keys(domains.id), ['workspace_id', 'object_id', 'attribute_id']);
  assert.equal(domains.type, 'domain');
  assert.equal(domains.is_unique, true);
  assert.equal(domains.is_multiselect, true);
  assert.deepEqual(domains.config, { currency: { default_currency_code: null, display_type: null }, record_reference: { allowed_object_ids: null } });
  assertError(await api('GET', '/objects/deals/attributes'), 404, 'not_found');
  assertError(await api('GET', '/lists/companies/attributes'), 404, 'not_found');
});

it('POST attributes: validation per spec, slug conflict 409, success shapes', async () => {
  const post = (data: unknown) => api('POST', '/objects/companies/attributes', { data });
  const base = { title: 'X', description: null, api_slug: 'x_attr', type: 'text', is_required: false, is_unique: false, is_multiselect: false, config: {} };
  const { config: _omit, ...noConfig } = base;
  assertError(await post(noConfig), 400, 'validation_type');
  assertError(await api('POST', '/objects/companies/attributes', base), 400, 'validation_type'); // not wrapped in data
  assertError(await post({ ...base, extra: 1 }), 400, 'validation_type');
  assertError(await post({ ...base, type: 'currency' }), 400, 'validation_type'); // no config.currency
  assertError(await post({ ...base, type: 'currency', config: { currency: { default_currency_code: 'USD' } } }), 400, 'validation_type');
  assertError(await post({ ...base, type: 'currency', config: { currency: { default_currency_code: 'XXX', display_type: 'symbol' } } }), 400, 'validation_type');
  assertError(await post({ ...base, type: 'select', is_unique: true }), 400, 'validation_type');
  assertError(await post({ ...base, type: 'text', is_multiselect: true }), 400, 'validation_type');
  assertError(await post({ ...base, type: 'domain' }), 400, 'validation_type');
  assertError(await post({ ...base, type: 'banana' }), 400, 'validation_type');
  assertError(await post({ ...base, is_unique: 'yes' }), 400, 'validation_type');
  assertError(await post({ ...base, api_slug: 'Bad Slug' }), 400, 'validation_type');
  assertError(await post({ ...base, api_slug: 'domains' }), 409, 'slug_conflict');

  await setUpSyncAttributes(api, fake);
  const attrs = (await api('GET', '/objects/companies/attributes')).json.data;
  const mrr = attrs.find((a: any) => a.api_slug === 'mrr');
  assert.deepEqual(mrr.config.currency, { default_currency_code: 'USD', display_type: 'symbol' });
  assert.equal(attrs.find((a: any) => a.api_slug === 'stripe_customer_id').is_unique, true);
  assertError(await post({ ...base, api_slug: 'mrr' }), 409, 'slug_conflict');
});

it('POST attributes: a custom unique attribute on companies is refused and not created', async () => {
  // docs.attio.com/docs/standard-objects/standard-objects-companies: "you cannot create new custom
  // attributes with a unique constraint for Company objects".
  await withFake({}, async (f) => {
    const c = client(f);
    const post = (data: unknown) => c('POST', '/objects/companies/attributes', { data });
    const base = { title: 'Ext ID', description: null, api_slug: 'ext_id', type: 'text', is_required: false, is_unique: true, is_multiselect: false, config: {} };
    const before = f.attributes().map((a) => a.api_slug);
    for (const extra of [{}, { type: 'number' }, { type: 'date' }, { type: 'currency', config: { currency: { default_currency_code: 'USD', display_type: 'symbol' } } }]) {
      const r = await post({ ...base, ...extra });
      assertError(r, 400, 'validation_type');
      assert.match(r.json.message, /unique/i);
      assert.match(r.json.message, /companies and people/);
      assert.deepEqual(r.json.validation_errors?.[0]?.path, ['data', 'is_unique']);
    }
    assert.deepEqual(f.attributes().map((a) => a.api_slug), before);
    const slugs = (await c('GET', '/objects/companies/attributes?show_archived=true')).json.data.map((a: any) => a.api_slug);
    assert.ok(!slugs.includes('ext_id'));
    // Not created, so the slug is still free; without is_unique the same attribute is fine.
    const ok = await post({ ...base, is_unique: false });
    assert.equal(ok.status, 200, JSON.stringify(ok.json));
    assert.equal(ok.json.data.is_unique, false);
  });
  // The helper still models an older workspace that already has a custom unique attribute.
  assert.equal(fake.attributes().find((a) => a.api_slug === 'stripe_customer_id')!.is_unique, true);
  const listed = (await api('GET', '/objects/companies/attributes')).json.data;
  assert.equal(listed.find((a: any) => a.api_slug === 'stripe_customer_id').is_unique, true);
});

it('show_archived: archived attributes hidden unless true', async () => {
  fake.addAttribute({ api_slug: 'old_field', type: 'text', is_archived: true });
  const slugs = async (q: string) => (await api('GET', `/objects/companies/attributes${q}`)).json.data.map((a: any) => a.api_slug);
  assert.ok(!(await slugs('')).includes('old_field'));
  assert.ok(!(await slugs('?show_archived=false')).includes('old_field'));
  assert.ok((await slugs('?show_archived=true')).includes('old_field'));
  assertError(await api('GET', '/objects/companies/attributes?show_archived=yes'), 400, 'validation_type');
});

it('select options: list, create, duplicate 409, non-select 400, unknown 404', async () => {
  const list = await api('GET', '/objects/companies/attributes/plan/options');
  assert.deepEqual(list.json.data.map((o: any) => o.title), ['Starter', 'Pro']);
  assert.deepEqual(Object.keys(list.json.data[0].id), ['workspace_id', 'object_id', 'attribute_id', 'option_id']);
  assert.equal(list.json.data[0].is_archived, false);
  const created = await api('POST', '/objects/companies/attributes/plan/options', { data: { title: 'Enterprise' } });
  assert.equal(created.json.data.title, 'Enterprise');
  assertError(await api('POST', '/objects/companies/attributes/plan/options', { data: { title: 'Pro' } }), 409, 'slug_conflict');
  assertError(await api('POST', '/objects/companies/attributes/plan/options', { data: { title: '' } }), 400, 'validation_type');
  assertError(await api('POST', '/objects/companies/attributes/name/options', { data: { title: 'A' } }), 400, 'validation_type');
  assertError(await api('GET', '/objects/companies/attributes/nope/options'), 404, 'not_found');
});

let acmeId = '';
it('create record: all value types, response shape exactly as the spec', async () => {
  const r = await api('POST', '/objects/companies/records', {
    data: {
      values: {
        name: 'Acme',
        domains: ['Acme.COM', { domain: 'https://app.acme.co.uk/login?x=1' }],
        stripe_customer_id: ['cus_1'],
        mrr: [{ currency_value: 12.5 }],
        plan: ['Pro'],
        customer_since: '2024-02-29',
        seats: [{ value: 7 }],
      },
    },
  });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  const d = r.json.data;
  acmeId = d.id.record_id;
  assert.deepEqual(Object.keys(d).sort(), ['created_at', 'id', 'values', 'web_url']);
  assert.deepEqual(Object.keys(d.id), ['workspace_id', 'object_id', 'record_id']);
  assert.match(d.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
  assert.deepEqual(Object.keys(d.values).sort(), ['customer_since', 'description', 'domains', 'mrr', 'name', 'plan', 'seats', 'stripe_customer_id']);
  assert.deepEqual(d.values.description, []);
  const name = d.values.name[0];
  assert.equal(name.attribute_type, 'text');
  assert.equal(name.value, 'Acme');
  assert.equal(name.active_until, null);
  assert.equal(name.created_by_actor.type, 'api-token');
  assert.equal(typeof name.created_by_actor.id, 'string');
  assert.match(name.active_from, /Z$/);
  assert.deepEqual(d.values.domains.map((v: any) => [v.domain, v.root_domain]), [['acme.com', 'acme.com'], ['app.acme.co.uk', 'acme.co.uk']]);
  assert.equal(d.values.mrr[0].currency_value, 12.5);
  assert.equal(d.values.mrr[0].currency_code, 'USD');
  assert.equal(d.values.plan[0].option.title, 'Pro');
  assert.equal(typeof d.values.plan[0].option.id.option_id, 'string');
  assert.equal(d.values.customer_since[0].value, '2024-02-29');
  assert.equal(d.values.seats[0].value, 7);
  assert.deepEqual(values(fake.companies()[0]!), {
    name: 'Acme', domains: ['acme.com', 'app.acme.co.uk'], description: null, old_field: null,
    stripe_customer_id: 'cus_1', mrr: 12.5, plan: 'Pro', customer_since: '2024-02-29', seats: 7,
  });
  const got = await api('GET', `/objects/companies/records/${acmeId}`);
  assert.deepEqual(got.json, r.json);
});

it('value validation: every wrong input is a 400 and writes nothing', async () => {
  const create = (v: Record<string, unknown>) => api('POST', '/objects/companies/records', { data: { values: v } });
  const before = JSON.stringify(fake.companies());
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ nope: ['x'] }, 'value_not_found'],
    [{ old_field: ['x'] }, 'value_not_found'], // archived attribute
    [{ name: ['A', 'B'] }, 'validation_type'], // >1 value on single-value attribute
    [{ name: [5] }, 'validation_type'],
    [{ name: null }, 'validation_type'],
    [{ name: [{ value: 'A', extra: 1 }] }, 'validation_type'],
    [{ seats: ['7'] }, 'validation_type'],
    [{ mrr: [12.12345] }, 'validation_type'], // 5 decimals
    [{ mrr: ['12.5'] }, 'validation_type'],
    [{ mrr: [{ currency_value: 1, currency_code: 'EUR' }] }, 'validation_type'],
    [{ customer_since: ['2024-02-30'] }, 'validation_type'],
    [{ customer_since: ['2024-2-1'] }, 'validation_type'],
    [{ customer_since: ['2024-02-01T00:00:00Z'] }, 'validation_type'],
    [{ plan: ['Platinum'] }, 'value_not_found'],
    [{ plan: [{ option: 'Platinum' }] }, 'value_not_found'],
    [{ domains: 'bare.com' }, 'validation_type'], // multiselect needs an array
    [{ domains: ['not a domain'] }, 'validation_type'],
    [{ domains: [42] }, 'validation_type'],
  ];
  for (const [v, code] of cases) {
    const r = await create(v);
    assert.equal(r.status, 400, `${JSON.stringify(v)} -> ${r.status}`);
    assertError(r, 400, code);
  }
  assertError(await api('POST', '/objects/companies/records', { data: { values: {}, extra: true } }), 400, 'validation_type');
  assertError(await api('POST', '/objects/companies/records', { values: {} }), 400, 'validation_type');
  assertError(await api('POST', '/objects/companies/records', '{"data": {'), 400, 'validation_type'); // invalid JSON
  // Accepted forms: currency with matching currency_code, select via {option}, 4 decimals.
  const ok = await create({ name: 'Ok', mrr: [{ currency_value: 1.2345, currency_code: 'USD' }], plan: [{ option: 'Starter' }] });
  assert.equal(ok.status, 200, JSON.stringify(ok.json));
  const okId = ok.json.data.id.record_id;
  assert.equal(JSON.stringify(fake.companies().filter((c) => c.record_id !== okId)), before);
});

it('domains: what is no internet domain name is a 400 "is not a valid domain"; paths and queries are trimmed, www. is kept', async () => {
  await withFake({}, async (f) => {
    const c = client(f);
    const create = (domain: string) => c('POST', '/objects/companies/records', { data: { values: { domains: [domain] } } });
    for (const bad of ['a_b-co.com', 'exa..mple.com', 'acme.com;', '(acme).com', '-acme.com', 'acme-.com', 'acme.c', 'acme.123', 'acme', '10.0.0.1', 'acme%2ecom', '*.acme.com', `${'a'.repeat(64)}.com`, `${'abcdefghi.'.repeat(25)}info`]) {
      const r = await create(bad);
      assertError(r, 400, 'validation_type');
      assert.match(r.json.message, /is not a valid domain/, bad);
    }
    assert.equal(f.companies().length, 0);
    const trimmed = await create('https://WWW.Trim-Me.example/about?x=1');
    assert.equal(trimmed.status, 200, JSON.stringify(trimmed.json));
    assert.deepEqual(trimmed.json.data.values.domains.map((v: any) => v.domain), ['www.trim-me.example']);
    const idn = await create('xn--bcher-kva.example');
    assert.equal(idn.status, 200, JSON.stringify(idn.json));
  });
});

it('uniqueness: create with a taken stripe id or domain -> uniqueness_conflict naming the record', async () => {
  const n = fake.companies().length;
  for (const v of [{ stripe_customer_id: ['cus_1'] }, { domains: ['ACME.com'] }]) {
    const r = await api('POST', '/objects/companies/records', { data: { values: { name: 'Dup', ...v } } });
    assertError(r, 400, 'uniqueness_conflict');
    assert.ok(r.json.message.includes(acmeId), r.json.message);
    assert.match(r.json.message, /conflicting record/i);
  }
  assert.equal(fake.companies().length, n);
});

it('assert: query-param and body validation', async () => {
  const body = { data: { values: { stripe_customer_id: ['cus_9'], name: 'Nine' } } };
  assertError(await api('PUT', '/objects/companies/records', body), 400, 'validation_type');
  assertError(await api('PUT', '/objects/companies/records?matching_attribute=nope', body), 400, 'value_not_found');
  assertError(await api('PUT', '/objects/companies/records?matching_attribute=name', body), 400, 'matching_attribute_definition_not_unique');
  assertError(await api('PUT', '/objects/companies/records?matching_attribute=stripe_customer_id', { data: { values: { name: 'N' } } }), 400, 'missing_value');
  assertError(await api('PUT', '/objects/companies/records?matching_attribute=stripe_customer_id', { data: { values: { stripe_customer_id: [] } } }), 400, 'missing_value');
  assertError(await api('PUT', '/objects/companies/records?matching_attribute=stripe_customer_id', { data: { ...body.data, id: 'x' } }), 400, 'validation_type');
  assertError(await api('PUT', '/objects/deals/records?matching_attribute=stripe_customer_id', body), 404, 'not_found');
});

let betaId = '';
it('assert: creates, then updates in place (multiselect replaced, omitted untouched)', async () => {
  const url = '/objects/companies/records?matching_attribute=stripe_customer_id';
  const n = fake.companies().length;
  const created = await api('PUT', url, { data: { values: { stripe_customer_id: ['cus_2'], name: 'Beta', domains: ['beta.io', 'beta.dev'], seats: 3 } } });
  assert.equal(created.status, 200, JSON.stringify(created.json));
  betaId = created.json.data.id.record_id;
  assert.equal(fake.companies().length, n + 1);
  fake.setCompanyValues(betaId, { description: 'typed by a human' });
  const updated = await api('PUT', url, { data: { values: { stripe_customer_id: ['cus_2'], domains: ['beta.io'], mrr: [99] } } });
  assert.equal(updated.status, 200);
  assert.equal(updated.json.data.id.record_id, betaId);
  assert.equal(fake.companies().length, n + 1);
  const beta = values(fake.companies().find((c) => c.record_id === betaId)!);
  assert.deepEqual(beta.domains, ['beta.io']); // replaced
  assert.equal(beta.name, 'Beta'); // untouched
  assert.equal(beta.seats, 3);
  assert.equal(beta.description, 'typed by a human');
  assert.equal(beta.mrr, 99);
  // Unchanged values keep their active_from.
  const name1 = created.json.data.values.name[0].active_from;
  assert.equal(updated.json.data.values.name[0].active_from, name1);
  // Clearing with [].
  const cleared = await api('PUT', url, { data: { values: { stripe_customer_id: ['cus_2'], seats: [] } } });
  assert.deepEqual(cleared.json.data.values.seats, []);
});

it('assert: matching on domains adds values; conflicts and ambiguous matches refused', async () => {
  const byDomain = '/objects/companies/records?matching_attribute=domains';
  const r = await api('PUT', byDomain, { data: { values: { domains: ['BETA.io', 'beta.ai'] } } });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  assert.equal(r.json.data.id.record_id, betaId);
  assert.deepEqual(values(fake.companies().find((c) => c.record_id === betaId)!).domains, ['beta.io', 'beta.ai']);
  // Updating Beta with Acme's domain -> uniqueness_conflict, nothing changed.
  const before = JSON.stringify(fake.companies());
  const conflict = await api('PUT', '/objects/companies/records?matching_attribute=stripe_customer_id', {
    data: { values: { stripe_customer_id: ['cus_2'], domains: ['acme.com'], name: 'Renamed' } },
  });
  assertError(conflict, 400, 'uniqueness_conflict');
  assert.ok(conflict.json.message.includes(acmeId));
  assert.equal(JSON.stringify(fake.companies()), before);
  // Bad state: two records with the same stripe id (built by the helper, bypassing uniqueness).
  const d1 = fake.addCompany({ name: 'Dup A', stripe_customer_id: 'cus_dup' });
  const d2 = fake.addCompany({ name: 'Dup B', stripe_customer_id: 'cus_dup' });
  const amb = await api('PUT', '/objects/companies/records?matching_attribute=stripe_customer_id', { data: { values: { stripe_customer_id: ['cus_dup'], name: 'X' } } });
  assertError(amb, 400, 'multiple_match_results');
  assert.ok(amb.json.message.includes(d1) && amb.json.message.includes(d2));
  // Values a record already holds are not "new data": re-sending them is fine.
  const same = await api('PATCH', `/objects/companies/records/${d1}`, { data: { values: { stripe_customer_id: ['cus_dup'] } } });
  assert.equal(same.status, 200);
});

it('PATCH by id adds to multiselects; unknown id 404', async () => {
  const patched = await api('PATCH', `/objects/companies/records/${acmeId}`, { data: { values: { domains: ['acme.org'], name: 'Acme Inc' } } });
  assert.equal(patched.status, 200);
  assert.deepEqual(values(fake.companies().find((c) => c.record_id === acmeId)!).domains, ['acme.org', 'acme.com', 'app.acme.co.uk']);
  assertError(await api('PATCH', `/objects/companies/records/${acmeId}`, { data: { values: { domains: ['beta.io'] } } }), 400, 'uniqueness_conflict');
  assertError(await api('PATCH', `/objects/companies/records/${acmeId}`, { data: { values: {}, x: 1 } }), 400, 'validation_type');
  assert.equal(values(fake.companies().find((c) => c.record_id === acmeId)!).name, 'Acme Inc');
  const missing = '00000000-0000-4000-8000-000000000000';
  assertError(await api('PATCH', `/objects/companies/records/${missing}`, { data: { values: { name: 'x' } } }), 404, 'not_found');
  assertError(await api('GET', `/objects/companies/records/${missing}`), 404, 'not_found');
});

it('query: creation order, default limit 500, offset paging', async () => {
  const all = (await api('POST', '/objects/companies/records/query', {})).json.data;
  assert.deepEqual(all.map((r: any) => r.id.record_id), fake.companies().map((c) => c.record_id));
  const ids: string[] = [];
  for (let offset = 0; ; offset += 2) {
    const page = (await api('POST', '/objects/companies/records/query', { limit: 2, offset })).json.data;
    ids.push(...page.map((r: any) => r.id.record_id));
    if (page.length < 2) break;
  }
  assert.deepEqual(ids, fake.companies().map((c) => c.record_id));
  assertError(await api('POST', '/objects/companies/records/query', { limit: 0 }), 400, 'validation_type');
  assertError(await api('POST', '/objects/companies/records/query', { limit: 1.5 }), 400, 'validation_type');
  assertError(await api('POST', '/objects/companies/records/query', { offset: -1 }), 400, 'validation_type');
  assertError(await api('POST', '/objects/companies/records/query', { filters: {} }), 400, 'validation_type');
  const sorted = (await api('POST', '/objects/companies/records/query', { sorts: [{ direction: 'desc', attribute: 'name' }] })).json.data;
  const names = sorted.map((r: any) => r.values.name[0]?.value);
  assert.deepEqual(names, [...names].sort().reverse());
});

it('query filters: the forms the sync uses match exactly', async () => {
  for (let i = 0; i < 600; i++) fake.addCompany({ name: `Bulk ${i}` });
  const q = async (filter: unknown) => {
    const r = await api('POST', '/objects/companies/records/query', { filter });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    return r.json.data.map((x: any) => x.values.name[0]?.value as string);
  };
  assert.equal((await api('POST', '/objects/companies/records/query', {})).json.data.length, 500);
  assert.deepEqual(await q({ stripe_customer_id: 'cus_1' }), ['Acme Inc']);
  assert.deepEqual(await q({ stripe_customer_id: { $eq: 'cus_2' } }), ['Beta']);
  assert.deepEqual(await q({ stripe_customer_id: { value: { $eq: 'cus_2' } } }), ['Beta']);
  assert.deepEqual(await q({ stripe_customer_id: 'CUS_1' }), []);
  assert.deepEqual(await q({ stripe_customer_id: { $in: ['cus_1', 'cus_2', 'cus_x'] } }), ['Acme Inc', 'Beta']);
  assert.deepEqual(await q({ domains: { domain: { $eq: 'ACME.com' } } }), ['Acme Inc']);
  assert.deepEqual(await q({ domains: 'beta.ai' }), ['Beta']);
  assert.deepEqual(await q({ domains: { $eq: 'Beta.AI' } }), ['Beta']);
  assert.deepEqual(await q({ domains: { root_domain: 'acme.com' } }), ['Acme Inc']);
  assert.deepEqual(await q({ $or: [{ domains: { domain: 'nope.com' } }, { domains: { domain: 'beta.io' } }] }), ['Beta']);
  assert.deepEqual(await q({ $and: [{ domains: { $not_empty: true } }, { name: { $starts_with: 'B' } }] }), ['Beta']);
  assert.deepEqual(await q({ $or: [{ stripe_customer_id: 'cus_1' }, { domains: 'beta.io' }] }), ['Acme Inc', 'Beta']);
  assert.deepEqual(await q({ $and: [{ stripe_customer_id: { $starts_with: 'cus_' } }, { $not: { stripe_customer_id: 'cus_dup' } }] }), ['Acme Inc', 'Beta']);
  assert.deepEqual(await q({ mrr: { currency_value: { $gte: 99 } } }), ['Beta']);
  assert.deepEqual(await q({ plan: 'Pro' }), ['Acme Inc']);
  assert.deepEqual(await q({ plan: { option: { $eq: 'Pro' } } }), ['Acme Inc']);
  assert.deepEqual(await q({ customer_since: { $lt: '2025-01-01' } }), ['Acme Inc']);
  assert.deepEqual(await q({ record_id: { $in: [betaId] } }), ['Beta']);
  assert.equal((await q({ name: { $contains: 'Bulk 59' } })).length, 11);
});

it('query filters: text takes $eq/$in/$contains/$starts_with/$ends_with, in all four forms', async () => {
  // docs.attio.com/docs/attribute-types/attribute-types-text; operators directly on the attribute:
  // docs.attio.com/rest-api/how-to/filtering-and-sorting (`{"name": {"$eq": ...}}`).
  const traps = [fake.addCompany({ name: 'Trap X', stripe_customer_id: 'xcus_1' }), fake.addCompany({ name: 'Trap Cu', stripe_customer_id: 'cu_1' })];
  const q = async (filter: unknown) => {
    const r = await api('POST', '/objects/companies/records/query', { filter });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    return (r.json.data.map((x: any) => x.values.name[0]?.value as string) as string[]).sort();
  };
  const stripeLinked = ['Acme Inc', 'Beta', 'Dup A', 'Dup B'];
  assert.deepEqual(await q({ stripe_customer_id: { value: { $starts_with: 'cus_' } } }), stripeLinked);
  assert.deepEqual(await q({ stripe_customer_id: { $starts_with: 'cus_' } }), stripeLinked);
  assert.deepEqual(await q({ stripe_customer_id: { $starts_with: 'cus_1' } }), ['Acme Inc']);
  assert.deepEqual(await q({ stripe_customer_id: { $ends_with: '_1' } }), ['Acme Inc', 'Trap Cu', 'Trap X']);
  // Equality, every form: shorthand, property shorthand, verbose, operator on the attribute.
  for (const filter of [{ stripe_customer_id: 'cus_2' }, { stripe_customer_id: { value: 'cus_2' } }, { stripe_customer_id: { value: { $eq: 'cus_2' } } }, { stripe_customer_id: { $eq: 'cus_2' } }]) {
    assert.deepEqual(await q(filter), ['Beta'], JSON.stringify(filter));
  }
  // "$contains can be used for matching parts of a string, case-insensitively" (filtering guide).
  assert.deepEqual(await q({ name: { $contains: 'acme' } }), ['Acme Inc']);
  assert.deepEqual(await q({ stripe_customer_id: { value: { $contains: 'DUP' } } }), ['Dup A', 'Dup B']);
  for (const id of traps) fake.setCompanyValues(id, { stripe_customer_id: null });
});

it('query filters: $not_empty only on domain attributes; text and every other type refuse it', async () => {
  // docs.attio.com/rest-api/how-to/filtering-and-sorting: "$not_empty is also available on some
  // attribute types", example {"domains": {"$not_empty": true}}. Not listed for text (attribute-types-text).
  const r = await api('POST', '/objects/companies/records/query', { filter: { domains: { $not_empty: true } } });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  const withDomains = fake.companies().filter((c) => (c.values.domains as string[]).length > 0).map((c) => c.values.name);
  assert.ok(withDomains.length > 0 && withDomains.length < fake.companies().length);
  assert.deepEqual(r.json.data.map((x: any) => x.values.name[0]?.value).sort(), [...withDomains].sort());
  const bad = (filter: unknown) => api('POST', '/objects/companies/records/query', { filter });
  for (const slug of ['stripe_customer_id', 'name', 'seats', 'mrr', 'plan', 'customer_since']) {
    const refused = await bad({ [slug]: { $not_empty: true } });
    assertError(refused, 400, 'filter_error');
    assert.match(refused.json.message, /\$not_empty/);
    assert.deepEqual(refused.json.path, [slug, '$not_empty']);
  }
  assertError(await bad({ stripe_customer_id: { value: { $not_empty: true } } }), 400, 'filter_error');
  assertError(await bad({ $and: [{ stripe_customer_id: { $not_empty: true } }] }), 400, 'filter_error');
});

it('query filters: number/currency/date take $eq/$gt/$gte/$lt/$lte, currency also as strings', async () => {
  const q = async (filter: unknown) => {
    const r = await api('POST', '/objects/companies/records/query', { filter });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    return (r.json.data.map((x: any) => x.values.name[0]?.value as string) as string[]).sort();
  };
  assert.deepEqual(await q({ seats: { $gte: 5 } }), ['Acme Inc']);
  assert.deepEqual(await q({ seats: { $gt: 7 } }), []);
  assert.deepEqual(await q({ seats: 7 }), ['Acme Inc']);
  // attribute-types-currency: "using either JSON strings or numbers", e.g. "399.00".
  assert.deepEqual(await q({ mrr: '99.00' }), ['Beta']);
  assert.deepEqual(await q({ mrr: { $gte: '99' } }), ['Beta']);
  assert.deepEqual(await q({ mrr: { currency_value: { $lt: 13 } } }), ['Acme Inc', 'Ok']);
  assert.deepEqual(await q({ customer_since: { $gte: '2024-02-29', $lte: '2024-02-29' } }), ['Acme Inc']);
});

it('query filters: anything else is a 400, never "match everything"', async () => {
  const bad = (filter: unknown) => api('POST', '/objects/companies/records/query', { filter });
  const unknown = await bad({ stripe_id: 'cus_1' });
  assertError(unknown, 400, 'unknown_filter_attribute_slug');
  assert.deepEqual(unknown.json.path, ['stripe_id']);
  assertError(await bad({ $and: [{ nope: { $eq: 1 } }] }), 400, 'unknown_filter_attribute_slug');
  assertError(await bad({ old_field: 'x' }), 400, 'unknown_filter_attribute_slug'); // archived
  assertError(await bad({ name: { $regex: 'A' } }), 400, 'filter_error');
  assertError(await bad({ name: { $gt: 'A' } }), 400, 'filter_error');
  assertError(await bad({ name: { full_name: 'A' } }), 400, 'filter_error');
  assertError(await bad({ name: ['Acme'] }), 400, 'filter_error');
  assertError(await bad({ name: null }), 400, 'filter_error');
  assertError(await bad({ name: {} }), 400, 'filter_error');
  assertError(await bad({ seats: '7' }), 400, 'filter_error');
  assertError(await bad({ customer_since: '2024/01/01' }), 400, 'filter_error');
  assertError(await bad({ domains: { domain: { $not_empty: true } } }), 400, 'filter_error'); // documented on the attribute only
  // $in is documented for text (and record_id) only; the other types' pages do not list it.
  assertError(await bad({ domains: { domain: { $in: ['nope.com', 'beta.io'] } } }), 400, 'filter_error');
  assertError(await bad({ domains: { $in: ['beta.io'] } }), 400, 'filter_error');
  assertError(await bad({ seats: { $in: [7] } }), 400, 'filter_error');
  assertError(await bad({ mrr: { $in: [99] } }), 400, 'filter_error');
  assertError(await bad({ customer_since: { $in: ['2024-02-29'] } }), 400, 'filter_error');
  assertError(await bad({ plan: { $in: ['Pro'] } }), 400, 'filter_error');
  assertError(await bad({ plan: { option: { $in: ['Pro'] } } }), 400, 'filter_error');
  assertError(await bad({ plan: { $contains: 'Pr' } }), 400, 'filter_error');
  assertError(await bad({ seats: { $contains: '7' } }), 400, 'filter_error');
  assertError(await bad({ mrr: 'lots' }), 400, 'filter_error');
  assertError(await bad({ mrr: { $gte: '' } }), 400, 'filter_error');
  assertError(await bad({ stripe_customer_id: { $in: 'cus_1' } }), 400, 'filter_error');
  assertError(await bad({ stripe_customer_id: { $not_empty: 'yes' } }), 400, 'filter_error');
  assertError(await bad({ $or: { name: 'A' } }), 400, 'filter_error');
  assertError(await bad({ $nor: [] }), 400, 'filter_error');
  assertError(await bad('name'), 400, 'filter_error');
});

it('unknown object / route -> 404 not_found', async () => {
  assertError(await api('POST', '/objects/deals/records/query', {}), 404, 'not_found');
  assertError(await api('DELETE', '/objects/companies/records/00000000-0000-4000-8000-000000000000'), 404, 'not_found');
  assertError(await api('GET', '/objects/companies/nothing'), 404, 'not_found');
});

it('endpoints the sync never calls are not served: GET /self, GET one attribute, PUT a record by id -> 404 No route', async () => {
  // The fakes implement what sync.ts calls and nothing else; these three are real Attio endpoints
  // the sync does not use, so they answer like any unknown route (and change nothing).
  const before = JSON.stringify(fake.companies());
  const calls: Array<[string, string, unknown?]> = [
    ['GET', '/self'],
    ['GET', '/objects/companies/attributes/domains'],
    ['GET', '/objects/companies/attributes/stripe_customer_id'],
    ['PUT', `/objects/companies/records/${acmeId}`, { data: { values: { domains: ['acme.com'] } } }],
  ];
  for (const [method, path, body] of calls) {
    const r = await api(method, path, body);
    assertError(r, 404, 'not_found');
    assert.equal(r.json.message, `No route for ${method} /v2${path}.`);
  }
  assert.equal(JSON.stringify(fake.companies()), before);
});

it('helpers: attributes(), removeOption, setCompanyValues, addCompany validation', async () => {
  const plan = fake.attributes().find((a) => a.api_slug === 'plan')!;
  assert.deepEqual(plan.options, ['Starter', 'Pro', 'Enterprise']);
  assert.equal(plan.type, 'select');
  assert.deepEqual(fake.attributes().find((a) => a.api_slug === 'mrr')!.config, {
    currency: { default_currency_code: 'USD', display_type: 'symbol' }, record_reference: { allowed_object_ids: null },
  });
  fake.removeOption('plan', 'Pro');
  assert.equal(values(fake.companies().find((c) => c.record_id === acmeId)!).plan, null);
  const opts = (await api('GET', '/objects/companies/attributes/plan/options')).json.data.map((o: any) => o.title);
  assert.deepEqual(opts, ['Starter', 'Enterprise']);
  assertError(await api('PATCH', `/objects/companies/records/${acmeId}`, { data: { values: { plan: ['Pro'] } } }), 400, 'value_not_found');
  assert.equal((await api('POST', '/objects/companies/attributes/plan/options', { data: { title: 'Pro' } })).status, 200);
  assert.throws(() => fake.addCompany({ nope: 'x' }), /unknown attribute/);
  assert.throws(() => fake.addCompany({ plan: 'Gold' }), /Gold/);
  const id = fake.addCompany({ name: 'Helper', domains: 'helper.com', mrr: 5 });
  const rec = (await api('GET', `/objects/companies/records/${id}`)).json.data;
  assert.equal(rec.values.domains[0].created_by_actor.type, 'workspace-member');
  fake.setCompanyValues(id, { domains: ['helper.com', 'acme.com'] }); // helpers bypass uniqueness
  assert.deepEqual(values(fake.companies().find((c) => c.record_id === id)!).domains, ['helper.com', 'acme.com']);
});

it('requests log and stats: every request recorded with its status', async () => {
  fake.resetStats();
  assert.deepEqual(fake.stats(), { total: 0, reads: 0, writes: 0, rateLimited: 0, faults: 0 });
  await api('GET', '/objects/companies/attributes?show_archived=true');
  await api('POST', '/objects/companies/records/query', { limit: 1 });
  await api('PATCH', `/objects/companies/records/${acmeId}`, { data: { values: { name: 'Acme' } } });
  await client(fake, 'bad')('GET', '/objects/companies/attributes');
  assert.deepEqual(fake.stats(), { total: 4, reads: 3, writes: 1, rateLimited: 0, faults: 0 });
  assert.deepEqual(fake.requests.map((r) => [r.method, r.path, r.query, r.status]), [
    ['GET', '/v2/objects/companies/attributes', 'show_archived=true', 200],
    ['POST', '/v2/objects/companies/records/query', '', 200],
    ['PATCH', `/v2/objects/companies/records/${acmeId}`, '', 200],
    ['GET', '/v2/objects/companies/attributes', '', 401],
  ]);
  assert.deepEqual(fake.requests[1]!.body, { limit: 1 });
});

it('intercept: a test hook answers instead of the fake', async () => {
  await withFake(
    {
      intercept: (req) =>
        req.method === 'PUT' && JSON.stringify(req.body).includes('cus_poison')
          ? { status: 400, body: { status_code: 400, type: 'invalid_request_error', code: 'validation_type', message: 'poisoned' } }
          : undefined,
    },
    async (f) => {
      const c = client(f);
      await setUpSyncAttributes(c, f);
      const url = '/objects/companies/records?matching_attribute=stripe_customer_id';
      const r = await c('PUT', url, { data: { values: { stripe_customer_id: ['cus_poison'] } } });
      assert.equal(r.json.message, 'poisoned');
      assert.equal((await c('PUT', url, { data: { values: { stripe_customer_id: ['cus_ok'] } } })).status, 200);
      assert.equal(f.companies().length, 1);
      assert.equal(f.requests.at(-2)!.status, 400);
    },
  );
});

it('latency: fixed and per-request function', async () => {
  await withFake({ latencyMs: (req) => (req.method === 'GET' ? 120 : 0) }, async (f) => {
    const c = client(f);
    let t = Date.now();
    await c('GET', '/objects/companies/attributes');
    assert.ok(Date.now() - t >= 115, `GET took ${Date.now() - t} ms`);
    t = Date.now();
    await c('POST', '/objects/companies/records/query', {});
    assert.ok(Date.now() - t < 100);
  });
  await withFake({ latencyMs: 80 }, async (f) => {
    const t = Date.now();
    await client(f)('POST', '/objects/companies/records/query', {});
    assert.ok(Date.now() - t >= 75);
  });
});

// Waits for wall-clock second boundaries, so it gets more room than the 5 s default timeout.
it('rate limit: reads and writes counted separately; 429 rate_limit_error with an HTTP-date Retry-After, fast', { timeout: 10_000 }, async () => {
  // Start just after a second boundary so the whole burst falls in one window.
  await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 5));
  await withFake({ rateLimit: { reads: 5, writes: 2 }, latencyMs: 300 }, async (f) => {
    const c = client(f);
    const started = Date.now();
    const reads = await Promise.all(Array.from({ length: 8 }, () => c('POST', '/objects/companies/records/query', {})));
    const writes = await Promise.all(Array.from({ length: 3 }, (_, i) => c('POST', '/objects/companies/records', { data: { values: { name: `W${i}` } } })));
    assert.deepEqual(reads.map((r) => r.status).sort(), [200, 200, 200, 200, 200, 429, 429, 429]);
    assert.deepEqual(writes.map((r) => r.status).sort(), [200, 200, 429]);
    const limited = reads.find((r) => r.status === 429)!;
    assertError(limited, 429, 'rate_limit_exceeded', 'rate_limit_error');
    const retryAfter = limited.headers.get('retry-after')!;
    assert.match(retryAfter, /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/);
    const at = Date.parse(retryAfter);
    assert.ok(at > started - 1000 && at <= Date.now() + 1000, `Retry-After ${retryAfter}`);
    assert.equal(at % 1000, 0);
    assert.equal(f.stats().rateLimited, 4);
    assert.equal(f.companies().length, 2); // the limited write was not processed
    // 429 answers skip most of the latency.
    await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 5));
    await Promise.all(Array.from({ length: 5 }, () => c('GET', '/objects/companies/attributes')));
    const t = Date.now();
    const fast = await c('GET', '/objects/companies/attributes');
    assert.equal(fast.status, 429);
    assert.ok(Date.now() - t < 150, `429 took ${Date.now() - t} ms`);
  });
});

it('faults: every kind, in Attio envelopes, counted, replaceable with setFaults', async () => {
  await withFake({ slowMs: 400 }, async (f) => {
    const c = client(f);
    const only = (fault: FaultKind) => f.setFaults(queuedFaults([{ fault }]));
    const get = () => c('GET', '/objects/companies/attributes');

    only('rate_limit_seconds');
    let r = await get();
    assertError(r, 429, 'rate_limit_exceeded', 'rate_limit_error');
    assert.equal(r.headers.get('retry-after'), '1');

    only('rate_limit_date');
    r = await get();
    assertError(r, 429, 'rate_limit_exceeded', 'rate_limit_error');
    assert.ok(Number.isFinite(Date.parse(r.headers.get('retry-after')!)));

    for (const [fault, status] of [['server_500', 500], ['server_502', 502], ['server_503', 503]] as const) {
      only(fault);
      r = await get();
      assert.equal(r.status, status);
      assert.equal(r.json.status_code, status);
      assert.equal(typeof r.json.code, 'string');
    }

    only('spurious_401');
    assertError(await get(), 401, 'unauthorized', 'auth_error');
    assert.equal((await get()).status, 200); // the schedule is spent

    only('drop');
    await assert.rejects(get(), TypeError);
    assert.equal(f.requests.at(-1)!.status, 0);

    only('slow');
    let t = Date.now();
    await assert.rejects(c('GET', '/objects/companies/attributes', undefined, { signal: AbortSignal.timeout(100) }));
    assert.ok(Date.now() - t < 300);
    only('slow');
    t = Date.now();
    r = await get();
    assert.equal(r.status, 503);
    assert.ok(Date.now() - t >= 390, `slow answered after ${Date.now() - t} ms`);

    // Truncated: a 200 whose body never completes. The write itself went through.
    only('truncated');
    const res = await fetch(`${f.url}/objects/companies/records`, {
      method: 'POST',
      headers: { authorization: `Bearer ${DEFAULT_API_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ data: { values: { name: 'Truncated Co' } } }),
    });
    assert.equal(res.status, 200);
    await assert.rejects(res.json());
    assert.deepEqual(f.companies().map((x) => x.values.name), ['Truncated Co']);

    assert.equal(f.stats().faults, 10);
    f.setFaults(undefined);
    assert.equal((await get()).status, 200);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const statuses = f.requests.map((x) => x.status);
    assert.deepEqual(statuses, [429, 429, 500, 502, 503, 401, 200, 0, 0, 503, 200, 200]);
  });
});

it('faults are consulted after auth and body parse', async () => {
  await withFake({ faults: () => 'server_500' }, async (f) => {
    assertError(await client(f, 'bad')('GET', '/objects/companies/attributes'), 401, 'unauthorized', 'auth_error');
    assertError(await client(f)('POST', '/objects/companies/records', '{not json'), 400, 'validation_type');
    assert.equal((await client(f)('GET', '/objects/companies/attributes')).status, 500);
    assert.equal(f.stats().faults, 1);
  });
});

it('landed faults: the write is committed, the client gets no usable answer', async () => {
  // Not in ALL_FAULTS, so seeded randomFaults schedules draw exactly what they drew before.
  assert.deepEqual(LANDED_FAULTS, ['landed_drop', 'landed_502', 'landed_slow']);
  assert.ok(LANDED_FAULTS.every((k) => !ALL_FAULTS.includes(k)));
  await withFake({ slowMs: 300 }, async (f) => {
    const c = client(f);
    const names = () => f.companies().map((x) => x.values.name);
    const create = (name: string, init: RequestInit = {}) =>
      c('POST', '/objects/companies/records', { data: { values: { name } } }, init);

    f.setFaults(queuedFaults([{ fault: 'landed_drop' }]));
    await assert.rejects(create('Landed Drop'), TypeError); // socket destroyed, no response byte
    assert.deepEqual(names(), ['Landed Drop']);
    assert.equal(f.requests.at(-1)!.status, 0);

    f.setFaults(queuedFaults([{ fault: 'landed_502' }]));
    assertError(await create('Landed 502'), 502, 'bad_gateway', 'internal_server_error');
    assert.deepEqual(names(), ['Landed Drop', 'Landed 502']);
    assert.equal(f.requests.at(-1)!.status, 502);

    f.setFaults(queuedFaults([{ fault: 'landed_slow' }]));
    const t = Date.now();
    await assert.rejects(create('Landed Slow', { signal: AbortSignal.timeout(100) })); // the client times out first
    assert.ok(Date.now() - t < 250);
    assert.deepEqual(names(), ['Landed Drop', 'Landed 502', 'Landed Slow']);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(f.requests.at(-1)!.status, 0);

    // A patient client gets the real answer, late: the record that was created.
    f.setFaults(queuedFaults([{ fault: 'landed_slow' }]));
    const t2 = Date.now();
    const late = await create('Landed Late');
    assert.ok(Date.now() - t2 >= 290, `landed_slow answered after ${Date.now() - t2} ms`);
    assert.equal(late.status, 200);
    assert.equal(late.json.data.id.record_id, f.companies().at(-1)!.record_id);
    assert.equal(f.requests.at(-1)!.status, 200);

    // A request that fails on its own merits lands nothing either.
    f.setFaults(queuedFaults([{ fault: 'landed_502' }]));
    assert.equal((await c('POST', '/objects/companies/records', { data: { values: { nope: 'x' } } })).status, 502);
    assert.equal(f.companies().length, 4);
    assert.equal(f.stats().faults, 5);
  });
});

it('currencyValuesAsStrings: record JSON renders currency_value as a numeric string; writes take numbers only', async () => {
  await withFake({ currencyValuesAsStrings: true }, async (f) => {
    const c = client(f);
    f.addAttribute({ api_slug: 'mrr', type: 'currency', currency: 'EUR' });
    const cases: Array<[number, string]> = [[499, '499.00'], [13.3333, '13.3333'], [12.5, '12.50'], [1.234, '1.234'], [0, '0.00']];
    for (const [n, str] of cases) {
      const r = await c('POST', '/objects/companies/records', { data: { values: { name: `M${n}`, mrr: [n] } } });
      assert.equal(r.status, 200, JSON.stringify(r.json));
      assert.equal(r.json.data.values.mrr[0].currency_value, str);
      assert.equal(r.json.data.values.mrr[0].currency_code, 'EUR');
      const got = await c('GET', `/objects/companies/records/${r.json.data.id.record_id}`);
      assert.equal(got.json.data.values.mrr[0].currency_value, str);
    }
    const queried = (await c('POST', '/objects/companies/records/query', { filter: { mrr: { $gte: 13 } } })).json.data;
    assert.deepEqual(queried.map((x: any) => x.values.mrr[0].currency_value).sort(), ['13.3333', '499.00']);
    // Stored as numbers: the helper view and writes are unchanged.
    assert.deepEqual(f.companies().map((x) => x.values.mrr), [499, 13.3333, 12.5, 1.234, 0]);
    assertError(await c('POST', '/objects/companies/records', { data: { values: { mrr: ['499.00'] } } }), 400, 'validation_type');
  });
  // Default: numbers, as the spec types them.
  await withFake({}, async (f) => {
    f.addAttribute({ api_slug: 'mrr', type: 'currency' });
    const r = await client(f)('POST', '/objects/companies/records', { data: { values: { mrr: [499] } } });
    assert.equal(r.json.data.values.mrr[0].currency_value, 499);
  });
});

it('standardAttributes: false starts with no attributes', async () => {
  await withFake({ standardAttributes: false, apiKey: 'k2' }, async (f) => {
    const r = await client(f, 'k2')('GET', '/objects/companies/attributes');
    assert.deepEqual(r.json.data, []);
    assert.equal((await client(f)('GET', '/objects/companies/attributes')).status, 401);
  });
});

it('DELETE a record: 200 with an empty object, then 404; the record is gone from queries', async () => {
  await withFake({}, async (f) => {
    const c = client(f);
    const id = f.addCompany({ name: 'Doomed' });
    const kept = f.addCompany({ name: 'Kept' });
    const deleted = await c('DELETE', `/objects/companies/records/${id}`);
    assert.equal(deleted.status, 200);
    assert.deepEqual(deleted.json, {});
    assertError(await c('DELETE', `/objects/companies/records/${id}`), 404, 'not_found');
    assert.deepEqual(f.companies().map((x) => x.record_id), [kept]);
    f.deleteCompany(kept);
    assert.deepEqual((await c('POST', '/objects/companies/records/query', {})).json.data, []);
  });
});

it('select options: an archived one is listed only with show_archived=true, and PATCH is_archived:false restores it', async () => {
  await withFake({}, async (f) => {
    const c = client(f);
    f.addAttribute({ api_slug: 'plan', type: 'select', options: ['Free', 'Pro'] });
    f.archiveOption('plan', 'Pro');
    const titles = async (query = '') => (await c('GET', `/objects/companies/attributes/plan/options${query}`)).json.data.map((o: any) => `${o.title}${o.is_archived ? ' (archived)' : ''}`);
    assert.deepEqual(await titles(), ['Free']);
    assert.deepEqual(await titles('?show_archived=true'), ['Free', 'Pro (archived)']);
    // An archived option cannot be written to a record.
    assertError(await c('POST', '/objects/companies/records', { data: { values: { plan: 'Pro' } } }), 400, 'value_not_found');
    const pro = (await c('GET', '/objects/companies/attributes/plan/options?show_archived=true')).json.data[1];
    const restored = await c('PATCH', `/objects/companies/attributes/plan/options/${pro.id.option_id}`, { data: { is_archived: false } });
    assert.equal(restored.status, 200);
    assert.equal(restored.json.data.is_archived, false);
    assert.deepEqual(await titles(), ['Free', 'Pro']);
    // By title too; another option's title is a 409; unknown keys and options are refused.
    assertError(await c('PATCH', '/objects/companies/attributes/plan/options/Pro', { data: { title: 'Free' } }), 409, 'slug_conflict');
    assertError(await c('PATCH', '/objects/companies/attributes/plan/options/Gold', { data: { is_archived: false } }), 400, 'value_not_found');
    assertError(await c('PATCH', '/objects/companies/attributes/plan/options/Pro', { data: { colour: 'red' } }), 400, 'validation_type');
  });
});

it('maxQueryScore: a query scoring over the limit gets the documented 429 with a Retry-After date; a simpler one passes', async () => {
  await withFake({ maxQueryScore: 10 }, async (f) => {
    const c = client(f);
    f.addAttribute({ api_slug: 'stripe_customer_id', type: 'text' });
    for (let i = 0; i < 4; i++) f.addCompany({ name: `C${i}`, stripe_customer_id: `cus_${i}` });
    const filter = { stripe_customer_id: { value: { $contains: 'cus_' } } };
    // (1 + 1 sort + 1 condition) x 4 records = 12 > 10; without the sort 8.
    const refused = await c('POST', '/objects/companies/records/query', { filter, sorts: [{ attribute: 'stripe_customer_id', direction: 'asc' }] });
    assertError(refused, 429, 'rate_limit_exceeded', 'rate_limit_error');
    assert.ok(!Number.isNaN(Date.parse(refused.headers.get('retry-after') ?? '')));
    assert.equal((await c('POST', '/objects/companies/records/query', { filter })).json.data.length, 4);
    assert.equal(f.stats().rateLimited, 1);
  });
});

it('beforeQuery: a writer between two pages shifts them, since offset paging takes no snapshot', async () => {
  let writer: ((offset: number) => void) | null = null;
  await withFake({ beforeQuery: ({ offset }) => writer?.(offset) }, async (f) => {
    const c = client(f);
    f.addAttribute({ api_slug: 'stripe_customer_id', type: 'text' });
    for (const id of ['cus_b', 'cus_d', 'cus_f', 'cus_h']) f.addCompany({ name: id, stripe_customer_id: id });
    const page = async (offset: number) =>
      (await c('POST', '/objects/companies/records/query', { sorts: [{ attribute: 'stripe_customer_id', direction: 'asc' }], limit: 2, offset })).json.data.map(
        (r: any) => r.values.stripe_customer_id[0].value,
      );
    writer = (offset) => void (offset === 2 && f.addCompany({ name: 'a', stripe_customer_id: 'cus_a' }));
    assert.deepEqual([...(await page(0)), ...(await page(2))], ['cus_b', 'cus_d', 'cus_d', 'cus_f']); // cus_d twice, cus_h on the next page
  });
});
