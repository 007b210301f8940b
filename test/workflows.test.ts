// The GitHub workflows, checked as GitHub checks them (its workflow schema, offline) and for what
// the schema cannot see: schedule, manual dry run, concurrency, permissions, secrets, the audit log.
// Also Dependabot's configuration and the licence.
import { validateWorkflow } from '@action-validator/core';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseConfig, SYNC } from '../sync.ts';
import { WORKFLOW_NODE_FLAGS } from './harness.ts';

const read = (path: string) => readFileSync(new URL(`../${path}`, import.meta.url), 'utf8');
const syncYml = read('.github/workflows/sync.yml');
const ciYml = read('.github/workflows/ci.yml');
const sync: any = parse(syncYml);
const ci: any = parse(ciYml);
const syncStep = sync.jobs.sync.steps.find((s: { run?: string }) => s.run?.includes('sync.ts'));
const dependabotYml = read('.github/dependabot.yml');
const dependabot: any = parse(dependabotYml);

type Step = { uses?: string; run?: string; if?: string; with?: Record<string, unknown> };
const stepsOf = (workflow: any): Step[] => Object.values(workflow.jobs).flatMap((job: any) => job.steps);
/** The value after `flag` in a step's command line, e.g. `--audit-log` -> `audit.jsonl`. */
const flagValue = (run: string, flag: string) => {
  const args = run.trim().split(/\s+/);
  return args.includes(flag) ? args[args.indexOf(flag) + 1] : undefined;
};

/**
 * What GitHub checks of a dependabot.yml, as far as this repository uses it: the part of SchemaStore's
 * dependabot-2.0 schema (the one editors validate against) for the keys, the required ones and their
 * values. No JSON Schema validator is installed, and the workflow validator knows only workflows.
 */
