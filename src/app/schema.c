/*
 * schema.c — see schema.h. Compiling checks every declaration once, before
 * the server starts, so that checking a body at request time never meets a
 * bad declaration. Checking follows pydantic v2's error types and messages
 * ("missing", "int_type", "string_too_long"...), so clients written against
 * FastAPI's 422 keep working. Checking only reads the schema: it runs on any
 * thread.
 */
#include "app/schema.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Declarations nest at most this deep: deeper is surely a mistake (a cycle). */
#define MAX_DECL_DEPTH 32

/* ---- compiling ---------------------------------------------------------------- */

static const char *type_name(lanes_type t)
{
    switch (t) {
    case LANES_STR: return "LANES_STR";
    case LANES_INT: return "LANES_INT";
    case LANES_DOUBLE: return "LANES_DOUBLE";
    case LANES_BOOL: return "LANES_BOOL";
    case LANES_ARRAY: return "LANES_ARRAY";
    case LANES_OBJECT: return "LANES_OBJECT";
    }
    return "?";
}

static int valid_type(lanes_type t)
{
    return t >= LANES_STR && t <= LANES_OBJECT;
}

static int fail(char *err, size_t errlen, const char *where, const char *fmt, const char *arg)
{
    char msg[256];
    snprintf(msg, sizeof msg, fmt, arg);
    snprintf(err, errlen, "field '%s': %s", where, msg);
    return -EINVAL;
}

/* "1..5", "..100", "0.5..": a number or nothing on each side of "..". */
static int parse_bound(const char *p, size_t n, int *has, double *v)
{
    *has = 0;
    if (n == 0)
        return 0;
    char tmp[64];
    if (n >= sizeof tmp)
        return -EINVAL;
    memcpy(tmp, p, n);
    tmp[n] = '\0';
    char *end;
    errno = 0;
    double d = strtod(tmp, &end);
    if (*end || end == tmp || errno || !isfinite(d))
        return -EINVAL;
    *has = 1;
    *v = d;
    return 0;
}

static int parse_range(lanes_snode *n, const char *range)
{
    const char *dots = strstr(range, "..");
    if (!dots)
        return -EINVAL;
    if (parse_bound(range, (size_t)(dots - range), &n->has_min, &n->min) < 0 ||
        parse_bound(dots + 2, strlen(dots + 2), &n->has_max, &n->max) < 0)
        return -EINVAL;
    if (!n->has_min && !n->has_max)
        return -EINVAL;
    if (n->has_min && n->has_max && n->min > n->max)
        return -EINVAL;
    if (n->type == LANES_STR || n->type == LANES_ARRAY) {   /* lengths: whole, >= 0 */
        if ((n->has_min && (n->min < 0 || n->min != floor(n->min))) ||
            (n->has_max && (n->max < 0 || n->max != floor(n->max))))
            return -EINVAL;
    }
    return 0;
}

static int parse_values(lanes_snode *n, const char *values)
{
    int count = 1;
    for (const char *p = values; *p; p++)
        count += *p == '|';
    n->values = calloc((size_t)count, sizeof *n->values);
    if (!n->values)
        return -ENOMEM;
    const char *p = values;
    for (int i = 0; i < count; i++) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == 0)
            return -EINVAL;
        if (!(n->values[i] = strndup(p, len)))
            return -ENOMEM;
        n->nvalues = i + 1;
        for (int k = 0; k < i; k++)
            if (!strcmp(n->values[k], n->values[i]))
                return -EINVAL;
        p = bar ? bar + 1 : p + len;
    }
    return 0;
}

static int compile_fields(const lanes_field *fields, lanes_snode *obj, const char *where,
                          int depth, char *err, size_t errlen);

