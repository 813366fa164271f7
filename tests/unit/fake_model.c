/* tests/unit/fake_model.c - the fake explorer model: sets are made up
 * deterministically from their heapy expressions (see fake_model.h).
 *
 * Not a heap: only what the TUI needs to be exercised, with numbers of
 * heapy's size (a root of about a million objects).  It must itself be
 * leak-free and strict about the contract, since it checks the TUI.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fake_model.h"

#define MAGIC 0x5e7f00d5u
#define ID_ROWS_MAX 2000    /* byid shows the first objects only, unless
                               told (id_rows) */

typedef struct frow {
    uint64_t count, size;
    size_t index;           /* heapy's, i.e. position in size order */
} frow;

struct hs_view {
    unsigned magic;
    char set_expr[256];     /* the set: "h[0].byrcs[3]" */
    char expr[300];         /* the view: set_expr + ".byvia" */
    enum hs_rel natural;    /* the relation the set prints by */
    enum hs_rel rel;
    enum hs_sort sort;
    uint64_t count, size;
    unsigned seed;
    int snap;               /* the snapshot it is of (u makes a new one) */
    int mark;               /* the marks set before that snapshot */
    char status[96];
    size_t nrows;
    frow *rows;
    /* strings handed out, scribbled over by the next call on the view */
    char label[300];
    char summary[128];
    char expr_out[300];
    char column[64];
    /* the inspector's page */
    char o_expr[400], o_type[300], o_repr[128], o_path[200], o_tb[160];
    hs_ref refs[5];
    char ref_text[5][3][48];
};

static const char *const rel_suffix[HS_REL_N] = {
    "byclodo", "bytype", "byrcs", "byvia", "bysize", "byid", "bymodule",
    "byprod"
};

static const char *const columns[HS_REL_N] = {
    "Kind (class / dict of class)", "Type",
    "Referrers by Kind (class / dict of class)", "Referred Via:",
    "Individual Size", "Representation (limited)", "Module",
    "Producer (line of allocation)"
};

static const char *const kinds[] = {
    "str", "dict of pkgcore.ebuild.ebuild_src.package", "dict (no owner)",
    "tuple", "int", "weakref.KeyedRef",
    "dict of pkgcore.ebuild.ebuild_src.ThrowAwayNameSpace",
    "types.MethodType", "list", "pkgcore.ebuild.ebuild_src.package",
    "types.CodeType", "function", "set", "type", "bytes", "frozenset"
};
#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

static unsigned
hash(const char *s)
{
    unsigned h = 2166136261u;

    while (*s) {
        h = (h ^ (unsigned char)*s++) * 16777619u;
    }
    return h;
}

static fake_model *
fm_of(hs_model *m)
{
    return (fake_model *)m;
}

static void
set_error(fake_model *fm, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(fm->err, sizeof(fm->err), fmt, ap);
    va_end(ap);
}

/* Entry and exit of every call: catches calls from inside a tick(). */
static void
enter(fake_model *fm)
{
    if (fm->in_call) {
        fm->reentrant++;
    }
    fm->in_call = 1;
}

static void
leave(fake_model *fm)
{
    fm->in_call = 0;
}

static void
scribble(hs_view *v)
{
    if (v->magic != MAGIC) {
        abort();    /* a released view: the TUI has a bug */
    }
    memset(v->label, 'X', sizeof(v->label) - 1);
    v->label[sizeof(v->label) - 1] = '\0';
    memset(v->summary, 'X', sizeof(v->summary) - 1);
    v->summary[sizeof(v->summary) - 1] = '\0';
    memset(v->expr_out, 'X', sizeof(v->expr_out) - 1);
    v->expr_out[sizeof(v->expr_out) - 1] = '\0';
    memset(v->column, 'X', sizeof(v->column) - 1);
    v->column[sizeof(v->column) - 1] = '\0';
}

