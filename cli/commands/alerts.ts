// `benchfleet alert …`, `benchfleet series …`, `benchfleet policy …` and `benchfleet webhook …`.
import type { Command } from 'commander';
import type { Page } from '../../protocol/api.js';
import {
  WEBHOOK_EVENTS, type AlertView, type MuteView, type PolicyView, type SeriesHistoryView, type SeriesView, type WebhookDeliveryView, type WebhookView,
} from '../../protocol/alerts.js';
import { formatChange, formatInterval, signedPercent as pct } from '../../protocol/change.js';
import { CliError, EXIT } from '../client.js';
import { num, parseFraction, table } from '../format.js';
import type { CommandEnv } from '../main.js';

/** A rate like 1/1000, 0.1% or 0.001. */
function parseRate(text: string): number {
  const frac = /^(\d+(?:\.\d+)?)\s*\/\s*(\d+(?:\.\d+)?)$/.exec(text.trim());
  const value = frac ? Number(frac[1]) / Number(frac[2]) : text.trim().endsWith('%') ? Number(text.trim().slice(0, -1)) / 100 : Number(text);
  if (!Number.isFinite(value) || value < 0.00001 || value > 0.1) throw new CliError(EXIT.usage, `--false-alerts must be a rate from 1/100000 to 1/10 (e.g. 1/1000), got ${text}`);
  return value;
}


