/*
 * json_libs.c — which Debian JSON library lanes parses request bodies with:
 * parse + validate one 1 KB, 10-field body (the shape of bench/body_bench.py's
 * POST /notes) with jansson, cJSON and json-c, N times each, alternated over
 * rounds; prints the median ns per body of each. Validation is what lanes
 * does per field: look the key up, check its type, read the value, check a
 * bound. Built by hand (it links three libraries lanes itself does not need):
 *
 * jansson and json-c declare the same names (json_object...), so this file
 * is compiled once per library (-DPART=1..4; 4 is lanes' own loader, yajl
 * into jansson) and once for main (-DPART=0):
 *
 *   for p in 0 1 2 3 4; do cc -O2 -Isrc -DPART=$p -c bench/json_libs.c -o /tmp/jl$p.o; done
 *   cc /tmp/jl?.o src/app/jsonload.c -Isrc -O2 -o /tmp/json_libs -ljansson -lcjson -ljson-c -lyajl
 *   /tmp/json_libs 100000 5
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char body[] =
    "{\"title\":\"Buy groceries for the week\",\"body\":\""
    "Milk, eggs, bread, butter, cheese, apples, bananas, oranges, rice, pasta, tomatoes, onions, "
    "garlic, olive oil, salt, pepper, coffee, tea, sugar, flour, yoghurt, spinach, carrots, potatoes, "
    "chicken, fish, beans, lentils, oats, honey, jam, peanut butter, cereal, crackers, juice, water, "
    "soap, shampoo, toothpaste, paper towels, dish soap, sponges, trash bags, batteries, light bulbs, "
    "and whatever else turns out to be missing when we look in the cupboard on Saturday morning. "
    "Also remember the birthday card and the wrapping paper for the present, and the stamps. "
    "On the way back: pick up the dry cleaning, return the library books, fill the car with "
    "petrol and check the tyre pressure, then call the plumber about the dripping tap.\","
    "\"priority\":3,\"score\":0.75,\"done\":false,\"tags\":[\"home\",\"shopping\",\"weekly\"],"
    "\"owner\":{\"name\":\"Alice Example\",\"email\":\"alice@example.com\"},"
    "\"due\":\"2026-12-05\",\"level\":\"normal\",\"views\":42}";

int v_jansson(void);
int v_cjson(void);
int v_jsonc(void);
int v_yajl_jansson(void);
extern long sink;

#if PART == 1
#include <jansson.h>
#include <string.h>
int v_jansson(void)
{
    json_error_t err;
    json_t *r = json_loadb(body, sizeof body - 1, JSON_REJECT_DUPLICATES, &err);
    if (!r)
        return -1;
    int ok = json_is_string(json_object_get(r, "title")) && json_is_string(json_object_get(r, "body"));
    json_t *p = json_object_get(r, "priority");
    ok &= json_is_integer(p) && json_integer_value(p) >= 1 && json_integer_value(p) <= 5;
    ok &= json_is_number(json_object_get(r, "score"));
    ok &= json_is_boolean(json_object_get(r, "done"));
    json_t *t = json_object_get(r, "tags");
    ok &= json_is_array(t);
    for (size_t i = 0; ok && i < json_array_size(t); i++)
        ok &= json_is_string(json_array_get(t, i));
    json_t *o = json_object_get(r, "owner");
    ok &= json_is_object(o) && json_is_string(json_object_get(o, "name")) &&
          json_is_string(json_object_get(o, "email"));
    ok &= json_is_string(json_object_get(r, "due"));
    const char *lv = json_string_value(json_object_get(r, "level"));
    ok &= lv && !strcmp(lv, "normal");
    ok &= json_is_integer(json_object_get(r, "views"));
    sink += (long)json_string_length(json_object_get(r, "body"));
    json_decref(r);
    return ok ? 0 : -1;
}

#elif PART == 2
#include <cjson/cJSON.h>
#include <string.h>
int v_cjson(void)
{
    cJSON *r = cJSON_ParseWithLength(body, sizeof body - 1);
    if (!r)
        return -1;
    int ok = cJSON_IsString(cJSON_GetObjectItemCaseSensitive(r, "title")) &&
             cJSON_IsString(cJSON_GetObjectItemCaseSensitive(r, "body"));
    cJSON *p = cJSON_GetObjectItemCaseSensitive(r, "priority");
    ok &= cJSON_IsNumber(p) && p->valuedouble >= 1 && p->valuedouble <= 5;
    ok &= cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(r, "score"));
    ok &= cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(r, "done"));
    cJSON *t = cJSON_GetObjectItemCaseSensitive(r, "tags"), *e;
    ok &= cJSON_IsArray(t);
    cJSON_ArrayForEach(e, t) ok &= cJSON_IsString(e);
    cJSON *o = cJSON_GetObjectItemCaseSensitive(r, "owner");
    ok &= cJSON_IsObject(o) && cJSON_IsString(cJSON_GetObjectItemCaseSensitive(o, "name")) &&
          cJSON_IsString(cJSON_GetObjectItemCaseSensitive(o, "email"));
    ok &= cJSON_IsString(cJSON_GetObjectItemCaseSensitive(r, "due"));
    cJSON *lv = cJSON_GetObjectItemCaseSensitive(r, "level");
    ok &= cJSON_IsString(lv) && !strcmp(lv->valuestring, "normal");
    ok &= cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(r, "views"));
    sink += (long)strlen(cJSON_GetObjectItemCaseSensitive(r, "body")->valuestring);
    cJSON_Delete(r);
    return ok ? 0 : -1;
}

#elif PART == 3
#include <json-c/json.h>
#include <string.h>
int v_jsonc(void)
{
    /* One tokener per parse, as a server handling any request would. */
    struct json_tokener *tok = json_tokener_new();
    struct json_object *r = json_tokener_parse_ex(tok, body, sizeof body - 1), *v, *o;
    if (!r)
        return -1;
    int ok = json_object_object_get_ex(r, "title", &v) && json_object_is_type(v, json_type_string);
    ok &= json_object_object_get_ex(r, "body", &v) && json_object_is_type(v, json_type_string);
    sink += json_object_get_string_len(v);
    ok &= json_object_object_get_ex(r, "priority", &v) && json_object_is_type(v, json_type_int) &&
          json_object_get_int64(v) >= 1 && json_object_get_int64(v) <= 5;
    ok &= json_object_object_get_ex(r, "score", &v) && json_object_is_type(v, json_type_double);
    ok &= json_object_object_get_ex(r, "done", &v) && json_object_is_type(v, json_type_boolean);
    ok &= json_object_object_get_ex(r, "tags", &v) && json_object_is_type(v, json_type_array);
    for (size_t i = 0; ok && i < json_object_array_length(v); i++)
        ok &= json_object_is_type(json_object_array_get_idx(v, i), json_type_string);
    ok &= json_object_object_get_ex(r, "owner", &o) && json_object_is_type(o, json_type_object);
    ok &= json_object_object_get_ex(o, "name", &v) && json_object_is_type(v, json_type_string);
    ok &= json_object_object_get_ex(o, "email", &v) && json_object_is_type(v, json_type_string);
    ok &= json_object_object_get_ex(r, "due", &v) && json_object_is_type(v, json_type_string);
    ok &= json_object_object_get_ex(r, "level", &v) && !strcmp(json_object_get_string(v), "normal");
    ok &= json_object_object_get_ex(r, "views", &v) && json_object_is_type(v, json_type_int);
    json_object_put(r);
    json_tokener_free(tok);
    return ok ? 0 : -1;
}

