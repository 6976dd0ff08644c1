"""
textreport.py — lanes-lab's terminal output: one table per scenario with
lanes-demo and FastAPI side by side (when the terminal is wide enough; one
line per server otherwise), a one-line verdict per cell, and the scenario's
"what this shows" sentence.

Renders what the scenarios measured; computes nothing new.
"""
import shutil
import textwrap

from common import SIDE_LABEL, SIDES, fmt


def cells(row, columns, side, with_text):
    m = row.get(side, {})
    out = []
    for key, head, kind in columns:
        if kind == "text" and not with_text:
            continue
        out.append(fmt(m.get(key), kind) if key in m else "")
    return out, m.get("verdict", "")


def table_wide(sc, width):
    cols = [c for c in sc["columns"] if c[2] != "text"]
    heads = [c[1] for c in cols]
    lines = []
    body = []
    for row in sc["rows"]:
        line = [row["case"], row.get("seed", "")]
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
            first = row["case"] if i == 0 else ("  seed: " + row["seed"] if row.get("seed")
                                                 and row["seed"] != "-" else "")
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
    title = "%d. %s — %s (seed%s %s)" % (index, sc["name"], sc["title"],
                                        "s" if len(sc["seeds"]) > 1 else "",
                                        ", ".join(sc["seeds"]))
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
    lines.append("")
    for note in sc.get("notes", []):
        lines += textwrap.wrap("note: " + note, min(width, 100))
    lines += textwrap.wrap("What this shows: " + sc["shows"], min(width, 100))
    return "\n".join(lines)


def summary(scenarios, width=None):
    """The closing table: every verdict of every scenario, one line per case."""
    rows = [["scenario", "case", "lanes-demo", "FastAPI"]]
    for sc in scenarios:
        if sc.get("error"):
            rows.append([sc["name"], "(failed)", sc["error"][:60], ""])
            continue
        for r in sc["rows"]:
            rows.append([sc["name"], r["case"], r.get("lanes", {}).get("verdict", ""),
                         r.get("fastapi", {}).get("verdict", "")])
    w = [max(len(r[i]) for r in rows) for i in range(4)]
    out = []
    for r in rows:
        out.append("  ".join(r[i].ljust(w[i]) for i in range(4)).rstrip())
        if r is rows[0]:
            out.append("-" * len(out[0]))
    return "\n".join(out)