static int
should_fail(fake_model *fm)
{
    if (fm->fail_next) {
        fm->fail_next = 0;
        set_error(fm, "%s", fm->fail_msg[0] ? fm->fail_msg : "it failed");
        return 1;
    }
    return 0;
}

/* The work of a long call: ticks, and gives up when told to. */
static int
work(fake_model *fm, const hs_progress *p, const char *what)
{
    for (int i = 0; i < fm->ticks; i++) {
        if (fm->clock != NULL) {
            *fm->clock += fm->tick_ms;
        }
        if (fm->tick_sleep_us) {
            usleep(fm->tick_sleep_us);
        }
        if (p != NULL && p->tick != NULL
            && p->tick(p->arg, what, (uint64_t)i, (uint64_t)fm->ticks)) {
            fm->cancelled_calls++;
            set_error(fm, "cancelled");
            return -1;
        }
    }
    return 0;
}

static size_t
nrows_for(const fake_model *fm, const hs_view *v)
{
    size_t n;

    switch (v->rel) {
    case HS_REL_CLODO:
        n = 12 + v->seed % 5;
        break;
    case HS_REL_TYPE:
        n = 8;
        break;
    case HS_REL_RCS:
        n = 10 + v->seed % 7;
        break;
    case HS_REL_VIA:
        n = 40;
        break;
    case HS_REL_SIZE:
        n = 10;
        break;
    case HS_REL_ID:
        n = fm->id_rows ? fm->id_rows : ID_ROWS_MAX;
        break;
    case HS_REL_MODULE:
        n = 6;
        break;
    default:
        n = 9;
        break;
    }
    return n < v->count ? n : (size_t)v->count;
}

/* Split total over n rows by decreasing weights (n - j)^power; the
 * remainder goes to row 0, so the order stays decreasing. */
static void
split(uint64_t total, size_t n, int power, uint64_t *out)
{
    long double w = 0, s;
    uint64_t used = 0;

    for (size_t j = 0; j < n; j++) {
        s = (long double)(n - j);
        w += power == 3 ? s * s * s : s * s;
    }
    for (size_t j = 0; j < n; j++) {
        s = (long double)(n - j);
        s = power == 3 ? s * s * s : s * s;
        out[j] = (uint64_t)((long double)total * s / w);
        used += out[j];
    }
    if (n > 0) {
        out[0] += total - used;
    }
}

/* A view of set_expr, made from view `from` (whose snapshot it shares),
 * or a root view of the current snapshot (from NULL). */
static hs_view *
make_view(fake_model *fm, const hs_view *from, const char *set_expr,
          enum hs_rel natural, enum hs_rel rel, uint64_t count,
          uint64_t size)
{
    hs_view *v = calloc(1, sizeof(*v));
    uint64_t *c, *s;

    if (v == NULL) {
        set_error(fm, "out of memory");
        return NULL;
    }
    v->magic = MAGIC;
    snprintf(v->set_expr, sizeof(v->set_expr), "%s", set_expr);
    if (rel == natural) {
        snprintf(v->expr, sizeof(v->expr), "%s", set_expr);
    }
    else {
        snprintf(v->expr, sizeof(v->expr), "%s.%s", set_expr,
                 rel_suffix[rel]);
    }
    v->natural = natural;
    v->rel = rel;
    v->sort = HS_SORT_SIZE;
    v->count = count;
    v->size = size;
    v->snap = from != NULL ? from->snap : fm->snapshot;
    v->mark = from != NULL ? from->mark : fm->marks;
    v->seed = hash(set_expr) + (unsigned)v->snap;
    v->nrows = nrows_for(fm, v);
    v->rows = calloc(v->nrows + 1, sizeof(*v->rows));
    c = calloc(v->nrows + 1, sizeof(*c));
    s = calloc(v->nrows + 1, sizeof(*s));
    if (v->rows == NULL || c == NULL || s == NULL) {
        free(v->rows);
        free(c);
        free(s);
        free(v);
        set_error(fm, "out of memory");
        return NULL;
    }
    if (rel == HS_REL_ID) {
        for (size_t j = 0; j < v->nrows; j++) {
            c[j] = 1;
        }
        split(size, v->nrows, 2, s);
    }
    else {
        split(count, v->nrows, 2, c);
        split(size, v->nrows, 3, s);
    }
    for (size_t j = 0; j < v->nrows; j++) {
        v->rows[j].count = c[j] ? c[j] : 1;
        v->rows[j].size = s[j];
        v->rows[j].index = j;
    }
    free(c);
    free(s);
    fm->live_views++;
    fm->views_made++;
    return v;
}

