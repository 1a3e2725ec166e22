// `benchfleet run submit | show | list | cancel | wait` and `benchfleet results export`.
import fs from 'node:fs';
import type { Command } from 'commander';
import type { CreateRunBody, JobView, Page, RunView } from '../../protocol/api.js';
import { RUN_STATUSES, TERMINAL_JOB_STATUSES } from '../../protocol/domain.js';
import { formatChange, formatInterval, signedPercent as pct } from '../../protocol/change.js';
import { CliError, EXIT, type ApiClient } from '../client.js';
import { collect, num, parseDuration, table } from '../format.js';
import { buildInputSpecs } from '../inputs.js';
import { confirmedRegressions, junitXml, markdownSummary } from '../gate-report.js';
import type { CommandEnv, Io } from '../main.js';
import type { FamilyView } from '../../protocol/variants.js';

function intOption(name: string, text: string, min: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) throw new CliError(EXIT.usage, `--${name} must be an integer ≥ ${min}, got ${text}`);
  return n;
}

/** The family's reference set thresholds, or null when the family has none (no fidelity then). */
export async function familyOf(api: ApiClient, run: RunView): Promise<FamilyView | null> {
  const r = await api.request<{ items: FamilyView[] }>('GET', '/families');
  return r.items.find((f) => f.name === run.model.family) ?? null;
}

/**
 * Output fidelity per job against the family's reference set: median cosine similarity, top-1
 * agreement (share of reference samples whose argmax matches), the largest absolute error over all
 * samples, measured top-1 accuracy when the set has labels, and the verdict against the family's
 * thresholds (the same rule as `compare`).
 */
export function fidelityTable(run: RunView, family: FamilyView | null): string {
  const jobs = (run.jobs ?? []).filter((j) => !j.ab);
  if (jobs.length === 0) return '';
  if (!family) return `fidelity: none — family ${run.model.family} has no reference set (benchfleet family reference ${run.model.family} --from <variant>)`;
  // The figures and the flag are the server's (jobs[].fidelity: one rule for the API, the dashboard and here).
  const rows = jobs.map((j) => {
    const f = j.fidelity;
    const flag = !f ? (j.status === 'succeeded' ? 'not measured' : null) : f.flags.length > 0 ? `LOW: ${f.flags.map((x) => x.replace(/^fidelity: /, '')).join(', ')}` : 'ok';
    return [j.confirms_job_id ? `${j.device_name} (rerun)` : j.device_name, f?.cosine == null ? null : f.cosine.toFixed(4), f?.top1 == null ? null : `${(f.top1 * 100).toFixed(1)}%`,
      f?.max_abs_error == null ? null : num(f.max_abs_error), f?.accuracy == null ? null : `${(f.accuracy * 100).toFixed(1)}%`, f?.samples ?? null, flag];
  });
  return `fidelity against ${family.name}:${family.reference_variant} (${family.samples} reference samples; flag below cosine ${family.min_cosine} or top-1 agreement ${(family.min_top1 * 100).toFixed(0)}%):\n` +
    table(['DEVICE', 'COSINE (median)', 'TOP-1 AGREEMENT', 'MAX ABS ERROR', 'ACCURACY', 'SAMPLES', 'FIDELITY'], rows);
}

export function resultsTable(run: RunView, family?: FamilyView | null): string {
  const rows = (run.jobs ?? []).filter((j) => !j.ab).map((j) => {
    const lat = j.measurements.find((m) => m.metric === 'latency_ms');
    const mem = j.measurements.find((m) => m.metric === 'peak_rss_mib');
    const energy = j.measurements.find((m) => m.metric === 'energy_mj');
    return [
      j.confirms_job_id ? `${j.device_name} (rerun)` : j.device_name, j.status, lat ? num(lat.median) : null, lat ? num(lat.p90) : null, lat ? num(lat.p99) : null,
      lat ? `${num(lat.mean)} ± ${num(lat.mean_ci_half, 2)}` : null, lat ? `[${num(lat.ci_low)}, ${num(lat.ci_high)}]` : null,
      lat?.count ?? null, mem ? `${num(mem.median)} MiB` : null, energy ? `${num(energy.median)} mJ` : null,
      [...new Set(j.measurements.flatMap((m) => m.flags))].join(',') || null,
      verdictText(j),
      j.error ? `${j.error.code}: ${j.error.message}` : null,
    ];
  });
  const plain = rows.length > 0 ? table(['DEVICE', 'STATUS', 'MEDIAN ms', 'P90 ms', 'P99 ms', 'MEAN ± 95% CI', 'MEDIAN 95% CI', 'N', 'PEAK MEM', 'ENERGY/INF', 'FLAGS', 'VS BASELINE', 'ERROR'], rows) : '';
  // Per reported change: the change with its interval, between which levels, on what evidence; then the hint.
  const hints = (run.jobs ?? []).flatMap((j) => j.verdicts.filter((v) => (v.hint || v.evidence) && v.verdict !== 'pass').map((v) => {
    const reported = (v.verdict === 'regression' || v.verdict === 'improvement') && v.effect !== null;
    const change = reported ? `${formatChange(v)} from ${num(v.baseline_median)} to ${num(v.candidate_median)}${v.evidence ? ` — ${v.evidence}` : ''}` : '';
    return `  ${j.device_name} ${v.metric}: ${[change, v.hint].filter(Boolean).join('; ')}`;
  }));
  return [plain, hints.length > 0 ? hints.join('\n') : '', family === undefined ? '' : fidelityTable(run, family), abTable(run)].filter(Boolean).join('\n');
}


