// Latency charts on top of chart.js's UMD build (loaded by index.html as the global `Chart`; only
// the few members used here are typed). `latencyHistogram` draws binned samples as a bar chart
// (tail bins beyond the outlier fences in amber) and `latencyTrace` the per-iteration latency as a
// line; both mark the median with a dashed line drawn by a tiny inline plugin. Callers own the returned charts and must destroy() them.
import { num } from './format.js';
import { histogram, type Bin } from './stats.js';

interface Scale { getPixelForValue(value: number): number }
interface ChartLike {
  ctx: CanvasRenderingContext2D;
  chartArea: { left: number; right: number; top: number; bottom: number };
  scales: Record<string, Scale | undefined>;
}
export interface ChartInstance {
  data: { labels?: unknown[]; datasets: { data: unknown[] }[] };
  destroy(): void;
}
interface ChartConstructor {
  new (canvas: HTMLCanvasElement, config: unknown): ChartInstance;
  getChart(canvas: HTMLCanvasElement): ChartInstance | undefined;
}

function chartLib(): ChartConstructor | null {
  return (globalThis as { Chart?: ChartConstructor }).Chart ?? null;
}

export function chartsAvailable(): boolean {
  return chartLib() !== null;
}

const BLUE = '#0969da';
const RED = '#cf222e';
const AMBER = '#9a6700';
const GRID = 'rgba(31, 35, 40, 0.08)';

/** Draws a dashed reference line at `value` on the x (vertical line) or y (horizontal line) scale. */
function referenceLine(id: string, axis: 'x' | 'y', value: () => number, text: string) {
  return {
    id,
    afterDatasetsDraw(chart: ChartLike): void {
      const scale = chart.scales[axis];
      const v = value();
      if (!scale || !Number.isFinite(v)) return;
      const { ctx, chartArea: a } = chart;
      const p = scale.getPixelForValue(v);
      ctx.save();
      ctx.strokeStyle = RED;
      ctx.lineWidth = 1.5;
      ctx.setLineDash([5, 4]);
      ctx.beginPath();
      if (axis === 'x') { ctx.moveTo(p, a.top); ctx.lineTo(p, a.bottom); } else { ctx.moveTo(a.left, p); ctx.lineTo(a.right, p); }
      ctx.stroke();
      ctx.setLineDash([]);
      ctx.font = '11px system-ui, sans-serif';
      ctx.textBaseline = 'bottom';
      const w = ctx.measureText(text).width;
      const x = axis === 'x' ? p + 4 : a.right - w - 6;
      const y = axis === 'x' ? a.top + 14 : p - 3;
      ctx.fillStyle = 'rgba(255, 255, 255, 0.85)'; // keep the label readable over the data
      ctx.fillRect(x - 2, y - 13, w + 4, 14);
      ctx.fillStyle = RED;
      ctx.fillText(text, x, y);
      ctx.restore();
    },
  };
}

function baseOptions(xTitle: string, yTitle: string): Record<string, unknown> {
  return {
    responsive: true,
    maintainAspectRatio: false,
    animation: false,
    plugins: { legend: { display: false } },
    scales: {
      x: { title: { display: true, text: xTitle }, grid: { color: GRID } },
      y: { title: { display: true, text: yTitle }, grid: { color: GRID }, beginAtZero: false },
    },
  };
}

