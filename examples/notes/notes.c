/*
 * notes.c — a small notes API the way a FastAPI user would write it: a typed
 * JSON (or form) body, path and query parameters, and response models with
 * their real status codes (201 on create, 204 on delete, 404 with a detail).
 *
 *   build/bin/lanes-notes --port 8000
 *   curl -X POST localhost:8000/notes -H 'Content-Type: application/json' \
 *        -d '{"title":"milk","priority":2,"tags":["home"]}'
 *   open http://localhost:8000/docs
 *
 * The notes live in this process's memory, behind a mutex so that a handler
 * moved to the THREAD lane stays correct. Run it with one worker (the
 * default): with --workers N each worker process would have a store of its own.
 */
#include <lanes.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_NOTES 1000
#define MAX_TAGS 10

/* ---- the models ----------------------------------------------------------------- */

static const lanes_field owner_fields[] = {
    { "name", LANES_STR, .required = 1, .range = "1..64", .description = "Who wrote it" },
    { "email", LANES_STR, .nullable = 1, .range = "..254" },
    { 0 },
};

/* What a client sends (POST /notes, PUT /notes/{id}). */
static const lanes_field note_in[] = {
    { "title", LANES_STR, .required = 1, .range = "1..200", .description = "One line" },
    { "body", LANES_STR, .def = "\"\"", .range = "..10000" },
    { "priority", LANES_INT, .def = "3", .range = "1..5", .description = "1 (low) to 5 (urgent)" },
    { "level", LANES_STR, .def = "\"normal\"", .values = "low|normal|high" },
    { "score", LANES_DOUBLE, .def = "0", .range = "0..1" },
    { "done", LANES_BOOL, .def = "false" },
    { "tags", LANES_ARRAY, .items = LANES_STR, .def = "[]", .range = "..10" },
    { "owner", LANES_OBJECT, .fields = owner_fields, .nullable = 1 },
    { 0 },
};

/* What the API answers for one note. */
static const lanes_field note_out[] = {
    { "id", LANES_INT, .required = 1 },
    { "title", LANES_STR, .required = 1 },
    { "body", LANES_STR, .required = 1 },
    { "priority", LANES_INT, .required = 1 },
    { "level", LANES_STR, .required = 1, .values = "low|normal|high" },
    { "score", LANES_DOUBLE, .required = 1 },
    { "done", LANES_BOOL, .required = 1 },
    { "tags", LANES_ARRAY, .items = LANES_STR, .required = 1 },
    { "owner", LANES_OBJECT, .fields = owner_fields, .nullable = 1, .required = 1 },
    { 0 },
};

static const lanes_field note_list[] = {
    { "count", LANES_INT, .required = 1, .description = "Notes that match, before the limit" },
    { "items", LANES_ARRAY, .items = LANES_OBJECT, .fields = note_out, .required = 1 },
    { 0 },
};

/* ---- the store ---------------------------------------------------------------------- */

typedef struct {
    long long id;
    char *title, *body, *level, *owner_name, *owner_email;
    int priority, done, has_owner, ntags;
    double score;
    char *tags[MAX_TAGS];
} note;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static note *notes[MAX_NOTES];
static int nnotes;
static long long next_id = 1;

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static void note_clear(note *n)
{
    free(n->title);
    free(n->body);
    free(n->level);
    free(n->owner_name);
    free(n->owner_email);
    for (int i = 0; i < n->ntags; i++)
        free(n->tags[i]);
    long long id = n->id;
    memset(n, 0, sizeof *n);
    n->id = id;
}