static void
label_of(const hs_view *v, size_t index, char *buf, size_t len)
{
    const frow *r = NULL;

    for (size_t i = 0; i < v->nrows; i++) {
        if (v->rows[i].index == index) {
            r = &v->rows[i];
        }
    }
    switch (v->rel) {
    case HS_REL_CLODO:
    case HS_REL_TYPE:
        if (index < NKINDS) {
            snprintf(buf, len, "%s", kinds[(index + v->seed % 3) % NKINDS]);
        }
        else {
            snprintf(buf, len, "mod%zu.Class%zu", index % 4, index);
        }
        break;
    case HS_REL_RCS:
        if (index == 3) {   /* heapy's long rcs label, to be clipped */
            snprintf(buf, len, "dict (no owner), dict of pkgcore.ebuild."
                     "ebuild_src.package, weakref.KeyedRef");
        }
        else {
            snprintf(buf, len, "%s", kinds[(index * 2 + 2) % NKINDS]);
        }
        break;
    case HS_REL_VIA:
        snprintf(buf, len, "\"['key%zu']\", '.keys()[%zu]'", index,
                 index * 7);
        break;
    case HS_REL_SIZE:
        snprintf(buf, len, "%9llu", (unsigned long long)(
                     r != NULL && r->count ? r->size / r->count : 0));
        break;
    case HS_REL_ID:
        snprintf(buf, len, "'obj-%zu-of-%s'", index, v->set_expr);
        break;
    case HS_REL_MODULE:
        snprintf(buf, len, "module%zu", index);
        break;
    default:
        snprintf(buf, len, "/src/app/file%zu.py:%zu", index % 3,
                 10 * index + 1);
        break;
    }
}

/* ---- ops -------------------------------------------------------------- */

static hs_view *
op_root(hs_model *m, const hs_progress *p)
{
    fake_model *fm = fm_of(m);
    hs_view *v = NULL;

    enter(fm);
    if (!should_fail(fm) && work(fm, p, "snapshot") == 0) {
        v = make_view(fm, NULL, "h", HS_REL_CLODO, HS_REL_CLODO,
                      fm->root_count, fm->root_size);
    }
    leave(fm);
    return v;
}

static hs_view *
op_repartition(hs_model *m, hs_view *v, enum hs_rel rel,
               const hs_progress *p)
{
    fake_model *fm = fm_of(m);
    hs_view *r = NULL;

    enter(fm);
    scribble(v);
    if (rel == HS_REL_PROD && !fm->tracemalloc) {
        set_error(fm, "no allocation sites: tracemalloc was not tracing");
    }
    else if (!should_fail(fm) && work(fm, p, rel_suffix[rel]) == 0) {
        r = make_view(fm, v, v->set_expr, v->natural, rel, v->count,
                      v->size);
    }
    leave(fm);
    return r;
}

/* What a step adds to the expression, by enum hs_step. */
static const char *const step_suffix[] = {"", ".referrers", ".referents",
                                          ".dominos"};

