// The CI gate's reports for a finished run: a markdown summary against the baseline branch (for
// a pull-request comment or a CI job summary) and JUnit XML (one test case per device × metric;
// a confirmed regression or a failed job is a failure), so CI systems show the gate natively.
import type { JobView, RunView, VerdictView } from '../protocol/api.js';
import { num } from './format.js';

const pct = (x: number | null) => (x === null || !Number.isFinite(x) ? '–' : `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)}%`);

function outcome(v: VerdictView): { icon: string; text: string; failed: boolean } {
  if (v.verdict === 'regression') {
    if (v.confirmation === 'confirmed') return { icon: '❌', text: 'regression (confirmed by rerun)', failed: true };
    if (v.confirmation === 'not_confirmed') return { icon: '⚠️', text: 'suspect, not confirmed by rerun', failed: false };
    if (v.confirmation === 'pending') return { icon: '⏳', text: 'suspect, rerun pending', failed: false };
    return { icon: '❌', text: 'regression', failed: true };
  }
  if (v.verdict === 'improvement') return { icon: '🚀', text: 'improvement', failed: false };
  if (v.verdict === 'insufficient_baseline') return { icon: '➖', text: `no baseline yet (${v.baseline_results} results)`, failed: false };
  return { icon: '✅', text: 'no significant change', failed: false };
}

/** Jobs that carry the run's verdicts (confirmation reruns are folded into their original). */
const primaryJobs = (run: RunView): JobView[] => (run.jobs ?? []).filter((j) => !j.confirms_job_id);

export function confirmedRegressions(run: RunView): { device: string; metric: string; effect: number | null }[] {
  return primaryJobs(run).flatMap((j) => j.verdicts.filter((v) => outcome(v).failed).map((v) => ({ device: j.device_name, metric: v.metric, effect: v.effect })));
}

export function markdownSummary(run: RunView, dashboardUrl: string | null): string {
  const jobs = primaryJobs(run);
  const baseline = jobs.flatMap((j) => j.verdicts)[0]?.baseline_branch ?? run.git.baseline_branch ?? 'main';
  const regressions = confirmedRegressions(run);
  const failedJobs = jobs.filter((j) => j.status !== 'succeeded');
  const headline = regressions.length > 0 ? `❌ ${regressions.length} confirmed regression${regressions.length === 1 ? '' : 's'}`
    : failedJobs.length > 0 ? `⚠️ ${failedJobs.length} job${failedJobs.length === 1 ? '' : 's'} failed` : '✅ no regression';
  const git = [run.git.branch && `branch \`${run.git.branch}\``, run.git.commit && `commit \`${String(run.git.commit).slice(0, 12)}\``,
    run.git.pull_request && `PR ${run.git.pull_request}`].filter(Boolean).join(' · ');
  const lines = [
    `## benchfleet: ${run.model.family}:${run.model.variant} against \`${baseline}\``,
    '',
    `**${headline}** — run \`${run.id}\`${git ? ` · ${git}` : ''} · model \`${run.model.sha256.slice(0, 12)}\` · ${run.runtime}`,
    '',
    '| Device | Metric | Baseline median | This run | Change | 95% CI of change | p | Verdict |',
    '|---|---|---:|---:|---:|---|---:|---|',
  ];
  for (const j of jobs) {
    if (j.status !== 'succeeded') {
      lines.push(`| ${j.device_name} | – | – | – | – | – | – | ⚠️ job ${j.status}${j.error ? `: ${j.error.code}` : ''} |`);
      continue;
    }
    const reruns = (run.jobs ?? []).filter((r) => r.confirms_job_id === j.id).length;
    for (const v of j.verdicts) {
      const m = j.measurements.find((x) => x.metric === v.metric);
      const o = outcome(v);
      const ci = v.ci_low === null || v.ci_high === null ? '–' : `${pct(v.ci_low)} … ${pct(v.ci_high)}`;
      lines.push(`| ${j.device_name} | ${v.metric}${m ? ` (${m.unit})` : ''} | ${num(v.baseline_median)} | ${num(v.candidate_median)} | ${pct(v.effect)} | ${ci} | ` +
        `${v.p_value === null ? '–' : v.p_value.toPrecision(2)} | ${o.icon} ${o.text}${v.verdict === 'regression' && reruns > 0 ? ` (${reruns} rerun${reruns === 1 ? '' : 's'})` : ''} |`);
    }
  }
  lines.push('', `Change is relative to the median of the last ${Math.max(0, ...jobs.flatMap((j) => j.verdicts.map((v) => v.baseline_results)))} ` +
    `results on \`${baseline}\`; positive = worse. A regression needs a significant rank test, a change beyond the minimum effect and agreeing reruns.`);
  if (dashboardUrl) lines.push('', `[Open the run in the dashboard](${dashboardUrl.replace(/\/$/, '')}/#/runs/${run.id})`);
  return `${lines.join('\n')}\n`;
}

const xml = (s: string) => s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);

export function junitXml(run: RunView): string {
  const cases: string[] = [];
  let failures = 0;
  for (const j of primaryJobs(run)) {
    const classname = xml(`benchfleet.${run.model.family}.${run.model.variant}.${j.device_name}`);
    if (j.status !== 'succeeded') {
      failures++;
      cases.push(`    <testcase classname="${classname}" name="job"><failure message="${xml(`job ${j.status}${j.error ? `: ${j.error.code}` : ''}`)}">${xml(j.error?.message ?? j.status)}</failure></testcase>`);
      continue;
    }
    for (const v of j.verdicts) {
      const o = outcome(v);
      const detail = `${v.metric}: baseline ${num(v.baseline_median)}, this run ${num(v.candidate_median)}, change ${pct(v.effect)}, p=${v.p_value === null ? '-' : v.p_value.toPrecision(2)}, ${o.text}`;
      if (o.failed) failures++;
      cases.push(`    <testcase classname="${classname}" name="${xml(v.metric)}">` +
        (o.failed ? `<failure message="${xml(`regression ${pct(v.effect)}`)}">${xml(detail)}</failure>` : `<system-out>${xml(detail)}</system-out>`) + '</testcase>');
    }
  }
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="benchfleet" tests="${cases.length}" failures="${failures}">\n` +
    `  <testsuite name="${xml(`${run.model.family}:${run.model.variant} run ${run.id}`)}" tests="${cases.length}" failures="${failures}" timestamp="${run.created_at}">\n` +
    `${cases.join('\n')}\n  </testsuite>\n</testsuites>\n`;
}