export function registerAlertCommands(program: Command, env: CommandEnv): void {
  const alert = program.command('alert').description('regression alerts: list, acknowledge, resolve, mute a series');
  alert.command('list').description('alerts, newest first (default: unresolved ones)')
    .option('--status <status>', 'open, acknowledged, resolved, unresolved or all', 'unresolved')
    .option('--family <family>', 'only this model family').option('--device <name>', 'only this device').option('--limit <n>', 'how many', '50')
    .action(env.wrap(async ({ api, json, print }, o: { status: string; family?: string; device?: string; limit: string }) => {
      const q = new URLSearchParams({ limit: o.limit, ...(o.status !== 'all' ? { status: o.status } : {}), ...(o.family ? { family: o.family } : {}), ...(o.device ? { device: o.device } : {}) });
      const page = await api.request<Page<AlertView>>('GET', `/alerts?${q.toString()}`);
      if (json) return print(page.items);
      if (page.items.length === 0) return print(`no ${o.status === 'all' ? '' : `${o.status} `}alerts`);
      print(table(['ID', 'STATUS', 'SEVERITY', 'SERIES', 'DEVICE', 'METRIC', 'CHANGE', 'BASELINE → NOW', 'KIND', 'BRANCH', 'COMMIT', 'OPENED'],
        page.items.map((a) => [a.id, a.status + (a.muted_until ? ' (muted)' : ''), a.severity, `${a.family}:${a.variant}`, a.device_name, a.metric, pct(a.effect),
          `${num(a.baseline_median)} → ${num(a.current_median)}`, a.kind, a.branch, a.commit?.slice(0, 10), a.opened_at])));
    }));
  alert.command('show <id>').action(env.wrap(async ({ api, json, print }, id: string) => {
    const a = await api.request<AlertView>('GET', `/alerts/${encodeURIComponent(id)}`);
    if (json) return print(a);
    print([`alert ${a.id}: ${a.severity} ${a.kind === 'ab' ? 'regression confirmed by an A/B test' : a.kind === 'change' ? 'regression found in the history' : a.kind === 'gate' ? 'confirmed regression' : 'change point'} — ${a.status}`,
      `series:   ${a.family}:${a.variant} on ${a.device_name}, ${a.metric} (${a.series_key}) on ${a.branch}`,
      ...(a.steps > 1 ? [`steps:    ${a.steps} changes since it opened (last ${a.updated_at})`] : []),
      `change:   ${formatChange(a)} (${num(a.baseline_median)} → ${num(a.current_median)})`,
      ...(a.evidence ? [`evidence: ${a.evidence}`] : []),
      `result:   job ${a.job_id} of run ${a.run_id}${a.commit ? `, commit ${a.commit}` : ''}`,
      `opened:   ${a.opened_at}`, ...(a.acknowledged_at ? [`acknowledged: ${a.acknowledged_at} by ${a.acknowledged_by}`] : []),
      ...(a.resolved_at ? [`resolved: ${a.resolved_at} (${a.resolved_reason})`] : []), ...(a.muted_until ? [`muted until ${a.muted_until}`] : [])].join('\n'));
  }));
  alert.command('ack <id>').description('acknowledge an alert (someone is on it)').action(env.wrap(async ({ api, json, print }, id: string) => {
    const a = await api.request<AlertView>('POST', `/alerts/${encodeURIComponent(id)}/acknowledge`);
    print(json ? a : `alert ${a.id}: ${a.status}`);
  }));
  alert.command('resolve <id>').description('resolve an alert by hand (alerts also resolve when the series returns to its baseline)')
    .option('--note <text>', 'why').action(env.wrap(async ({ api, json, print }, id: string, o: { note?: string }) => {
      const a = await api.request<AlertView>('POST', `/alerts/${encodeURIComponent(id)}/resolve`, { json: o.note ? { note: o.note } : {} });
      print(json ? a : `alert ${a.id}: ${a.status} (${a.resolved_reason})`);
    }));
  alert.command('mute <series-key>').description('open no alerts for a series for a while')
    .requiredOption('--for <duration>', 'how long, e.g. 12h or 7d').option('--metric <metric>', 'only this metric (default: all)', '*').option('--reason <text>', 'why')
    .action(env.wrap(async ({ api, json, print }, key: string, o: { for: string; metric: string; reason?: string }) => {
      const m = await api.request<MuteView>('POST', `/series/${encodeURIComponent(key)}/mute`, { json: { for: o.for, metric: o.metric, ...(o.reason ? { reason: o.reason } : {}) } });
      print(json ? m : `series ${m.series_key} (${m.metric === '*' ? 'all metrics' : m.metric}) muted until ${m.until}`);
    }));
  alert.command('unmute <series-key>').option('--metric <metric>', 'the muted metric', '*').action(env.wrap(async ({ api, print }, key: string, o: { metric: string }) => {
    await api.request('DELETE', `/series/${encodeURIComponent(key)}/mute?metric=${encodeURIComponent(o.metric)}`);
    print(`series ${key} unmuted`);
  }));

  const series = program.command('series').description('series: the results regression detection watches');
  series.command('list').option('--family <family>').option('--variant <variant>').option('--device <name>')
    .action(env.wrap(async ({ api, json, print }, o: { family?: string; variant?: string; device?: string }) => {
      const q = new URLSearchParams({ limit: '500', ...o });
      const page = await api.request<Page<SeriesView>>('GET', `/series?${q.toString()}`);
      if (json) return print(page.items);
      print(table(['KEY', 'MODEL', 'DEVICE', 'RUNTIME', 'THREADS', 'METRICS', 'OPEN ALERTS', 'LAST RESULT'],
        page.items.map((s) => [s.key, `${s.family}:${s.variant}`, s.device_name, s.runtime, String(s.settings.threads ?? '-'), s.metrics.join(','), s.open_alerts, s.last_result_at])));
    }));
  series.command('show <key>').description('one metric\'s history: its changes (both directions), alerts, noise and what can be seen')
    .option('--metric <metric>', 'metric', 'latency_ms').option('--branch <branch>', 'branch (default: the baseline branch)').option('--limit <n>', 'newest results', '50')
    .action(env.wrap(async ({ api, json, print }, key: string, o: { metric: string; branch?: string; limit: string }) => {
      const q = new URLSearchParams({ limit: o.limit, ...(o.branch ? { branch: o.branch } : {}) });
      const h = await api.request<SeriesHistoryView>('GET', `/series/${encodeURIComponent(key)}/${encodeURIComponent(o.metric)}?${q.toString()}`);
      if (json) return print(h);
      const starts = new Map(h.changes.map((c) => [c.job_id, c]));
      const lines = [`${h.series.family}:${h.series.variant} on ${h.series.device_name}, ${h.metric} (${h.unit ?? '?'}, ${h.direction.replaceAll('_', ' ')}) on ${h.branch}`];
      if (h.watch) {
        lines.push(`now: ${h.watch.level === null ? '-' : num(h.watch.level)} ${h.unit ?? ''} over the last ${h.watch.level_results} result(s)${h.watch.suspect_job_id ? ` — suspect since job ${h.watch.suspect_job_id}` : ''}`);
        lines.push(`${h.watch.summary}`);
      }
      lines.push(table(['AT', 'COMMIT', 'MEDIAN', '95% CI', 'VERDICT', 'FLAGS', 'CHANGE STARTS', 'JOB'], h.points.map((p) => {
        const c = starts.get(p.job_id);
        return [p.at, p.commit?.slice(0, 10), num(p.median), `[${num(p.ci_low)}, ${num(p.ci_high)}]`, p.verdict, p.flags.join(',') || null,
          c ? `${c.direction} ${pct(c.effect)} (${c.source}${c.source === 'ab' ? `, ${c.results} rounds` : ''})` : null, p.job_id];
      })));
      if (h.changes.length > 0) {
        lines.push('changes:', table(['FOUND', 'DIRECTION', 'BEFORE → AFTER', 'CHANGE', 'INTERVAL', 'BY', 'EVIDENCE', 'ALERT'], h.changes.map((c) => [
          c.detected_at, c.direction, `${num(c.before)} → ${num(c.after)}`, pct(c.effect), c.ci_low === null || c.ci_high === null ? null : formatInterval(c),
          c.source === 'ab' ? `A/B, ${c.results} rounds` : `history, ${c.results} result(s)`, `z ${c.z.toFixed(1)}`, c.alert_id])));
      }
      if (h.alerts.length > 0) lines.push(`alerts: ${h.alerts.map((a) => `${a.id} ${a.status} ${pct(a.effect)}${a.steps > 1 ? ` (${a.steps} steps)` : ''}`).join('; ')}`);
      print(lines.join('\n'));
    }));
  series.command('analyze <key>').description('rebuild the change detector of a series from its stored history (e.g. after a policy change)').action(env.wrap(async ({ api, json, print }, key: string) => {
    const r = await api.request<{ results: { metric: string; branch: string; results: number; changes: number }[] }>('POST', `/series/${encodeURIComponent(key)}/analyze`);
    if (json) return print(r);
    print(table(['METRIC', 'BRANCH', 'RESULTS', 'CHANGES'], r.results.map((x) => [x.metric, x.branch, x.results, x.changes])));
  }));

  const policy = program.command('policy').description('per-metric regression policy: minimum effect, false-alert budget, A/B rounds, reruns');
  policy.command('list').action(env.wrap(async ({ api, json, print }) => {
    const r = await api.request<{ items: PolicyView[] }>('GET', '/policies');
    print(json ? r.items : table(['METRIC', 'MIN EFFECT', 'FALSE ALERTS', 'ALARM z', 'A/B ROUNDS', 'RERUNS', 'IMPROVEMENTS', ''], r.items.map((p) => [
      p.metric, pct(p.min_effect).replace('+', ''), `${(p.false_alert_rate * 1000).toPrecision(2)} per 1,000 results`, p.alarm_z.toFixed(2), p.ab_rounds,
      p.confirm_reruns, p.alert_on_improvement ? 'alert' : 'report', p.default ? 'built-in default' : ''])));
  }));
  policy.command('set <metric>').description('metric name, or * for the default of every metric')
    .requiredOption('--min-effect <fraction>', 'smallest change that counts, e.g. 1% or 0.01')
    .option('--reruns <n>', 'reruns of a suspect when an A/B test cannot tell it apart (same artifact); 0 = none', '2')
    .option('--false-alerts <rate>', 'false changes allowed per result of an unchanged series, e.g. 1/1000 or 0.001', '1/1000')
    .option('--ab-rounds <n>', 'round budget of an A/B confirmation of a suspect; 0 = no A/B confirmation', '64')
    .option('--alert-on-improvement', 'improvements open alerts too (default: reported as changes, webhook series.changed)')
    .action(env.wrap(async ({ api, json, print }, metric: string, o: { minEffect: string; reruns: string; falseAlerts: string; abRounds: string; alertOnImprovement?: boolean }) => {
      const reruns = Number(o.reruns);
      if (!Number.isInteger(reruns) || reruns < 0 || reruns > 5) throw new CliError(EXIT.usage, `--reruns must be an integer from 0 to 5, got ${o.reruns}`);
      const abRounds = Number(o.abRounds);
      if (!Number.isInteger(abRounds) || abRounds < 0 || abRounds > 100) throw new CliError(EXIT.usage, `--ab-rounds must be an integer from 0 to 100, got ${o.abRounds}`);
      const rate = parseRate(o.falseAlerts);
      const p = await api.request<PolicyView>('PUT', `/policies/${encodeURIComponent(metric)}`, { json: {
        min_effect: parseFraction(o.minEffect, 'min-effect', 5), confirm_reruns: reruns, false_alert_rate: rate, ab_rounds: abRounds,
        alert_on_improvement: o.alertOnImprovement === true,
      } });
      print(json ? p : `${p.metric}: min effect ${pct(p.min_effect).replace('+', '')}, ${(p.false_alert_rate * 1000).toPrecision(2)} false alerts per 1,000 results (alarm at z ${p.alarm_z.toFixed(2)}), ` +
        `A/B confirmation up to ${p.ab_rounds} rounds, ${p.confirm_reruns} rerun(s), improvements ${p.alert_on_improvement ? 'alert' : 'are reported'}`);
    }));
  policy.command('reset <metric>').action(env.wrap(async ({ api, print }, metric: string) => {
    await api.request('DELETE', `/policies/${encodeURIComponent(metric)}`);
    print(`${metric}: back to the default policy`);
  }));

  const webhook = program.command('webhook').description(`webhooks: ${WEBHOOK_EVENTS.join(', ')}`);
  webhook.command('add <url>').description('subscribe a URL; prints the signing secret once')
    .option('--events <list>', `comma-separated events (default: all of ${WEBHOOK_EVENTS.join(', ')})`)
    .option('--family <family>', 'only events about this model family').option('--device <name>', 'only events about this device')
    .option('--metric <metric>', 'only alerts on this metric').option('--slack', 'send Slack-compatible payloads ({text, blocks})')
    .option('--secret <secret>', 'HMAC secret (default: generated)')
    .action(env.wrap(async ({ api, json, print }, url: string, o: { events?: string; family?: string; device?: string; metric?: string; slack?: boolean; secret?: string }) => {
      const body = {
        url, format: o.slack ? 'slack' : 'json', filters: Object.fromEntries(Object.entries({ family: o.family, device: o.device, metric: o.metric }).filter(([, v]) => v !== undefined)),
        ...(o.events ? { events: o.events.split(',').map((e) => e.trim()).filter(Boolean) } : {}), ...(o.secret ? { secret: o.secret } : {}),
      };
      const r = await api.request<{ webhook: WebhookView; secret: string }>('POST', '/webhooks', { json: body });
      print(json ? r : `webhook ${r.webhook.id} → ${r.webhook.url} (${r.webhook.events.join(', ')})\nsigning secret (shown once): ${r.secret}`);
    }));
  webhook.command('list').action(env.wrap(async ({ api, json, print }) => {
    const r = await api.request<{ items: WebhookView[] }>('GET', '/webhooks');
    print(json ? r.items : table(['ID', 'URL', 'EVENTS', 'FILTERS', 'FORMAT', 'ENABLED', 'DELIVERED', 'PENDING', 'FAILED'], r.items.map((w) => [
      w.id, w.url, w.events.join(','), Object.entries(w.filters).map(([k, v]) => `${k}=${v}`).join(',') || null, w.format, w.enabled ? 'yes' : 'no', w.delivered, w.pending, w.failed])));
  }));
  webhook.command('rm <id>').action(env.wrap(async ({ api, print }, id: string) => {
    await api.request('DELETE', `/webhooks/${encodeURIComponent(id)}`);
    print(`webhook ${id} removed`);
  }));
  webhook.command('test <id>').description('send a ping now and show the receiver\'s answer').action(env.wrap(async ({ api, json, print }, id: string) => {
    const d = await api.request<WebhookDeliveryView>('POST', `/webhooks/${encodeURIComponent(id)}/test`);
    if (json) return print(d);
    if (d.status !== 'delivered') throw new CliError(EXIT.runFailed, `test delivery ${d.id} failed: ${d.last_error ?? `HTTP ${d.last_status}`}`);
    print(`test delivery ${d.id}: HTTP ${d.last_status} in ${d.log[0]?.duration_ms ?? '?'} ms`);
  }));
  webhook.command('deliveries <id>').description('the delivery log, newest first').option('--limit <n>', 'how many', '20')
    .action(env.wrap(async ({ api, json, print }, id: string, o: { limit: string }) => {
      const r = await api.request<{ items: WebhookDeliveryView[] }>('GET', `/webhooks/${encodeURIComponent(id)}/deliveries?limit=${encodeURIComponent(o.limit)}`);
      print(json ? r.items : table(['ID', 'EVENT', 'STATUS', 'ATTEMPTS', 'LAST', 'NEXT ATTEMPT', 'CREATED'], r.items.map((d) => [
        d.id, d.event, d.status, d.attempts, d.last_status ?? d.last_error, d.next_attempt_at, d.created_at])));
    }));
}
