"""
svg.py — the few chart shapes lanes-lab's report needs, as inline SVG strings:
horizontal grouped bars (with an optional limit marker per group), lines over
time, and per-request timelines (one bar per request from start to end).

Plain strings, no scripts, no fonts or images from anywhere: the page must
work offline and print. Every label is escaped.
"""
import html
import math

LANES = "#1864ab"
FASTAPI = "#e8590c"
GRID = "#dee2e6"
INK = "#212529"
MUTED = "#868e96"
PALETTE = ["#1864ab", "#e8590c", "#2b8a3e", "#862e9c", "#c92a2a", "#5c940d", "#0b7285",
           "#d9480f"]


def esc(s):
    return html.escape(str(s), quote=True)


def _svg(w, h, body, label, series=0):
    """series: how many data series the chart draws (data-series, which the
    tests hold to at most four)."""
    return ('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
            'role="img" aria-label="%s" font-family="sans-serif" font-size="11" '
            'data-series="%d">%s</svg>' % (w, h, w, h, esc(label), series, "".join(body)))


def _text(x, y, s, anchor="start", size=11, color=INK, weight="normal"):
    return ('<text x="%.1f" y="%.1f" text-anchor="%s" font-size="%d" fill="%s" '
            'font-weight="%s">%s</text>' % (x, y, anchor, size, color, weight, esc(s)))


def _nice_ticks(lo, hi, log):
    if log:
        a, b = int(math.floor(math.log10(lo))), int(math.ceil(math.log10(hi)))
        return [10.0 ** k for k in range(a, b + 1)]
    if hi <= lo:
        hi = lo + 1
    raw = (hi - lo) / 5.0
    mag = 10 ** math.floor(math.log10(raw))
    step = min((m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw), default=raw)
    t, out = math.floor(lo / step) * step, []
    while t <= hi + step * 0.01:
        out.append(round(t, 10))
        t += step
    return out


def _tick_label(v, unit):
    if v >= 1000 and unit == "ms":
        return "%gs" % (v / 1000.0)
    if abs(v) >= 1000:
        return "%gk%s" % (v / 1000.0, unit if unit != "ms" else "")
    return "%g%s" % (v, unit)


class Scale:
    def __init__(self, lo, hi, a, b, log=False):
        if log:
            lo = max(lo, 1e-9)
            hi = max(hi, lo * 10)
        elif hi <= lo:
            hi = lo + 1
        self.lo, self.hi, self.a, self.b, self.log = lo, hi, a, b, log

    def __call__(self, v):
        if self.log:
            v = max(v, self.lo)
            f = (math.log10(v) - math.log10(self.lo)) / (math.log10(self.hi) - math.log10(self.lo))
        else:
            f = (v - self.lo) / (self.hi - self.lo)
        return self.a + f * (self.b - self.a)


def legend(items, x, y, width=10 ** 6):
    """Swatches and labels in rows that fit width; returns (svg, rows used)."""
    out, cx, rows = [], x, 1
    for label, color in items:
        step = 24 + 6.2 * len(label)
        if cx > x and cx + step > width:
            cx, y, rows = x, y + 14, rows + 1
        out.append('<rect x="%.1f" y="%.1f" width="10" height="10" fill="%s"/>' % (cx, y - 9, color))
        out.append(_text(cx + 14, y, label))
        cx += step
    return "".join(out), rows