/* Fills n from the validated body: every value is there and of its type. */
static void note_from_body(note *n, lanes_req *req)
{
    n->title = strdup(lanes_body_str(req, "title"));
    n->body = strdup(lanes_body_str(req, "body"));
    n->level = strdup(lanes_body_str(req, "level"));
    n->priority = (int)lanes_body_int(req, "priority");
    n->score = lanes_body_double(req, "score");
    n->done = lanes_body_bool(req, "done");
    n->ntags = (int)lanes_body_count(req, "tags");
    for (int i = 0; i < n->ntags; i++) {
        char path[32];
        snprintf(path, sizeof path, "tags[%d]", i);
        n->tags[i] = strdup(lanes_body_str(req, path));
    }
    n->has_owner = lanes_body_has(req, "owner");
    n->owner_name = dup_or_null(lanes_body_str(req, "owner.name"));
    n->owner_email = dup_or_null(lanes_body_str(req, "owner.email"));
}

static note *find(long long id)
{
    for (int i = 0; i < nnotes; i++)
        if (notes[i]->id == id)
            return notes[i];
    return NULL;
}

static void write_note(lanes_jw *w, const note *n)
{
    lanes_jw_obj(w);
    lanes_jw_key(w, "id");
    lanes_jw_int(w, n->id);
    lanes_jw_key(w, "title");
    lanes_jw_str(w, n->title);
    lanes_jw_key(w, "body");
    lanes_jw_str(w, n->body);
    lanes_jw_key(w, "priority");
    lanes_jw_int(w, n->priority);
    lanes_jw_key(w, "level");
    lanes_jw_str(w, n->level);
    lanes_jw_key(w, "score");
    lanes_jw_double(w, n->score);
    lanes_jw_key(w, "done");
    lanes_jw_bool(w, n->done);
    lanes_jw_key(w, "tags");
    lanes_jw_arr(w);
    for (int i = 0; i < n->ntags; i++)
        lanes_jw_str(w, n->tags[i]);
    lanes_jw_end(w);
    lanes_jw_key(w, "owner");
    if (n->has_owner) {
        lanes_jw_obj(w);
        lanes_jw_key(w, "name");
        lanes_jw_str(w, n->owner_name);
        lanes_jw_key(w, "email");
        if (n->owner_email)
            lanes_jw_str(w, n->owner_email);
        else
            lanes_jw_null(w);
        lanes_jw_end(w);
    } else {
        lanes_jw_null(w);
    }
    lanes_jw_end(w);
}

static void send_note(lanes_req *req, int status, const note *n)
{
    lanes_jw w;
    lanes_jw_init(&w);
    write_note(&w, n);
    lanes_json_jw(req, status, &w);
}

/* ---- the handlers ----------------------------------------------------------------------- */

static void create_note(lanes_req *req)
{
    pthread_mutex_lock(&lock);
    if (nnotes == MAX_NOTES) {
        pthread_mutex_unlock(&lock);
        lanes_error(req, 409, "the store is full (1000 notes)");
        return;
    }
    note *n = calloc(1, sizeof *n);
    if (!n) {
        pthread_mutex_unlock(&lock);
        lanes_error(req, 503, "out of memory");
        return;
    }
    n->id = next_id++;
    note_from_body(n, req);
    notes[nnotes++] = n;
    char loc[64];
    snprintf(loc, sizeof loc, "/notes/%lld", n->id);
    lanes_set_header(req, "Location", loc);
    send_note(req, 201, n);
    pthread_mutex_unlock(&lock);
}

static void list_notes(lanes_req *req)
{
    long long limit = lanes_query_int(req, "limit", 50);
    const char *q = lanes_query_str(req, "q", NULL);
    if (limit < 0)
        limit = 0;
    lanes_jw w;
    lanes_jw_init(&w);
    lanes_jw_obj(&w);
    lanes_jw_key(&w, "items");
    lanes_jw_arr(&w);
    pthread_mutex_lock(&lock);
    long long count = 0;
    for (int i = 0; i < nnotes; i++) {
        if (q && !strstr(notes[i]->title, q))
            continue;
        if (count++ < limit)
            write_note(&w, notes[i]);
    }
    pthread_mutex_unlock(&lock);
    lanes_jw_end(&w);
    lanes_jw_key(&w, "count");
    lanes_jw_int(&w, count);
    lanes_jw_end(&w);
    lanes_json_jw(req, 200, &w);
}