static hs_view *
op_step(hs_model *m, hs_view *v, size_t row, enum hs_step how,
        const hs_progress *p)
{
    fake_model *fm = fm_of(m);
    hs_view *r = NULL;
    char e[400];

    enter(fm);
    scribble(v);
    if (row >= v->nrows) {
        set_error(fm, "no row %zu", row);
    }
    else if (!should_fail(fm) && work(fm, p, "step") == 0) {
        const frow *f = &v->rows[row];

        snprintf(e, sizeof(e), "%s[%zu]%s", v->expr, f->index,
                 step_suffix[how]);
        switch (how) {
        case HS_STEP_OPEN:
            r = make_view(fm, v, e, v->rel, v->rel, f->count, f->size);
            break;
        case HS_STEP_REFERRERS:
            r = make_view(fm, v, e, HS_REL_CLODO, HS_REL_CLODO,
                          f->count / 2 + 1, f->size / 3 + 100);
            break;
        case HS_STEP_REFERENTS:
            r = make_view(fm, v, e, HS_REL_CLODO, HS_REL_CLODO,
                          f->count * 3 + 1, f->size * 2 + 100);
            break;
        case HS_STEP_DOMINOS:
            r = make_view(fm, v, e, HS_REL_CLODO, HS_REL_CLODO,
                          f->count * 2,
                          f->size * 3 / 2 + f->index);
            break;
        }
    }
    leave(fm);
    return r;
}

/* One object's: "h[2].byid[3].referrers", a set of 7 (what it refers to:
 * 5; what it dominates: itself and one more). */
static hs_view *
op_step_object(hs_model *m, hs_view *v, size_t row, size_t nth,
               enum hs_step how, const hs_progress *p)
{
    static const uint64_t count[] = {1, 7, 5, 2};
    fake_model *fm = fm_of(m);
    hs_view *r = NULL;
    char e[400];

    enter(fm);
    scribble(v);
    if (row >= v->nrows || nth >= v->rows[row].count) {
        set_error(fm, "no object %zu of row %zu", nth, row);
    }
    else if (how == HS_STEP_OPEN) {
        set_error(fm, "an object is opened with x");
    }
    else if (!should_fail(fm) && work(fm, p, "step") == 0) {
        snprintf(e, sizeof(e), "%s[%zu].byid[%zu]%s", v->expr,
                 v->rows[row].index, nth, step_suffix[how]);
        r = make_view(fm, v, e, HS_REL_CLODO, HS_REL_CLODO, count[how],
                      count[how] * 64);
    }
    leave(fm);
    return r;
}

static hs_view *
op_eval(hs_model *m, hs_view *v, const char *expr, const hs_progress *p)
{
    fake_model *fm = fm_of(m);
    hs_view *r = NULL;
    char e[600];

    enter(fm);
    scribble(v);
    if (strcmp(expr, "sp") == 0) {
        /* an answer of several lines, as paths are */
        set_error(fm, "%s.sp\n 0: hpy().Root.i0_modules['__main__']"
                      ".__dict__['repo']\n 1: hpy().Root.i0_modules"
                      "['__main__'].__dict__['other']\n 2: third\n"
                      " 3: fourth\n 4: fifth\n 5: sixth", v->expr);
    }
    else if (strstr(expr, "bad") != NULL
        || (strchr(expr, '(') != NULL && strchr(expr, ')') == NULL)) {
        set_error(fm, "SyntaxError: invalid syntax in '%s'", expr);
    }
    else if (!should_fail(fm) && work(fm, p, "eval") == 0) {
        if (expr[0] == '[' || expr[0] == '.') {
            snprintf(e, sizeof(e), "%s%s", v->expr, expr);
        }
        else if ((expr[0] >= 'a' && expr[0] <= 'z')
                 || (expr[0] >= 'A' && expr[0] <= 'Z')) {
            snprintf(e, sizeof(e), "%s.%s", v->expr, expr);
        }
        else {
            snprintf(e, sizeof(e), "(%s %s)", v->expr, expr);
        }
        if (strcmp(expr, "empty") == 0) {
            r = make_view(fm, v, e, HS_REL_CLODO, HS_REL_CLODO, 0, 0);
        }
        else {
            r = make_view(fm, v, e, HS_REL_CLODO, HS_REL_CLODO,
                          v->count / 3 + 1, v->size / 3 + 64);
        }
    }
    leave(fm);
    return r;
}