def hbars(title, groups, series, unit="", log=False, width=760, marker_label=None,
          vline=None, vline_label=None, x_title=None):
    """groups: [(label, {series_key: value}, marker or None)]; series:
    [(key, label, color)]. One bar per series in each group; marker: a
    black tick (e.g. the physical limit); vline: one value across all groups."""
    bar_h, gap = 11, 9
    left = max([len(g[0]) for g in groups] + [10]) * 6.4 + 14
    top, right = 38, 70
    h = top + len(groups) * (bar_h * len(series) + gap) + 28 + (14 if x_title else 0)
    axis_y = h - (14 if x_title else 0)
    vals = [v for _, d, m in groups for v in list(d.values()) + ([m] if m else []) if v]
    if vline:
        vals.append(vline)
    if not vals:
        vals = [1]
    lo = min(vals) / 2.0 if log else 0.0
    hi = max(vals) * 1.15
    sx = Scale(lo, hi, left, width - right, log)
    leg, _ = legend([(lab, col) for _, lab, col in series]
                    + ([(marker_label, INK)] if marker_label else []), left, 31, width)
    body = [_text(8, 16, title, size=13, weight="bold"), leg]
    for t in _nice_ticks(lo if log else 0, hi, log):
        if t < lo or t > hi:
            continue
        x = sx(t)
        body.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s"/>'
                    % (x, top, x, axis_y - 24, GRID))
        body.append(_text(x, axis_y - 10, _tick_label(t, unit), "middle", 10, MUTED))
    if x_title:
        body.append(_text((left + width - right) / 2.0, h - 4, x_title, "middle", 10, INK))
    y = top
    for label, data, marker in groups:
        gh = bar_h * len(series)
        body.append(_text(left - 6, y + gh / 2.0 + 4, label, "end"))
        for i, (key, _, color) in enumerate(series):
            if key not in data:
                continue
            v = data.get(key)
            by = y + i * bar_h
            if v is None:
                body.append(_text(left + 4, by + bar_h - 2, "n/a", size=9, color=MUTED))
                continue
            x1 = sx(v)
            body.append('<rect x="%.1f" y="%.1f" width="%.1f" height="%d" fill="%s"/>'
                        % (left, by + 1, max(x1 - left, 1), bar_h - 2, color))
            lx = max(x1, sx(marker) + 2 if marker else x1) + 3
            body.append(_text(lx, by + bar_h - 2, _value(v, unit), size=9, color=MUTED))
        if marker:
            mx = sx(marker)
            body.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" '
                        'stroke-width="2"/>' % (mx, y - 2, mx, y + gh + 2, INK))
        y += gh + gap
    if vline:
        x = sx(vline)
        body.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s" '
                    'stroke-dasharray="4 3"/>' % (x, top, x, axis_y - 24, "#c92a2a"))
        if vline_label:
            body.append(_text(x + 3, axis_y - 26, vline_label, size=9, color="#c92a2a"))
    return _svg(width, h, body, title, len(series))


def _value(v, unit):
    if isinstance(v, int):
        return "%d%s" % (v, unit)
    if unit == "ms" and v >= 1000:
        return "%.2f s" % (v / 1000.0)
    if v >= 100:
        return "%.0f%s" % (v, unit)
    if v >= 10:
        return "%.1f%s" % (v, unit)
    return "%.2f%s" % (v, unit)


def lines(title, series, x_label="s", y_unit="", log_y=False, width=370, height=200,
          hline=None, hline_label=None, y_min=None, dots=False, x_title=None, y_title=None,
          hrefs=()):
    """series: [(label, color, [(x, y)])], x in seconds. dots: one dot per
    point instead of a line (probes: a stalled one stands out, not a slope).
    x_title/y_title: the axis titles with units; hrefs: more horizontal
    reference lines [(y, label)] besides hline."""
    leg, leg_rows = legend([(lab, col) for lab, col, _ in series], 46, 31, width)
    left, right, top, bottom = 46 + (14 if y_title else 0), 10, 38 + 14 * (leg_rows - 1), \
        26 + (13 if x_title else 0)
    height += 14 * (leg_rows - 1)
    pts = [p for _, _, ps in series for p in ps]
    if not pts:
        return _svg(width, 60, [_text(8, 16, title, size=13, weight="bold"),
                                _text(8, 40, "no data", color=MUTED)], title)
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    x0, x1 = min(0.0, min(xs)), max(xs) or 1.0
    if log_y:
        ylo = max(min(v for v in ys if v > 0) if any(v > 0 for v in ys) else 0.01, 0.01)
        ylo = 10 ** math.floor(math.log10(ylo))
        yhi = max(ys + ([hline] if hline else []) + [r for r, _ in hrefs]) * 1.5
    else:
        ylo = 0.0 if y_min is None else y_min
        yhi = max(ys + ([hline] if hline else []) + [r for r, _ in hrefs]) * 1.1 or 1.0
    sx = Scale(x0, x1, left, width - right)
    sy = Scale(ylo, yhi, height - bottom, top, log_y)
    body = [_text(8, 16, title, size=12, weight="bold"), leg]
    for t in _nice_ticks(ylo, yhi, log_y):
        if t < ylo or t > yhi:
            continue
        y = sy(t)
        body.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="%s"/>'
                    % (left, y, width - right, y, GRID))
        body.append(_text(left - 4, y + 3, _tick_label(t, y_unit), "end", 9, MUTED))
    for t in _nice_ticks(x0, x1, False):
        if t < x0 or t > x1:
            continue
        x = sx(t)
        body.append(_text(x, height - bottom + 16, "%g%s" % (t, x_label), "middle", 9, MUTED))
    refs = ([(hline, hline_label)] if hline else []) + list(hrefs)
    for ref, ref_label in refs:
        if not (ylo <= ref <= yhi):
            continue
        y = sy(ref)
        body.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#c92a2a" '
                    'stroke-dasharray="4 3"/>' % (left, y, width - right, y))
        if ref_label:
            body.append(_text(width - right - 2, y - 3, ref_label, "end", 9, "#c92a2a"))
    if x_title:
        body.append(_text((left + width - right) / 2.0, height - 3, x_title, "middle", 10, INK))
    if y_title:
        body.append('<text x="12" y="%.1f" text-anchor="middle" font-size="10" fill="%s" '
                    'transform="rotate(-90 12 %.1f)">%s</text>' % (
                        (top + height - bottom) / 2.0, INK, (top + height - bottom) / 2.0,
                        esc(y_title)))
    for _, color, ps in series:
        if not ps:
            continue
        if dots:
            body.extend('<circle cx="%.1f" cy="%.1f" r="2" fill="%s" fill-opacity="0.75"/>'
                        % (sx(x), sy(y), color) for x, y in ps)
            continue
        d = " ".join("%s%.1f,%.1f" % ("M" if i == 0 else "L", sx(x), sy(y))
                     for i, (x, y) in enumerate(ps))
        body.append('<path d="%s" fill="none" stroke="%s" stroke-width="1.5"/>' % (d, color))
    body.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s"/>'
                % (left, height - bottom, width - right, height - bottom, MUTED))
    return _svg(width, height, body, title, len(series))


