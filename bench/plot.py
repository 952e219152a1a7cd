#!/usr/bin/env python3
"""Plot bench-vmm fork/clone latency against guest memory size as an SVG.

Usage: plot.py RESULT.json [MORE.json ...] [-o OUT.svg] [-t NOTE]

RESULT.json comes from
  bench-vmm --benchmark_enable_random_interleaving=true \
            --benchmark_out=RESULT.json --benchmark_out_format=json
Each point is a median per operation as bench/report.py computes it; both
axes are logarithmic. Python 3 standard library only: the SVG is written by
hand. Writes bench/fork-latency.svg next to this script unless -o is given;
NOTE (e.g. the kind of KVM host) is appended to the subtitle.
"""
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report  # noqa: E402  (report.load: medians per operation)

# (benchmark family, legend, colour, dashed): cowvm first, then baselines.
SERIES = [
    ("BM_CloneWarmPool", "cowvm clone from snapshot (warm pool)", "#1f77b4",
     False),
    ("BM_ForkWarmPool", "cowvm fork of a running VM (warm pool)", "#2ca02c",
     False),
    ("BM_CloneEmptyPool", "cowvm clone, empty pool (VM created)", "#17becf",
     False),
    ("BM_FcRestore", "new VM + MAP_PRIVATE RAM file (Firecracker-style)",
     "#9467bd", True),
    ("BM_HostFork", "host fork() of a process, same touched memory",
     "#d62728", True),
    ("BM_FullCopy", "full copy of RAM into a new VM", "#7f7f7f", True),
]

W, H = 760, 520
LEFT, RIGHT, TOP, BOTTOM = 80, 20, 56, 190


def esc(s):
    return (s.replace("&", "&amp;").replace("<", "&lt;")
            .replace(">", "&gt;"))


def size_label(mib):
    return "%d GiB" % (mib // 1024) if mib >= 1024 else "%d MiB" % mib


def time_label(us):
    if us >= 1e6:
        return "%g s" % (us / 1e6)
    if us >= 1e3:
        return "%g ms" % (us / 1e3)
    return "%g \u00b5s" % us


def points(results, family):
    """[(mib, microseconds)] of family, sorted by size."""
    out = []
    for name, r in results.items():
        parts = name.split("/")
        if parts[0] == family and len(parts) > 1 and parts[1].isdigit():
            out.append((int(parts[1]), r["median_ns"] / 1e3))
    return sorted(out)


def svg(results, context, note=""):
    series = [(f, lab, col, dash, points(results, f))
              for f, lab, col, dash in SERIES]
    series = [s for s in series if s[4]]
    if not series:
        raise SystemExit("no bench-vmm size results in the input")
    sizes = sorted({m for s in series for m, _ in s[4]})
    values = [v for s in series for _, v in s[4] if v > 0]
    ylo = 10 ** math.floor(math.log10(min(values)))
    yhi = 10 ** math.ceil(math.log10(max(values)))
    xlo, xhi = math.log2(sizes[0]), math.log2(sizes[-1])
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM

    def x(mib):
        span = xhi - xlo or 1
        return LEFT + 30 + (math.log2(mib) - xlo) / span * (pw - 60)

    def y(us):
        return TOP + ph - (math.log10(us) - math.log10(ylo)) / (
            math.log10(yhi) - math.log10(ylo)) * ph

    o = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
         'viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">'
         % (W, H, W, H),
         '<rect width="100%" height="100%" fill="white"/>',
         '<text x="%d" y="22" font-size="16" font-weight="bold">'
         'Fork/clone latency against guest memory size</text>' % LEFT,
         '<text x="%d" y="40" fill="#555">median per operation, both axes '
         'logarithmic; %s</text>' % (LEFT, esc(context + note))]
    # Grid and y ticks: every decade, with 2x and 5x minor lines.
    d = ylo
    while d <= yhi * 1.0001:
        for k in (1, 2, 5):
            v = d * k
            if v > yhi * 1.0001:
                break
            yy = y(v)
            o.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" '
                     'stroke="%s"/>' % (LEFT, LEFT + pw, yy, yy,
                                        "#ccc" if k == 1 else "#eee"))
            if k == 1:
                o.append('<text x="%d" y="%.1f" text-anchor="end">%s</text>'
                         % (LEFT - 6, yy + 4, esc(time_label(v))))
        d *= 10
    for m in sizes:
        xx = x(m)
        o.append('<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#eee"/>'
                 % (xx, xx, TOP, TOP + ph))
        o.append('<text x="%.1f" y="%d" text-anchor="middle">%s</text>'
                 % (xx, TOP + ph + 18, size_label(m)))
    o.append('<rect x="%d" y="%d" width="%d" height="%d" fill="none" '
             'stroke="#333"/>' % (LEFT, TOP, pw, ph))
    o.append('<text x="%d" y="%d" text-anchor="middle">guest memory '
             '(touched by the guest before the snapshot)</text>'
             % (LEFT + pw // 2, TOP + ph + 38))
    o.append('<text transform="translate(18,%d) rotate(-90)" '
             'text-anchor="middle">latency per fork or clone</text>'
             % (TOP + ph // 2))
    for fam, lab, col, dash, pts in series:
        path = " ".join("%s%.1f,%.1f" % ("M" if i == 0 else "L", x(m), y(v))
                        for i, (m, v) in enumerate(pts))
        o.append('<path d="%s" fill="none" stroke="%s" stroke-width="2"%s/>'
                 % (path, col, ' stroke-dasharray="6,4"' if dash else ""))
        for m, v in pts:
            o.append('<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s">'
                     '<title>%s, %s: %s</title></circle>'
                     % (x(m), y(v), col, esc(lab), size_label(m),
                        esc(time_label(float("%.3g" % v)))))
    # Legend below the plot, with the 1 GiB figure of each series.
    ly = TOP + ph + 62
    for i, (fam, lab, col, dash, pts) in enumerate(series):
        yy = ly + i * 19
        at = dict(pts)
        note = (" (1 GiB: %s)" % time_label(float("%.3g" % at[1024]))
                if 1024 in at else "")
        o.append('<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="%s" '
                 'stroke-width="2"%s/>'
                 % (LEFT, LEFT + 28, yy - 4, yy - 4, col,
                    ' stroke-dasharray="6,4"' if dash else ""))
        o.append('<text x="%d" y="%d">%s%s</text>'
                 % (LEFT + 36, yy, esc(lab), esc(note)))
    o.append("</svg>")
    return "\n".join(o) + "\n"


def context_of(paths):
    import json
    with open(paths[0]) as f:
        c = json.load(f).get("context", {})
    return "%s CPUs, %s" % (c.get("num_cpus", "?"),
                            c.get("date", "").split("T")[0] or "?")


def main(argv):
    args = argv[1:]
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                       "fork-latency.svg")
    if "-o" in args:
        i = args.index("-o")
        if i + 1 >= len(args):
            print(__doc__.strip(), file=sys.stderr)
            return 2
        out = args[i + 1]
        del args[i:i + 2]
    note = ""
    if "-t" in args:
        i = args.index("-t")
        if i + 1 >= len(args):
            print(__doc__.strip(), file=sys.stderr)
            return 2
        note = "; " + args[i + 1]
        del args[i:i + 2]
    if not args:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    results = report.load(args)
    with open(out, "w") as f:
        f.write(svg(results, context_of(args), note))
    print("wrote", out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