#elif PART == 4
/* lanes' loader: yajl parses, jansson holds the tree (src/app/jsonload.c). */
#include <jansson.h>
#include <string.h>
#include "app/jsonload.h"
int v_yajl_jansson(void)
{
    lanes_json_error err;
    json_t *r = lanes_json_load(body, sizeof body - 1, &err);
    if (!r)
        return -1;
    int ok = json_is_string(json_object_get(r, "title")) && json_is_string(json_object_get(r, "body"));
    json_t *p = json_object_get(r, "priority");
    ok &= json_is_integer(p) && json_integer_value(p) >= 1 && json_integer_value(p) <= 5;
    ok &= json_is_number(json_object_get(r, "score"));
    ok &= json_is_boolean(json_object_get(r, "done"));
    json_t *t = json_object_get(r, "tags");
    ok &= json_is_array(t);
    for (size_t i = 0; ok && i < json_array_size(t); i++)
        ok &= json_is_string(json_array_get(t, i));
    json_t *o = json_object_get(r, "owner");
    ok &= json_is_object(o) && json_is_string(json_object_get(o, "name")) &&
          json_is_string(json_object_get(o, "email"));
    ok &= json_is_string(json_object_get(r, "due"));
    const char *lv = json_string_value(json_object_get(r, "level"));
    ok &= lv && !strcmp(lv, "normal");
    ok &= json_is_integer(json_object_get(r, "views"));
    json_decref(r);
    return ok ? 0 : -1;
}
#else
long sink;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 100000;
    int rounds = argc > 2 ? atoi(argv[2]) : 5;
    if (rounds > 64)
        rounds = 64;
    static const char *names[] = { "jansson", "cJSON", "json-c", "yajl->jansson (lanes)" };
    int (*fns[])(void) = { v_jansson, v_cjson, v_jsonc, v_yajl_jansson };
    double ns[4][64];
    printf("body: %zu bytes, %ld parses per library per round, %d rounds\n", sizeof body - 1, n, rounds);
    for (int r = 0; r < rounds; r++) {
        for (int k = 0; k < 4; k++) {
            int lib = (k + r) % 4;   /* rotate the order from round to round */
            double t0 = now();
            for (long i = 0; i < n; i++)
                if (fns[lib]() < 0) {
                    fprintf(stderr, "%s: validation failed\n", names[lib]);
                    return 1;
                }
            ns[lib][r] = (now() - t0) / (double)n * 1e9;
        }
    }
    for (int lib = 0; lib < 4; lib++) {
        qsort(ns[lib], (size_t)rounds, sizeof(double), cmp);
        printf("%-22s median %.0f ns per parse+validate (min %.0f, max %.0f)\n", names[lib],
               ns[lib][rounds / 2], ns[lib][0], ns[lib][rounds - 1]);
    }
    return sink == 0;
}
#endif