def gantt(title, rows, x_max, legend_items=(), width=370, row_h=5, refs=(),
          x_title="time since the first request was sent (s)", y_title="request"):
    """rows: [(start_s, end_s, color)] or [(start_s, end_s, color, light)],
    one bar per request, in the order given; light: drawn pale and thin (e.g.
    the client's wait around the server's handler bar). refs: vertical
    reference lines [(x_s, label)] (the sleep, n sleeps)."""
    left, right = 26, 10
    top, bottom = (38 if legend_items else 24), 36
    n = len({r[4] if len(r) > 4 else i for i, r in enumerate(rows)}) if rows else 1
    height = top + max(n, 1) * row_h + bottom + 4
    x_max = max([x_max] + [x for x, _ in refs])
    sx = Scale(0.0, x_max or 1.0, left, width - right)
    body = [_text(8, 16, title, size=12, weight="bold")]
    if legend_items:
        body.append(legend(list(legend_items), left, 31, width)[0])
    for t in _nice_ticks(0.0, x_max or 1.0, False):
        if t > x_max:
            continue
        x = sx(t)
        body.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s"/>'
                    % (x, top, x, height - bottom, GRID))
        body.append(_text(x, height - bottom + 12, "%gs" % t, "middle", 9, MUTED))
    slot = {}
    for i, r in enumerate(rows):
        key = r[4] if len(r) > 4 else i
        k = slot.setdefault(key, len(slot))
        a, b, color = r[0], r[1], r[2]
        light = len(r) > 3 and r[3]
        x0, x1 = sx(a), sx(b)
        y = top + k * row_h
        if light:
            body.append('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s" '
                        'fill-opacity="0.25"/>' % (x0, y + 0.5, max(x1 - x0, 1.0), row_h - 1.0,
                                                   color))
        else:
            body.append('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>'
                        % (x0, y + row_h * 0.2, max(x1 - x0, 1.0), row_h * 0.6, color))
    for k, (x_ref, label) in enumerate(refs):
        x = sx(x_ref)
        body.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#c92a2a" '
                    'stroke-dasharray="4 3"/>' % (x, top - 2, x, height - bottom))
        # labels one under the other; near the right edge they end at the line
        right_edge = x > width - right - 6.2 * len(label) - 4
        body.append(_text(x - 2 if right_edge else x + 2, top + 8 + 10 * k, label,
                          "end" if right_edge else "start", size=9, color="#c92a2a"))
    body.append(_text((left + width - right) / 2.0, height - 6, x_title, "middle", 10, INK))
    body.append('<text x="12" y="%.1f" text-anchor="middle" font-size="10" fill="%s" '
                'transform="rotate(-90 12 %.1f)">%s</text>' % (
                    (top + height - bottom) / 2.0, INK, (top + height - bottom) / 2.0,
                    esc(y_title)))
    if not rows:
        body.append(_text(left, top + 12, "not run", color=MUTED))
    return _svg(width, height, body, title, len({r[2] for r in rows}))
