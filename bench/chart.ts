/**
 * A dependency-free SVG of a benchmark run: throughput bars (baseline vs duban), latency percentiles, and
 * the worker's RSS and CPU over time with the phases marked.
 */

export interface ChartInput {
  title: string;
  bars: { label: string; baseline: number; duban: number; unit: string }[];
  latency: { label: string; p50: number; p95: number; p99: number }[];
  timeline: { t: number; rssMb: number; cpuPct: number }[];
  phases: { name: string; from: number; to: number }[];
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fmt = (v: number): string => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));

export function renderChart(input: ChartInput): string {
  const width = 960;
  const parts: string[] = [];
  const text = (x: number, y: number, s: string, extra = '') =>
    parts.push(`<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" ${extra}>${esc(s)}</text>`);

  text(20, 28, input.title, 'font-size="16" font-weight="bold"');

  // Panel 1: throughput, one pair of bars per metric, each pair scaled to its own maximum.
  let y = 50;
  text(20, y + 12, 'throughput: baseline (grey) vs duban (blue), each pair on its own scale', 'font-size="12"');
  y += 22;
  for (const b of input.bars) {
    const max = Math.max(b.baseline, b.duban, 1e-9);
    const scale = 560 / max;
    text(20, y + 11, b.label, 'font-size="11"');
    parts.push(`<rect x="300" y="${y}" width="${(b.baseline * scale).toFixed(1)}" height="12" fill="#9e9e9e"/>`);
    text(306 + b.baseline * scale, y + 10, `${fmt(b.baseline)} ${b.unit}`, 'font-size="10"');
    parts.push(`<rect x="300" y="${y + 14}" width="${(b.duban * scale).toFixed(1)}" height="12" fill="#1e88e5"/>`);
    text(306 + b.duban * scale, y + 24, `${fmt(b.duban)} ${b.unit}`, 'font-size="10"');
    y += 36;
  }

  // Panel 2: latency percentiles.
  y += 10;
  text(20, y + 12, 'report latency, ms (p50 / p95 / p99)', 'font-size="12"');
  y += 22;
  const maxLatency = Math.max(1, ...input.latency.map((l) => l.p99));
  const colors = ['#43a047', '#fb8c00', '#e53935'];
  for (const l of input.latency) {
    text(20, y + 11, l.label, 'font-size="11"');
    [l.p50, l.p95, l.p99].forEach((v, i) => {
      const w = (v / maxLatency) * 560;
      parts.push(`<rect x="300" y="${y + i * 12}" width="${w.toFixed(1)}" height="10" fill="${colors[i]}"/>`);
      text(306 + w, y + i * 12 + 9, `${['p50', 'p95', 'p99'][i]} ${fmt(v)}`, 'font-size="10"');
    });
    y += 44;
  }

  // Panel 3: worker RSS (line) and CPU (area) over time, phases shaded.
  y += 10;
  text(20, y + 12, 'worker process: RSS (MB, blue line) and CPU (% of one core, orange) over time', 'font-size="12"');
  y += 20;
  const plot = { x: 60, y, w: width - 100, h: 220 };
  const tl = input.timeline;
  if (tl.length > 1) {
    const t0 = tl[0]?.t ?? 0;
    const t1 = tl[tl.length - 1]?.t ?? t0 + 1;
    const xs = (t: number) => plot.x + ((t - t0) / Math.max(1, t1 - t0)) * plot.w;
    const maxRss = Math.max(50, ...tl.map((s) => s.rssMb)) * 1.1;
    const maxCpu = Math.max(100, ...tl.map((s) => s.cpuPct)) * 1.1;
    input.phases.forEach((p, i) => {
      const x0 = xs(Math.max(t0, p.from));
      const x1 = xs(Math.min(t1, p.to));
      parts.push(
        `<rect x="${x0.toFixed(1)}" y="${plot.y}" width="${Math.max(0, x1 - x0).toFixed(1)}" height="${plot.h}" fill="${i % 2 ? '#f3f3f3' : '#e8eef7'}"/>`,
      );
      text(x0 + 2, plot.y + 10 + (i % 3) * 10, p.name, 'font-size="9" fill="#555"');
    });
    const cpu = tl.map((s) => `${xs(s.t).toFixed(1)},${(plot.y + plot.h - (s.cpuPct / maxCpu) * plot.h).toFixed(1)}`);
    parts.push(
      `<polygon points="${xs(t0).toFixed(1)},${plot.y + plot.h} ${cpu.join(' ')} ${xs(t1).toFixed(1)},${plot.y + plot.h}" fill="#fb8c00" fill-opacity="0.35"/>`,
    );
    const rss = tl.map((s) => `${xs(s.t).toFixed(1)},${(plot.y + plot.h - (s.rssMb / maxRss) * plot.h).toFixed(1)}`);
    parts.push(`<polyline points="${rss.join(' ')}" fill="none" stroke="#1e88e5" stroke-width="2"/>`);
    parts.push(`<rect x="${plot.x}" y="${plot.y}" width="${plot.w}" height="${plot.h}" fill="none" stroke="#999"/>`);
    text(plot.x - 50, plot.y + 10, `${fmt(maxRss)} MB`, 'font-size="9" fill="#1e88e5"');
    text(plot.x + plot.w + 4, plot.y + 10, `${fmt(maxCpu)} %`, 'font-size="9" fill="#fb8c00"');
    text(plot.x, plot.y + plot.h + 14, '0 s', 'font-size="9"');
    text(plot.x + plot.w - 30, plot.y + plot.h + 14, `${Math.round((t1 - t0) / 1000)} s`, 'font-size="9"');
  }
  const height = plot.y + plot.h + 30;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}