static int
dom_state(fake_model *fm)
{
    if (fm->dom_polls < 0) {
        return HS_DOM_NONE;
    }
    if (fm->dom_ready) {
        return HS_DOM_READY;
    }
    fm->dom_started = 1;
    return HS_DOM_PENDING;
}

static uint64_t
dom_of(const frow *r)
{
    return r->size * 3 / 2 + r->index;
}

static const hs_view *sort_view;    /* qsort has no argument: tests only */
static enum hs_sort sort_how;

static int
cmp_rows(const void *a, const void *b)
{
    const frow *x = a, *y = b;
    char lx[300], ly[300];
    int c = 0;

    switch (sort_how) {
    case HS_SORT_SIZE:
        c = x->size < y->size ? 1 : x->size > y->size ? -1 : 0;
        break;
    case HS_SORT_COUNT:
        c = x->count < y->count ? 1 : x->count > y->count ? -1 : 0;
        break;
    case HS_SORT_DOMINATED:
        c = dom_of(x) < dom_of(y) ? 1 : dom_of(x) > dom_of(y) ? -1 : 0;
        break;
    default:
        label_of(sort_view, x->index, lx, sizeof(lx));
        label_of(sort_view, y->index, ly, sizeof(ly));
        c = strcmp(lx, ly);
        break;
    }
    if (c == 0) {
        c = x->index < y->index ? -1 : x->index > y->index;
    }
    return c;
}

static int
op_sort(hs_model *m, hs_view *v, enum hs_sort how, const hs_progress *p)
{
    fake_model *fm = fm_of(m);
    int rc = -1;

    enter(fm);
    scribble(v);
    if (how == HS_SORT_DOMINATED && dom_state(fm) != HS_DOM_READY) {
        set_error(fm, "dominated sizes are not computed yet");
    }
    else if (!should_fail(fm) && work(fm, p, "sort") == 0) {
        sort_view = v;
        sort_how = how;
        qsort(v->rows, v->nrows, sizeof(*v->rows), cmp_rows);
        v->sort = how;
        rc = 0;
    }
    leave(fm);
    return rc;
}

static void
op_info(hs_model *m, hs_view *v, hs_view_info *out)
{
    fake_model *fm = fm_of(m);

    enter(fm);
    scribble(v);
    snprintf(v->expr_out, sizeof(v->expr_out), "%s", v->expr);
    snprintf(v->summary, sizeof(v->summary),
             "Partition of a set of %llu objects. Total size = %llu bytes.",
             (unsigned long long)v->count, (unsigned long long)v->size);
    snprintf(v->column, sizeof(v->column), "%s", columns[v->rel]);
    out->expr = v->expr_out;
    out->summary = v->summary;
    out->column = v->column;
    out->rel = v->rel;
    out->sort = v->sort;
    out->count = v->count;
    out->size = v->size;
    out->nrows = v->nrows;
    leave(fm);
}

static int
op_row(hs_model *m, hs_view *v, size_t i, hs_row *out)
{
    fake_model *fm = fm_of(m);

    enter(fm);
    scribble(v);
    if (i >= v->nrows) {
        set_error(fm, "no row %zu", i);
        leave(fm);
        return -1;
    }
    label_of(v, v->rows[i].index, v->label, sizeof(v->label));
    out->label = v->label;
    out->count = v->rows[i].count;
    out->size = v->rows[i].size;
    out->index = v->rows[i].index;
    leave(fm);
    return 0;
}

