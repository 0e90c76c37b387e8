#!/usr/bin/env python3
"""Tables for docs/benchmarks.md, generated from raw result files.

    bench/tables.py RESULTS.txt [--targets] [--ab]
    bench/tables.py --update docs/benchmarks.md

A result file is what bench/device-all.sh (or another driver) wrote: header
lines "# key: value" (commit, machine, command) and SUMMARY lines of
amutex-bench, "SUMMARY k=v k=v ...". Every figure in a table is the median
over the repeats in that one file, so a table never mixes runs, and each
table names the commit and machine its file says it measured.

--update rewrites every block of docs/benchmarks.md that sits between
"<!-- table FILE KIND -->" and "<!-- /table -->" from FILE (relative to the
repository root), KIND being one of: scenarios, targets, stats, ab,
rwlock (bench/rwlock-compare.sh's), ratios (bench/dropin-condvar.sh's), variants (bench/ab-preload.sh's blocks:
each variant's median per-round ratio to the first), verbatim (a driver's
own summary).
"""
import re
import statistics
import sys
from collections import OrderedDict, defaultdict

GLIBC = ("pthread", "adaptive")


def pass_header(path, key):
    """A header a file of a device pass lacks (its subdirectory's drivers write
    none): the one of the pass's own files, in the directory above."""
    import glob
    import os
    for f in sorted(glob.glob(os.path.join(os.path.dirname(os.path.dirname(path)), "*.txt"))):
        for line in open(f):
            m = re.match(r"#\s*([\w-]+):\s*(.*)", line)
            if m and m.group(1) == key:
                return m.group(2)
    return None


def parse(path):
    head, rows = OrderedDict(), []
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            m = re.match(r"#\s*([\w-]+):\s*(.*)", line)
            if m and not rows:
                head[m.group(1)] = m.group(2)
                continue
            if line.startswith("SUMMARY "):
                kv = dict(p.split("=", 1) for p in line.split()[1:] if "=" in p)
                rows.append(kv)
    for key in ("commit", "machine"):
        if key not in head and pass_header(path, key):
            head[key] = pass_header(path, key)
    if "command" not in head and pass_header(path, "commit"):
        head["command"] = "written by a driver of the pass in the directory above"
    return head, rows


def num(r, k):
    try:
        return float(r[k])
    except (KeyError, ValueError):
        return None


def key_of(r):
    """What makes two SUMMARY lines the same measurement (all but the results)."""
    s = r.get("scenario")
    if s == "hog":
        return (s, int(r["threads"]) - 1, r.get("pause", "busy"), r.get("cpus"))
    if s == "contended":
        return (s, int(r["threads"]), r.get("cpus"))
    return (s, int(r.get("threads", 1)), r.get("cpus"))


def label(k):
    s = k[0]
    if s == "hog":
        return "hog 1+%d%s" % (k[1], " (sleeping waiters)" if k[2] == "sleep" else "")
    if s == "contended":
        return "contended %d threads on %s CPUs" % (k[1], k[2])
    if s == "condvar":
        return "condvar"
    return s


def who(r):
    """The lock, and the binary it ran in when a file compares builds."""
    l = r.get("lock", "?")
    v = r.get("variant") or r.get("via")
    return "%s@%s" % (l, v) if v and v not in ("new", "glibc") else l


def group(rows):
    g = defaultdict(lambda: defaultdict(list))
    for r in rows:
        if "scenario" in r and "lock" in r:
            g[key_of(r)][who(r)].append(r)
    return g


def med(rs, k):
    v = [num(r, k) for r in rs if num(r, k) is not None]
    return statistics.median(v) if v else None


def fmt_ns(ns):
    if ns is None:
        return "-"
    if ns < 1e3:
        return "%.0f ns" % ns
    if ns < 1e6:
        return "%.1f µs" % (ns / 1e3)
    if ns < 1e9:
        return "%.2f ms" % (ns / 1e6)
    return "%.2f s" % (ns / 1e9)


def fmt_rate(x):
    if x is None:
        return "-"
    if x >= 1e6:
        return "%.2fM" % (x / 1e6)
    if x >= 1e3:
        return "%.1fK" % (x / 1e3)
    return "%.0f" % x


def caption(head, path):
    return "Measured at commit `%s` on %s; %s; raw: `%s`." % (
        head.get("commit", "?"), head.get("machine", "?"),
        head.get("command", "?"), path)


def best_glibc(locks):
    rates = [(med(locks[l], "ops_per_sec"), l) for l in GLIBC if l in locks]
    rates = [x for x in rates if x[0]]
    return max(rates) if rates else (None, None)


