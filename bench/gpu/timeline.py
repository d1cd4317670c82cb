#!/usr/bin/env python3
"""Where a replayed decode step's time goes between kernels, from an Nsight Systems kernel trace.

    nsys profile --cuda-graph-trace=node -o REPORT <pixelllm bench --stages decode ...>
    nsys stats --report cuda_gpu_trace --format csv --output PREFIX REPORT.nsys-rep
    python3 timeline.py PREFIX_cuda_gpu_trace.csv [--label NAME] [--json FILE]

run 11 put a beam-1 T5-XL step at 1.57 ms against a 0.68 ms bandwidth floor, over ~197 launches replayed from one graph.
Event-timed profiles cannot say whether the rest is kernels running below bandwidth (ramp, tail, latency) or the
device idling between them (graph launch gaps, which programmatic dependent launch should hide). This does: it takes
everything the device ran (kernels, copies) in start order, splits it into steps and
reports, per step, the time kernels ran, the time between them, and which kernels the gaps precede. Steps are found
without knowing the graph: runs of work between idle stretches (host work), cut at the period with which
their kernel names repeat; the most common sequence is the replayed step.
"""
import argparse
import csv
import json
import statistics
import sys

def column(header, *names):
    for i, h in enumerate(header):
        if any(n.lower() in h.lower() for n in names):
            return i
    raise SystemExit(f"timeline: no column like {names} in {header}")


def read_kernels(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    start = 0
    while start < len(rows) and not any("Start" in c for c in rows[start]):
        start += 1  # nsys prints a banner line before the header in some versions
    if start == len(rows):
        raise SystemExit(f"timeline: {path} has no header with a Start column")
    header, body = rows[start], rows[start + 1:]
    s, d, n = column(header, "Start"), column(header, "Duration"), column(header, "Name")
    kernels = []
    for r in body:
        if len(r) <= max(s, d, n):
            continue
        try:
            kernels.append((float(r[s]), float(r[d]), r[n]))
        except ValueError:
            continue  # memcpy rows and the like carry no numbers in these columns for some versions
    return sorted(kernels)


def segments(kernels, max_gap_ns):
    """Runs of device work between idle stretches longer than max_gap_ns (host work: a sync, a copy, a prefill)."""
    current = []
    for k in kernels:
        if current and k[0] - (current[-1][0] + current[-1][1]) > max_gap_ns:
            yield current
            current = []
        current.append(k)
    if current:
        yield current


def period(names):
    """The shortest P with names[i] == names[i + P] almost everywhere (steps replayed back to back), else len(names)."""
    for p in range(4, len(names) // 2 + 1):
        same = sum(a == b for a, b in zip(names, names[p:]))
        if same >= 0.98 * (len(names) - p):
            return p
    return len(names)


def steps(kernels, max_gap_ns):
    """The replayed steps: each segment cut into its period, from its first kernel (a segment starts with a step)."""
    chunks = []
    for seg in segments(kernels, max_gap_ns):
        names = [k[2] for k in seg]
        p = period(names)
        chunks += [seg[i:i + p] for i in range(0, len(seg) - p + 1, p)]
    if not chunks:
        return []
    template = statistics.mode(tuple(k[2] for k in c) for c in chunks)
    return [c for c in chunks if tuple(k[2] for k in c) == template]


def summarize(step):
    """(device busy: the union of the step's intervals, its span, the gaps between consecutive starts' predecessors)."""
    busy, end = 0.0, step[0][0]
    for start, duration, _ in step:  # in start order; with dependent launch a kernel may start before the last ends
        busy += max(0.0, start + duration - max(start, end))
        end = max(end, start + duration)
    span = end - step[0][0]
    gaps = [max(0.0, b[0] - (a[0] + a[1])) for a, b in zip(step, step[1:])]
    return busy, span, gaps


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("csv")
    ap.add_argument("--label", default="decode")
    ap.add_argument("--max-gap-us", type=float, default=50.0, help="idle time that ends a step (host work between steps)")
    ap.add_argument("--json")
    a = ap.parse_args()
    kernels = read_kernels(a.csv)
    # The most common launch sequence is the replayed step; others are warm-up, prefill or cut-off steps.
    chosen = [s for s in steps(kernels, a.max_gap_us * 1000) if len(s) >= 8]
    if not chosen:
        print(f"timeline {a.label}: no repeated steps in {a.csv} ({len(kernels)} rows)")
        return 1
    launches = len(chosen[0])
    busy, span, gaps = zip(*(summarize(s) for s in chosen))
    all_gaps = sorted(g for gs in gaps for g in gs)
    by_next = {}
    for s, gs in zip(chosen, gaps):
        for k, g in zip(s[1:], gs):
            name = k[2].split("(")[0]
            total, count = by_next.get(name, (0.0, 0))
            by_next[name] = (total + g, count + 1)
    by_kernel = {}
    for s in chosen:
        for _, d, n in s:
            name = n.split("(")[0]
            total, count = by_kernel.get(name, (0.0, 0))
            by_kernel[name] = (total + d, count + 1)
    steps_n = len(chosen)
    result = {
        "label": a.label, "steps": steps_n, "launches_per_step": launches,
        "step_us_median": statistics.median(span) / 1000, "busy_us_median": statistics.median(busy) / 1000,
        "idle_us_median": statistics.median(sp - b for sp, b in zip(span, busy)) / 1000,
        "gap_us_median": all_gaps[len(all_gaps) // 2] / 1000, "gap_us_p90": all_gaps[int(len(all_gaps) * 0.9)] / 1000,
        "gap_before_us": {k: t / c / 1000 for k, (t, c) in sorted(by_next.items(), key=lambda kv: -kv[1][0])},
        "kernel_us": {k: t / c / 1000 for k, (t, c) in sorted(by_kernel.items(), key=lambda kv: -kv[1][0])},
        "kernel_us_per_step": {k: t / steps_n / 1000 for k, (t, c) in sorted(by_kernel.items(), key=lambda kv: -kv[1][0])},
    }
    for name, us in list(result["kernel_us_per_step"].items())[:8]:
        print(f"  {name:40s} {us:8.1f} µs a step, {result['kernel_us'][name]:6.2f} µs a launch, "
              f"gap before it {result['gap_before_us'].get(name, 0.0):5.2f} µs")
    # The headline last: the GPU script's summary keeps a step's last line.
    print(f"timeline {a.label}: {steps_n} steps of {launches} launches: step {result['step_us_median']:.1f} µs = device "
          f"{result['busy_us_median']:.1f} busy + {result['idle_us_median']:.1f} idle (gap median "
          f"{result['gap_us_median']:.2f} µs, p90 {result['gap_us_p90']:.2f})")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