static void get_note(lanes_req *req)
{
    long long id = lanes_path_int(req, "id");
    pthread_mutex_lock(&lock);
    note *n = find(id);
    if (n)
        send_note(req, 200, n);
    else
        lanes_error(req, 404, "Note not found");
    pthread_mutex_unlock(&lock);
}

static void put_note(lanes_req *req)
{
    long long id = lanes_path_int(req, "id");
    pthread_mutex_lock(&lock);
    note *n = find(id);
    if (n) {
        note_clear(n);
        note_from_body(n, req);
        send_note(req, 200, n);
    } else {
        lanes_error(req, 404, "Note not found");
    }
    pthread_mutex_unlock(&lock);
}

static void delete_note(lanes_req *req)
{
    long long id = lanes_path_int(req, "id");
    pthread_mutex_lock(&lock);
    for (int i = 0; i < nnotes; i++) {
        if (notes[i]->id == id) {
            note_clear(notes[i]);
            free(notes[i]);
            notes[i] = notes[--nnotes];
            pthread_mutex_unlock(&lock);
            lanes_status(req, 204);
            return;
        }
    }
    pthread_mutex_unlock(&lock);
    lanes_error(req, 404, "Note not found");
}

static void root(lanes_req *req)
{
    lanes_json(req, 200, "{\"name\":\"notes\",\"docs\":\"/docs\"}");
}

/* ---- the app ------------------------------------------------------------------------------ */

static int add(lanes_app *app, const char *method, const char *pattern, lanes_handler h,
               const lanes_route_opts *o)
{
    int rc = lanes_route_ex(app, method, pattern, h, LANES_LOOP, o);
    if (rc < 0)
        fprintf(stderr, "lanes-notes: %s %s: %s\n", method, pattern, lanes_strerror(rc));
    return rc;
}

int main(int argc, char **argv)
{
    lanes_app *app = lanes_app_new();
    if (!app)
        return 1;
    lanes_app_info(app, "Notes", "1.0.0", "A notes API on lanes: typed bodies, parameters and response models.");
    const lanes_route_opts create = {
        .summary = "Create a note", .body = note_in,
        .responses = (const lanes_response[]){ { 201, "Created", note_out }, { .status = 409 }, { 0 } },
    };
    const lanes_route_opts list = {
        .summary = "List notes", .query = "limit:int,q:str",
        .responses = (const lanes_response[]){ { 200, "The notes", note_list }, { 0 } },
    };
    const lanes_route_opts get = {
        .summary = "Read a note",
        .responses = (const lanes_response[]){ { 200, "The note", note_out }, { .status = 404, .description = "No such note" }, { 0 } },
    };
    const lanes_route_opts put = {
        .summary = "Replace a note", .body = note_in,
        .responses = (const lanes_response[]){ { 200, "The note", note_out }, { .status = 404, .description = "No such note" }, { 0 } },
    };
    const lanes_route_opts del = {
        .summary = "Delete a note",
        .responses = (const lanes_response[]){ { .status = 204, .description = "Deleted" }, { .status = 404, .description = "No such note" }, { 0 } },
    };
    const lanes_route_opts home = { .summary = "Where the docs are" };
    if (add(app, "GET", "/", root, &home) < 0 ||
        add(app, "POST", "/notes", create_note, &create) < 0 ||
        add(app, "GET", "/notes", list_notes, &list) < 0 ||
        add(app, "GET", "/notes/{id:int}", get_note, &get) < 0 ||
        add(app, "PUT", "/notes/{id:int}", put_note, &put) < 0 ||
        add(app, "DELETE", "/notes/{id:int}", delete_note, &del) < 0) {
        lanes_app_free(app);
        return 1;
    }
    return lanes_main(app, argc, argv);
}
