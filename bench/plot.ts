/**
 * A small hand-written SVG line plot with a log-scale x axis (no plotting dependency), for the
 * throughput-vs-tenants figure of bench/tenants.ts.
 */

/** One point of a series. */
export interface PlotPoint {
  x: number;
  y: number;
  /** Text written next to the point (default: y rounded). */
  label?: string;
}

/** What {@link logXPlot} draws. */
export interface LogXPlot {
  title: string;
  subtitle: string;
  xLabel: string;
  yLabel: string;
  /** The measured series: points joined by a line. */
  series: { name: string; points: PlotPoint[] };
  /** A horizontal reference line (dashed), e.g. the baseline. */
  reference?: { name: string; y: number };
  /** Footnote lines under the plot (machine notes). */
  notes: string[];
}

const WIDTH = 760;
const HEIGHT = 560;
const MARGIN = { left: 90, right: 40, top: 70, bottom: 150 };

/** Escapes text for SVG. */
function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A "nice" step (1, 2 or 5 × 10^k) giving about `count` ticks over [0, max]. */
function niceStep(max: number, count: number): number {
  const raw = max / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const residual = raw / magnitude;
  return (residual <= 1 ? 1 : residual <= 2 ? 2 : residual <= 5 ? 5 : 10) * magnitude;
}

const thousands = (v: number): string => Math.round(v).toLocaleString('en-US');

/**
 * Renders `plot` as a standalone SVG document. x must be > 0 (log scale, decades from the
 * smallest to the largest x); y starts at 0. Throws on an empty series or a non-positive x.
 */