def scenarios(path):
    head, rows = parse(path)
    out = [caption(head, path), ""]
    out.append("| scenario | lock | runs | ops/s | vs best glibc | wait p50 | p99 | p99.9 | max | fairness |")
    out.append("|---|---|---|---|---|---|---|---|---|---|")
    for k, locks in group(rows).items():
        base, _ = best_glibc(locks)
        for l, rs in locks.items():
            rate = med(rs, "ops_per_sec")
            ratio = "%.2fx" % (rate / base) if base and rate and l not in GLIBC else ""
            out.append("| %s | %s | %d | %s | %s | %s | %s | %s | %s | %s |" % (
                label(k), l, len(rs), fmt_rate(rate), ratio,
                fmt_ns(med(rs, "wait_p50_ns")), fmt_ns(med(rs, "wait_p99_ns")),
                fmt_ns(med(rs, "wait_p999_ns")), fmt_ns(med(rs, "wait_max_ns")),
                "%.2f" % med(rs, "fairness") if med(rs, "fairness") is not None else "-"))
    return "\n".join(out)


def worst(rs, k):
    v = [num(r, k) for r in rs if num(r, k) is not None]
    return max(v) if v else None


def targets(path):
    """The core targets (issues 2 and 11), judged from one file."""
    head, rows = parse(path)
    g = group(rows)
    out = [caption(head, path), ""]
    out.append("| target | measured (median of runs; worst for tails) | result |")
    out.append("|---|---|---|")

    def find(pred):
        for k, locks in g.items():
            if pred(k):
                return locks
        return None

    def row(name, text, ok):
        out.append("| %s | %s | %s |" % (name, text, "met" if ok else "missed"))

    u = find(lambda k: k[0] == "uncontended")
    if u and "amutex" in u and "pthread" in u:
        a, p = med(u["amutex"], "ops_per_sec"), med(u["pthread"], "ops_per_sec")
        row("uncontended pair ≥ 1.3x pthread", "%s vs %s pairs/s = **%.2fx**" % (
            fmt_rate(a), fmt_rate(p), a / p), a / p >= 1.3)
        if "amutex-stats" in u:
            s = med(u["amutex-stats"], "ops_per_sec")
            row("statistics on, uncontended: at most 3% slower", "%s vs %s = **%+.1f%%**" % (
                fmt_rate(s), fmt_rate(a), (s / a - 1) * 100), s / a >= 0.97)
    for w, p99, mx, what in ((1, None, 1.3e6, "worst ≤ 1.3 ms"),
                             (15, 2e6, 4e6, "p99 ≤ 2 ms, worst ≤ 4 ms")):
        h = find(lambda k, w=w: k[0] == "hog" and k[1] == w and k[2] == "busy")
        if h and "amutex" in h:
            a = h["amutex"]
            q, m = med(a, "wait_p99_ns"), worst(a, "wait_max_ns")
            pm = worst(h["pthread"], "wait_max_ns") if "pthread" in h else None
            ok = m <= mx and (p99 is None or q <= p99)
            row("hog 1+%d: %s" % (w, what), "p99 **%s**, worst **%s** (pthread worst %s)" % (
                fmt_ns(q), fmt_ns(m), fmt_ns(pm)), ok)
    h = find(lambda k: k[0] == "hog" and k[1] == 63 and k[2] == "sleep")
    if h and "amutex" in h:
        a = h["amutex"]
        row("hog 1+63, sleeping waiters: p99.9 ≤ 5 ms, worst ≤ 10 ms",
            "p99.9 **%s**, worst **%s**" % (fmt_ns(med(a, "wait_p999_ns")), fmt_ns(worst(a, "wait_max_ns"))),
            med(a, "wait_p999_ns") <= 5e6 and worst(a, "wait_max_ns") <= 10e6)
    c = find(lambda k: k[0] == "contended" and k[1] == 16 and k[2] == "16") or \
        find(lambda k: k[0] == "contended" and k[1] == 8 and k[2] == "2")
    if c and "amutex" in c:
        base, bl = best_glibc(c)
        a = c["amutex"]
        rate, fair = med(a, "ops_per_sec"), med(a, "fairness")
        p999, gp999 = med(a, "wait_p999_ns"), min(med(c[l], "wait_p999_ns") for l in GLIBC if l in c)
        gfair = max(med(c[l], "fairness") for l in GLIBC if l in c)
        row("contended: ≥ 1.1x the better glibc mutex", "%s vs %s %s = **%.2fx**" % (
            fmt_rate(rate), bl, fmt_rate(base), rate / base), rate / base >= 1.1)
        row("contended: fairness ≥ 0.9", "**%.2f** (glibc best %.2f)" % (fair, gfair), fair >= 0.9)
        row("contended: p99.9 wait ≤ glibc's", "**%s** (glibc best %s)" % (fmt_ns(p999), fmt_ns(gp999)),
            p999 <= gp999)
        if "amutex-stats" in c:
            s = med(c["amutex-stats"], "ops_per_sec")
            row("statistics on, contended: at most 5% slower", "%s vs %s = **%+.1f%%**" % (
                fmt_rate(s), fmt_rate(rate), (s / rate - 1) * 100), s / rate >= 0.95)
    return "\n".join(out)