static int
op_dominated(hs_model *m, hs_view *v, size_t i, uint64_t *bytes)
{
    fake_model *fm = fm_of(m);
    int st;

    enter(fm);
    scribble(v);
    st = i < v->nrows ? dom_state(fm) : HS_DOM_NONE;
    if (st == HS_DOM_READY) {
        *bytes = dom_of(&v->rows[i]);
    }
    leave(fm);
    return st;
}

static int
op_poll(hs_model *m)
{
    fake_model *fm = fm_of(m);
    int r = 0;

    enter(fm);
    fm->polls++;
    if (fm->dom_started && !fm->dom_ready && ++fm->dom_polled >= fm->dom_polls) {
        fm->dom_ready = 1;
        r = 1;
    }
    leave(fm);
    return r;
}

static void
op_cancel(hs_model *m)
{
    fake_model *fm = fm_of(m);

    enter(fm);
    fm->cancels++;
    if (!fm->dom_ready) {   /* the work done so far is lost */
        fm->dom_started = 0;
        fm->dom_polled = 0;
    }
    leave(fm);
}

/* Work ahead: prepare_jobs pieces of prepare_ticks ticks each; a piece a
 * key stops is done again from its start at the next call. */
static int
op_prepare(hs_model *m, const hs_progress *p)
{
    fake_model *fm = fm_of(m);
    int r = 1;

    enter(fm);
    fm->prepare_calls++;
    if (fm->prepare_jobs == 0) {
        r = 0;
    }
    for (int i = 0; r == 1 && i < fm->prepare_ticks; i++) {
        if (fm->clock != NULL) {
            *fm->clock += fm->tick_ms;
        }
        if (p->tick(p->arg, "ahead", (uint64_t)i,
                    (uint64_t)fm->prepare_ticks)) {
            fm->prepare_stopped++;
            set_error(fm, "cancelled");
            r = -1;
        }
    }
    if (r == 1) {
        fm->prepare_jobs--;
        fm->prepared++;
    }
    leave(fm);
    return r;
}

static int
op_inspect(hs_model *m, hs_view *v, size_t row, size_t nth, hs_object *out,
           const hs_progress *p)
{
    fake_model *fm = fm_of(m);
    const frow *r;
    int rc = -1;

    enter(fm);
    scribble(v);
    fm->inspects++;
    if (row >= v->nrows) {
        set_error(fm, "no row %zu", row);
    }
    else if (nth >= v->rows[row].count) {
        set_error(fm, "no object %zu in this row", nth);
    }
    else if (!should_fail(fm) && work(fm, p, "inspect") == 0) {
        r = &v->rows[row];
        memset(out, 0, sizeof(*out));
        snprintf(v->o_expr, sizeof(v->o_expr), "%s[%zu].byid[%zu].theone",
                 v->expr, r->index, nth);
        label_of(v, r->index, v->o_type, sizeof(v->o_type));
        snprintf(v->o_repr, sizeof(v->o_repr), "'object %zu of row %zu'",
                 nth, r->index);
        snprintf(v->o_path, sizeof(v->o_path), "hpy().Root.i0_modules["
                 "'__main__'].__dict__['repo'].data[%zu]", nth);
        snprintf(v->o_tb, sizeof(v->o_tb), "  File \"/src/app/load.py\", "
                 "line %zu\n  File \"/src/app/main.py\", line 7", nth + 40);
        for (int i = 0; i < 5; i++) {
            snprintf(v->ref_text[i][0], 48, "%s",
                     i < 3 ? "dict of Package" : "list");
            snprintf(v->ref_text[i][1], 48, i < 3 ? "['cpv%d']" : "[%d]",
                     i);
            snprintf(v->ref_text[i][2], 48, "<ref %d of object %zu>", i,
                     nth);
            v->refs[i].kind = v->ref_text[i][0];
            v->refs[i].via = v->ref_text[i][1];
            v->refs[i].repr = v->ref_text[i][2];
            v->refs[i].size = 232 + (uint64_t)i;
        }
        out->expr = v->o_expr;
        out->type = v->o_type;
        out->address = (uintptr_t)0x7f0000001000ull + r->index * 0x100
                       + nth * 0x10;
        out->size = r->size / r->count;
        out->dominated_state = dom_state(fm);
        out->dominated = out->dominated_state == HS_DOM_READY
                             ? out->size * 2 : 0;
        out->repr = v->o_repr;
        out->path = v->o_path;
        out->traceback = fm->tracemalloc ? v->o_tb : NULL;
        out->nreferrers = 5;
        out->shown_referrers = 3;
        out->referrers = v->refs;
        out->nreferents = 2;
        out->shown_referents = 2;
        out->referents = v->refs + 3;
        rc = 0;
    }
    leave(fm);
    return rc;
}

