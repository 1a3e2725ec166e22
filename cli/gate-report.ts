// The CI gate's reports for a finished run: a markdown summary against the baseline branch (for
// a pull-request comment or a CI job summary) and JUnit XML (one test case per device × metric,
// and per A/B test; a confirmed regression or a failed job is a failure), so CI systems show the
// gate natively. A result judged a regression fails the gate once confirmed — by an A/B test, by
// reruns, or by the series' history — or when the policy leaves no way to confirm it.
import type { AbTestView, JobView, RunView, VerdictView } from '../protocol/api.js';
import { formatChange, formatInterval, signedPercent as pct } from '../protocol/change.js';
import { num } from './format.js';

const BY = { ab: 'an A/B test', rerun: 'reruns', history: 'the series\' history' } as const;

function outcome(v: VerdictView): { icon: string; text: string; failed: boolean } {
  const by = v.confirmed_by ? ` by ${BY[v.confirmed_by]}` : '';
  if (v.verdict === 'regression') {
    if (v.confirmation === 'confirmed') return { icon: '❌', text: `regression (confirmed${by})`, failed: true };
    if (v.confirmation === 'not_confirmed') return { icon: '⚠️', text: `suspect, not confirmed${by}`, failed: false };
    if (v.confirmation === 'pending') return { icon: '⏳', text: 'suspect, confirmation pending', failed: false };
    return { icon: '❌', text: 'regression (no confirmation configured)', failed: true };
  }
  if (v.verdict === 'improvement') return { icon: '🚀', text: v.confirmation === 'confirmed' ? `improvement (confirmed${by})` : 'improvement (suspect)', failed: false };
  if (v.verdict === 'insufficient_baseline') return { icon: '➖', text: `no baseline yet (${v.baseline_results} results)`, failed: false };
  if (v.verdict === 'too_noisy') return { icon: '〰️', text: 'too noisy to judge', failed: false };
  return { icon: '✅', text: 'no significant change', failed: false };
}

function abOutcome(t: AbTestView): { icon: string; text: string; failed: boolean } {
  if (t.status === 'changed') return (t.effect ?? 0) > 0 ? { icon: '❌', text: `regression (A/B, ${t.rounds} rounds)`, failed: true } : { icon: '🚀', text: `improvement (A/B, ${t.rounds} rounds)`, failed: false };
  if (t.status === 'no_change') return { icon: '✅', text: `no change of ${(t.min_effect * 100).toFixed(1)}% or more (A/B, ${t.rounds} rounds)`, failed: false };
  if (t.status === 'inconclusive') return { icon: '❔', text: `inconclusive after ${t.rounds} rounds`, failed: false };
  if (t.status === 'running') return { icon: '⏳', text: `running, ${t.rounds} rounds so far`, failed: false };
  return { icon: '⚠️', text: `A/B ${t.status}${t.reason ? `: ${t.reason}` : ''}`, failed: false };
}

/** Jobs that carry the run's verdicts (confirmation reruns are folded into their original; A/B rounds into their test). */
const primaryJobs = (run: RunView): JobView[] => (run.jobs ?? []).filter((j) => !j.confirms_job_id && !j.ab);
const gateTests = (run: RunView): AbTestView[] => (run.ab_tests ?? []).filter((t) => t.purpose === 'gate');

export function confirmedRegressions(run: RunView): { device: string; metric: string; effect: number | null }[] {
  return [
    ...primaryJobs(run).flatMap((j) => j.verdicts.filter((v) => outcome(v).failed).map((v) => ({ device: j.device_name, metric: v.metric, effect: v.effect }))),
    ...gateTests(run).filter((t) => abOutcome(t).failed).map((t) => ({ device: t.device_name, metric: t.metric, effect: t.effect })),
  ];
}

