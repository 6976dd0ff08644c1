/*
 * report.c — lanes-load's text, JSON and CSV output (see report.h).
 * Latencies are kept in ns and shown in ms (hey shows seconds with 4 decimals,
 * too coarse for loopback). It must never compute a number the caller did not
 * measure.
 */
#include "report.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const double percentiles[] = {10, 25, 50, 75, 90, 95, 99, 99.9};
#define NPCT (sizeof percentiles / sizeof percentiles[0])

static double ms(uint64_t ns)
{
    return (double)ns / 1e6;
}

/* "3012 ms", "12.3 ms", "2.14 ms": three significant digits or so. */
static void fmt_ms(char *buf, size_t len, uint64_t ns)
{
    double v = ms(ns);
    if (v >= 100)
        snprintf(buf, len, "%.0f ms", v);
    else if (v >= 10)
        snprintf(buf, len, "%.1f ms", v);
    else
        snprintf(buf, len, "%.2f ms", v);
}

static void json_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(out, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(out, "\\u%04x", ch);
        else
            fputc(ch, out);
    }
    fputc('"', out);
}

static void set_resource(lanes_load_resource *r, const lanes_load_sample *s)
{
    r->rss_mb = s->rss_mb;
    r->cpu_pct = s->cpu_pct;
    r->threads = s->threads;
    r->fds = s->fds;
    r->procs = s->procs;
    r->valid = 1;
}

void lanes_load_resources(const lanes_load_report *r, lanes_load_resource *idle, lanes_load_resource *peak,
                          lanes_load_resource *after)
{
    memset(idle, 0, sizeof *idle);
    memset(peak, 0, sizeof *peak);
    memset(after, 0, sizeof *after);
    lanes_load_sample top;
    int during = 0;
    for (size_t i = 0; i < r->nsamples; i++) {
        const lanes_load_sample *s = &r->samples[i];
        if (s->at < r->t0)
            set_resource(idle, s);
        else if (s->at <= r->load_end) {
            if (during++)
                lanes_load_sample_max(&top, s);
            else
                top = *s;
        } else
            set_resource(after, s);
    }
    if (during)
        set_resource(peak, &top);
    /* The first sample during the load reports CPU over an interval that started
     * idle; still the best "before" there is when nothing came earlier. */
    if (!idle->valid && r->nsamples)
        set_resource(idle, &r->samples[0]);
}

int lanes_load_probe_verdict(const lanes_load_report *r, char *line, size_t len)
{
    const lanes_load_probe_result *p = r->probe;
    char max[32], p50[32], stall[32];
    fmt_ms(max, sizeof max, p->max_ns);
    fmt_ms(p50, sizeof p50, lanes_hist_percentile(p->lat, 50));
    fmt_ms(stall, sizeof stall, (uint64_t)(r->o->probe_stall * 1e9));
    if (lanes_hist_count(p->lat) == 0) {
        snprintf(line, len, "probe: no probe completed — cannot tell whether the server blocks");
        return 0;
    }
    if (p->max_ns > (uint64_t)(r->o->probe_stall * 1e9)) {
        snprintf(line, len, "probe: max %s (p50 %s) — the loaded endpoint blocks the server (stall > %s)", max, p50,
                 stall);
        return 1;
    }
    snprintf(line, len, "probe: max %s (p50 %s) — the server stays responsive under this load (no stall > %s)", max,
             p50, stall);
    return 0;
}

static void text_histogram(FILE *out, const lanes_hist *h)
{
    uint64_t lo = lanes_hist_min(h), hi = lanes_hist_max(h);
    uint64_t marks[11], counts[11], top = 0, prev = 0;
    for (int i = 0; i <= 10; i++) {
        marks[i] = lo + (hi - lo) * (uint64_t)i / 10;
        uint64_t le = lanes_hist_count_le(h, marks[i]);
        counts[i] = le - prev;
        prev = le;
        if (counts[i] > top)
            top = counts[i];
    }
    fprintf(out, "\nResponse time histogram:\n");
    for (int i = 0; i <= 10; i++) {
        int bar = top ? (int)(counts[i] * 40 / top) : 0;
        fprintf(out, "  %10.3f ms [%llu]\t|", ms(marks[i]), (unsigned long long)counts[i]);
        for (int b = 0; b < bar; b++)
            fputs("■", out);
        fputc('\n', out);
    }
}