static int
op_mark(hs_model *m)
{
    fake_model *fm = fm_of(m);

    enter(fm);
    fm->marks++;
    leave(fm);
    return 0;
}

static hs_view *
op_refresh(hs_model *m, const hs_progress *p)
{
    fake_model *fm = fm_of(m);
    hs_view *v = NULL;

    enter(fm);
    if (!should_fail(fm) && work(fm, p, "snapshot") == 0) {
        fm->snapshot++;
        v = make_view(fm, NULL, "h", HS_REL_CLODO, HS_REL_CLODO,
                      fm->root_count / 10 + 1, fm->root_size / 10 + 1);
    }
    leave(fm);
    return v;
}

static const char *
op_error(hs_model *m)
{
    enter(fm_of(m));
    leave(fm_of(m));
    return fm_of(m)->err;
}

/* The marks are set at 14:02:01, 14:02:02...; snapshots take 0.41 s. */
static const char *
op_status(hs_model *m, hs_view *v)
{
    fake_model *fm = fm_of(m);
    int then = v != NULL ? v->mark : fm->marks;
    char mark[16] = "none", now[32] = "";

    enter(fm);
    if (then > 0) {
        snprintf(mark, sizeof(mark), "14:02:%02d", then % 60);
    }
    if (fm->marks > then) {
        snprintf(now, sizeof(now), ", new 14:02:%02d", fm->marks % 60);
    }
    if (v == NULL) {
        snprintf(fm->status, sizeof(fm->status), "mark: %s", mark);
    }
    else {
        char nth[16] = "";

        if (v->snap > 0) {
            snprintf(nth, sizeof(nth), " %d", v->snap + 1);
        }
        snprintf(v->status, sizeof(v->status),
                 "mark: %s%s   snapshot%s: 0.41 s", mark, now, nth);
    }
    leave(fm);
    return v != NULL ? v->status : fm->status;
}

static void
op_release(hs_model *m, hs_view *v)
{
    fake_model *fm = fm_of(m);

    enter(fm);
    if (v->magic != MAGIC) {
        abort();
    }
    v->magic = 0;
    free(v->rows);
    free(v);
    fm->live_views--;
    leave(fm);
}

static const hs_model_ops fake_ops = {
    op_root, op_repartition, op_step, op_eval, op_sort, op_info, op_row,
    op_dominated, op_poll, op_cancel, op_prepare, op_inspect,
    op_step_object, op_mark,
    op_refresh, op_error, op_status, op_release
};

void
fake_model_init(fake_model *fm)
{
    memset(fm, 0, sizeof(*fm));
    fm->base.ops = &fake_ops;
    fm->root_count = 1449133;
    fm->root_size = 102766644;
    fm->tick_ms = 50;
}

int
fake_view_row(hs_view *v, size_t i, fake_row *out)
{
    if (i >= v->nrows) {
        return -1;
    }
    out->count = v->rows[i].count;
    out->size = v->rows[i].size;
    out->index = v->rows[i].index;
    out->dominated = dom_of(&v->rows[i]);
    return 0;
}