/* The parts of a node that an array item shares with a field: type, nested fields. */
static int compile_node(lanes_snode *n, const lanes_field *f, const char *where, int depth,
                        char *err, size_t errlen)
{
    n->type = f->type;
    if (!valid_type(f->type)) {
        char num[16];
        snprintf(num, sizeof num, "%d", (int)f->type);
        return fail(err, errlen, where, "unknown type %s (types: LANES_STR, LANES_INT, LANES_DOUBLE, "
                    "LANES_BOOL, LANES_ARRAY, LANES_OBJECT)", num);
    }
    if (f->fields && f->type != LANES_OBJECT && !(f->type == LANES_ARRAY && f->items == LANES_OBJECT))
        return fail(err, errlen, where, ".fields belongs to a LANES_OBJECT (or an array of them), not %s",
                    type_name(f->type));
    if (f->items && f->type != LANES_ARRAY)
        return fail(err, errlen, where, ".items belongs to a LANES_ARRAY, not %s", type_name(f->type));
    if (f->values && f->type != LANES_STR)
        return fail(err, errlen, where, ".values (an enum) belongs to a LANES_STR, not %s",
                    type_name(f->type));
    if (f->range && (f->type == LANES_BOOL || f->type == LANES_OBJECT))
        return fail(err, errlen, where, ".range does not apply to %s", type_name(f->type));
    if (f->type == LANES_OBJECT) {
        if (!f->fields)
            return fail(err, errlen, where, "a LANES_OBJECT needs .fields%s", "");
        return compile_fields(f->fields, n, where, depth + 1, err, errlen);
    }
    if (f->type == LANES_ARRAY) {
        if (!valid_type(f->items) || f->items == LANES_ARRAY)
            return fail(err, errlen, where, "a LANES_ARRAY needs .items: LANES_STR, LANES_INT, "
                        "LANES_DOUBLE, LANES_BOOL or LANES_OBJECT%s", "");
        if (f->items == LANES_OBJECT && !f->fields)
            return fail(err, errlen, where, "an array of LANES_OBJECT needs .fields%s", "");
        if (!(n->item = calloc(1, sizeof *n->item)) || !(n->item->name = strdup("")))
            return -ENOMEM;
        lanes_field item = { .name = "", .type = f->items, .fields = f->fields };
        return compile_node(n->item, &item, where, depth + 1, err, errlen);
    }
    return 0;
}