static void text_resources(FILE *out, const lanes_load_report *r)
{
    lanes_load_resource idle, peak, after;
    lanes_load_resources(r, &idle, &peak, &after);
    double every_ms = r->o->sample_every * 1e3;
    if (r->sample_stride > 1)
        fprintf(out,
                "\nServer resources (pid %d and children, %zu samples every %g ms, each the largest of %u taken"
                " every %g ms):\n",
                (int)r->pid, r->nsamples, every_ms * r->sample_stride, r->sample_stride, every_ms);
    else
        fprintf(out, "\nServer resources (pid %d and children, %zu samples every %g ms):\n", (int)r->pid, r->nsamples,
                every_ms);
    fprintf(out, "  %-6s %10s %8s %8s %6s\n", "", "RSS MB", "CPU %", "threads", "fds");
    const lanes_load_resource *rows[] = {&idle, &peak, &after};
    const char *names[] = {"idle", "peak", "after"};
    for (int i = 0; i < 3; i++) {
        if (!rows[i]->valid) {
            fprintf(out, "  %-6s %10s\n", names[i], "-");
            continue;
        }
        fprintf(out, "  %-6s %10.1f %8.1f %8d %6d\n", names[i], rows[i]->rss_mb, rows[i]->cpu_pct, rows[i]->threads,
                rows[i]->fds);
    }
}

void lanes_load_report_text(FILE *out, const lanes_load_report *r)
{
    const lanes_load_stats *st = r->st;
    const lanes_hist *h = st->lat;
    fprintf(out, "\nSummary:\n");
    fprintf(out, "  Total:\t%.4f secs\n", r->elapsed_s);
    fprintf(out, "  Slowest:\t%.3f ms\n", ms(lanes_hist_max(h)));
    fprintf(out, "  Fastest:\t%.3f ms\n", ms(lanes_hist_min(h)));
    fprintf(out, "  Average:\t%.3f ms\n", lanes_hist_mean(h) / 1e6);
    fprintf(out, "  Requests/sec:\t%.2f\n", r->elapsed_s > 0 ? (double)st->responses / r->elapsed_s : 0.0);
    fprintf(out, "  Responses:\t%llu\n", (unsigned long long)st->responses);
    fprintf(out, "  Total data:\t%llu bytes\n", (unsigned long long)st->bytes);
    if (lanes_hist_count(h)) {
        text_histogram(out, h);
        fprintf(out, "\nLatency distribution:\n");
        for (size_t i = 0; i < NPCT; i++)
            fprintf(out, "  %g%% in %.3f ms\n", percentiles[i], ms(lanes_hist_percentile(h, percentiles[i])));
    }
    fprintf(out, "\nStatus code distribution:\n");
    for (int i = 0; i < 600; i++)
        if (st->status[i])
            fprintf(out, "  [%d]\t%llu responses\n", i, (unsigned long long)st->status[i]);
    if (st->status_other)
        fprintf(out, "  [other]\t%llu responses\n", (unsigned long long)st->status_other);
    if (lanes_load_stats_errors(st)) {
        fprintf(out, "\nError distribution:\n");
        for (int i = 1; i < LANES_LOAD_ERR_KINDS; i++)
            if (st->errors[i])
                fprintf(out, "  [%llu]\t%s\n", (unsigned long long)st->errors[i], lanes_load_err_name(i));
    }
    if (st->unfinished)
        fprintf(out, "\n  %llu requests were still in flight when the run stopped (not counted)\n",
                (unsigned long long)st->unfinished);
    if (r->probe) {
        char line[256];
        lanes_load_probe_verdict(r, line, sizeof line);
        fprintf(out, "\nProbe %s every %g ms: %llu sent, %llu answered, p99 %.3f ms\n", r->o->probe_url,
                r->o->probe_every * 1e3, (unsigned long long)r->probe->sent,
                (unsigned long long)r->probe->answered, ms(lanes_hist_percentile(r->probe->lat, 99)));
        fprintf(out, "%s\n", line);
    }
    if (r->samples)
        text_resources(out, r);
    fputc('\n', out);
}

