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

it('checkbox values: true/false or "true"/"false", raw or {value}; read back as {value}; a record never given one has none', async () => {
  await withFake({}, async (f) => {
    const c = client(f);
    f.addAttribute({ api_slug: 'flag', type: 'checkbox' });
    for (const [written, read] of [[true, true], [false, false], ['true', true], ['false', false], [{ value: true }, true]] as const) {
      const r = await c('POST', '/objects/companies/records', { data: { values: { flag: [written] } } });
      assert.equal(r.status, 200, JSON.stringify(r.json));
      assert.deepEqual([r.json.data.values.flag[0].attribute_type, r.json.data.values.flag[0].value], ['checkbox', read]);
    }
    for (const bad of ['yes', 1, null]) assertError(await c('POST', '/objects/companies/records', { data: { values: { flag: [bad] } } }), 400, 'validation_type');
    const unset = await c('POST', '/objects/companies/records', { data: { values: { name: 'No flag' } } });
    assert.deepEqual(unset.json.data.values.flag, []);
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

// ---------------------------------------------------------------------------------------------
// People (each test on its own fake)
// ---------------------------------------------------------------------------------------------

const personBody = (values: Record<string, unknown>) => ({ data: { values } });
const assertPerson = (c: ReturnType<typeof client>, values: Record<string, unknown>) =>
  c('PUT', '/objects/people/records?matching_attribute=email_addresses', personBody(values));
const queryPeople = async (c: ReturnType<typeof client>, filter: unknown): Promise<string[]> => {
  const r = await c('POST', '/objects/people/records/query', { filter });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  return r.json.data.map((p: any) => p.values.email_addresses.map((e: any) => e.email_address).join(','));
};
const nameOf = (first: string, last: string) => [{ first_name: first, last_name: last, full_name: `${first} ${last}`.trim() }];

it('people attributes: the documented standard ones, company a relationship restricted to companies', async () => {
  await withFake({}, async (f) => {
    const r = await client(f)('GET', '/objects/people/attributes');
    assert.equal(r.status, 200);
    const by = Object.fromEntries(r.json.data.map((a: any) => [a.api_slug, a]));
    assert.deepEqual(r.json.data.map((a: any) => [a.api_slug, a.type]), [
      ['email_addresses', 'email-address'], ['name', 'personal-name'], ['company', 'record-reference'], ['description', 'text'],
      ['job_title', 'text'], ['phone_numbers', 'phone-number'], ['primary_location', 'location'], ['angellist', 'text'],
      ['facebook', 'text'], ['instagram', 'text'], ['linkedin', 'text'], ['twitter', 'text'],
    ]);
    assert.deepEqual([by.email_addresses.is_unique, by.email_addresses.is_multiselect], [true, true]);
    assert.deepEqual([by.name.is_unique, by.name.is_multiselect], [false, false]);
    assert.deepEqual([by.company.is_unique, by.company.is_multiselect], [false, false]);
    assert.equal(by.phone_numbers.is_multiselect, true);
    const companiesObject = (await client(f)('GET', '/objects/companies/attributes')).json.data[0].id.object_id;
    assert.notEqual(by.email_addresses.id.object_id, companiesObject);
    assert.deepEqual(by.company.config.record_reference.allowed_object_ids, [companiesObject]);
    assert.equal(by.company.relationship.id.object_id, companiesObject);
    assert.equal(by.name.relationship, null);
    // Companies' attributes are unchanged: no `team` unless companyTeam is asked for.
    assert.deepEqual((await client(f)('GET', '/objects/companies/attributes')).json.data.map((a: any) => a.api_slug), ['name', 'domains', 'description']);
    // The object is addressable by its ID as well as its slug.
    assert.equal((await client(f)('GET', `/objects/${by.name.id.object_id}/attributes`)).status, 200);
  });
});

it('people assert: creates with typed values (email-address, personal-name, record-reference), then updates the match', async () => {
  await withFake({}, async (f) => {
    const c = client(f);
    const acme = f.addCompany({ name: 'Acme', domains: ['acme.com'] });
    const r = await assertPerson(c, {
      email_addresses: ['ann.lee@mail.acme.co.uk'], name: nameOf('Ann', 'Lee'),
      company: [{ target_object: 'companies', target_record_id: acme }], job_title: 'CTO',
    });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    const d = r.json.data;
    assert.match(d.web_url, /\/person\//);
    assert.notEqual(d.id.object_id, (await c('GET', `/objects/companies/records/${acme}`)).json.data.id.object_id);
    const email = d.values.email_addresses[0];
    assert.deepEqual(
      [email.attribute_type, email.email_address, email.original_email_address, email.email_domain, email.email_root_domain, email.email_local_specifier],
      ['email-address', 'ann.lee@mail.acme.co.uk', 'ann.lee@mail.acme.co.uk', 'mail.acme.co.uk', 'acme.co.uk', 'ann.lee'],
    );
    assert.equal(email.created_by_actor.type, 'api-token');
    const name = d.values.name[0];
    assert.deepEqual([name.attribute_type, name.first_name, name.last_name, name.full_name], ['personal-name', 'Ann', 'Lee', 'Ann Lee']);
    const company = d.values.company[0];
    assert.deepEqual([company.attribute_type, company.target_object, company.target_record_id], ['record-reference', 'companies', acme]);
    assert.equal(d.values.job_title[0].value, 'CTO');
    assert.deepEqual(d.values.phone_numbers, []);
    assert.deepEqual(f.people(), [{
      record_id: d.id.record_id, emails: ['ann.lee@mail.acme.co.uk'], name: { first: 'Ann', last: 'Lee', full: 'Ann Lee' }, company: acme,
      values: {
        email_addresses: ['ann.lee@mail.acme.co.uk'], name: { first: 'Ann', last: 'Lee', full: 'Ann Lee' }, company: acme, description: null,
        job_title: 'CTO', phone_numbers: [], primary_location: null, angellist: null, facebook: null, instagram: null, linkedin: null, twitter: null,
      },
    }]);
    // The same email again: the match is updated in place (name replaced, omitted values untouched).
    const again = await assertPerson(c, { email_addresses: ['ann.lee@mail.acme.co.uk'], name: 'Lee-Smith, Ann' });
    assert.equal(again.json.data.id.record_id, d.id.record_id);
    assert.equal(f.people().length, 1);
    assert.deepEqual(f.people()[0]!.name, { first: 'Ann', last: 'Lee-Smith', full: 'Ann Lee-Smith' });
    assert.equal(f.people()[0]!.company, acme);
    assert.equal(f.people()[0]!.values.job_title, 'CTO');
    // GET answers the same record.
    assert.deepEqual((await c('GET', `/objects/people/records/${d.id.record_id}`)).json, again.json);
    // name is not unique: it cannot be the matching attribute.
    assertError(await c('PUT', '/objects/people/records?matching_attribute=name', personBody({ name: 'Lee, Ann' })), 400, 'matching_attribute_definition_not_unique');
  });
});

it('people assert: the matching multiselect (email_addresses) only gains values; another multiselect is replaced', async () => {
  await withFake({}, async (f) => {
    const c = client(f);
    f.addAttribute({ object: 'people', api_slug: 'tags', type: 'select', is_multiselect: true, options: ['vip', 'beta', 'churned'] });
    const created = await assertPerson(c, { email_addresses: ['a@acme.com', 'b@acme.com'], tags: ['vip', 'beta'] });
    assert.equal(created.status, 200, JSON.stringify(created.json));
    const id = created.json.data.id.record_id;
    // Sending one of its emails keeps the other ("existing values will not be deleted").
    await assertPerson(c, { email_addresses: ['b@acme.com'], tags: ['churned'] });
    assert.deepEqual(f.people().map((p) => [p.record_id, p.emails, p.values.tags]), [[id, ['a@acme.com', 'b@acme.com'], ['churned']]]);
    // A new email alongside a known one is added to the same person.
    await assertPerson(c, { email_addresses: ['c@acme.com', 'a@acme.com'] });
    assert.deepEqual(f.people().map((p) => p.emails), [['a@acme.com', 'b@acme.com', 'c@acme.com']]);
    assert.deepEqual(f.people()[0]!.values.tags, ['churned']); // omitted: untouched
    // Emails of two different people: ambiguous, refused, nothing written.
    const other = (await assertPerson(c, { email_addresses: ['z@acme.com'] })).json.data.id.record_id;
    const before = JSON.stringify(f.people());
    const both = await assertPerson(c, { email_addresses: ['a@acme.com', 'z@acme.com'] });
    assertError(both, 400, 'multiple_match_results');
    assert.match(both.json.message, new RegExp(`${id}.*${other}|${other}.*${id}`));
    assert.equal(JSON.stringify(f.people()), before);
    // Without the matching attribute's value: refused.
    assertError(await assertPerson(c, { name: 'Lee, Ann' }), 400, 'missing_value');
  });
});

it('people POST: a taken email is a uniqueness_conflict naming the person, and nothing is written (no company either)', async () => {
  await withFake({}, async (f) => {
    const c = client(f);
    const first = await c('POST', '/objects/people/records', personBody({ email_addresses: ['ann@acme.com'] }));
    assert.equal(first.status, 200, JSON.stringify(first.json));
    assert.deepEqual(first.json.data.values.name, []); // no name given: no value
    const companies = f.companies().length;
    const taken = await c('POST', '/objects/people/records', personBody({ email_addresses: ['new@beta.io', 'ann@acme.com'], name: 'Lee, Ann' }));
    assertError(taken, 400, 'uniqueness_conflict');
    assert.ok(taken.json.message.includes(first.json.data.id.record_id));
    assert.equal(f.people().length, 1);
    assert.equal(f.companies().length, companies); // beta.io got no company: the write did not land
    // PATCH adding another person's email: the same conflict.
    const second = (await c('POST', '/objects/people/records', personBody({ email_addresses: ['bo@acme.com'] }))).json.data.id.record_id;
    assertError(await c('PATCH', `/objects/people/records/${second}`, personBody({ email_addresses: ['ann@acme.com'] })), 400, 'uniqueness_conflict');
  });
});

it('people PATCH by id: emails are prepended, name and company replaced, an unknown id is a 404', async () => {
  await withFake({ autoCompany: false }, async (f) => {
    const c = client(f);
    const acme = f.addCompany({ name: 'Acme', domains: ['acme.com'] });
    const beta = f.addCompany({ name: 'Beta', domains: ['beta.io'] });
    const id = f.addPerson({ email_addresses: 'ann@acme.com', name: 'Lee, Ann', company: acme });
    const r = await c('PATCH', `/objects/people/records/${id}`, personBody({
      email_addresses: ['ann@beta.io'], name: { first_name: 'Ann', last_name: 'Lee', full_name: 'Dr Ann Lee' },
      company: [{ target_object: 'companies', target_record_id: beta }],
    }));
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.deepEqual(f.people().map((p) => [p.emails, p.name, p.company]), [[['ann@beta.io', 'ann@acme.com'], { first: 'Ann', last: 'Lee', full: 'Dr Ann Lee' }, beta]]);
    await c('PATCH', `/objects/people/records/${id}`, personBody({ company: [] }));
    assert.equal(f.people()[0]!.company, null);
    assertError(await c('PATCH', '/objects/people/records/00000000-0000-4000-8000-000000000000', personBody({ job_title: 'x' })), 404, 'not_found');
  });
});

it('people query: the sync\'s $or of shorthand emails, the verbose form, $and, and every email property and operator', async () => {
  await withFake({ autoCompany: false }, async (f) => {
    const c = client(f);
    f.addPerson({ email_addresses: ['ann@acme.com'], name: 'Lee, Ann' });
    f.addPerson({ email_addresses: ['bo@beta.io', 'bo@app.beta.co.uk'], name: 'Bo' });
    f.addPerson({ email_addresses: ['cy@gamma.dev'] });
    assert.deepEqual(await queryPeople(c, { $or: [{ email_addresses: 'ann@acme.com' }, { email_addresses: 'cy@gamma.dev' }, { email_addresses: 'nobody@x.com' }] }), ['ann@acme.com', 'cy@gamma.dev']);
    assert.deepEqual(await queryPeople(c, { email_addresses: { email_address: { $eq: 'bo@app.beta.co.uk' } } }), ['bo@beta.io,bo@app.beta.co.uk']);
    assert.deepEqual(await queryPeople(c, { $or: [{ email_addresses: { email_address: { $eq: 'ann@acme.com' } } }, { email_addresses: 'bo@beta.io' }] }), ['ann@acme.com', 'bo@beta.io,bo@app.beta.co.uk']);
    assert.deepEqual(await queryPeople(c, { $and: [{ email_addresses: 'ann@acme.com' }, { name: 'Ann Lee' }] }), ['ann@acme.com']);
    assert.deepEqual(await queryPeople(c, { $and: [{ email_addresses: 'ann@acme.com' }, { name: 'Bo' }] }), []);
    assert.deepEqual(await queryPeople(c, { $not: { email_addresses: 'ann@acme.com' } }), ['bo@beta.io,bo@app.beta.co.uk', 'cy@gamma.dev']);
    assert.deepEqual(await queryPeople(c, { email_addresses: { $eq: 'cy@gamma.dev' } }), ['cy@gamma.dev']); // operator on the attribute: email_address
    assert.deepEqual(await queryPeople(c, { email_addresses: { email_domain: 'app.beta.co.uk' } }), ['bo@beta.io,bo@app.beta.co.uk']);
    assert.deepEqual(await queryPeople(c, { email_addresses: { email_root_domain: { $eq: 'beta.co.uk' } } }), ['bo@beta.io,bo@app.beta.co.uk']);
    assert.deepEqual(await queryPeople(c, { email_addresses: { email_local_specifier: { $eq: 'ann' } } }), ['ann@acme.com']);
    assert.deepEqual(await queryPeople(c, { email_addresses: { email_address: { $contains: 'GAMMA' } } }), ['cy@gamma.dev']);
    assert.deepEqual(await queryPeople(c, { email_addresses: { email_address: { $starts_with: 'bo@' } } }), ['bo@beta.io,bo@app.beta.co.uk']);
    assert.deepEqual(await queryPeople(c, { email_addresses: { email_domain: { $ends_with: '.io' } } }), ['bo@beta.io,bo@app.beta.co.uk']);
    assert.deepEqual(await queryPeople(c, { email_addresses: { email_domain: { $ends_with: '.dev', $starts_with: 'gam' } } }), ['cy@gamma.dev']);
  });
});

it('people query: email filters the docs do not list are a 400 filter_error', async () => {
  await withFake({}, async (f) => {
    const c = client(f);
    f.addPerson({ email_addresses: ['ann@acme.com'] });
    const refused = async (filter: unknown) => {
      const r = await c('POST', '/objects/people/records/query', { filter });
      assertError(r, 400, 'filter_error');
    };
    await refused({ email_addresses: { $in: ['ann@acme.com'] } });
    await refused({ email_addresses: { email_address: { $in: ['ann@acme.com'] } } });
    await refused({ email_addresses: { $not_empty: true } });
    await refused({ email_addresses: { original_email_address: 'ann@acme.com' } });
    await refused({ email_addresses: { domain: 'acme.com' } });
    await refused({ email_addresses: { email_address: { $gt: 'a' } } });
    await refused({ email_addresses: { email_address: { $eq: 7 } } });
    await refused({ email_addresses: 7 });
    await refused({ email_addresses: {} });
    await refused({ $or: { email_addresses: 'ann@acme.com' } });
    await refused({ phone_numbers: '+15558675309' });
    assertError(await c('POST', '/objects/people/records/query', { filter: { emails: 'ann@acme.com' } }), 400, 'unknown_filter_attribute_slug');
  });
});

it('people emails: kept exactly as written (no documented normalisation), so case counts for $eq, uniqueness and matching', async () => {
  await withFake({}, async (f) => {
    const c = client(f);
    const r = await c('POST', '/objects/people/records', personBody({ email_addresses: [{ email_address: 'Ann.Lee@Mail.Example.COM' }] }));
    assert.equal(r.status, 200, JSON.stringify(r.json));
    const e = r.json.data.values.email_addresses[0];
    assert.deepEqual(
      [e.email_address, e.original_email_address, e.email_domain, e.email_root_domain, e.email_local_specifier],
      ['Ann.Lee@Mail.Example.COM', 'Ann.Lee@Mail.Example.COM', 'Mail.Example.COM', 'Example.COM', 'Ann.Lee'],
    );
    assert.deepEqual(await queryPeople(c, { email_addresses: 'ann.lee@mail.example.com' }), []);
    assert.deepEqual(await queryPeople(c, { email_addresses: 'Ann.Lee@Mail.Example.COM' }), ['Ann.Lee@Mail.Example.COM']);
    assert.deepEqual(await queryPeople(c, { email_addresses: { email_address: { $contains: 'ann.lee@mail' } } }), ['Ann.Lee@Mail.Example.COM']); // $contains: case-insensitive
    // Another case of the same address is another address to the fake: no conflict, no match.
    assert.equal((await c('POST', '/objects/people/records', personBody({ email_addresses: ['ann.lee@mail.example.com'] }))).status, 200);
    await assertPerson(c, { email_addresses: ['ANN.LEE@MAIL.EXAMPLE.COM'] });
    assert.deepEqual(f.people().map((p) => p.emails), [['Ann.Lee@Mail.Example.COM'], ['ann.lee@mail.example.com'], ['ANN.LEE@MAIL.EXAMPLE.COM']]);
    // The automatic company compares domains lower-cased: all three share one company.
    assert.equal(f.companies().length, 1);
    assert.deepEqual(f.companies()[0]!.values.domains, ['mail.example.com']);
    assert.deepEqual(new Set(f.people().map((p) => p.company)), new Set([f.companies()[0]!.record_id]));
  });
});

it('people emails: what is no valid address is a 400 "is not a valid email address", and writes nothing', async () => {
  await withFake({}, async (f) => {
    const c = client(f);
    const bad: unknown[] = [
      'ann', 'ann@', '@acme.com', 'ann@acme', 'ann@@acme.com', 'ann@acme..com', '.ann@acme.com', 'ann.@acme.com', 'a..b@acme.com',
      'ann lee@acme.com', ' ann@acme.com', 'ann@acme.com ', '"ann"@acme.com', 'ann@-acme.com', 'ann@acme.c', 'ann@[10.0.0.1]',
      'ann@acme.com/x', 'anné@acme.com', 'ann@bücher.de', `${'a'.repeat(65)}@acme.com`, 'Ann <ann@acme.com>', 7, null,
      { email_address: 7 }, { email: 'ann@acme.com' }, { email_address: 'ann@acme.com', email_domain: 'acme.com' },
    ];
    for (const v of bad) {
      const r = await c('POST', '/objects/people/records', personBody({ email_addresses: [v] }));
      assertError(r, 400, 'validation_type');
    }
    assert.match((await c('POST', '/objects/people/records', personBody({ email_addresses: ['ann@acme'] }))).json.message, /"ann@acme" is not a valid email address/);
    // A multiselect takes an array only.
    assertError(await c('POST', '/objects/people/records', personBody({ email_addresses: 'ann@acme.com' })), 400, 'validation_type');
    assert.equal(f.people().length, 0);
    assert.equal(f.companies().length, 0);
    // Valid: atext specials, subdomains, punycode, +tags.
    for (const ok of ["o'neil+stripe@sub.acme.co.uk", 'x_y-z.1@xn--bcher-kva.de', "!#$%&*/=?^`{|}~@acme.io"]) {
      const r = await c('POST', '/objects/people/records', personBody({ email_addresses: [ok] }));
      assert.equal(r.status, 200, `${ok}: ${JSON.stringify(r.json)}`);
      const e = r.json.data.values.email_addresses[0];
      assert.equal(`${e.email_local_specifier}@${e.email_domain}`, ok);
    }
    assert.equal(f.people().length, 3);
  });
});

it('people name: object form needs all three parts, the string form is "Last, First"; filters by part', async () => {
  await withFake({ autoCompany: false }, async (f) => {
    const c = client(f);
    const write = (name: unknown, email: string) => c('POST', '/objects/people/records', personBody({ email_addresses: [email], name }));
    const read = async (name: unknown, email: string) => {
      const r = await write(name, email);
      assert.equal(r.status, 200, JSON.stringify(r.json));
      const n = r.json.data.values.name[0];
      return [n.first_name, n.last_name, n.full_name];
    };
    assert.deepEqual(await read({ first_name: 'John', last_name: 'Smith', full_name: 'John Smith' }, 'a@a.com'), ['John', 'Smith', 'John Smith']);
    assert.deepEqual(await read([{ first_name: 'Jo', last_name: '', full_name: 'Jo (CEO)' }], 'b@a.com'), ['Jo', '', 'Jo (CEO)']); // parts as given
    assert.deepEqual(await read('Smith, John', 'c@a.com'), ['John', 'Smith', 'John Smith']);
    assert.deepEqual(await read('Cher', 'd@a.com'), ['Cher', '', 'Cher']); // no comma: all first name
    assert.deepEqual(await read('Smith, John, Jr.', 'e@a.com'), ['John, Jr.', 'Smith', 'John, Jr. Smith']); // further commas: first name
    assert.deepEqual(await read(['de la Cruz, María'], 'f@a.com'), ['María', 'de la Cruz', 'María de la Cruz']);
    for (const bad of [
      { first_name: 'John', last_name: 'Smith' }, { first_name: 'John', full_name: 'John' }, { first_name: 'John', last_name: null, full_name: 'John' },
      { first_name: 'John', last_name: 'Smith', full_name: 'John Smith', middle_name: 'Q' }, { value: 'John Smith' }, { full_name: 7 }, 7,
      [{ first_name: 'A', last_name: 'B', full_name: 'A B' }, { first_name: 'C', last_name: 'D', full_name: 'C D' }], null,
    ]) {
      assertError(await write(bad, 'bad@a.com'), 400, 'validation_type');
    }
    assert.equal(f.people().length, 6);
    assert.deepEqual(await queryPeople(c, { name: 'John Smith' }), ['a@a.com', 'c@a.com']); // implicit: full_name
    assert.deepEqual(await queryPeople(c, { name: { first_name: { $starts_with: 'Jo' } } }), ['a@a.com', 'b@a.com', 'c@a.com', 'e@a.com']);
    assert.deepEqual(await queryPeople(c, { name: { last_name: { $not_empty: false } } }), ['b@a.com', 'd@a.com']);
    assert.deepEqual(await queryPeople(c, { name: { last_name: { $eq: 'Smith' }, first_name: { $contains: 'JR' } } }), ['e@a.com']);
    assertError(await c('POST', '/objects/people/records/query', { filter: { name: { first_name: { $in: ['John'] } } } }), 400, 'filter_error');
    assertError(await c('POST', '/objects/people/records/query', { filter: { name: { middle_name: 'Q' } } }), 400, 'filter_error');
    // Sorting by a part, as the spec's example does (names of one case: Attio's collation is not documented).
    const sorted = await c('POST', '/objects/people/records/query', { sorts: [{ attribute: 'name', field: 'first_name', direction: 'desc' }], filter: { name: { last_name: 'Smith' } } });
    assert.deepEqual(sorted.json.data.map((p: any) => p.values.name[0].first_name), ['John, Jr.', 'John', 'John']);
  });
});

it('people company: by id, by domains, by a domain string; a missing record, another object or another form is refused', async () => {
  await withFake({ autoCompany: false }, async (f) => {
    const c = client(f);
    f.addAttribute({ api_slug: 'stripe_customer_id', type: 'text' });
    const acme = f.addCompany({ name: 'Acme', domains: ['acme.com', 'acme.io'], stripe_customer_id: 'cus_1' });
    f.addCompany({ name: 'Twin A', stripe_customer_id: 'cus_twin' });
    f.addCompany({ name: 'Twin B', stripe_customer_id: 'cus_twin' });
    let n = 0;
    const write = (company: unknown) => c('POST', '/objects/people/records', personBody({ email_addresses: [`p${++n}@x.com`], company }));
    const resolves = async (company: unknown) => {
      const r = await write(company);
      assert.equal(r.status, 200, `${JSON.stringify(company)}: ${JSON.stringify(r.json)}`);
      assert.deepEqual(r.json.data.values.company.map((v: any) => [v.target_object, v.target_record_id]), [['companies', acme]]);
    };
    await resolves([{ target_object: 'companies', target_record_id: acme }]);
    await resolves({ target_object: 'companies', target_record_id: acme }); // single-value: bare value
    await resolves([{ target_object: r0(await c('GET', '/objects/companies/attributes')), target_record_id: acme }]); // object by ID
    await resolves([{ target_object: 'companies', domains: [{ domain: 'acme.io' }] }]);
    await resolves([{ target_object: 'companies', domains: ['ACME.com'] }]);
    await resolves([{ target_object: 'companies', stripe_customer_id: ['cus_1'] }]);
    await resolves([{ target_object: 'companies', name: ['Acme'] }]); // any text attribute matching exactly one record
    await resolves('acme.com');
    await resolves(['https://acme.io/about']);

    const people = f.people().length;
    const refused = async (company: unknown, pattern?: RegExp) => {
      const r = await write(company);
      assertError(r, 400, r.json?.code === 'value_not_found' ? 'value_not_found' : 'validation_type');
      if (pattern) assert.match(r.json.message, pattern);
    };
    // The record must exist ("the write will fail if the target record does not exist").
    await refused([{ target_object: 'companies', target_record_id: '00000000-0000-4000-8000-000000000000' }], /no companies record\(s\) match record ID/);
    await refused([{ target_object: 'companies', target_record_id: 'not-a-uuid' }]);
    await refused([{ target_object: 'companies', domains: [{ domain: 'nobody.com' }] }], /no companies record/);
    await refused('nobody.com', /no companies record/);
    await refused([{ target_object: 'companies', stripe_customer_id: ['cus_twin'] }], /2 companies record/); // exactly one must match
    await refused([{ target_object: 'companies', domains: [{ domain: 'acme.com' }, { domain: 'acme.io' }] }]);
    await refused([{ target_object: 'companies', domains: { domain: 'acme.com' } }]);
    await refused([{ target_object: 'companies', nothing: ['x'] }]);
    await refused([{ target_object: 'companies', name: ['acme'] }], /no companies record/); // text matches exactly
    await refused([{ target_object: 'companies', description: [7] }]); // a text attribute takes a string
    await refused([{ target_record_id: acme }], /^Missing target_object on record reference value$/);
    await refused([{ target_object: 'people', target_record_id: acme }], /only allows records of companies/);
    await refused([{ target_object: 'deals', target_record_id: acme }]);
    await refused([{ target_object: 'companies', target_record_id: acme, domains: ['acme.com'] }]);
    await refused([{ target_object: 'companies', target_record_reference: { match: { domains: 'acme.com' } } }], /not implemented by the fake/);
    await refused([{ target_object: 'companies', target_record_id: acme }, { target_object: 'companies', domains: ['acme.io'] }], /single-value/);
    await refused(acme); // a record id string is read as a domain, and is none
    assert.equal(f.people().length, people);
    // Filters: target_object and target_record_id by equality, $in on the id; no shorthand.
    const other = f.addCompany({ name: 'Other' });
    f.addPerson({ email_addresses: ['o@other.com'], company: other });
    const byCompany = async (filter: unknown) => (await queryPeople(c, filter)).length;
    assert.equal(await byCompany({ company: { target_object: 'companies', target_record_id: acme } }), people);
    assert.equal(await byCompany({ company: { target_object: 'companies', target_record_id: { $in: [acme, other] } } }), people + 1);
    assert.equal(await byCompany({ company: { target_record_id: { $eq: other } } }), 1);
    assertError(await c('POST', '/objects/people/records/query', { filter: { company: acme } }), 400, 'filter_error');
    assertError(await c('POST', '/objects/people/records/query', { filter: { company: { target_record_id: { $contains: 'a' } } } }), 400, 'filter_error');
    assertError(await c('POST', '/objects/people/records/query', { filter: { company: { $eq: acme } } }), 400, 'filter_error');
  });
});

// The companies object's ID, from its attribute list.
function r0(r: Reply): string {
  return r.json.data[0].id.object_id;
}

it('people company: a new person without one gets the company of its email domain, matched or created', async () => {
  await withFake({}, async (f) => {
    const c = client(f);
    const acme = f.addCompany({ name: 'Acme', domains: ['other.org', 'acme.com'] });
    // Matched: a company whose domains hold the email's domain.
    const ann = await assertPerson(c, { email_addresses: ['ann@acme.com'] });
    assert.equal(ann.status, 200, JSON.stringify(ann.json));
    assert.deepEqual(ann.json.data.values.company.map((v: any) => [v.target_object, v.target_record_id, v.created_by_actor.type]), [['companies', acme, 'system']]);
    assert.equal(f.companies().length, 1);
    // Created: no company has beta.io, so one is made with that domain only.
    const bo = await c('POST', '/objects/people/records', personBody({ email_addresses: ['bo@Beta.IO', 'bo@acme.com'], name: 'Bo' }));
    assert.equal(bo.status, 200, JSON.stringify(bo.json));
    const beta = f.companies().find((x) => x.record_id !== acme)!;
    assert.deepEqual(beta.values, { name: null, domains: ['beta.io'], description: null });
    assert.equal(f.people().find((p) => p.emails[0] === 'bo@Beta.IO')!.company, beta.record_id); // the first email decides
    const betaJson = (await c('GET', `/objects/companies/records/${beta.record_id}`)).json.data;
    assert.equal(betaJson.values.domains[0].created_by_actor.type, 'system');
    // The next beta.io person is matched to it: no second company.
    await assertPerson(c, { email_addresses: ['cy@beta.io'] });
    assert.equal(f.companies().length, 2);
    assert.equal(f.people().find((p) => p.emails[0] === 'cy@beta.io')!.company, beta.record_id);
    // A subdomain is another domain (exact match only).
    await assertPerson(c, { email_addresses: ['di@eu.acme.com'] });
    assert.equal(f.companies().length, 3);
    assert.deepEqual(f.companies().at(-1)!.values.domains, ['eu.acme.com']);
    // Personal mailboxes get no company.
    await assertPerson(c, { email_addresses: ['ed@gmail.com'] });
    await c('POST', '/objects/people/records', personBody({ email_addresses: ['fy@Outlook.com'] }));
    assert.equal(f.companies().length, 3);
    assert.deepEqual(f.people().filter((p) => /gmail|outlook/i.test(p.emails[0]!)).map((p) => p.company), [null, null]);
    // A person without an email gets none either.
    await c('POST', '/objects/people/records', personBody({ name: 'Nobody' }));
    assert.equal(f.people().at(-1)!.company, null);
    // Updating an existing person never generates one.
    const gus = f.addPerson({ email_addresses: ['gus@delta.dev'] });
    await assertPerson(c, { email_addresses: ['gus@delta.dev'], job_title: 'CEO' });
    await c('PATCH', `/objects/people/records/${gus}`, personBody({ email_addresses: ['gus2@delta.dev'] }));
    assert.equal(f.companies().length, 3);
    assert.equal(f.people().find((p) => p.record_id === gus)!.company, null);
  });
});

it('people company: given in the write (even empty), or with autoCompany: false, no company is generated or matched', async () => {
  await withFake({}, async (f) => {
    const c = client(f);
    const acme = f.addCompany({ name: 'Acme', domains: ['acme.com'] });
    await assertPerson(c, { email_addresses: ['ann@beta.io'], company: [{ target_object: 'companies', target_record_id: acme }] });
    await c('POST', '/objects/people/records', personBody({ email_addresses: ['bo@gamma.dev'], company: [] }));
    await c('POST', '/objects/people/records', personBody({ email_addresses: ['cy@acme.com'], company: [] }));
    assert.deepEqual(f.people().map((p) => p.company), [acme, null, null]);
    assert.deepEqual(f.companies().map((x) => x.record_id), [acme]);
    // Helpers set exactly what they are given.
    f.addPerson({ email_addresses: ['di@acme.com'] });
    assert.equal(f.people().at(-1)!.company, null);
  });
  await withFake({ autoCompany: false }, async (f) => {
    const c = client(f);
    f.addCompany({ name: 'Acme', domains: ['acme.com'] });
    await assertPerson(c, { email_addresses: ['ann@acme.com'] });
    await c('POST', '/objects/people/records', personBody({ email_addresses: ['bo@beta.io'] }));
    assert.deepEqual(f.people().map((p) => p.company), [null, null]);
    assert.equal(f.companies().length, 1);
  });
});

it('companyTeam: companies serve team, the inverse of person.company, kept in step; writing team is refused', async () => {
  await withFake({ companyTeam: true }, async (f) => {
    const c = client(f);
    const attrs = (await c('GET', '/objects/companies/attributes')).json.data;
    const team = attrs.find((a: any) => a.api_slug === 'team');
    const company = (await c('GET', '/objects/people/attributes')).json.data.find((a: any) => a.api_slug === 'company');
    assert.deepEqual([team.type, team.is_multiselect, team.config.record_reference.allowed_object_ids], ['record-reference', true, [company.id.object_id]]);
    assert.deepEqual(team.relationship.id, company.id);
    assert.deepEqual(company.relationship.id, team.id);
    const acme = f.addCompany({ name: 'Acme', domains: ['acme.com'] });
    const beta = f.addCompany({ name: 'Beta', domains: ['beta.io'] });
    const ann = (await assertPerson(c, { email_addresses: ['ann@acme.com'] })).json.data.id.record_id; // automatic company
    const bo = f.addPerson({ email_addresses: ['bo@x.com'], company: acme });
    const teamOf = (id: string) => f.companies().find((x) => x.record_id === id)!.values.team;
    assert.deepEqual(teamOf(acme), [ann, bo]);
    const json = (await c('GET', `/objects/companies/records/${acme}`)).json.data.values.team;
    assert.deepEqual(json.map((v: any) => [v.attribute_type, v.target_object, v.target_record_id]), [['record-reference', 'people', ann], ['record-reference', 'people', bo]]);
    await c('PATCH', `/objects/people/records/${ann}`, personBody({ company: [{ target_object: 'companies', target_record_id: beta }] }));
    assert.deepEqual([teamOf(acme), teamOf(beta)], [[bo], [ann]]);
    assert.deepEqual(await queryPeople(c, { company: { target_object: 'companies', target_record_id: beta } }), ['ann@acme.com']);
    const acmes = await c('POST', '/objects/companies/records/query', { filter: { team: { target_object: 'people', target_record_id: bo } } });
    assert.deepEqual(acmes.json.data.map((x: any) => x.id.record_id), [acme]);
    f.setPersonValues(bo, { company: null });
    assert.deepEqual(teamOf(acme), []);
    assert.equal((await c('DELETE', `/objects/people/records/${ann}`)).status, 200);
    assert.deepEqual(teamOf(beta), []);
    for (const teamValue of [[{ target_object: 'people', target_record_id: bo }], []]) {
      assertError(await c('PATCH', `/objects/companies/records/${acme}`, { data: { values: { team: teamValue } } }), 400, 'validation_type');
    }
  });
});

it('people helpers: addPerson, setPersonValues, people(), deletePerson; deleting a company empties its people\'s company', async () => {
  await withFake({}, async (f) => {
    const c = client(f);
    const acme = f.addCompany({ name: 'Acme', domains: ['acme.com'] });
    const id = f.addPerson({ email_addresses: 'ann@acme.com', name: { first_name: 'Ann', last_name: 'Lee', full_name: 'Ann Lee' }, company: acme, job_title: 'CTO' });
    const bo = f.addPerson({ email_addresses: ['bo@acme.com'], name: null, company: { target_object: 'companies', target_record_id: acme } });
    assert.deepEqual(f.people().map((p) => [p.emails, p.name, p.company]), [[['ann@acme.com'], { first: 'Ann', last: 'Lee', full: 'Ann Lee' }, acme], [['bo@acme.com'], null, acme]]);
    const got = (await c('GET', `/objects/people/records/${id}`)).json.data;
    assert.equal(got.values.name[0].created_by_actor.type, 'workspace-member');
    f.setPersonValues(id, { email_addresses: ['ann@beta.io', 'ann@acme.com'], name: 'Lee, Annie' });
    assert.deepEqual(f.people()[0]!.emails, ['ann@beta.io', 'ann@acme.com']);
    assert.deepEqual(f.people()[0]!.name, { first: 'Annie', last: 'Lee', full: 'Annie Lee' });
    assert.equal(f.people()[0]!.values.job_title, 'CTO'); // untouched
    assert.throws(() => f.addPerson({ email_addresses: ['no-at'] }), /fake-attio: .*not a valid email address/);
    assert.throws(() => f.addPerson({ company: '00000000-0000-4000-8000-000000000000' }), /fake-attio: .*must exist/);
    assert.throws(() => f.addPerson({ nickname: 'x' }), /fake-attio: unknown attribute "nickname"/);
    assert.throws(() => f.setPersonValues('00000000-0000-4000-8000-000000000000', {}), /fake-attio: no person/);
    // Helpers bypass uniqueness, as the companies ones do.
    f.addPerson({ email_addresses: ['bo@acme.com'] });
    assert.equal(f.people().length, 3);
    f.deletePerson(f.people()[2]!.record_id);
    assert.equal(f.people().length, 2);
    // Deleting the company leaves no reference to it.
    assert.equal((await c('DELETE', `/objects/companies/records/${acme}`)).status, 200);
    assert.deepEqual(f.people().map((p) => p.company), [null, null]);
    assert.deepEqual((await c('GET', `/objects/people/records/${bo}`)).json.data.values.company, []);
    // Not writable through the fake: phone numbers and locations (documented, not modelled).
    assertError(await c('PATCH', `/objects/people/records/${bo}`, personBody({ phone_numbers: [{ original_phone_number: '+15558675309', country_code: 'US' }] })), 400, 'validation_type');
    assertError(await c('PATCH', `/objects/people/records/${bo}`, personBody({ primary_location: 'Cupertino' })), 400, 'validation_type');
    // DELETE a person, then 404.
    assert.equal((await c('DELETE', `/objects/people/records/${bo}`)).status, 200);
    assertError(await c('GET', `/objects/people/records/${bo}`), 404, 'not_found');
  });
});

it('people requests are logged and counted like companies ones; attributes can be added to people', async () => {
  await withFake({}, async (f) => {
    const c = client(f);
    await c('GET', '/objects/people/attributes');
    await queryPeople(c, { email_addresses: 'x@y.com' });
    await assertPerson(c, { email_addresses: ['x@y.com'] });
    await c('POST', '/objects/people/records', personBody({ email_addresses: ['x@y.com'] })); // conflict
    assert.deepEqual(f.requests.map((r) => [r.method, r.path, r.status]), [
      ['GET', '/v2/objects/people/attributes', 200], ['POST', '/v2/objects/people/records/query', 200],
      ['PUT', '/v2/objects/people/records', 200], ['POST', '/v2/objects/people/records', 400],
    ]);
    assert.equal(f.requests[2]!.query, 'matching_attribute=email_addresses');
    assert.deepEqual(f.stats(), { total: 4, reads: 2, writes: 2, rateLimited: 0, faults: 0 });
    const made = await c('POST', '/objects/people/attributes', {
      data: { title: 'Stripe customer', description: null, api_slug: 'stripe_customer_id', type: 'text', is_required: false, is_unique: false, is_multiselect: false, config: {} },
    });
    assert.equal(made.status, 200, JSON.stringify(made.json));
    assert.equal(made.json.data.id.object_id, (await c('GET', '/objects/people/attributes')).json.data[0].id.object_id);
    assert.ok(!f.attributes().some((a) => a.api_slug === 'stripe_customer_id')); // attributes() lists companies'
    const unique = await c('POST', '/objects/people/attributes', {
      data: { title: 'U', description: null, api_slug: 'u', type: 'text', is_required: false, is_unique: true, is_multiselect: false, config: {} },
    });
    assertError(unique, 400, 'validation_type');
  });
});