def ab(path):
    """Two builds of amutex side by side (lock=amutex, variant=prev|new)."""
    head, rows = parse(path)
    out = [caption(head, path), ""]
    out.append("| scenario | ops/s before | after | after/before | p99 before | after | p99.9 before | after | max before | after |")
    out.append("|---|---|---|---|---|---|---|---|---|---|")
    for k, locks in group(rows).items():
        old, new = locks.get("amutex@prev"), locks.get("amutex")
        if not old or not new:
            continue
        ro, rn = med(old, "ops_per_sec"), med(new, "ops_per_sec")
        out.append("| %s | %s | %s | %.2fx | %s | %s | %s | %s | %s | %s |" % (
            label(k), fmt_rate(ro), fmt_rate(rn), rn / ro,
            fmt_ns(med(old, "wait_p99_ns")), fmt_ns(med(new, "wait_p99_ns")),
            fmt_ns(med(old, "wait_p999_ns")), fmt_ns(med(new, "wait_p999_ns")),
            fmt_ns(worst(old, "wait_max_ns")), fmt_ns(worst(new, "wait_max_ns"))))
    return "\n".join(out)


def stats(path):
    """Statistics on against off, per scenario (lock=amutex-stats beside lock=amutex)."""
    head, rows = parse(path)
    out = [caption(head, path), ""]
    out.append("| scenario | runs | without | with statistics | with/without | target | result |")
    out.append("|---|---|---|---|---|---|---|")
    for k, locks in group(rows).items():
        off, on = locks.get("amutex"), locks.get("amutex-stats")
        if not off or not on:
            continue
        a, b = med(off, "ops_per_sec"), med(on, "ops_per_sec")
        limit = 0.97 if k[0] == "uncontended" else 0.95
        out.append("| %s | %d | %s | %s | **%.3fx** | ≥ %.2fx | %s |" % (
            label(k), min(len(off), len(on)), fmt_rate(a), fmt_rate(b), b / a, limit,
            "met" if b / a >= limit else "missed"))
    return "\n".join(out)


def verbatim(path):
    """A summary a driver printed itself (its lines, as they are)."""
    lines = [l.rstrip("\n") for l in open(path) if not l.startswith("PAIR ")]
    return "Raw: `%s`.\n\n```\n%s\n```" % (path, "\n".join(lines))


def ratios(path):
    """The RATIO lines of bench/dropin-condvar.sh (drop-in / glibc, median of pairs)."""
    def first(key):
        return next((l.split(":", 1)[1].strip() for l in open(path)
                     if l.lstrip("# ").startswith(key + ":")), None)
    commit = first("commit") or pass_header(path, "commit")
    out = ["Raw: `%s` (machine: %s; library at commit `%s`)." % (path, first("machine"), commit or "?"), ""]
    out.append("| workload | median ratio (drop-in / glibc) | pairs |")
    out.append("|---|---|---|")
    for l in open(path):
        if l.startswith("RATIO "):
            kv = dict(p.split("=", 1) for p in l.split()[1:] if "=" in p)
            out.append("| %s | **%sx** | %s |" % (kv["scenario"], kv["median"],
                       l.split("pairs=", 1)[1].strip()))
    return "\n".join(out)