export function markdownSummary(run: RunView, dashboardUrl: string | null): string {
  const jobs = primaryJobs(run);
  const baseline = jobs.flatMap((j) => j.verdicts)[0]?.baseline_branch ?? run.git.baseline_branch ?? 'main';
  const regressions = confirmedRegressions(run);
  const failedJobs = jobs.filter((j) => j.status !== 'succeeded');
  const tests = gateTests(run);
  const headline = regressions.length > 0 ? `❌ ${regressions.length} confirmed regression${regressions.length === 1 ? '' : 's'}`
    : failedJobs.length > 0 ? `⚠️ ${failedJobs.length} job${failedJobs.length === 1 ? '' : 's'} failed` : '✅ no regression';
  const git = [run.git.branch && `branch \`${run.git.branch}\``, run.git.commit && `commit \`${String(run.git.commit).slice(0, 12)}\``,
    run.git.pull_request && `PR ${run.git.pull_request}`].filter(Boolean).join(' · ');
  const lines = [
    `## benchfleet: ${run.model.family}:${run.model.variant} against \`${baseline}\``,
    '',
    `**${headline}** — run \`${run.id}\`${git ? ` · ${git}` : ''} · model \`${run.model.sha256.slice(0, 12)}\` · ${run.runtime}`,
    '',
  ];
  if (jobs.length > 0) lines.push('| Device | Metric | Baseline level | After | Change | 95% CI of change | z | Verdict |', '|---|---|---:|---:|---:|---|---:|---|');
  const evidence: string[] = [];
  for (const j of jobs) {
    if (j.status !== 'succeeded') {
      lines.push(`| ${j.device_name} | – | – | – | – | – | – | ⚠️ job ${j.status}${j.error ? `: ${j.error.code}` : ''} |`);
      continue;
    }
    const reruns = (run.jobs ?? []).filter((r) => r.confirms_job_id === j.id).length;
    for (const v of j.verdicts) {
      const m = j.measurements.find((x) => x.metric === v.metric);
      const o = outcome(v);
      lines.push(`| ${j.device_name} | ${v.metric}${m ? ` (${m.unit})` : ''} | ${num(v.baseline_median)} | ${num(v.candidate_median)} | ${pct(v.effect)} | ${formatInterval(v)} | ` +
        `${v.z === null ? '–' : v.z.toFixed(1)} | ${o.icon} ${o.text}${v.verdict === 'regression' && reruns > 0 ? ` (${reruns} rerun${reruns === 1 ? '' : 's'})` : ''} |`);
      if (v.evidence && (v.verdict === 'regression' || v.verdict === 'improvement')) evidence.push(`- ${j.device_name} ${v.metric}: ${v.evidence}${v.hint ? ` — ${v.hint}` : ''}`);
    }
  }
  if (jobs.length > 0) {
    lines.push('', `Change is from the series' level on \`${baseline}\` (its results since the last change) to *After*; positive = worse; ` +
      'z is the evidence in standard errors. A suspect result is confirmed by a paired A/B test of the baseline model against this one, by reruns, or by the series\' history.');
    if (evidence.length > 0) lines.push('', 'What each change rests on:', '', ...evidence);
  }
  if (tests.length > 0) {
    lines.push('', `### Paired A/B: \`${tests[0]!.candidate_sha256.slice(0, 12)}\` (B) against \`${tests[0]!.baseline_sha256.slice(0, 12)}\` (A)`, '',
      '| Device | Metric | Rounds | B vs A | Interval | Noise per round | Verdict |', '|---|---|---:|---:|---|---:|---|');
    for (const t of tests) {
      const o = abOutcome(t);
      lines.push(`| ${t.device_name} | ${t.metric} | ${t.rounds}/${t.max_rounds} | ${pct(t.estimate)} | ${formatInterval(t)} | ` +
        `${t.noise === null ? '–' : `${(t.noise * 100).toFixed(1)}%`} | ${o.icon} ${o.text} |`);
    }
    lines.push('', 'Each round runs A and B back to back on the same device (alternating which goes first); the interval holds over every look at the data.');
  }
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
      const detail = `${v.metric}: baseline level ${num(v.baseline_median)}, after ${num(v.candidate_median)}, change ${formatChange(v)}, z=${v.z === null ? '-' : v.z.toFixed(1)}, ${o.text}` +
        `${v.evidence ? `; evidence: ${v.evidence}` : ''}`;
      if (o.failed) failures++;
      cases.push(`    <testcase classname="${classname}" name="${xml(v.metric)}">` +
        (o.failed ? `<failure message="${xml(`regression ${pct(v.effect)}`)}">${xml(detail)}</failure>` : `<system-out>${xml(detail)}</system-out>`) + '</testcase>');
    }
  }
  for (const t of gateTests(run)) {
    const o = abOutcome(t);
    const classname = xml(`benchfleet.${run.model.family}.${run.model.variant}.${t.device_name}`);
    const detail = `A/B ${t.metric}: B vs A ${pct(t.estimate)}, interval ${formatInterval(t)}, ${t.rounds} rounds, ${o.text}`;
    if (o.failed) failures++;
    cases.push(`    <testcase classname="${classname}" name="${xml(`ab ${t.metric}`)}">` +
      (o.failed ? `<failure message="${xml(`regression ${pct(t.effect)}`)}">${xml(detail)}</failure>` : `<system-out>${xml(detail)}</system-out>`) + '</testcase>');
  }
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="benchfleet" tests="${cases.length}" failures="${failures}">\n` +
    `  <testsuite name="${xml(`${run.model.family}:${run.model.variant} run ${run.id}`)}" tests="${cases.length}" failures="${failures}" timestamp="${run.created_at}">\n` +
    `${cases.join('\n')}\n  </testsuite>\n</testsuites>\n`;
}