/** The run's paired A/B tests: per device, candidate against baseline with the interval. */
export function abTable(run: RunView): string {
  const tests = run.ab_tests ?? [];
  if (tests.length === 0) return '';
  return `A/B (baseline A ${tests[0]!.baseline_sha256.slice(0, 12)} against candidate B ${tests[0]!.candidate_sha256.slice(0, 12)}):\n` + table(
    ['DEVICE', 'PURPOSE', 'METRIC', 'STATUS', 'ROUNDS', 'B vs A', 'INTERVAL', 'NOISE/ROUND', 'REASON'],
    tests.map((t) => [t.device_name, t.purpose, t.metric, t.status, `${t.rounds}/${t.max_rounds}${t.failed_rounds ? ` (+${t.failed_rounds} failed)` : ''}`, pct(t.estimate),
      t.ci_low === null || t.ci_high === null ? null : formatInterval(t), t.noise === null ? null : `${(t.noise * 100).toFixed(1)}%`, t.reason]));
}

/** The latency verdict (or the worst other one): e.g. "regression +5.2% (p=0.001, 30 results)". */
export function verdictText(j: JobView): string | null {
  const rank = { regression: 0, improvement: 1, too_noisy: 2, pass: 3, insufficient_baseline: 4 } as const;
  const v = [...j.verdicts].sort((a, b) => (a.metric === 'latency_ms' ? -1 : 0) - (b.metric === 'latency_ms' ? -1 : 0) || rank[a.verdict] - rank[b.verdict])[0];
  if (!v) return null;
  if (v.verdict === 'insufficient_baseline') return `no baseline yet (${v.baseline_results} results)`;
  const change = v.effect === null ? '' : ` ${pct(v.effect)}`;
  const by = v.confirmed_by === 'ab' ? ' by A/B' : v.confirmed_by === 'history' ? ' by history' : v.confirmed_by === 'rerun' ? ' by reruns' : '';
  const confirmation = j.confirms_job_id || v.verdict === 'pass' || v.verdict === 'too_noisy' ? '' : v.confirmation === 'confirmed' ? ` confirmed${by}` : v.confirmation === 'not_confirmed' ? ` not confirmed${by}` : v.confirmation === 'pending' ? ' (confirming)' : ' (suspect)';
  return `${v.metric === 'latency_ms' ? '' : `${v.metric} `}${v.verdict.replace('_', ' ')}${change}${confirmation} (z=${v.z === null ? '-' : v.z.toFixed(1)}, ${v.baseline_results} results)`;
}

function describeJob(j: JobView): string {
  const p = j.progress;
  const bits = [`${j.device_name}${j.ab ? ` A/B round ${j.ab.round} ${j.ab.arm}` : ''}: ${j.status}`];
  if (j.attempt > 1 || (j.status === 'queued' && j.attempt > 0)) bits.push(`attempt ${j.attempt}/${j.max_attempts}`);
  if (p && (j.status === 'running' || j.status === 'assigned')) bits.push(p.total > 0 && p.phase !== 'fetching' ? `${p.phase} ${p.done}/${p.total}` : p.phase);
  if (j.error && j.status !== 'succeeded') bits.push(`(${j.error.code})`);
  return bits.join(' ');
}

