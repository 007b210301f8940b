// The GitHub workflows, checked as GitHub checks them (its workflow schema, offline) and for what
// the schema cannot see: schedule, manual dry run, concurrency, permissions, secrets.
import { validateWorkflow } from '@action-validator/core';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseConfig } from '../sync.ts';
import { WORKFLOW_NODE_FLAGS } from './harness.ts';

const read = (path: string) => readFileSync(new URL(`../${path}`, import.meta.url), 'utf8');
const syncYml = read('.github/workflows/sync.yml');
const ciYml = read('.github/workflows/ci.yml');
const sync: any = parse(syncYml);
const ci: any = parse(ciYml);
const syncStep = sync.jobs.sync.steps.find((s: { run?: string }) => s.run?.includes('sync.ts'));

describe('GitHub workflow schema', () => {
  it.each([
    ['sync.yml', syncYml],
    ['ci.yml', ciYml],
  ])('%s is a valid workflow', (_name, source) => {
    expect(validateWorkflow(source).errors).toEqual([]);
  });

  it('the validator does catch a broken workflow', () => {
    const broken = syncYml.replace('runs-on: ubuntu-latest', 'runs_on: ubuntu-latest');
    expect(validateWorkflow(broken).errors.length).toBeGreaterThan(0);
  });
});

describe('the sync workflow', () => {
  it('is scheduled daily at an odd minute, not a busy :00/:15/:30/:45 slot', () => {
    const crons: string[] = sync.on.schedule.map((s: { cron: string }) => s.cron);
    expect(crons).toHaveLength(1);
    const [minute, hour] = crons[0]!.split(/\s+/);
    expect(minute).toMatch(/^\d+$/);
    expect([0, 15, 30, 45]).not.toContain(Number(minute));
    expect(hour).toMatch(/^\d+$/);
  });

  it('has a manual trigger whose dry_run input reaches the sync as DRY_RUN', () => {
    const input = sync.on.workflow_dispatch.inputs.dry_run;
    expect(input).toMatchObject({ type: 'boolean', default: false });
    const expression: string = syncStep.env.DRY_RUN;
    expect(expression).toMatch(/^\$\{\{\s*inputs\.dry_run && '1' \|\| '0'\s*\}\}$/);
    // What the expression yields for a ticked box, an unticked one, and the schedule (no input):
    const keys = { STRIPE_API_KEY: 'rk_live_x', ATTIO_API_KEY: 'y' };
    expect(parseConfig([], { ...keys, DRY_RUN: '1' }).dryRun).toBe(true);
    expect(parseConfig([], { ...keys, DRY_RUN: '0' }).dryRun).toBe(false);
  });

  it('never runs twice at once and never cancels a run mid-write', () => {
    expect(sync.concurrency.group).toEqual(expect.any(String));
    expect(sync.concurrency['cancel-in-progress']).toBe(false);
  });

  it('has least-privilege permissions, a timeout, Node 24 and npm ci', () => {
    expect(sync.permissions).toEqual({ contents: 'read' });
    expect(sync.jobs.sync.permissions).toBeUndefined();
    expect(sync.jobs.sync['timeout-minutes']).toBeGreaterThan(0);
    const setupNode = sync.jobs.sync.steps.find((s: { uses?: string }) => s.uses?.startsWith('actions/setup-node'));
    expect(String(setupNode.with['node-version'])).toBe('24');
    expect(sync.jobs.sync.steps.some((s: { run?: string }) => s.run?.startsWith('npm ci'))).toBe(true);
  });

  it('runs sync.ts on Node 24 as it is, which only erasable TypeScript allows', () => {
    // Node strips types but cannot run enums, namespaces or constructor parameter properties; the
    // typecheck rejects them under erasableSyntaxOnly, so the workflow's `node sync.ts` keeps working.
    // The tests and the bench start the sync with the same flags (SYNC_NODE_ARGS).
    expect(syncStep.run).toMatch(new RegExp(`^${['node', ...WORKFLOW_NODE_FLAGS, 'sync.ts'].join(' ')}( |$)`));
    expect(JSON.parse(read('tsconfig.json')).compilerOptions.erasableSyntaxOnly).toBe(true);
  });

  it('stops starting writes well before the job times out, so a long first run ends green and the next goes on', () => {
    const args = syncStep.run.split(' ');
    const budget = Number(args[args.indexOf('--max-minutes') + 1]);
    expect(parseConfig(args.slice(args.indexOf('sync.ts') + 1), { STRIPE_API_KEY: 'rk_live_x', ATTIO_API_KEY: 'a' }).maxMinutes).toBe(budget);
    // Writes under way finish after the budget (at most the retries' 31 s each), and setup and reading come before it.
    expect(sync.jobs.sync['timeout-minutes'] - budget).toBeGreaterThanOrEqual(5);
  });

  it('passes exactly the secrets the README lists, and nothing else', () => {
    const used = [...syncYml.matchAll(/secrets\.([A-Z0-9_]+)/g)].map((m) => m[1]).sort();
    const readme = read('README.md');
    const section = readme.slice(readme.indexOf('## GitHub Actions'), readme.indexOf('\n## ', readme.indexOf('## GitHub Actions') + 5));
    const sentence = section.split('\n\n').find((p) => p.includes('repository secrets'))!;
    const listed = [...sentence.matchAll(/`([A-Z0-9_]+)`/g)].map((m) => m[1]).sort();
    expect(listed.length).toBeGreaterThan(0);
    expect(used).toEqual(listed);
    for (const name of used) expect(syncStep.env[name!]).toBe(`\${{ secrets.${name} }}`);
  });
});

describe('the CI workflow', () => {
  it('typechecks and tests on push and pull request, read-only', () => {
    expect(Object.keys(ci.on).sort()).toEqual(['pull_request', 'push']);
    expect(ci.permissions).toEqual({ contents: 'read' });
    const runs = ci.jobs.test.steps.map((s: { run?: string }) => s.run).filter(Boolean);
    expect(runs).toEqual(['npm ci --no-audit --no-fund', 'npm run typecheck', 'npm test']);
  });
});