static void json_resource(FILE *out, const char *name, const lanes_load_resource *x)
{
    fprintf(out, "\"%s\":", name);
    if (!x->valid) {
        fputs("null", out);
        return;
    }
    fprintf(out, "{\"rss_mb\":%.2f,\"cpu_pct\":%.1f,\"threads\":%d,\"fds\":%d,\"procs\":%d}", x->rss_mb, x->cpu_pct,
            x->threads, x->fds, x->procs);
}

static void json_latency(FILE *out, const lanes_hist *h)
{
    fprintf(out, "{\"count\":%llu,\"min\":%.6f,\"mean\":%.6f,\"max\":%.6f", (unsigned long long)lanes_hist_count(h),
            ms(lanes_hist_min(h)), lanes_hist_mean(h) / 1e6, ms(lanes_hist_max(h)));
    for (size_t i = 0; i < NPCT; i++)
        fprintf(out, ",\"p%g\":%.6f", percentiles[i], ms(lanes_hist_percentile(h, percentiles[i])));
    fputc('}', out);
}

static void json_probe(FILE *out, const lanes_load_report *r)
{
    const lanes_load_probe_result *p = r->probe;
    char line[256];
    int blocks = lanes_load_probe_verdict(r, line, sizeof line);
    fputs(",\"probe\":{\"url\":", out);
    json_string(out, r->o->probe_url);
    fprintf(out, ",\"every_ms\":%g,\"stall_ms\":%g,\"sent\":%llu,\"answered\":%llu,\"unanswered_at_end\":%d",
            r->o->probe_every * 1e3, r->o->probe_stall * 1e3, (unsigned long long)p->sent,
            (unsigned long long)p->answered, p->unanswered_at_end);
    fprintf(out, ",\"max_ms\":%.6f,\"latency_ms\":", ms(p->max_ns));
    json_latency(out, p->lat);
    fputs(",\"errors\":{", out);
    int first = 1;
    for (int i = 1; i < LANES_LOAD_ERR_KINDS; i++) {
        if (!p->errors[i])
            continue;
        fprintf(out, "%s\"%s\":%llu", first ? "" : ",", lanes_load_err_name(i), (unsigned long long)p->errors[i]);
        first = 0;
    }
    fprintf(out, "},\"blocks\":%s,\"verdict\":", blocks ? "true" : "false");
    json_string(out, line);
    fputc('}', out);
}

