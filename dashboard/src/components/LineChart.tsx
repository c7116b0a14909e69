// A small SVG line chart (no chart library: keeps the bundle far under budget and renders fast).
import { memo } from "react";
export interface Series {
  name: string;
  color: string;
  points: { x: number; y: number }[];
}

const W = 360;
const H = 180;
const PAD = { left: 44, right: 10, top: 10, bottom: 26 };

function niceTicks(min: number, max: number, count = 4): number[] {
  if (min === max) return [min];
  const step = (max - min) / count;
  return Array.from({ length: count + 1 }, (_, i) => min + i * step);
}

/** Enough decimals that neighbouring ticks `step` apart read differently. */
export function fmtTick(v: number, step: number): string {
  if (Math.abs(v) >= 10000) return v.toExponential(1);
  const digits = step > 0 ? Math.min(4, Math.max(0, Math.ceil(-Math.log10(step)))) : 2;
  return v.toFixed(digits);
}

interface LineChartProps {
  title: string;
  series: Series[];
  testId?: string;
  yLabel?: string;
}

/** Points only grow at the end (one per round), so same lengths and same last points mean the same chart. */
export function sameSeries(a: Series[], b: Series[]): boolean {
  return a.length === b.length && a.every((s, i) => {
    const t = b[i];
    const last = s.points[s.points.length - 1];
    const other = t.points[t.points.length - 1];
    return s.name === t.name && s.color === t.color && s.points.length === t.points.length &&
      (last === other || (last?.x === other?.x && last?.y === other?.y));
  });
}

export const LineChart = memo(LineChartView, (a, b) => a.title === b.title && a.testId === b.testId && a.yLabel === b.yLabel && sameSeries(a.series, b.series));

/** Dots are drawn while there are few enough to tell apart; past that the line says it all. */
const MAX_DOTS = 40;

function LineChartView({ title, series, testId, yLabel }: LineChartProps) {
  const all = series.flatMap((s) => s.points).filter((p) => Number.isFinite(p.y));
  const count = all.length;
  let xMin = Math.min(...all.map((p) => p.x));
  let xMax = Math.max(...all.map((p) => p.x));
  let yMin = Math.min(...all.map((p) => p.y));
  let yMax = Math.max(...all.map((p) => p.y));
  if (!count) [xMin, xMax, yMin, yMax] = [1, 2, 0, 1];
  if (xMin === xMax) xMax = xMin + 1;
  if (yMin === yMax) [yMin, yMax] = [yMin - 0.5, yMax + 0.5];
  const pad = (yMax - yMin) * 0.05;
  yMin -= pad;
  yMax += pad;
  const sx = (x: number) => PAD.left + ((x - xMin) / (xMax - xMin)) * (W - PAD.left - PAD.right);
  const sy = (y: number) => H - PAD.bottom - ((y - yMin) / (yMax - yMin)) * (H - PAD.top - PAD.bottom);
  const yTicks = niceTicks(yMin, yMax);
  const yStep = yTicks.length > 1 ? yTicks[1] - yTicks[0] : 0;
  const xTicks = xMax - xMin <= 10
    ? Array.from({ length: Math.floor(xMax) - Math.ceil(xMin) + 1 }, (_, i) => Math.ceil(xMin) + i)
    : niceTicks(xMin, xMax).map(Math.round);

  return (
    <figure className="flex flex-col gap-1" data-testid={testId} data-points={count}>
      <figcaption className="text-sm font-medium">{title}</figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} className="w-full" role="img" aria-label={title}>
        {yTicks.map((t) => (
          <g key={`y${t}`}>
            <line x1={PAD.left} x2={W - PAD.right} y1={sy(t)} y2={sy(t)} className="stroke-border" />
            <text x={PAD.left - 4} y={sy(t) + 3} textAnchor="end" className="fill-muted-foreground text-[9px]">
              {fmtTick(t, yStep)}
            </text>
          </g>
        ))}
        {xTicks.map((t) => (
          <text key={`x${t}`} x={sx(t)} y={H - PAD.bottom + 12} textAnchor="middle" className="fill-muted-foreground text-[9px]">
            {t}
          </text>
        ))}
        <text x={(W + PAD.left) / 2} y={H - 2} textAnchor="middle" className="fill-muted-foreground text-[9px]">
          round
        </text>
        {yLabel && (
          <text x={10} y={(H - PAD.bottom) / 2} textAnchor="middle" transform={`rotate(-90 10 ${(H - PAD.bottom) / 2})`} className="fill-muted-foreground text-[9px]">
            {yLabel}
          </text>
        )}
        {!count && (
          <text x={W / 2} y={H / 2} textAnchor="middle" className="fill-muted-foreground text-[11px]">
            waiting for the first round
          </text>
        )}
        {series.map((s) => {
          const pts = s.points.filter((p) => Number.isFinite(p.y));
          return (
            <g key={s.name}>
              <polyline fill="none" stroke={s.color} strokeWidth={2} points={pts.map((p) => `${sx(p.x)},${sy(p.y)}`).join(" ")} />
              {pts.length <= MAX_DOTS && pts.map((p) => (
                <circle key={p.x} cx={sx(p.x)} cy={sy(p.y)} r={2.5} fill={s.color}>
                  <title>{`${s.name} round ${p.x}: ${p.y.toFixed(4)}`}</title>
                </circle>
              ))}
            </g>
          );
        })}
      </svg>
      {series.length > 1 && (
        <div className="flex flex-wrap gap-3 text-xs text-muted-foreground">
          {series.map((s) => (
            <span key={s.name} className="flex items-center gap-1">
              <span className="inline-block size-2 rounded-full" style={{ background: s.color }} />
              {s.name}
            </span>
          ))}
        </div>
      )}
    </figure>
  );
}

export function Histogram({ counts, labels, testId }: { counts: number[]; labels?: string[]; testId?: string }) {
  const max = Math.max(1, ...counts);
  const barW = counts.length ? 300 / counts.length : 0;
  return (
    <svg viewBox="0 0 320 135" className="max-h-56 w-full" role="img" aria-label="label histogram" data-testid={testId}>
      {counts.map((c, i) => {
        const h = (c / max) * 95;
        return (
          <g key={i}>
            <rect x={10 + i * barW + 2} y={112 - h} width={Math.max(1, barW - 4)} height={h} className="fill-sky-600">
              <title>{`${labels?.[i] ?? `class ${i}`}: ${c}`}</title>
            </rect>
            <text x={10 + i * barW + barW / 2} y={125} textAnchor="middle" className="fill-muted-foreground text-[9px]">
              {i}
            </text>
            <text x={10 + i * barW + barW / 2} y={110 - h} textAnchor="middle" className="fill-foreground text-[8px]">
              {c}
            </text>
          </g>
        );
      })}
    </svg>
  );
}