def variants(path):
    """bench/ab-preload.sh blocks (device-all.sh variants): per scenario, each
    variant's median of its per-round ratios to the first (glibc)."""
    head, blocks, names, notes = OrderedDict(), [], [], []
    for l in open(path):
        l = l.rstrip("\n")
        m = re.match(r"#\s*(commit|machine|command|date):\s*(.*)", l)
        if m and not blocks:
            head.setdefault(m.group(1), m.group(2))
            continue
        m = re.match(r"# variant (\S+): (.*)", l)
        if m:
            notes.append("`%s`: %s" % (m.group(1), m.group(2)))
            continue
        m = re.match(r"# (.*), (ops|runs)/s; rounds of every variant", l)
        if m:
            what = m.group(1)
            what = re.sub(r"^amutex-bench --scenario ", "", what)
            what = re.sub(r" --duration-ms \d+", "", what)
            what = re.sub(r"^\S*/", "", what)
            cpus = re.search(r"; on CPUs (\S+) only", l)
            if cpus:
                what += " (CPUs %s)" % cpus.group(1)
            blocks.append((what, OrderedDict()))
            continue
        m = re.match(r"MEDIAN (\S+) rate=\S+ ratio_to_\S+=(\S+) failed=(\d+)", l)
        if m and blocks:
            blocks[-1][1][m.group(1)] = (m.group(2), int(m.group(3)))
            if m.group(1) not in names:
                names.append(m.group(1))
    out = [caption(head, path), ""]
    if notes:
        out += ["Variants: " + "; ".join(notes) + ".", ""]
    out.append("| workload | " + " | ".join(names) + " |")
    out.append("|---|" + "---|" * len(names))
    for what, med_ in blocks:
        cells = []
        for n in names:
            r, failed = med_.get(n, ("-", 0))
            cells.append(("%sx" % r if r != "-" else "-") + (" (%d failed)" % failed if failed else ""))
        out.append("| %s | %s |" % (what, " | ".join(cells)))
    return "\n".join(out)




def rwlock(path):
    """bench/rwlock-compare.sh's file: one row per workload and lock, the
    medians over its rounds, throughput as a ratio to glibc's default."""
    head, rows = parse(path)
    g = OrderedDict()
    for r in rows:
        if r.get("scenario") != "rwlock":
            continue
        k = (int(r["threads"]), int(r["writers"]), int(r["write_pct"]), r["cs_iters"], r["cpus"])
        g.setdefault(k, OrderedDict()).setdefault(r["lock"], []).append(r)
    out = [caption(head, path), ""]
    out.append("| workload | lock | runs | ops/s | vs pthread | writes/s | write wait p99 | max | read wait p99 | max | checks |")
    out.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for (threads, writers, pct, cs, cpus), locks in g.items():
        if threads == 1:
            name = "one thread, reads"
        elif writers:
            name = "%d reader%s (holds of %s steps), %d writer%s" % (
                threads - writers, "s" if threads - writers > 1 else "", cs, writers,
                "s" if writers > 1 else "")
        else:
            name = "%d threads, %d%% writes" % (threads, pct)
        base = med(locks.get("pthread", []), "ops_per_sec")
        for l, rs in locks.items():
            rate = med(rs, "ops_per_sec")
            out.append("| %s | %s | %d | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                name, l, len(rs), fmt_rate(rate),
                "%.2fx" % (rate / base) if base and rate else "-",
                fmt_rate(med(rs, "writes_per_sec")) if threads > 1 else "-",
                fmt_ns(med(rs, "write_wait_p99_ns")) if threads > 1 else "-",
                fmt_ns(med(rs, "write_wait_max_ns")) if threads > 1 else "-",
                fmt_ns(med(rs, "read_wait_p99_ns")), fmt_ns(med(rs, "read_wait_max_ns")),
                "exact" if all(r.get("checks") == "exact" for r in rs) else "WRONG"))
    return "\n".join(out)


KINDS = {"scenarios": scenarios, "targets": targets, "ab": ab, "stats": stats,
         "verbatim": verbatim, "ratios": ratios, "variants": variants, "rwlock": rwlock}


def update(doc):
    import os
    root = os.path.dirname(os.path.abspath(doc))
    while root != "/" and not os.path.exists(os.path.join(root, ".git")):
        root = os.path.dirname(root)
    text = open(doc).read()
    pat = re.compile(r"(<!-- table (\S+) (\w+) -->\n)(.*?)(<!-- /table -->)", re.S)

    def repl(m):
        body = KINDS[m.group(3)](os.path.join(root, m.group(2))).replace(
            os.path.join(root, "") , "")
        return m.group(1) + body + "\n" + m.group(5)
    new = pat.sub(repl, text)
    open(doc, "w").write(new)


def main(argv):
    if len(argv) >= 2 and argv[0] == "--update":
        update(argv[1])
        return 0
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    kind = "scenarios"
    for a in argv[1:]:
        kind = a.lstrip("-")
    print(KINDS[kind](argv[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