export function latencyHistogram(canvas: HTMLCanvasElement, samples: number[], median: number, unit: string): ChartInstance | null {
  const Chart = chartLib();
  if (!Chart) return null;
  const hist = histogram(samples);
  const labels = hist.bins.map((b) => (b.kind === 'under' ? `< ${num(b.to)}` : b.kind === 'over' ? `> ${num(b.from)}` : num((b.from + b.to) / 2)));
  const tail = (b: Bin): boolean => b.kind !== 'bin';
  const options = baseOptions(`latency (${unit})`, 'iterations');
  const scales = options.scales as Record<string, Record<string, unknown>>;
  scales.y!.beginAtZero = true;
  scales.y!.ticks = { precision: 0 };
  options.plugins = {
    legend: { display: false },
    tooltip: {
      callbacks: {
        title: (items: { dataIndex: number }[]) => {
          const b = hist.bins[items[0]?.dataIndex ?? 0];
          if (!b) return '';
          if (b.kind === 'under') return `below ${num(b.to)} ${unit} (low outliers, from ${num(b.from)})`;
          if (b.kind === 'over') return `above ${num(b.from)} ${unit} (tail, up to ${num(b.to)})`;
          return `${num(b.from)} – ${num(b.to)} ${unit}`;
        },
      },
    },
  };
  // Regular bin i sits at category index i (+1 when an underflow bin comes first), centred on it.
  const offset = hist.bins[0]?.kind === 'under' ? 1 : 0;
  const medianIndex = (): number => (hist.width > 0 ? (median - hist.lo) / hist.width - 0.5 + offset : NaN);
  return new Chart(canvas, {
    type: 'bar',
    data: {
      labels,
      datasets: [{
        label: 'iterations', data: hist.bins.map((b) => b.count),
        backgroundColor: hist.bins.map((b) => (tail(b) ? 'rgba(154, 103, 0, 0.45)' : 'rgba(9, 105, 218, 0.55)')),
        borderColor: hist.bins.map((b) => (tail(b) ? AMBER : BLUE)), borderWidth: 1, barPercentage: 1, categoryPercentage: 1,
      }],
    },
    options,
    plugins: [referenceLine('median-x', 'x', medianIndex, `median ${num(median)}`)],
  });
}

function traceOptions(unit: string): Record<string, unknown> {
  const options = baseOptions('iteration', `latency (${unit})`);
  const x = (options.scales as Record<string, Record<string, unknown>>).x!;
  x.ticks = { maxRotation: 0, autoSkipPadding: 12 };
  options.interaction = { mode: 'nearest', axis: 'x', intersect: false };
  return options;
}

export function latencyTrace(canvas: HTMLCanvasElement, samples: number[], median: number, unit: string): ChartInstance | null {
  const Chart = chartLib();
  if (!Chart) return null;
  const dense = samples.length > 150;
  return new Chart(canvas, {
    type: 'line',
    data: {
      labels: samples.map((_, i) => i + 1),
      datasets: [{
        label: `latency (${unit})`, data: samples, borderColor: BLUE, backgroundColor: BLUE,
        borderWidth: dense ? 1 : 1.5, pointRadius: dense ? 0 : 2, pointHoverRadius: 3, tension: 0,
      }],
    },
    options: traceOptions(unit),
    plugins: [referenceLine('median-y', 'y', () => median, `median ${num(median)}`)],
  });
}

export interface SeriesChartPoint {
  label: string; median: number; ciLow: number; ciHigh: number; flagged: boolean; alert: boolean; suspect: boolean;
  /** A rerun queued to confirm a suspect (drawn hollow, purple). */
  rerun: boolean;
}

/** Where the model version changed: `index` is the first result of the new version. */
export interface SeriesChartVersion { index: number; text: string }

/** The baseline band: the detector's level ± 1.96 × the series' job-to-job noise, per result (null outside it). */
export interface SeriesChartBand { low: (number | null)[]; high: (number | null)[] }

/** A change found in the series: `index` is its first result at the new level. */
export interface SeriesChartChange { index: number; direction: 'regression' | 'improvement'; text: string }

const GREEN = '#1a7f37';
const PURPLE = '#8250df';
const GREY = '#57606a';

/**
 * A series over time: the median of each result with its 95% CI as a band, the detector's level
 * (`levels`, one value or null per result) as a dashed step line, a dashed vertical line before the
 * first result of each change (red for a regression, green for an improvement, labelled with
 * `text`), red triangles on results that opened an alert and an amber diamond on the suspect
 * result; `onPoint` gets the index of a clicked result.
 */
