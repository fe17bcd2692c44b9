#!/usr/bin/env python3
"""Draw a training run's loss.csv (train.py) as a small self-contained SVG:
training loss, completion loss and validation completion loss against
tokens seen. Standard library only, so it runs wherever train.py does.

usage: plot_loss.py LOSS_CSV OUT_SVG
"""

import csv
import math
import sys


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    rows = list(csv.DictReader(open(sys.argv[1])))
    if not rows:
        raise SystemExit(f"{sys.argv[1]}: no rows")
    series = {"loss": [], "completion_loss": [], "val_completion_loss": []}
    for r in rows:
        x = float(r["tokens"])
        for k in series:
            v = float(r[k])
            if not math.isnan(v):
                series[k].append((x, v))
    W, H, L, R, T, B = 640, 360, 56, 16, 24, 44
    xmax = max(float(r["tokens"]) for r in rows)
    ymax = min(8.0, max(v for s in series.values() for _, v in s))

    def px(x):
        return L + (W - L - R) * x / xmax

    def py(y):
        return T + (H - T - B) * (1 - min(y, ymax) / ymax)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="11">',
           f'<rect width="{W}" height="{H}" fill="white"/>']
    for i in range(int(ymax) + 1):
        y = py(i)
        out.append(f'<line x1="{L}" y1="{y:.1f}" x2="{W-R}" y2="{y:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{L-6}" y="{y+4:.1f}" text-anchor="end">{i}</text>')
    step = 10 ** int(math.log10(xmax)) if xmax >= 10 else 1
    if xmax / step < 3:
        step /= 2
    x = 0.0
    while x <= xmax:
        out.append(f'<text x="{px(x):.1f}" y="{H-B+16}" text-anchor="middle">{x/1e6:g}M</text>')
        x += step
    out.append(f'<text x="{(L+W-R)/2}" y="{H-8}" text-anchor="middle">tokens trained</text>')
    colors = {"loss": "#999", "completion_loss": "#1f77b4", "val_completion_loss": "#d62728"}
    names = {"loss": "loss (weighted)", "completion_loss": "completion loss",
             "val_completion_loss": "validation completion loss"}
    for i, (k, pts) in enumerate(series.items()):
        if not pts:
            continue
        path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in pts)
        out.append(f'<polyline fill="none" stroke="{colors[k]}" stroke-width="1.5" points="{path}"/>')
        if k == "val_completion_loss":
            out += [f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="2.5" fill="{colors[k]}"/>' for x, y in pts]
        out.append(f'<text x="{W-R-8}" y="{T+14+14*i}" text-anchor="end" fill="{colors[k]}">{names[k]}</text>')
    out.append("</svg>")
    with open(sys.argv[2], "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