function dependabotErrors(config: any): string[] {
  const errors: string[] = [];
  const unknownKeys = (where: string, object: object, known: string[]) => {
    for (const key of Object.keys(object)) if (!known.includes(key)) errors.push(`${where}: unknown key ${key}`);
  };
  const ecosystems = ['bun', 'bundler', 'cargo', 'composer', 'devcontainers', 'docker', 'docker-compose', 'dotnet-sdk', 'elm', 'gitsubmodule', 'github-actions', 'gomod', 'gradle', 'helm', 'maven', 'mix', 'npm', 'nuget', 'pip', 'pub', 'swift', 'terraform', 'uv'];
  const intervals = ['daily', 'weekly', 'monthly', 'quarterly', 'semiannually', 'yearly', 'cron'];
  const days = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'];
  const nonEmptyStrings = (value: unknown) =>
    Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === 'string' && v.length > 0) && new Set(value).size === value.length;
  if (typeof config !== 'object' || config === null) return ['not a mapping'];
  unknownKeys('top level', config, ['version', 'updates', 'registries', 'enable-beta-ecosystems']);
  if (config.version !== 2) errors.push('version must be 2');
  if (!Array.isArray(config.updates) || config.updates.length === 0) return [...errors, 'updates must be a non-empty list'];
  config.updates.forEach((update: any, i: number) => {
    const where = `updates[${i}]`;
    unknownKeys(where, update, ['allow', 'assignees', 'commit-message', 'cooldown', 'directories', 'directory', 'groups', 'ignore', 'insecure-external-code-execution', 'labels', 'milestone', 'open-pull-requests-limit', 'package-ecosystem', 'pull-request-branch-name', 'rebase-strategy', 'registries', 'schedule', 'target-branch', 'vendor', 'versioning-strategy']);
    if (!ecosystems.includes(update['package-ecosystem'])) errors.push(`${where}: unknown package-ecosystem ${update['package-ecosystem']}`);
    if (('directory' in update) === ('directories' in update)) errors.push(`${where}: needs directory or directories, not both`);
    if ('directory' in update && typeof update.directory !== 'string') errors.push(`${where}: directory must be a string`);
    if ('directories' in update && !nonEmptyStrings(update.directories)) errors.push(`${where}: directories must be a non-empty list`);
    const schedule = update.schedule;
    if (typeof schedule !== 'object' || schedule === null) errors.push(`${where}: needs a schedule`);
    else {
      unknownKeys(`${where}.schedule`, schedule, ['interval', 'day', 'time', 'timezone', 'cronjob']);
      if (!intervals.includes(schedule.interval)) errors.push(`${where}.schedule: unknown interval ${schedule.interval}`);
      if (schedule.interval === 'cron' && typeof schedule.cronjob !== 'string') errors.push(`${where}.schedule: cron needs a cronjob`);
      if ('day' in schedule && !days.includes(schedule.day)) errors.push(`${where}.schedule: unknown day ${schedule.day}`);
      if ('time' in schedule && !/^([01][0-9]|2[0-3]):[0-5][0-9]$/.test(String(schedule.time))) errors.push(`${where}.schedule: time must be hh:mm`);
    }
    if ('groups' in update) {
      if (typeof update.groups !== 'object' || update.groups === null || Object.keys(update.groups).length === 0) errors.push(`${where}: groups must be a non-empty mapping`);
      else for (const [name, group] of Object.entries<any>(update.groups)) {
        const at = `${where}.groups.${name}`;
        if (typeof group !== 'object' || group === null) { errors.push(`${at}: must be a mapping`); continue; }
        unknownKeys(at, group, ['applies-to', 'dependency-type', 'patterns', 'exclude-patterns', 'update-types']);
        if (!['dependency-type', 'patterns', 'exclude-patterns', 'update-types'].some((key) => key in group)) errors.push(`${at}: matches nothing`);
        for (const key of ['patterns', 'exclude-patterns', 'update-types']) if (key in group && !nonEmptyStrings(group[key])) errors.push(`${at}: ${key} must be a non-empty list`);
        if ('update-types' in group && !group['update-types'].every((t: string) => ['major', 'minor', 'patch'].includes(t))) errors.push(`${at}: update-types are major, minor, patch`);
        if ('applies-to' in group && !['version-updates', 'security-updates'].includes(group['applies-to'])) errors.push(`${at}: unknown applies-to`);
        if ('dependency-type' in group && !['development', 'production'].includes(group['dependency-type'])) errors.push(`${at}: unknown dependency-type`);
      }
    }
  });
  return errors;
}

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
  it('is scheduled daily and hourly, at odd minutes (not a busy :00/:15/:30/:45 slot) apart from each other', () => {
    const crons: string[] = sync.on.schedule.map((s: { cron: string }) => s.cron);
    expect(crons).toHaveLength(2);
    const [daily, hourly] = crons.map((cron) => cron.split(/\s+/));
    expect(daily!.slice(0, 2).every((field) => /^\d+$/.test(field))).toBe(true);
    expect(hourly!.slice(1)).toEqual(['*', '*', '*', '*']);
    for (const [minute] of [daily!, hourly!]) expect([0, 15, 30, 45]).not.toContain(Number(minute));
    expect(Math.abs(Number(daily![0]) - Number(hourly![0]))).toBeGreaterThanOrEqual(20);
  });

  it('runs incrementally (--changes-since 3h) on the hourly schedule only, in full on the daily one, and as asked by hand', () => {
    const hourly = sync.on.schedule[1].cron;
    expect(syncStep.env.CHANGES_SINCE).toBe(`\${{ github.event.schedule == '${hourly}' && '3h' || inputs.changes_since }}`);
    expect(sync.on.workflow_dispatch.inputs.changes_since).toMatchObject({ type: 'string', default: '' });
    // The step's own shell line, with `echo` for node: what the sync's command line is with and without a window.
    const argv = (changesSince: string) =>
      execFileSync('bash', ['-c', syncStep.run.replace(/^node\b/, 'printf "%s\\n"')], { env: { PATH: process.env.PATH, CHANGES_SINCE: changesSince }, encoding: 'utf8' }).trim().split('\n');
    const keys = { STRIPE_API_KEY: 'rk_live_x', ATTIO_API_KEY: 'a' };
    const full = argv('');
    const incremental = argv('3h');
    expect(incremental).toEqual([...full, '--changes-since', '3h']);
    const args = (line: string[]) => line.slice(line.indexOf('sync.ts') + 1);
    expect(parseConfig(args(full), keys, SYNC).source!.partial).toBe(false);
    expect(parseConfig(args(incremental), keys, SYNC).source!.partial).toBe(true);
    // A window typed by hand reaches the sync as one argument, whatever it holds, and the sync checks it.
    expect(args(argv('2d; rm -rf /')).slice(-2)).toEqual(['--changes-since', '2d; rm -rf /']);
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
    const args = syncStep.run.split(' ${CHANGES_SINCE')[0].split(' ');
    const budget = Number(args[args.indexOf('--max-minutes') + 1]);
    expect(parseConfig(args.slice(args.indexOf('sync.ts') + 1), { STRIPE_API_KEY: 'rk_live_x', ATTIO_API_KEY: 'a' }).maxMinutes).toBe(budget);
    // Writes under way finish after the budget (at most the retries' 31 s each), and setup and reading come before it.
    expect(sync.jobs.sync['timeout-minutes'] - budget).toBeGreaterThanOrEqual(5);
  });

  it('installs only the runtime dependencies, which are all sync.ts imports', () => {
    const install = sync.jobs.sync.steps.filter((s: Step) => s.run?.startsWith('npm ci'));
    expect(install).toHaveLength(1);
    expect(install[0].run.split(/\s+/)).toContain('--omit=dev');
    // What --omit=dev leaves out must not be something the sync loads when it runs.
    const packageJson = JSON.parse(read('package.json'));
    const imported = [...read('sync.ts').matchAll(/^import (?!type\b)[^;]*?from '([^'.][^']*)'/gm)]
      .map((m) => m[1]!)
      .filter((name) => !name.startsWith('node:'));
    expect(imported.length).toBeGreaterThan(0);
    for (const name of imported) expect(Object.keys(packageJson.dependencies)).toContain(name);
  });

  it('keeps the audit log of every run for 30 days, a red run too', () => {
    // Read off the command line, not through parseConfig: the workflow names the file, the upload takes that file.
    const file = flagValue(syncStep.run, '--audit-log');
    expect(file).toMatch(/^[\w.-]+\.jsonl$/);
    const steps: Step[] = sync.jobs.sync.steps;
    const uploads = steps.filter((s) => s.uses?.startsWith('actions/upload-artifact@'));
    expect(uploads).toHaveLength(1);
    const upload = uploads[0]!;
    expect(steps.indexOf(upload)).toBeGreaterThan(steps.indexOf(syncStep));
    expect(upload.if).toBe('always()');
    expect(upload.with).toMatchObject({ name: 'audit-log', path: file, 'retention-days': 30, 'if-no-files-found': 'ignore' });
  });

  it('links the audit log from the run summary, with the link built from the environment', () => {
    const file = flagValue(syncStep.run, '--audit-log')!;
    const steps: Step[] = sync.jobs.sync.steps;
    const upload = steps.find((s) => s.uses?.startsWith('actions/upload-artifact@'))!;
    const summaries = steps.filter((s) => s.run?.includes('GITHUB_STEP_SUMMARY'));
    expect(summaries).toHaveLength(1);
    const summary = summaries[0]!;
    expect(steps.indexOf(summary)).toBeGreaterThan(steps.indexOf(upload));
    expect(summary.if).toBe('always()');
    // No ${{ }} inside the script: the runner's variables are read by the shell, never pasted into it.
    expect(summary.run).not.toContain('${{');
    // Run the script as the runner does (bash -eo pipefail), once with the log and once without.
    const dir = mkdtempSync(join(tmpdir(), 'summary-'));
    try {
      const summaryFile = join(dir, 'summary.md');
      const env = { PATH: process.env.PATH, GITHUB_STEP_SUMMARY: summaryFile, GITHUB_SERVER_URL: 'https://github.com', GITHUB_REPOSITORY: 'acme/sync', GITHUB_RUN_ID: '42' };
      const runScript = () => execFileSync('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', summary.run!], { cwd: dir, env });
      writeFileSync(summaryFile, '');
      runScript();
      expect(readFileSync(summaryFile, 'utf8')).toBe('');
      writeFileSync(join(dir, file), '{}\n');
      runScript();
      const days = upload.with!['retention-days'];
      expect(readFileSync(summaryFile, 'utf8')).toBe(`[Audit log of this run (${days} days)](https://github.com/acme/sync/actions/runs/42#artifacts)\n`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('passes exactly the secrets the README lists, and nothing else', () => {
    const used = [...syncYml.matchAll(/secrets\.([A-Z0-9_]+)/g)].map((m) => m[1]).sort();
    const readme = read('README.md');
    const section = readme.slice(readme.indexOf('## GitHub Actions'), readme.indexOf('\n## ', readme.indexOf('## GitHub Actions') + 5));
    const paragraph = section.split('\n\n').find((p) => p.includes('repository secrets'))!;
    const sentence = paragraph.slice(paragraph.indexOf('repository secrets'), paragraph.indexOf('The workflow passes'));
    const listed = [...sentence.matchAll(/`([A-Z0-9_]+)`/g)].map((m) => m[1]).sort();
    expect(listed.length).toBeGreaterThan(0);
    expect(used).toEqual(listed);
    for (const name of used) expect(syncStep.env[name!]).toBe(`\${{ secrets.${name} }}`);
  });

  it('takes the MRR discount switches and the people switch from repository variables the README names, not secrets', () => {
    const variables = [...syncYml.matchAll(/vars\.([A-Z0-9_]+)/g)].map((m) => m[1]);
    expect(variables).toEqual(['STRIPE_MRR_DISCOUNTS', 'SYNC_PEOPLE']);
    expect(syncStep.env.STRIPE_MRR_DISCOUNTS).toBe('${{ vars.STRIPE_MRR_DISCOUNTS }}');
    expect(syncStep.env.SYNC_PEOPLE).toBe('${{ vars.SYNC_PEOPLE }}');
    expect(read('README.md')).toContain('add the repository **variable**\n   `STRIPE_MRR_DISCOUNTS`');
    expect(read('README.md')).toContain('the repository variable `SYNC_PEOPLE` to `off`');
  });
});

describe('the CI workflow', () => {
  it('typechecks, checks the formatting and tests on push and pull request, read-only', () => {
    expect(Object.keys(ci.on).sort()).toEqual(['pull_request', 'push']);
    expect(ci.permissions).toEqual({ contents: 'read' });
    const runs = ci.jobs.test.steps.map((s: { run?: string }) => s.run).filter(Boolean);
    expect(runs).toEqual(['npm ci --no-audit --no-fund', 'npm run typecheck', 'npm run format:check', 'npm test']);
  });

  it('runs on the oldest Node the package supports and on the Node the sync runs on, each to the end', () => {
    const { strategy } = ci.jobs.test;
    expect(strategy.matrix.node).toEqual([20, 24]);
    expect(strategy['fail-fast']).toBe(false);
    expect(Math.min(...strategy.matrix.node)).toBe(Number(JSON.parse(read('package.json')).engines.node.match(/\d+/)[0]));
    const syncNode = sync.jobs.sync.steps.find((s: Step) => s.uses?.startsWith('actions/setup-node')).with['node-version'];
    expect(strategy.matrix.node).toContain(Number(syncNode));
    const setupNode = ci.jobs.test.steps.filter((s: Step) => s.uses?.startsWith('actions/setup-node'));
    expect(setupNode).toHaveLength(1);
    expect(setupNode[0].with['node-version']).toMatch(/^\$\{\{\s*matrix\.node\s*\}\}$/);
  });
});

describe('both workflows', () => {
  it.each([
    ['sync.yml', sync],
    ['ci.yml', ci],
  ])('%s checks out without leaving the token in .git/config', (_name, workflow) => {
    const checkouts = stepsOf(workflow).filter((s) => s.uses?.startsWith('actions/checkout@'));
    expect(checkouts.length).toBeGreaterThan(0);
    for (const checkout of checkouts) expect(checkout.with?.['persist-credentials']).toBe(false);
  });
});

describe('Dependabot', () => {
  it('has a valid configuration', () => {
    expect(dependabotErrors(dependabot)).toEqual([]);
  });

  it.each([
    ['a misspelt interval', 'interval: weekly', 'interval: weekley'],
    ['an unknown ecosystem', 'package-ecosystem: github-actions', 'package-ecosystem: github_actions'],
    ['an unknown update type', '- minor', '- semver-minor'],
    ['a misspelt group key', 'update-types:', 'update-type:'],
    ['no version', 'version: 2', 'version: 1'],
  ])('the check does catch %s', (_what, from, to) => {
    expect(dependabotYml).toContain(from);
    expect(dependabotErrors(parse(dependabotYml.replace(from, to))).length).toBeGreaterThan(0);
  });

  it('updates npm and the workflows\' actions weekly, minor and patch updates grouped', () => {
    const updates: any[] = dependabot.updates;
    expect(updates.map((u) => u['package-ecosystem']).sort()).toEqual(['github-actions', 'npm']);
    for (const update of updates) {
      expect(update.directory).toBe('/');
      expect(update.schedule.interval).toBe('weekly');
      const groups: any[] = Object.values(update.groups ?? {});
      expect(groups.some((g) => [...g['update-types']].sort().join() === 'minor,patch')).toBe(true);
    }
  });
});

describe('the licence', () => {
  it('is MIT, with the contributors as copyright holders', () => {
    const licence = read('LICENSE');
    expect(licence.startsWith('MIT License\n')).toBe(true);
    expect(licence).toContain('Copyright (c) 2026 stripe-attio-sync contributors\n');
    expect(licence).toContain('THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND');
  });
});