export function seriesChart(canvas: HTMLCanvasElement, points: SeriesChartPoint[], changes: SeriesChartChange[], levels: (number | null)[] | null,
  unit: string, onPoint: (index: number) => void, versions: SeriesChartVersion[] = [], band: SeriesChartBand | null = null): ChartInstance | null {
  const Chart = chartLib();
  if (!Chart) return null;
  const options = baseOptions('result (commit)', unit);
  const x = (options.scales as Record<string, Record<string, unknown>>).x!;
  x.ticks = { maxRotation: 45, autoSkipPadding: 8 };
  options.interaction = { mode: 'nearest', axis: 'x', intersect: false };
  options.onClick = (_ev: unknown, elements: { index: number }[]) => {
    const first = elements[0];
    if (first) onPoint(first.index);
  };
  options.plugins = { legend: { display: true, labels: { filter: (item: { text: string }) => item.text !== 'CI low' && item.text !== 'band low' } } };
  const changeLines = {
    id: 'change-markers',
    afterDatasetsDraw(chart: ChartLike): void {
      const scale = chart.scales.x;
      if (!scale) return;
      const { ctx, chartArea: a } = chart;
      ctx.save();
      ctx.textBaseline = 'bottom';
      /** A vertical line just before result `index` (between it and the one before); returns its x. */
      const lineBefore = (index: number, colour: string, width: number, dash: number[]): number => {
        const p = index > 0 ? (scale.getPixelForValue(index - 1) + scale.getPixelForValue(index)) / 2 : scale.getPixelForValue(0);
        ctx.strokeStyle = colour;
        ctx.lineWidth = width;
        ctx.setLineDash(dash);
        ctx.beginPath();
        ctx.moveTo(p, a.top);
        ctx.lineTo(p, a.bottom);
        ctx.stroke();
        ctx.setLineDash([]);
        return p;
      };
      // Model versions: a dotted purple line before the first result of each new version, labelled at the bottom.
      ctx.font = '10px system-ui, sans-serif';
      versions.forEach((v) => {
        const p = lineBefore(v.index, PURPLE, 1, [2, 3]);
        ctx.fillStyle = PURPLE;
        ctx.fillText(v.text, Math.min(p + 3, a.right - ctx.measureText(v.text).width), a.bottom - 3);
      });
      ctx.font = '11px system-ui, sans-serif';
      changes.forEach((c, n) => {
        const colour = c.direction === 'regression' ? RED : GREEN;
        const p = lineBefore(c.index, colour, 2, [6, 4]);
        // Labels of neighbouring changes alternate between two rows so they do not overlap.
        const y = a.top + 14 + (n % 2) * 14;
        const w = ctx.measureText(c.text).width;
        const left = p + 4 + w > a.right ? p - 4 - w : p + 4;
        ctx.fillStyle = 'rgba(255, 255, 255, 0.85)';
        ctx.fillRect(left - 2, y - 13, w + 4, 14);
        ctx.fillStyle = colour;
        ctx.fillText(c.text, left, y);
      });
      ctx.restore();
    },
  };
  const pointColour = (p: SeriesChartPoint): string => (p.alert ? RED : p.suspect || p.flagged ? AMBER : p.rerun ? PURPLE : BLUE);
  return new Chart(canvas, {
    type: 'line',
    data: {
      labels: points.map((p) => p.label),
      datasets: [
        { label: 'CI low', data: points.map((p) => p.ciLow), borderWidth: 0, pointRadius: 0, fill: false, borderColor: 'transparent' },
        { label: '95% CI of the median', data: points.map((p) => p.ciHigh), borderWidth: 0, pointRadius: 0, fill: '-1', backgroundColor: 'rgba(9, 105, 218, 0.15)', borderColor: 'transparent' },
        {
          label: 'median', data: points.map((p) => p.median), borderColor: BLUE, backgroundColor: points.map(pointColour), borderWidth: 1.5, tension: 0,
          pointRadius: points.map((p) => (p.alert || p.suspect ? 6 : p.rerun ? 5 : 3)),
          pointStyle: points.map((p) => (p.alert ? 'triangle' : p.suspect ? 'rectRot' : p.rerun ? 'crossRot' : 'circle')),
          pointBorderColor: points.map((p) => (p.rerun ? PURPLE : BLUE)),
        },
        ...(band ? [
          { label: 'band low', data: band.low, borderWidth: 0, pointRadius: 0, pointHoverRadius: 0, fill: false, borderColor: 'transparent', spanGaps: false },
          {
            label: 'baseline band (level ± 1.96 σ of the job-to-job noise)', data: band.high, borderWidth: 0, pointRadius: 0, pointHoverRadius: 0,
            fill: '-1', backgroundColor: 'rgba(87, 96, 106, 0.12)', borderColor: 'transparent', spanGaps: false,
          },
        ] : []),
        ...(levels ? [{
          label: 'level (detector)', data: levels, borderColor: GREY, backgroundColor: 'transparent', borderWidth: 2, borderDash: [4, 3],
          pointRadius: 0, pointHoverRadius: 0, stepped: 'middle', spanGaps: false, fill: false,
        }] : []),
      ],
    },
    options,
    plugins: [changeLines],
  });
}