export async function waitForRun(api: ApiClient, runId: string, io: Io, timeoutMs: number): Promise<RunView> {
  const started = Date.now();
  let last = '';
  for (;;) {
    const run = await api.request<RunView>('GET', `/runs/${encodeURIComponent(runId)}`);
    // A/B runs: the jobs not yet ended and each test's progress, not every past round.
    const jobs = (run.jobs ?? []).filter((j) => !j.ab || !TERMINAL_JOB_STATUSES.includes(j.status));
    const tests = (run.ab_tests ?? []).map((t) => `${t.device_name} A/B ${t.status} after ${t.rounds} round(s)${t.estimate === null ? '' : ` (B vs A ${pct(t.estimate)})`}`);
    const line = [...jobs.map(describeJob), ...tests].join('; ');
    if (line !== last) {
      io.progress(`[${((Date.now() - started) / 1000).toFixed(0)}s] ${line}`);
      last = line;
    }
    if ((run.jobs ?? []).every((j) => TERMINAL_JOB_STATUSES.includes(j.status)) && (run.ab_tests ?? []).every((t) => t.status !== 'running')) return run;
    if (Date.now() - started > timeoutMs) throw new CliError(EXIT.waitTimeout, `run ${runId} did not finish within ${timeoutMs / 1000}s (still ${run.status}); see benchfleet run show ${runId}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

interface FinishOptions { failOnRegression?: boolean | undefined; summary?: string | undefined; junit?: string | undefined }

/** The run's page on the dashboard. */
export function runUrl(api: ApiClient, runId: string): string {
  return `${api.creds.server}/#/runs/${encodeURIComponent(runId)}`;
}

async function finish(run: RunView, io: Io, o: FinishOptions = {}): Promise<void> {
  if (io.json) io.print(run);
  else io.print(`run ${run.id}: ${run.model.family}:${run.model.variant} on ${run.device_selector} — ${run.status}\n${resultsTable(run, await familyOf(io.api, run))}\n${runUrl(io.api, run.id)}`);
  const summary = markdownSummary(run, io.api.creds.server);
  if (o.failOnRegression && !io.json) io.print(`\n${summary}`);
  const write = (file: string, text: string) => {
    try {
      fs.writeFileSync(file, text);
    } catch (err) {
      throw new CliError(EXIT.usage, `cannot write ${file}: ${(err as Error).message}`);
    }
    io.progress(`wrote ${file}`);
  };
  if (o.summary) write(o.summary, summary);
  if (o.junit) write(o.junit, junitXml(run));
  const regressions = confirmedRegressions(run).map((r) => `${r.device} ${r.metric} ${r.effect === null ? '' : `+${(r.effect * 100).toFixed(1)}%`}`);
  if (o.failOnRegression && regressions.length > 0) {
    throw new CliError(EXIT.regression, `confirmed regression against the ${(run.jobs?.[0]?.verdicts[0]?.baseline_branch) ?? 'main'} baseline: ${regressions.join('; ')}`);
  }
  const abFailed = (run.ab_tests ?? []).find((t) => t.status === 'failed');
  if (abFailed) throw new CliError(EXIT.runFailed, `A/B test on ${abFailed.device_name} failed: ${abFailed.reason ?? 'no reason'}`);
  // A decided A/B test cancels the rounds it no longer needs: those are not failures.
  const unfinished = (run.jobs ?? []).filter((j) => j.status !== 'succeeded' && !(j.ab && j.status === 'canceled' && (run.ab_tests ?? []).some((t) => t.id === j.ab!.test_id && t.status !== 'canceled')));
  if (run.status !== 'succeeded' && unfinished.length > 0) {
    const failed = unfinished[0];
    const reason = failed ? `${failed.device_name}: ${failed.status}${failed.error ? ` (${failed.error.code}: ${failed.error.message})` : ''}` : run.status;
    throw new CliError(EXIT.runFailed, `run ${run.id} ${run.status}: ${reason}`);
  }
}

interface SubmitOptions {
  model: string; device: string; runtime: string; warmup: string; iterations: string; minDuration: string; threads: string;
  seed: string; timeout: string; maxAttempts: string; inputShape?: string[]; inputFill?: string[]; inputFile?: string[];
  branch?: string; commit?: string; repo?: string; pr?: string; wait?: boolean; waitTimeout: string; failOnRegression?: boolean; baselineBranch: string; summary?: string; junit?: string;
  ab?: string; abRounds: string; abMetric: string; abSpacing: string;
}

export function registerRunCommands(program: Command, env: CommandEnv): void {
  const run = program.command('run').description('submit and follow benchmark runs');
  run.command('submit').description('benchmark a model on every matching device (one job per device)')
    .requiredOption('--model <ref>', 'sha256 (or prefix) or family:variant')
    .option('--device <selector>', 'device name, labels key=value[,key=value], or * for every online device', '*')
    .option('--runtime <runtime>', 'runtime to benchmark with', 'onnxruntime')
    .option('--warmup <n>', 'warm-up iterations (not measured)', '10')
    .option('--iterations <n>', 'minimum measured iterations', '100')
    .option('--min-duration <duration>', 'minimum measured time, e.g. 5s (iterations continue until both are met)', '0s')
    .option('--threads <n>', 'intra-op threads', '1')
    .option('--seed <n>', 'seed of generated inputs', '42')
    .option('--timeout <duration>', 'per-job timeout', '15m')
    .option('--max-attempts <n>', 'attempts per job before it fails', '3')
    .option('--input-shape <name=dims>', 'shape of an input with dynamic dims, e.g. input=1x3x224x224 (repeatable)', collect)
    .option('--input-fill <name=value>', 'fill an input with a constant or "random" (repeatable)', collect)
    .option('--input-file <name=path>', 'input data from a .npy or JSON file (repeatable)', collect)
    .option('--branch <branch>', 'git branch the model comes from')
    .option('--commit <sha>', 'git commit')
    .option('--repo <repository>', 'git repository')
    .option('--pr <number>', 'pull request')
    .option('--wait', 'wait for the run, show progress, print results; exit 1 if any job fails')
    .option('--fail-on-regression', 'with --wait: print a markdown summary against the baseline branch; exit 10 on a confirmed regression')
    .option('--summary <file>', 'with --wait: write the markdown summary to a file (e.g. $GITHUB_STEP_SUMMARY)')
    .option('--junit <file>', 'with --wait: write JUnit XML (one case per device and metric)')
    .option('--baseline-branch <branch>', 'branch whose results form the baseline', 'main')
    .option('--ab <baseline-ref>', 'paired A/B: run this baseline model (sha256 or family:variant) and --model back to back in rounds on each device, and report the change with its interval')
    .option('--ab-rounds <n>', 'with --ab: most rounds per device (fewer when the answer is clear sooner)', '20')
    .option('--ab-metric <metric>', 'with --ab: the metric decided on', 'latency_ms')
    .option('--ab-spacing <duration>', 'with --ab: pause between rounds (e.g. 1m), so a passing disturbance cannot touch two rounds', '0s')
    .option('--wait-timeout <duration>', 'give up waiting after this long (exit 5)', '2h')
    .action(env.wrap(async (io, o: SubmitOptions) => {
      let inputs;
      try {
        inputs = buildInputSpecs(o);
      } catch (err) {
        throw new CliError(EXIT.usage, (err as Error).message);
      }
      let minDuration: number, timeout: number, waitTimeout: number;
      try {
        minDuration = parseDuration(o.minDuration);
        timeout = parseDuration(o.timeout);
        waitTimeout = parseDuration(o.waitTimeout);
      } catch (err) {
        throw new CliError(EXIT.usage, (err as Error).message);
      }
      const git = Object.fromEntries(Object.entries({ branch: o.branch, commit: o.commit, repository: o.repo, pull_request: o.pr, baseline_branch: o.baselineBranch }).filter(([, v]) => v !== undefined));
      let ab: CreateRunBody['ab'];
      if (o.ab) {
        let spacing: number;
        try {
          spacing = parseDuration(o.abSpacing);
        } catch (err) {
          throw new CliError(EXIT.usage, (err as Error).message);
        }
        const rounds = intOption('ab-rounds', o.abRounds, 4);
        if (rounds > 100) throw new CliError(EXIT.usage, `--ab-rounds must be at most 100, got ${o.abRounds}`);
        ab = { baseline: o.ab, rounds, metric: o.abMetric, spacing_minutes: spacing / 60_000 };
      }
      const body: CreateRunBody = {
        model: o.model, device: o.device, runtime: o.runtime as 'onnxruntime', max_attempts: intOption('max-attempts', o.maxAttempts, 1), git, ...(ab ? { ab } : {}),
        settings: {
          warmup: intOption('warmup', o.warmup, 0), iterations: intOption('iterations', o.iterations, 1), min_duration_ms: minDuration,
          threads: intOption('threads', o.threads, 1), seed: intOption('seed', o.seed, 0), timeout_ms: timeout, inputs,
        },
      };
      const created = await io.api.request<RunView>('POST', '/runs', { json: body });
      io.progress(`run ${created.id}: ${created.model.family}:${created.model.variant} → ${[...new Set(created.jobs?.map((j) => j.device_name))].join(', ')}` +
        (ab ? ` (A/B against ${o.ab}, up to ${ab.rounds} rounds per device)` : ''));
      io.progress(`dashboard: ${runUrl(io.api, created.id)}`);
      if (!o.wait) {
        if (o.failOnRegression || o.summary || o.junit) io.progress('note: --fail-on-regression, --summary and --junit need --wait');
        return io.print(io.json ? created : created.id);
      }
      await finish(await waitForRun(io.api, created.id, io, waitTimeout), io, o);
    }));

  run.command('wait <id>').description('wait for a run to finish and print its results').option('--wait-timeout <duration>', 'give up after', '2h')
    .option('--fail-on-regression', 'print a markdown summary; exit 10 on a confirmed regression')
    .option('--summary <file>', 'write the markdown summary to a file').option('--junit <file>', 'write JUnit XML')
    .action(env.wrap(async (io, id: string, o: FinishOptions & { waitTimeout: string }) => {
      let timeout: number;
      try {
        timeout = parseDuration(o.waitTimeout);
      } catch (err) {
        throw new CliError(EXIT.usage, `--wait-timeout: ${(err as Error).message}`);
      }
      await finish(await waitForRun(io.api, id, io, timeout), io, o);
    }));

  run.command('show <id>').description('show a run, its jobs and results').action(env.wrap(async (io, id: string) => {
    const r = await io.api.request<RunView>('GET', `/runs/${encodeURIComponent(id)}`);
    if (io.json) return io.print(r);
    io.print(`run ${r.id}: ${r.model.family}:${r.model.variant} (${r.model.sha256.slice(0, 12)}) ${r.runtime} on ${r.device_selector} — ${r.status}\n` +
      `settings: warmup ${r.settings.warmup}, iterations ${r.settings.iterations}, min duration ${r.settings.min_duration_ms} ms, threads ${r.settings.threads}\n${resultsTable(r, await familyOf(io.api, r))}\n${runUrl(io.api, r.id)}`);
  }));

  run.command('list').description('list runs, newest first').option('--limit <n>', 'how many', '20').option('--status <status>', 'only runs in this status')
    .action(env.wrap(async (io, o: { limit: string; status?: string }) => {
      if (o.status !== undefined && !(RUN_STATUSES as readonly string[]).includes(o.status)) throw new CliError(EXIT.usage, `--status must be one of ${RUN_STATUSES.join(', ')}, got ${o.status}`);
      const q = new URLSearchParams({ limit: o.limit, ...(o.status ? { status: o.status } : {}) });
      const page = await io.api.request<Page<RunView>>('GET', `/runs?${q.toString()}`);
      if (io.json) return io.print(page.items);
      io.print(table(['ID', 'MODEL', 'DEVICES', 'STATUS', 'JOBS', 'CREATED'], page.items.map((r) => [
        r.id, `${r.model.family}:${r.model.variant}`, r.device_selector, r.status,
        Object.entries(r.job_counts).map(([k, v]) => `${v} ${k}`).join(', '), r.created_at,
      ])));
    }));

  run.command('cancel <id>').description('cancel every unfinished job of a run').action(env.wrap(async (io, id: string) => {
    const r = await io.api.request<RunView>('POST', `/runs/${encodeURIComponent(id)}/cancel`);
    io.print(io.json ? r : `run ${r.id}: ${r.status}`);
  }));

  program.command('results').description('export results').command('export <run-id>')
    .description('export a run\'s measurements as CSV or JSON')
    .option('--format <format>', 'csv or json', 'csv').option('-o, --output <file>', 'write to a file instead of stdout')
    .action(env.wrap(async (io, id: string, o: { format: string; output?: string }) => {
      if (o.format !== 'csv' && o.format !== 'json') throw new CliError(EXIT.usage, '--format must be csv or json');
      const text = await io.api.request<string>('GET', `/runs/${encodeURIComponent(id)}/results?format=${o.format}`, { raw: true });
      if (o.output) {
        try {
          fs.writeFileSync(o.output, text);
        } catch (err) {
          throw new CliError(EXIT.usage, `cannot write ${o.output}: ${(err as Error).message}`);
        }
        io.progress(`wrote ${o.output}`);
      } else io.print(text.trimEnd());
    }));
}
