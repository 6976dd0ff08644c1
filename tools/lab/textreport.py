"""
textreport.py — lanes-lab's terminal output: one table per scenario with
lanes-demo and FastAPI side by side (when the terminal is wide enough; one
line per server otherwise), a one-line verdict per cell, and the scenario's
"what this shows" sentence.

Renders what the scenarios measured; computes nothing new.
"""
import shutil
import textwrap

from common import QUESTIONS, SIDE_LABEL, SIDES, fmt, grid_of


def verdict_text(m):
    """The verdict, with a failed self-check right beside it."""
    v = m.get("verdict", "")
    if m.get("flag"):
        v += "  [!! %s]" % m["flag"]
    return v


def seed_text(row):
    """The seed's claim and, when it gave one, its own number."""
    claim = row.get("seed", "")
    if row.get("seed_value"):
        return "%s [%s]" % (claim, row["seed_value"]) if claim and claim != "-" \
            else "[%s]" % row["seed_value"]
    return claim


def cells(row, columns, side, with_text):
    m = row.get(side, {})
    out = []
    for key, head, kind in columns:
        if kind == "text" and not with_text:
            continue
        out.append(fmt(m.get(key), kind) if key in m else "")
    return out, verdict_text(m)


def cause_lines(sc, width):
    """One line per (case, server) with a measured cause, under the table."""
    out = []
    for row in sc["rows"]:
        for side in SIDES:
            c = row.get(side, {}).get("cause")
            if c:
                out += textwrap.wrap("cause — %s, %s: %s" % (row["case"], SIDE_LABEL[side], c),
                                     min(width, 100), subsequent_indent="    ")
    return out


def table_wide(sc, width):
    cols = [c for c in sc["columns"] if c[2] != "text"]
    heads = [c[1] for c in cols]
    lines = []
    body = []
    for row in sc["rows"]:
        line = [row["case"], seed_text(row)]
        for side in SIDES:
            nums, verdict = cells(row, sc["columns"], side, False)
            line += nums + [verdict]
        body.append(line)
    head = ["case", "seed"] + (heads + ["verdict"]) * 2
    w = [max(len(str(r[i])) for r in body + [head]) for i in range(len(head))]
    per = len(cols) + 1
    span = [sum(w[2 + k * per:2 + (k + 1) * per]) + 2 * (per - 1) for k in range(2)]
    left = w[0] + 2 + w[1]
    lines.append(" " * left + " | " + SIDE_LABEL["lanes"].ljust(span[0]) + " | "
                 + SIDE_LABEL["fastapi"])
    for r in [head] + body:
        parts = [str(r[0]).ljust(w[0]) + "  " + str(r[1]).ljust(w[1])]
        for k in range(2):
            seg = []
            for i in range(2 + k * per, 2 + (k + 1) * per):
                v = str(r[i])
                is_num = i - 2 - k * per < per - 1
                seg.append(v.rjust(w[i]) if is_num else v.ljust(w[i]))
            parts.append("  ".join(seg))
        lines.append(" | ".join(parts).rstrip())
        if r is head:
            lines.append("-" * min(width, max(len(x) for x in lines)))
    return lines


def table_stacked(sc):
    cols = sc["columns"]
    head = ["case", "server"] + [c[1] for c in cols] + ["verdict"]
    body = []
    for row in sc["rows"]:
        for i, side in enumerate(SIDES):
            nums, verdict = cells(row, cols, side, True)
            st = seed_text(row)
            first = row["case"] if i == 0 else ("  seed: " + st if st and st != "-" else "")
            body.append([first, SIDE_LABEL[side]] + nums + [verdict])
    w = [max(len(str(r[i])) for r in body + [head]) for i in range(len(head))]
    kinds = ["text", "text"] + [c[2] for c in cols] + ["text"]
    out = []
    for r in [head] + body:
        seg = [str(v).rjust(w[i]) if kinds[i] != "text" and r is not head else
               str(v).ljust(w[i]) for i, v in enumerate(r)]
        out.append("  ".join(seg).rstrip())
        if r is head:
            out.append("-" * len(out[0]))
    return out


def wide_width(sc):
    lines = table_wide(sc, 10 ** 6)
    return max(len(x) for x in lines)


def render(sc, index, width=None):
    width = width or shutil.get_terminal_size((120, 40)).columns
    title = "%d. %s — %s (%s)" % (index, sc["name"], sc["title"],
                                 "seed%s %s" % ("s" if len(sc["seeds"]) > 1 else "", ", ".join(sc["seeds"]))
                                 if sc["seeds"] else "not in the seeds")
    lines = ["", "=" * min(width, 100), title, "=" * min(width, 100)]
    lines += textwrap.wrap(sc["question"], min(width, 100))
    lines.append("")
    if sc.get("error"):
        lines.append("FAILED: " + sc["error"])
        return "\n".join(lines)
    if wide_width(sc) <= width:
        lines += table_wide(sc, width)
    else:
        lines += table_stacked(sc)
    causes = cause_lines(sc, width)
    if causes:
        lines.append("")
        lines += causes
    lines.append("")
    for note in sc.get("notes", []):
        lines += textwrap.wrap("note: " + note, min(width, 100))
    lines += textwrap.wrap("What this shows: " + sc["shows"], min(width, 100))
    return "\n".join(lines)


def grid(scenarios):
    """The opening grid as text: per way of writing a handler, per question,
    lanes-demo / FastAPI: yes, no or - (not measured)."""
    g = grid_of(scenarios)
    if not g:
        return ""
    word = {True: "yes", False: "no", None: "-"}
    head = ["way of writing the handler"] + ["%s %s" % (h, "L/F") for _, h, _ in QUESTIONS]
    rows = [head]
    for way, cells_ in g:
        line = [way]
        for q, _, _ in QUESTIONS:
            parts = []
            for side in SIDES:
                cs = cells_.get((q, side), [])
                parts.append("/".join(word[c["answer"]] for c in cs) if cs else "-")
            line.append(" / ".join(parts))
        rows.append(line)
    w = [max(len(r[i]) for r in rows) for i in range(len(head))]
    out = ["What blocks, what uses the cores, what gives memory back (L = lanes-demo, "
           "F = FastAPI; details in the tables above):"]
    for r in rows:
        out.append("  ".join(r[i].ljust(w[i]) for i in range(len(head))).rstrip())
        if r is head:
            out.append("-" * len(out[-1]))
    return "\n".join(out)


def summary(scenarios, width=None):
    """The closing table: every verdict of every scenario, one line per case,
    with the seed's number where it gave one and any failed self-check."""
    rows = [["scenario", "case", "seed", "lanes-demo", "FastAPI"]]
    for sc in scenarios:
        if sc.get("error"):
            rows.append([sc["name"], "(failed)", "", sc["error"][:60], ""])
            continue
        for r in sc["rows"]:
            rows.append([sc["name"], r["case"], r.get("seed_value", ""),
                         verdict_text(r.get("lanes", {})),
                         verdict_text(r.get("fastapi", {}))])
    k = len(rows[0])
    w = [max(len(r[i]) for r in rows) for i in range(k)]
    out = []
    g = grid(scenarios)
    if g:
        out += [g, ""]
    for r in rows:
        out.append("  ".join(r[i].ljust(w[i]) for i in range(k)).rstrip())
        if r is rows[0]:
            out.append("-" * len(out[-1]))
    return "\n".join(out)