export function logXPlot(plot: LogXPlot): string {
  const points = plot.series.points;
  if (points.length === 0) throw new TypeError('logXPlot: the series has no points');
  for (const p of points) {
    if (!(p.x > 0) || !Number.isFinite(p.y)) throw new TypeError(`logXPlot: point (${p.x}, ${p.y}) cannot be drawn on a log x axis`);
  }
  const xMinDecade = Math.floor(Math.log10(Math.min(...points.map((p) => p.x))));
  const xMaxDecade = Math.max(xMinDecade + 1, Math.ceil(Math.log10(Math.max(...points.map((p) => p.x)))));
  const yMaxData = Math.max(...points.map((p) => p.y), plot.reference?.y ?? 0);
  const step = niceStep(yMaxData * 1.1 || 1, 6);
  const yMax = Math.ceil((yMaxData * 1.1 || 1) / step) * step;

  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const pad = 28; // keeps the first and last points off the axes
  const sx = (x: number): number => MARGIN.left + pad + ((Math.log10(x) - xMinDecade) / (xMaxDecade - xMinDecade)) * (plotW - 2 * pad);
  const sy = (y: number): number => MARGIN.top + plotH - (y / yMax) * plotH;
  const f = (v: number): string => v.toFixed(1);

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="Helvetica, Arial, sans-serif">`,
    `<rect x="0" y="0" width="${WIDTH}" height="${HEIGHT}" fill="#ffffff"/>`,
    `<text x="${WIDTH / 2}" y="28" text-anchor="middle" font-size="18" font-weight="bold" fill="#111">${esc(plot.title)}</text>`,
    `<text x="${WIDTH / 2}" y="50" text-anchor="middle" font-size="13" fill="#444">${esc(plot.subtitle)}</text>`,
  );
  // Grid and y ticks.
  for (let y = 0; y <= yMax + step / 2; y += step) {
    out.push(
      `<line x1="${MARGIN.left}" y1="${f(sy(y))}" x2="${WIDTH - MARGIN.right}" y2="${f(sy(y))}" stroke="#e3e3e3" stroke-width="1"/>`,
      `<text x="${MARGIN.left - 8}" y="${f(sy(y) + 4)}" text-anchor="end" font-size="12" fill="#333">${thousands(y)}</text>`,
    );
  }
  // x ticks: every decade labelled, minor ticks at 2..9 × 10^k.
  for (let d = xMinDecade; d <= xMaxDecade; d++) {
    const x = sx(10 ** d);
    out.push(
      `<line x1="${f(x)}" y1="${MARGIN.top}" x2="${f(x)}" y2="${MARGIN.top + plotH}" stroke="#e3e3e3" stroke-width="1"/>`,
      `<line x1="${f(x)}" y1="${MARGIN.top + plotH}" x2="${f(x)}" y2="${MARGIN.top + plotH + 6}" stroke="#333" stroke-width="1"/>`,
      `<text x="${f(x)}" y="${MARGIN.top + plotH + 22}" text-anchor="middle" font-size="12" fill="#333">${thousands(10 ** d)}</text>`,
    );
    if (d < xMaxDecade) {
      for (let m = 2; m <= 9; m++) {
        const xm = sx(m * 10 ** d);
        out.push(`<line x1="${f(xm)}" y1="${MARGIN.top + plotH}" x2="${f(xm)}" y2="${MARGIN.top + plotH + 3}" stroke="#333" stroke-width="1"/>`);
      }
    }
  }
  // Axes.
  out.push(
    `<line x1="${MARGIN.left}" y1="${MARGIN.top}" x2="${MARGIN.left}" y2="${MARGIN.top + plotH}" stroke="#333" stroke-width="1.5"/>`,
    `<line x1="${MARGIN.left}" y1="${MARGIN.top + plotH}" x2="${WIDTH - MARGIN.right}" y2="${MARGIN.top + plotH}" stroke="#333" stroke-width="1.5"/>`,
    `<text x="${MARGIN.left + plotW / 2}" y="${MARGIN.top + plotH + 44}" text-anchor="middle" font-size="13" fill="#111">${esc(plot.xLabel)}</text>`,
    `<text x="22" y="${MARGIN.top + plotH / 2}" text-anchor="middle" font-size="13" fill="#111" transform="rotate(-90 22 ${MARGIN.top + plotH / 2})">${esc(plot.yLabel)}</text>`,
  );
  // Reference line.
  if (plot.reference !== undefined) {
    const y = f(sy(plot.reference.y));
    out.push(
      `<line x1="${MARGIN.left}" y1="${y}" x2="${WIDTH - MARGIN.right}" y2="${y}" stroke="#888" stroke-width="1.5" stroke-dasharray="6 4"/>`,
      `<text x="${WIDTH - MARGIN.right - 4}" y="${f(sy(plot.reference.y) - 6)}" text-anchor="end" font-size="12" fill="#555">${esc(`${plot.reference.name}: ${thousands(plot.reference.y)}`)}</text>`,
    );
  }
  // The series: line, then points and labels.
  const sorted = [...points].sort((a, b) => a.x - b.x);
  out.push(`<polyline fill="none" stroke="#1f6feb" stroke-width="2.5" points="${sorted.map((p) => `${f(sx(p.x))},${f(sy(p.y))}`).join(' ')}"/>`);
  for (const p of sorted) {
    out.push(
      `<circle cx="${f(sx(p.x))}" cy="${f(sy(p.y))}" r="5" fill="#1f6feb" stroke="#fff" stroke-width="1.5"/>`,
      `<text x="${f(sx(p.x))}" y="${f(sy(p.y) - 12)}" text-anchor="middle" font-size="12" font-weight="bold" fill="#1f3f7f">${esc(p.label ?? thousands(p.y))}</text>`,
    );
  }
  // Legend.
  const lx = MARGIN.left + 12;
  const ly = MARGIN.top + plotH + 64;
  out.push(
    `<line x1="${lx}" y1="${ly}" x2="${lx + 28}" y2="${ly}" stroke="#1f6feb" stroke-width="2.5"/>`,
    `<circle cx="${lx + 14}" cy="${ly}" r="4" fill="#1f6feb"/>`,
    `<text x="${lx + 36}" y="${ly + 4}" font-size="12" fill="#111">${esc(plot.series.name)}</text>`,
  );
  if (plot.reference !== undefined) {
    out.push(
      `<line x1="${lx}" y1="${ly + 18}" x2="${lx + 28}" y2="${ly + 18}" stroke="#888" stroke-width="1.5" stroke-dasharray="6 4"/>`,
      `<text x="${lx + 36}" y="${ly + 22}" font-size="12" fill="#111">${esc(plot.reference.name)}</text>`,
    );
  }
  plot.notes.forEach((line, i) => {
    out.push(`<text x="${MARGIN.left}" y="${ly + 46 + i * 15}" font-size="11" fill="#666">${esc(line)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