static int compile_field(lanes_snode *n, const lanes_field *f, const char *where, int depth,
                         char *err, size_t errlen)
{
    if (!(n->name = strdup(f->name)) || (f->description && !(n->description = strdup(f->description))))
        return -ENOMEM;
    n->name_len = strlen(n->name);
    int rc = compile_node(n, f, where, depth, err, errlen);
    if (rc < 0)
        return rc;
    n->required = f->required != 0;
    n->nullable = f->nullable != 0;
    if (f->range && parse_range(n, f->range) < 0)
        return fail(err, errlen, where, "bad .range \"%s\": \"min..max\" with either side "
                    "optional (lengths: whole numbers >= 0)", f->range);
    if (f->values && (rc = parse_values(n, f->values)) < 0)
        return rc == -ENOMEM ? rc : fail(err, errlen, where, "bad .values \"%s\": "
                                         "\"a|b|c\", each non-empty and different", f->values);
    if (f->def) {
        if (n->required)
            return fail(err, errlen, where, "has both .required and a default (.def = %s)", f->def);
        json_error_t je;
        n->def = json_loads(f->def, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
        if (!n->def)
            return fail(err, errlen, where, "its .def is not JSON text (a string needs quotes: "
                        "\"\\\"low\\\"\"): %s", f->def);
        lanes_buf scratch = { 0 };
        lanes_scheck c = { .out = &scratch, .root = "def" };
        int bad = lanes_schema_check(n, n->def, NULL, &c, 0);
        lanes_buf_free(&scratch);
        if (bad)
            return fail(err, errlen, where, "its default %s does not fit the field's type and bounds",
                        f->def);
    }
    return 0;
}

static int compile_fields(const lanes_field *fields, lanes_snode *obj, const char *where,
                          int depth, char *err, size_t errlen)
{
    obj->type = LANES_OBJECT;
    if (depth > MAX_DECL_DEPTH)
        return fail(err, errlen, where, "nested deeper than 32 levels (a list that contains itself?)%s", "");
    int n = 0;
    while (fields[n].name)
        n++;
    if (n > 64)
        return fail(err, errlen, where, "an object may declare at most 64 fields%s", "");
    obj->fields = calloc((size_t)n + 1, sizeof *obj->fields);
    if (!obj->fields)
        return -ENOMEM;
    for (int i = 0; i < n; i++) {
        char sub[256];
        snprintf(sub, sizeof sub, "%s%s%s", where, *where ? "." : "", fields[i].name);
        if (!fields[i].name[0] || strpbrk(fields[i].name, ".[]"))
            return fail(err, errlen, sub, "a name must be non-empty, without '.', '[' or ']'%s", "");
        for (int k = 0; k < i; k++)
            if (!strcmp(fields[k].name, fields[i].name))
                return fail(err, errlen, sub, "declared twice%s", "");
        obj->nfields = i + 1;
        int rc = compile_field(&obj->fields[i], &fields[i], sub, depth, err, errlen);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int lanes_schema_compile(const lanes_field *fields, lanes_snode **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!fields)
        return -EINVAL;
    lanes_snode *obj = calloc(1, sizeof *obj);
    if (!obj || !(obj->name = strdup(""))) {
        free(obj);
        return -ENOMEM;
    }
    int rc = compile_fields(fields, obj, "", 0, err, errlen);
    if (rc < 0) {
        if (rc == -ENOMEM)
            snprintf(err, errlen, "out of memory");
        lanes_schema_free(obj);
        return rc;
    }
    *out = obj;
    return 0;
}

static void node_clear(lanes_snode *n)
{
    free(n->name);
    free(n->description);
    for (int i = 0; i < n->nvalues; i++)
        free(n->values[i]);
    free(n->values);
    if (n->def)
        json_decref(n->def);
    if (n->item)
        lanes_schema_free(n->item);
    for (int i = 0; i < n->nfields; i++)
        node_clear(&n->fields[i]);
    free(n->fields);
}

void lanes_schema_free(lanes_snode *n)
{
    if (!n)
        return;
    node_clear(n);
    free(n);
}

const lanes_snode *lanes_schema_field(const lanes_snode *obj, const char *name, size_t len)
{
    for (int i = 0; i < obj->nfields; i++)
        if (obj->fields[i].name_len == len && !memcmp(obj->fields[i].name, name, len))
            return &obj->fields[i];
    return NULL;
}

int lanes_schema_flat(const lanes_snode *obj)
{
    for (int i = 0; i < obj->nfields; i++) {
        const lanes_snode *f = &obj->fields[i];
        if (f->type == LANES_OBJECT || (f->type == LANES_ARRAY && f->item->type == LANES_OBJECT))
            return 0;
    }
    return 1;
}

/* ---- errors --------------------------------------------------------------------- */

static void write_loc(lanes_buf *b, const lanes_sloc *loc)
{
    if (!loc)
        return;
    write_loc(b, loc->up);
    if (loc->key) {
        lanes_buf_puts(b, ",\"");
        lanes_buf_json_escape(b, loc->key, strlen(loc->key));
        lanes_buf_puts(b, "\"");
    } else {
        lanes_buf_printf(b, ",%zu", loc->index);
    }
}

/* At most this much of a rejected value is echoed back as "input". */
#define MAX_INPUT_ECHO 256

void lanes_schema_error(lanes_scheck *c, const lanes_sloc *loc, const char *type,
                        const char *msg, const json_t *input)
{
    lanes_buf *b = c->out;
    c->nerrors++;
    if (b->len)
        lanes_buf_puts(b, ",");
    lanes_buf_printf(b, "{\"type\":\"%s\",\"loc\":[\"%s\"", type, c->root);
    write_loc(b, loc);
    lanes_buf_puts(b, "],\"msg\":\"");
    lanes_buf_json_escape(b, msg, strlen(msg));
    lanes_buf_puts(b, "\",\"input\":");
    char *text = input ? json_dumps(input, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    if (text && strlen(text) <= MAX_INPUT_ECHO)
        lanes_buf_puts(b, text);
    else
        lanes_buf_puts(b, "null");
    free(text);
    lanes_buf_puts(b, "}");
}

static void error_num(lanes_scheck *c, const lanes_sloc *loc, const char *type,
                      const char *fmt, double bound, const json_t *input)
{
    char msg[160];
    snprintf(msg, sizeof msg, fmt, bound);
    lanes_schema_error(c, loc, type, msg, input);
}

/* ---- checking --------------------------------------------------------------------- */

/* Characters, not bytes: pydantic counts code points (jansson has checked UTF-8). */
static size_t utf8_chars(const char *s, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += ((unsigned char)s[i] & 0xC0) != 0x80;
    return k;
}

static int check_length(const lanes_snode *n, size_t len, const lanes_sloc *loc, lanes_scheck *c,
                        const json_t *v)
{
    int str = n->type == LANES_STR;
    char msg[160];
    if (n->has_min && (double)len < n->min) {
        if (str)
            snprintf(msg, sizeof msg, "String should have at least %.0f character%s", n->min, n->min == 1 ? "" : "s");
        else
            snprintf(msg, sizeof msg, "List should have at least %.0f item%s after validation, not %zu",
                     n->min, n->min == 1 ? "" : "s", len);
        lanes_schema_error(c, loc, str ? "string_too_short" : "too_short", msg, v);
        return 1;
    }
    if (n->has_max && (double)len > n->max) {
        if (str)
            snprintf(msg, sizeof msg, "String should have at most %.0f character%s", n->max, n->max == 1 ? "" : "s");
        else
            snprintf(msg, sizeof msg, "List should have at most %.0f item%s after validation, not %zu",
                     n->max, n->max == 1 ? "" : "s", len);
        lanes_schema_error(c, loc, str ? "string_too_long" : "too_long", msg, v);
        return 1;
    }
    return 0;
}

/* Counting characters walks the string, so only when the byte length cannot
 * settle it: a UTF-8 character takes 1 to 4 bytes, so bytes/4 <= chars <= bytes. */
static int string_length_bad(const lanes_snode *n, const json_t *v, const lanes_sloc *loc, lanes_scheck *c)
{
    size_t bytes = json_string_length(v);
    int need = (n->has_max && (double)bytes > n->max) || (n->has_min && (double)(bytes / 4) < n->min);
    if (!need)
        return 0;
    return check_length(n, utf8_chars(json_string_value(v), bytes), loc, c, v);
}

static int check_bounds(const lanes_snode *n, double d, const lanes_sloc *loc, lanes_scheck *c,
                        const json_t *v)
{
    if (n->has_min && d < n->min) {
        error_num(c, loc, "greater_than_equal", "Input should be greater than or equal to %g", n->min, v);
        return 1;
    }
    if (n->has_max && d > n->max) {
        error_num(c, loc, "less_than_equal", "Input should be less than or equal to %g", n->max, v);
        return 1;
    }
    return 0;
}

static int check_enum(const lanes_snode *n, const char *s, const lanes_sloc *loc, lanes_scheck *c,
                      const json_t *v)
{
    for (int i = 0; i < n->nvalues; i++)
        if (!strcmp(n->values[i], s))
            return 0;
    lanes_buf msg = { 0 };
    lanes_buf_puts(&msg, "Input should be ");
    for (int i = 0; i < n->nvalues; i++)
        lanes_buf_printf(&msg, "%s'%s'", i == 0 ? "" : i == n->nvalues - 1 ? " or " : ", ", n->values[i]);
    lanes_schema_error(c, loc, "enum", msg.data ? msg.data : "Input should be one of the values", v);
    lanes_buf_free(&msg);
    return 1;
}

static int check_object(const lanes_snode *n, json_t *obj, const lanes_sloc *loc, lanes_scheck *c,
                        int fill, int top);

static int check_array(const lanes_snode *n, json_t *arr, const lanes_sloc *loc, lanes_scheck *c, int fill)
{
    size_t len = json_array_size(arr);
    int bad = check_length(n, len, loc, c, arr);
    for (size_t i = 0; i < len; i++) {
        lanes_sloc at = { loc, NULL, i };
        bad += lanes_schema_check(n->item, json_array_get(arr, i), &at, c, fill);
    }
    return bad;
}

int lanes_schema_check(const lanes_snode *n, json_t *v, const lanes_sloc *loc, lanes_scheck *c, int fill)
{
    const char *from = c->from_text && json_is_string(v) ? "parsing" : "type";
    char type[32];
    if (json_is_null(v) && n->nullable)
        return 0;
    switch (n->type) {
    case LANES_STR:
        if (!json_is_string(v)) {
            lanes_schema_error(c, loc, "string_type", "Input should be a valid string", v);
            return 1;
        }
        if (string_length_bad(n, v, loc, c))
            return 1;
        return n->nvalues ? check_enum(n, json_string_value(v), loc, c, v) : 0;
    case LANES_INT:
        if (!json_is_integer(v)) {
            snprintf(type, sizeof type, "int_%s", from);
            lanes_schema_error(c, loc, type, json_is_real(v)
                               ? "Input should be a valid integer, got a number with a fractional part"
                               : "Input should be a valid integer", v);
            return 1;
        }
        return check_bounds(n, (double)json_integer_value(v), loc, c, v);
    case LANES_DOUBLE:
        if (!json_is_number(v)) {
            snprintf(type, sizeof type, "float_%s", from);
            lanes_schema_error(c, loc, type, "Input should be a valid number", v);
            return 1;
        }
        return check_bounds(n, json_number_value(v), loc, c, v);
    case LANES_BOOL:
        if (!json_is_boolean(v)) {
            snprintf(type, sizeof type, "bool_%s", from);
            lanes_schema_error(c, loc, type, "Input should be a valid boolean", v);
            return 1;
        }
        return 0;
    case LANES_ARRAY:
        if (!json_is_array(v)) {
            lanes_schema_error(c, loc, "list_type", "Input should be a valid list", v);
            return 1;
        }
        return check_array(n, v, loc, c, fill);
    case LANES_OBJECT:
        if (!json_is_object(v)) {
            lanes_schema_error(c, loc, "model_attributes_type",
                               "Input should be a valid dictionary or object to extract fields from", v);
            return 1;
        }
        return check_object(n, v, loc, c, fill, loc == NULL);
    }
    return 0;
}

static int check_object(const lanes_snode *n, json_t *obj, const lanes_sloc *loc, lanes_scheck *c,
                        int fill, int top)
{
    int bad = 0;
    for (int i = 0; i < n->nfields; i++) {
        const lanes_snode *f = &n->fields[i];
        lanes_sloc at = { loc, f->name, 0 };
        if (top && i < 64 && (c->skip >> i & 1))
            continue;
        json_t *v = json_object_get(obj, f->name);
        if (!v) {
            if (f->required) {
                lanes_schema_error(c, &at, "missing", "Field required", NULL);
                bad++;
            } else if (fill && f->def) {
                json_object_set_new(obj, f->name, json_deep_copy(f->def));
            }
            continue;
        }
        bad += lanes_schema_check(f, v, &at, c, fill);
    }
    return bad;
}

/* ---- OpenAPI ------------------------------------------------------------------------ */

static const char *oa_type(lanes_type t)
{
    switch (t) {
    case LANES_STR: return "string";
    case LANES_INT: return "integer";
    case LANES_DOUBLE: return "number";
    case LANES_BOOL: return "boolean";
    case LANES_ARRAY: return "array";
    case LANES_OBJECT: return "object";
    }
    return "string";
}

static void write_bound(lanes_jw *w, const char *key, double v, int integral)
{
    lanes_jw_key(w, key);
    if (integral)
        lanes_jw_int(w, (long long)v);
    else
        lanes_jw_double(w, v);
}

void lanes_schema_openapi(lanes_jw *w, const lanes_snode *n)
{
    lanes_jw_obj(w);
    lanes_jw_key(w, "type");
    if (n->nullable) {   /* 3.1: a type list, no "nullable" keyword */
        lanes_jw_arr(w);
        lanes_jw_str(w, oa_type(n->type));
        lanes_jw_str(w, "null");
        lanes_jw_end(w);
    } else {
        lanes_jw_str(w, oa_type(n->type));
    }
    if (n->description) {
        lanes_jw_key(w, "description");
        lanes_jw_str(w, n->description);
    }
    int len = n->type == LANES_STR || n->type == LANES_ARRAY;
    const char *kmin = n->type == LANES_STR ? "minLength" : len ? "minItems" : "minimum";
    const char *kmax = n->type == LANES_STR ? "maxLength" : len ? "maxItems" : "maximum";
    if (n->has_min)
        write_bound(w, kmin, n->min, len || n->type == LANES_INT);
    if (n->has_max)
        write_bound(w, kmax, n->max, len || n->type == LANES_INT);
    if (n->nvalues) {
        lanes_jw_key(w, "enum");
        lanes_jw_arr(w);
        for (int i = 0; i < n->nvalues; i++)
            lanes_jw_str(w, n->values[i]);
        lanes_jw_end(w);
    }
    if (n->def) {
        char *text = json_dumps(n->def, JSON_COMPACT | JSON_ENCODE_ANY);
        if (text) {
            lanes_jw_key(w, "default");
            lanes_jw_raw(w, text);
            free(text);
        }
    }
    if (n->item) {
        lanes_jw_key(w, "items");
        lanes_schema_openapi(w, n->item);
    }
    if (n->type == LANES_OBJECT) {
        lanes_jw_key(w, "properties");
        lanes_jw_obj(w);
        for (int i = 0; i < n->nfields; i++) {
            lanes_jw_key(w, n->fields[i].name);
            lanes_schema_openapi(w, &n->fields[i]);
        }
        lanes_jw_end(w);
        int nreq = 0;
        for (int i = 0; i < n->nfields; i++)
            nreq += n->fields[i].required;
        if (nreq) {
            lanes_jw_key(w, "required");
            lanes_jw_arr(w);
            for (int i = 0; i < n->nfields; i++)
                if (n->fields[i].required)
                    lanes_jw_str(w, n->fields[i].name);
            lanes_jw_end(w);
        }
    }
    lanes_jw_end(w);
}
