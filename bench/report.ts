// Turns bench results into what `npm run bench` prints and writes: a markdown table (the same
// text goes into bench/README.md), bench/results.json and the throughput-by-batch-size SVG.
import { eventsPerSecond, type BenchResult, type ScenarioResult, type Throughput } from './result.js';

export interface Machine {
  cores: number;
  cpu: string;
  node: string;
  sqlite: string;
  date: string;
}

export interface MillionResult {
  throughput: Throughput;
  rss: string;
  targetPeakRssMb: number;
}

/** Each scenario's numbers and verdicts, as results.json holds them. */
export function scenarioSummary(result: ScenarioResult) {
  const sseSink = eventsPerSecond(result.sseSink);
  const raw = eventsPerSecond(result.raw);
  const naive = eventsPerSecond(result.naive);
  const naiveSmallPages = eventsPerSecond(result.naiveSmallPages);
  return {
    name: result.name,
    detail: result.detail,
    eventsPerSecond: Math.round(sseSink),
    mbPerSecond: round2(result.sseSink.payloadBytes / 1e6 / result.sseSink.seconds),
    peakRssMb: Math.round(result.sseSink.peakRssMb),
    rawEventsPerSecond: Math.round(raw),
    naiveEventsPerSecond: Math.round(naive),
    naiveSampleEvents: result.naive.events,
    vsRaw: round2(sseSink / raw),
    vsNaive: round2(sseSink / naive),
    naiveSmallPagesEventsPerSecond: Math.round(naiveSmallPages),
    vsNaiveSmallPages: round2(sseSink / naiveSmallPages),
    targets: result.targets,
    pass: sseSink / raw >= result.targets.vsRaw && sseSink / naive >= result.targets.vsNaive,
  };
}

export function markdownTable(scenarios: ScenarioResult[], million?: MillionResult): string {
  const lines = [
    '| scenario | events/s | MB/s | peak RSS | raw events/s | naive events/s | vs raw | vs naive | result | naive, 4 KB pages | vs it |',
    '|---|--:|--:|--:|--:|--:|--:|--:|---|--:|--:|',
  ];
  for (const s of scenarios.map(scenarioSummary)) {
    lines.push(
      `| ${s.name} | ${fmt(s.eventsPerSecond)} | ${s.mbPerSecond.toFixed(1)} | ${s.peakRssMb} MB | ${fmt(s.rawEventsPerSecond)} | ` +
        `${fmt(s.naiveEventsPerSecond)} | ${s.vsRaw.toFixed(2)}x (>= ${s.targets.vsRaw}x) | ${s.vsNaive.toFixed(1)}x (>= ${s.targets.vsNaive}x) | ` +
        `${s.pass ? 'pass' : '**FAIL**'} | ${fmt(s.naiveSmallPagesEventsPerSecond)} | ${s.vsNaiveSmallPages.toFixed(1)}x |`,
    );
  }
  if (million) {
    const { throughput, targetPeakRssMb } = million;
    const pass = throughput.peakRssMb < targetPeakRssMb;
    lines.push(
      `| Auth0 end-to-end, 1,000,000 events | ${fmt(eventsPerSecond(throughput))} | ${(throughput.payloadBytes / 1e6 / throughput.seconds).toFixed(1)} | ` +
        `${Math.round(throughput.peakRssMb)} MB (< ${targetPeakRssMb} MB) | | | | | ${pass ? 'pass' : '**FAIL**'} | | |`,
    );
  }
  return lines.join('\n');
}

export function componentLine(result: BenchResult): string {
  const ratio = result.value / result.baselineValue;
  return `${result.name}: ${result.value.toFixed(0)} ${result.unit}, ${ratio.toFixed(2)}x of ${result.baselineName} ` +
    `(${result.baselineValue.toFixed(0)} ${result.unit}; target >= ${result.target}x: ${ratio >= result.target ? 'pass' : 'FAIL'})`;
}

/** A hand-drawn bar chart: one bar per batch size, height = events/s, value on top. */
export function throughputSvg(points: { batchSize: number; eventsPerSecond: number }[], machine: Machine): string {
  const width = 640;
  const height = 360;
  const left = 70;
  const bottom = 300;
  const top = 50;
  const barGap = 14;
  const barWidth = (width - left - 20) / points.length - barGap;
  const max = Math.max(...points.map((p) => p.eventsPerSecond));
  const scale = niceCeiling(max);
  const y = (v: number) => bottom - ((bottom - top) * v) / scale;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15">Batch writer throughput by batch size</text>`,
    `<text x="${width / 2}" y="40" text-anchor="middle" fill="#555">${escapeXml(`events/s, synchronous=NORMAL; ${machine.cores} cores, Node ${machine.node}, SQLite ${machine.sqlite}`)}</text>`,
  ];
  for (let i = 0; i <= 4; i++) {
    const value = (scale * i) / 4;
    parts.push(
      `<line x1="${left}" x2="${width - 20}" y1="${y(value)}" y2="${y(value)}" stroke="#ddd"/>`,
      `<text x="${left - 6}" y="${y(value) + 4}" text-anchor="end">${fmt(Math.round(value))}</text>`,
    );
  }
  points.forEach((point, i) => {
    const x = left + barGap / 2 + i * (barWidth + barGap);
    const barTop = y(point.eventsPerSecond);
    parts.push(
      `<rect x="${x.toFixed(1)}" y="${barTop.toFixed(1)}" width="${barWidth.toFixed(1)}" height="${(bottom - barTop).toFixed(1)}" fill="#3b82f6"/>`,
      `<text x="${(x + barWidth / 2).toFixed(1)}" y="${(barTop - 5).toFixed(1)}" text-anchor="middle">${fmt(Math.round(point.eventsPerSecond))}</text>`,
      `<text x="${(x + barWidth / 2).toFixed(1)}" y="${bottom + 16}" text-anchor="middle">${point.batchSize}</text>`,
    );
  });
  parts.push(
    `<line x1="${left}" x2="${width - 20}" y1="${bottom}" y2="${bottom}" stroke="#333"/>`,
    `<text x="${width / 2}" y="${bottom + 36}" text-anchor="middle">events per batch (one transaction each)</text>`,
    '</svg>',
  );
  return `${parts.join('\n')}\n`;
}

function niceCeiling(value: number): number {
  const step = 10 ** Math.floor(Math.log10(value));
  return Math.ceil(value / step) * step;
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}