export interface ParetoPoint { label: string; cost: number; quality: number; pareto: boolean; flagged: boolean }

/**
 * Quality (accuracy or top-1 agreement, %) against cost for the variants on one device; the
 * Pareto-optimal variants are larger, green and joined by a line, flagged ones red.
 */
export function paretoChart(canvas: HTMLCanvasElement, points: ParetoPoint[], costLabel: string): ChartInstance | null {
  const Chart = chartLib();
  if (!Chart) return null;
  const front = points.filter((p) => p.pareto).sort((a, b) => a.cost - b.cost);
  const options = baseOptions(costLabel, 'quality (%)');
  // Quality is a share: the axis never runs past 100% (chart.js would pad it to 110%).
  const y = (options.scales as Record<string, Record<string, unknown>>).y!;
  y.max = 100;
  y.suggestedMin = Math.max(0, Math.min(...points.map((p) => p.quality * 100)) - 5);
  options.plugins = {
    legend: { display: true },
    tooltip: { callbacks: { label: (item: { raw: { label: string; x: number; y: number } }) => `${item.raw.label}: ${num(item.raw.x)}, ${item.raw.y.toFixed(2)}%` } },
  };
  const labelPlugin = {
    id: 'point-labels',
    afterDatasetsDraw(chart: ChartLike): void {
      const x = chart.scales.x;
      const y = chart.scales.y;
      if (!x || !y) return;
      const { ctx } = chart;
      ctx.save();
      ctx.font = '11px system-ui, sans-serif';
      ctx.fillStyle = '#1f2328';
      for (const p of points) ctx.fillText(p.label, x.getPixelForValue(p.cost) + 7, y.getPixelForValue(p.quality * 100) - 5);
      ctx.restore();
    },
  };
  return new Chart(canvas, {
    type: 'scatter',
    data: {
      datasets: [
        { label: 'Pareto front', data: front.map((p) => ({ x: p.cost, y: p.quality * 100, label: p.label })), showLine: true, borderColor: '#1a7f37', backgroundColor: '#1a7f37', pointRadius: 7, borderWidth: 1.5 },
        { label: 'dominated', data: points.filter((p) => !p.pareto && !p.flagged).map((p) => ({ x: p.cost, y: p.quality * 100, label: p.label })), backgroundColor: BLUE, pointRadius: 5 },
        { label: 'flagged (fidelity)', data: points.filter((p) => p.flagged && !p.pareto).map((p) => ({ x: p.cost, y: p.quality * 100, label: p.label })), backgroundColor: RED, pointStyle: 'crossRot', pointRadius: 8, borderColor: RED, borderWidth: 2 },
      ],
    },
    options,
    plugins: [labelPlugin],
  });
}