void lanes_load_report_json(FILE *out, const lanes_load_report *r)
{
    const lanes_load_stats *st = r->st;
    const lanes_hist *h = st->lat;
    fputs("{\"url\":", out);
    json_string(out, r->o->url);
    fputs(",\"address\":", out);
    json_string(out, r->o->target.addr_text);
    fprintf(out, ",\"connections\":%d,\"threads\":%d,\"mode\":\"%s\"", r->o->c, r->o->threads,
            r->o->rate > 0 ? "open" : "closed");
    if (r->o->rate > 0)
        fprintf(out, ",\"rate\":%g", r->o->rate);
    fprintf(out, ",\"elapsed_s\":%.6f,\"responses\":%llu,\"errors_total\":%llu,\"unfinished\":%llu", r->elapsed_s,
            (unsigned long long)st->responses, (unsigned long long)lanes_load_stats_errors(st),
            (unsigned long long)st->unfinished);
    fprintf(out, ",\"rps\":%.3f,\"bytes\":%llu,\"connects\":%llu",
            r->elapsed_s > 0 ? (double)st->responses / r->elapsed_s : 0.0, (unsigned long long)st->bytes,
            (unsigned long long)st->connects);
    fputs(",\"latency_ms\":", out);
    json_latency(out, h);
    fputs(",\"histogram\":[", out);
    if (lanes_hist_count(h)) {
        uint64_t lo = lanes_hist_min(h), hi = lanes_hist_max(h), prev = 0;
        for (int i = 0; i <= 10; i++) {
            uint64_t mark = lo + (hi - lo) * (uint64_t)i / 10;
            uint64_t le = lanes_hist_count_le(h, mark);
            fprintf(out, "%s{\"le_ms\":%.6f,\"count\":%llu}", i ? "," : "", ms(mark), (unsigned long long)(le - prev));
            prev = le;
        }
    }
    fputs("],\"status\":{", out);
    int first = 1;
    for (int i = 0; i < 600; i++) {
        if (!st->status[i])
            continue;
        fprintf(out, "%s\"%d\":%llu", first ? "" : ",", i, (unsigned long long)st->status[i]);
        first = 0;
    }
    if (st->status_other)
        fprintf(out, "%s\"other\":%llu", first ? "" : ",", (unsigned long long)st->status_other);
    fputs("},\"errors\":{", out);
    first = 1;
    for (int i = 1; i < LANES_LOAD_ERR_KINDS; i++) {
        if (!st->errors[i])
            continue;
        fprintf(out, "%s\"%s\":%llu", first ? "" : ",", lanes_load_err_name(i), (unsigned long long)st->errors[i]);
        first = 0;
    }
    fputc('}', out);
    if (r->probe)
        json_probe(out, r);
    if (r->samples) {
        lanes_load_resource idle, peak, after;
        lanes_load_resources(r, &idle, &peak, &after);
        fprintf(out, ",\"resources\":{\"pid\":%d,\"samples\":%zu,\"sample_every_ms\":%g,\"sample_stride\":%u,",
                (int)r->pid, r->nsamples, r->o->sample_every * 1e3, r->sample_stride ? r->sample_stride : 1);
        json_resource(out, "idle", &idle);
        fputc(',', out);
        json_resource(out, "peak", &peak);
        fputc(',', out);
        json_resource(out, "after", &after);
        fputc('}', out);
    }
    fprintf(out, ",\"timeline_dropped\":%llu,\"exit_status\":%d}\n", (unsigned long long)st->rows_dropped,
            r->exit_status);
}

static int cmp_row(const void *a, const void *b)
{
    const lanes_load_row *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

static void csv_row(FILE *f, const char *kind, const lanes_load_row *row)
{
    fprintf(f, "%s,%.3f,%.3f,%u,%u,%s,,,,\n", kind, ms(row->start), ms(row->end), (unsigned)row->status,
            (unsigned)row->conn, row->err ? lanes_load_err_name(row->err) : "");
}

int lanes_load_report_timeline(const char *path, const lanes_load_report *r)
{
    size_t total = 0;
    for (int t = 0; t < r->nthreads; t++)
        total += r->per_thread[t]->nrows;
    lanes_load_row *all = malloc((total ? total : 1) * sizeof *all);
    if (!all)
        return -ENOMEM;
    size_t n = 0;
    for (int t = 0; t < r->nthreads; t++) {
        memcpy(all + n, r->per_thread[t]->rows, r->per_thread[t]->nrows * sizeof *all);
        n += r->per_thread[t]->nrows;
    }
    qsort(all, n, sizeof *all, cmp_row);
    FILE *f = fopen(path, "w");
    if (!f) {
        int e = -errno;
        free(all);
        return e;
    }
    /* One table for requests, probes and samples; columns that do not apply to
     * a kind are empty. Offsets in ms from the start of the load. */
    fputs("kind,start_ms,end_ms,status,conn,error,rss_mb,cpu_pct,threads,fds\n", f);
    for (size_t i = 0; i < n; i++)
        csv_row(f, "req", &all[i]);
    free(all);
    if (r->probe)
        for (size_t i = 0; i < r->probe->nrows; i++)
            csv_row(f, "probe", &r->probe->rows[i]);
    for (size_t i = 0; i < r->nsamples; i++) {
        const lanes_load_sample *s = &r->samples[i];
        double off = ((double)s->at - (double)r->t0) / 1e6;
        fprintf(f, "sample,%.3f,%.3f,,,,%.2f,%.1f,%d,%d\n", off, off, s->rss_mb, s->cpu_pct, s->threads, s->fds);
    }
    int bad = ferror(f);
    if (fclose(f) != 0 || bad)
        return -EIO;
    return 0;
}
