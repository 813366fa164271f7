/* test_relations.c - cmocka tests of src/graph/relations.c on hand-made
 * graphs whose answers are known: reverse edges, referrers, referrer kinds,
 * dominators and dominated sizes, shortest paths. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "heapscope/relations.h"

#define A(i) ((uintptr_t)0x200000 + (uintptr_t)(i) * 16)

/* Node 0 is the root (virtual); nodes 1..n-1 objects of size 10*i with
 * type 1 unless types[] says otherwise; edges given as (from, to) pairs,
 * sorted by `from`. */
static hs_graph *
make(uint32_t n, const uint32_t (*edges)[2], size_t nedges)
{
    hs_graph *g = hs_graph_new(16, 16);
    assert_non_null(g);
    hs_id id;
    int is_new;
    assert_int_equal(hs_graph_add_virtual(g, &id), 0);
    for (uint32_t i = 1; i < n; i++) {
        assert_int_equal(hs_graph_intern(g, A(i), &id, &is_new), 0);
        assert_int_equal(id, i);
        g->type[i] = 1;
        assert_int_equal(hs_graph_set_size(g, i, 10 * i), 0);
    }
    size_t e = 0;
    for (uint32_t i = 0; i < n; i++) {
        for (; e < nedges && edges[e][0] == i; e++)
            assert_int_equal(hs_graph_add_edge(g, edges[e][1]), 0);
        hs_graph_end_node(g, i);
    }
    assert_int_equal(e, nedges);
    assert_int_equal(hs_graph_finish(g), 0);
    return g;
}

static hs_set
set_of(const hs_id *ids, size_t n)
{
    hs_set s;
    assert_int_equal(hs_set_from_ids(&s, ids, n), 0);
    return s;
}

/* root -> 1, root -> 2, 1 -> 3, 2 -> 3, 3 -> 4, 4 -> 1 (a cycle back) */
static const uint32_t diamond[][2] = {
    {0, 1}, {0, 2}, {1, 3}, {2, 3}, {3, 4}, {4, 1},
};

static void
test_reverse_edges(void **state)
{
    (void)state;
    hs_graph *g = make(5, diamond, 6);
    hs_relations *r;
    assert_int_equal(hs_relations_new(&r, g, NULL), 0);
    assert_int_equal(hs_rel_nin(r, 3), 2);
    assert_int_equal(hs_rel_in(r, 3)[0], 1);
    assert_int_equal(hs_rel_in(r, 3)[1], 2);
    assert_int_equal(hs_rel_nin(r, 1), 2);
    assert_int_equal(hs_rel_in(r, 1)[0], 0);
    assert_int_equal(hs_rel_in(r, 1)[1], 4);
    assert_int_equal(hs_rel_nin(r, 0), 0);

    hs_id q[] = {3};
    hs_set s = set_of(q, 1), out;
    assert_int_equal(hs_referrers(r, &s, &out), 0);
    assert_int_equal(out.n, 2);
    assert_int_equal(out.ids[0], 1);
    assert_int_equal(out.ids[1], 2);
    hs_set_free(&out);
    hs_set_free(&s);
    /* the root is no object: not a referrer */
    hs_id q1[] = {1};
    s = set_of(q1, 1);
    assert_int_equal(hs_referrers(r, &s, &out), 0);
    assert_int_equal(out.n, 1);
    assert_int_equal(out.ids[0], 4);
    hs_set_free(&out);
    assert_int_equal(hs_referents(r, &s, &out), 0);
    assert_int_equal(out.n, 1);
    assert_int_equal(out.ids[0], 3);
    hs_set_free(&out);
    hs_set_free(&s);
    hs_relations_free(r);
    hs_graph_free(g);
}

static void
test_rcs_kinds(void **state)
{
    (void)state;
    /* 1 and 2 are of type 1 and 5; 3 is held by both, 4 by 3 only. */
    hs_graph *g = make(5, diamond, 6);
    g->type[2] = 5;
    hs_relations *r;
    assert_int_equal(hs_relations_new(&r, g, NULL), 0);
    hs_id q[] = {1, 2, 3, 4};
    hs_set s = set_of(q, 4);
    uint64_t ids[4];
    hs_rcs_table t;
    assert_int_equal(hs_rcs_classify(r, &s, ids, &t, 1), 0);
    /* 1: root + type 1; 2: root; 3: types 1 and 5; 4: type 1 */
    size_t a = t.start[ids[2]], n = t.start[ids[2] + 1] - a;
    assert_int_equal(n, 2);
    assert_int_equal(t.key[a], 1);
    assert_int_equal(t.key[a + 1], 5);
    a = t.start[ids[1]];
    assert_int_equal(t.start[ids[1] + 1] - a, 1);
    assert_int_equal(t.key[a], HS_RCS_ROOT);
    assert_int_not_equal(ids[0], ids[3]);
    assert_int_equal(t.n, 4);
    hs_rcs_table_free(&t);
    hs_set_free(&s);
    hs_relations_free(r);
    hs_graph_free(g);
}

/* A set big enough for two threads gets the ids and lists one thread
 * gives it: referrers of seven types at random, some members with none. */
static void
test_rcs_two_threads(void **state)
{
    (void)state;
    const uint32_t n = 300000;
    size_t cap = (size_t)n * 3, ne = 0;
    uint32_t (*edges)[2] = malloc(cap * sizeof *edges);
    assert_non_null(edges);
    uint64_t x = 12345;
    for (uint32_t from = 0; from < n; from++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        unsigned m = (unsigned)(x >> 62);               /* 0 .. 3 */
        for (unsigned j = 0; j < m && ne < cap; j++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            edges[ne][0] = from;
            edges[ne][1] = 1 + (uint32_t)((x >> 33) % (n - 1));
            ne++;
        }
    }
    hs_graph *g = make(n, (const uint32_t(*)[2])edges, ne);
    free(edges);
    for (uint32_t i = 1; i < n; i++)
        g->type[i] = 1 + (i * 2654435761u >> 7) % 7;
    hs_relations *r;
    assert_int_equal(hs_relations_new(&r, g, NULL), 0);
    hs_id *q = malloc((n - 1) * sizeof *q);
    assert_non_null(q);
    for (uint32_t i = 1; i < n; i++)
        q[i - 1] = i;
    hs_set s = set_of(q, n - 1);
    free(q);
    uint64_t *one = malloc(s.n * sizeof *one), *two = malloc(s.n * sizeof *two);
    assert_non_null(one);
    assert_non_null(two);
    hs_rcs_table t1, t2;
    assert_int_equal(hs_rcs_classify(r, &s, one, &t1, 1), 0);
    assert_int_equal(hs_rcs_classify(r, &s, two, &t2, 2), 0);
    assert_true(t1.n > 100);                  /* many distinct lists */
    assert_int_equal(t2.n, t1.n);
    assert_int_equal(t2.nkeys, t1.nkeys);
    assert_memory_equal(t2.start, t1.start, (t1.n + 1) * sizeof *t1.start);
    assert_memory_equal(t2.key, t1.key, t1.nkeys * sizeof *t1.key);
    assert_memory_equal(two, one, s.n * sizeof *one);
    /* and they are right: member k's list is its referrers' types */
    for (size_t k = 0; k < s.n; k += 997) {
        hs_id v = s.ids[k];
        uint64_t want[8];
        size_t nw = 0;
        for (uint32_t j = 0; j < hs_rel_nin(r, v); j++) {
            hs_id p = hs_rel_in(r, v)[j];
            uint64_t key = p == 0 ? HS_RCS_ROOT : g->type[p];
            size_t i = 0;
            while (i < nw && want[i] != key)
                i++;
            if (i == nw && nw < 8)
                want[nw++] = key;
        }
        size_t m;
        const uint64_t *got = hs_rcs_list(&t2, two[k], &m);
        assert_int_equal(m, nw);
        for (size_t i = 0; i < nw; i++) {
            size_t j = 0;
            while (j < m && got[j] != want[i])
                j++;
            assert_true(j < m);
        }
    }
    free(one);
    free(two);
    hs_rcs_table_free(&t1);
    hs_rcs_table_free(&t2);
    hs_set_free(&s);
    hs_relations_free(r);
    hs_graph_free(g);
}

static void
test_rcs_no_referrers(void **state)
{
    (void)state;
    /* <Nothing>: the empty kind list, first in a fresh table (whose key
     * array is not allocated yet), then again, then after a real one. */
    hs_rcs_table t;
    uint64_t k[] = {7};
    assert_int_equal(hs_rcs_table_init(&t), 0);
    assert_true(t.key == NULL);
    long long none = hs_rcs_intern(&t, NULL, 0);
    assert_true(none >= 0);
    assert_int_equal(hs_rcs_intern(&t, NULL, 0), none);
    long long seven = hs_rcs_intern(&t, k, 1);
    assert_true(seven >= 0 && seven != none);
    assert_int_equal(hs_rcs_intern(&t, NULL, 0), none);
    assert_int_equal(t.start[none + 1] - t.start[none], 0);
    hs_rcs_table_free(&t);
}

static void
test_rcs_intern_many(void **state)
{
    (void)state;
    /* Lists of their own by the hundred thousand, as byvia's weak cache
     * makes (the table grows many times, and slots carry a tag of the
     * hash): each keeps its id, [a, b] and [b, a] and [a] are three, and
     * every list found again is found by its id. */
    hs_rcs_table t;
    assert_int_equal(hs_rcs_table_init(&t), 0);
    enum { N = 100000 };
    for (uint64_t i = 0; i < N; i++) {
        uint64_t ab[] = {i, i + 1}, ba[] = {i + 1, i}, a[] = {i};
        assert_int_equal(hs_rcs_intern(&t, ab, 2), (long long)(3 * i));
        assert_int_equal(hs_rcs_intern(&t, ba, 2), (long long)(3 * i + 1));
        assert_int_equal(hs_rcs_intern(&t, a, 1), (long long)(3 * i + 2));
    }
    assert_int_equal(t.n, 3 * N);
    for (uint64_t i = 0; i < N; i += 7) {
        uint64_t ab[] = {i, i + 1}, ba[] = {i + 1, i}, a[] = {i};
        assert_int_equal(hs_rcs_intern(&t, a, 1), (long long)(3 * i + 2));
        assert_int_equal(hs_rcs_intern(&t, ba, 2), (long long)(3 * i + 1));
        assert_int_equal(hs_rcs_intern(&t, ab, 2), (long long)(3 * i));
    }
    assert_int_equal(t.n, 3 * N);
    hs_rcs_table_free(&t);
}

static void
test_rcs_table_pick(void **state)
{
    (void)state;
    /* The labels of a partition cut from another's: lists picked by id
     * become lists 0, 1, ... in that order, the empty list among them; an
     * id out of range, or one twice, is refused and leaves nothing. */
    hs_rcs_table t, out;
    assert_int_equal(hs_rcs_table_init(&t), 0);
    uint64_t a[] = {3}, ab[] = {3, 9}, c[] = {5, 6, 7};
    assert_int_equal(hs_rcs_intern(&t, a, 1), 0);
    assert_int_equal(hs_rcs_intern(&t, NULL, 0), 1);
    assert_int_equal(hs_rcs_intern(&t, ab, 2), 2);
    assert_int_equal(hs_rcs_intern(&t, c, 3), 3);
    uint64_t ids[] = {3, 1, 0};
    assert_int_equal(hs_rcs_table_pick(&out, &t, ids, 3), 0);
    assert_int_equal(out.n, 3);
    size_t n;
    const uint64_t *k = hs_rcs_list(&out, 0, &n);
    assert_int_equal(n, 3);
    assert_memory_equal(k, c, sizeof c);
    hs_rcs_list(&out, 1, &n);
    assert_int_equal(n, 0);
    k = hs_rcs_list(&out, 2, &n);
    assert_int_equal(n, 1);
    assert_int_equal(k[0], 3);
    /* and it is a table: the lists are found again by their new ids */
    assert_int_equal(hs_rcs_intern(&out, c, 3), 0);
    assert_int_equal(hs_rcs_intern(&out, ab, 2), 3);
    hs_rcs_table_free(&out);
    uint64_t bad[] = {0, 4}, twice[] = {2, 2};
    assert_int_equal(hs_rcs_table_pick(&out, &t, bad, 2), -HS_EINVAL);
    assert_null(out.start);
    assert_int_equal(hs_rcs_table_pick(&out, &t, twice, 2), -HS_EINVAL);
    assert_null(out.start);
    assert_int_equal(hs_rcs_table_pick(&out, &t, NULL, 0), 0);
    assert_int_equal(out.n, 0);
    hs_rcs_table_free(&out);
    hs_rcs_table_free(&t);
}

static void
test_dominators_and_domisize(void **state)
{
    (void)state;
    hs_graph *g = make(5, diamond, 6);
    hs_relations *r;
    assert_int_equal(hs_relations_new(&r, g, NULL), 0);
    assert_int_equal(hs_dominators(r, NULL), 0);
    assert_int_equal(r->idom[1], 0);
    assert_int_equal(r->idom[2], 0);
    assert_int_equal(r->idom[3], 0);     /* two ways in */
    assert_int_equal(r->idom[4], 3);
    assert_int_equal(r->retained[3], 30 + 40);
    assert_int_equal(r->retained[1], 10);
    assert_int_equal(r->retained[0], 10 + 20 + 30 + 40);

    uint64_t bytes;
    hs_id one[] = {3};
    hs_set s = set_of(one, 1), freed;
    assert_int_equal(hs_domisize(r, &s, &bytes, NULL, NULL), 0);
    assert_int_equal(bytes, 70);
    hs_set_free(&s);
    /* Both ways into 3 gone: 3 and 4 go too (no single one dominates). */
    hs_id two[] = {1, 2};
    s = set_of(two, 2);
    assert_int_equal(hs_domisize(r, &s, &bytes, &freed, NULL), 0);
    assert_int_equal(bytes, 10 + 20 + 30 + 40);
    assert_int_equal(freed.n, 4);
    hs_set_free(&freed);
    hs_set_free(&s);
    hs_id just1[] = {1};
    s = set_of(just1, 1);
    assert_int_equal(hs_domisize(r, &s, &bytes, &freed, NULL), 0);
    assert_int_equal(bytes, 10);
    assert_int_equal(freed.n, 1);
    hs_set_free(&freed);
    hs_set_free(&s);
    hs_relations_free(r);
    hs_graph_free(g);
}

static void
test_hidden_and_static_keep_nothing(void **state)
{
    (void)state;
    /* 5 is heapscope's own and holds 3: that keeps nothing alive.  4 is
     * static: it costs no bytes. */
    static const uint32_t e[][2] = {
        {0, 1}, {0, 2}, {0, 5}, {1, 3}, {2, 3}, {3, 4}, {5, 3},
    };
    hs_graph *g = make(6, e, 7);
    g->flags[5] |= HS_F_HIDDEN;
    g->flags[4] |= HS_F_STATIC;
    hs_relations *r;
    assert_int_equal(hs_relations_new(&r, g, NULL), 0);
    hs_id two[] = {1, 2};
    hs_set s = set_of(two, 2);
    uint64_t bytes;
    assert_int_equal(hs_domisize(r, &s, &bytes, NULL, NULL), 0);
    assert_int_equal(bytes, 10 + 20 + 30);
    assert_int_equal(r->retained[3], 30);
    hs_set_free(&s);
    hs_relations_free(r);
    hs_graph_free(g);
}

static void
test_long_chain(void **state)
{
    (void)state;
    /* A million-long chain: iterative DFS and path compression. */
    uint32_t n = 1000000;
    uint32_t (*e)[2] = malloc((size_t)n * sizeof *e);
    for (uint32_t i = 0; i < n - 1; i++) {
        e[i][0] = i;
        e[i][1] = i + 1;
    }
    hs_graph *g = make(n, (const uint32_t (*)[2])e, n - 1);
    free(e);
    hs_relations *r;
    assert_int_equal(hs_relations_new(&r, g, NULL), 0);
    assert_int_equal(hs_dominators(r, NULL), 0);
    for (uint32_t i = 2; i < n; i += 99991)
        assert_int_equal(r->idom[i], i - 1);
    uint64_t total = 0;
    for (uint64_t i = 1; i < n; i++)
        total += 10 * i;
    assert_int_equal(r->retained[1], total);
    hs_id path[8];
    size_t len;
    assert_int_equal(hs_shortest_path(r, n - 1, path, 8, &len), -HS_ERANGE);
    assert_int_equal(hs_shortest_path(r, 3, path, 8, &len), 0);
    assert_int_equal(len, 4);
    assert_int_equal(path[0], 0);
    assert_int_equal(path[3], 3);
    hs_relations_free(r);
    hs_graph_free(g);
}

static void
test_shortest_path_takes_short_way(void **state)
{
    (void)state;
    /* BFS order: 0 -> 1 -> 3 -> 4 -> 5 and 0 -> 2 -> 5: the path to 5 is
     * via 2. */
    static const uint32_t e[][2] = {
        {0, 1}, {0, 2}, {1, 3}, {2, 5}, {3, 4}, {4, 5},
    };
    hs_graph *g = make(6, e, 6);
    hs_relations *r;
    assert_int_equal(hs_relations_new(&r, g, NULL), 0);
    hs_id path[8];
    size_t len;
    assert_int_equal(hs_shortest_path(r, 5, path, 8, &len), 0);
    assert_int_equal(len, 3);
    assert_int_equal(path[0], 0);
    assert_int_equal(path[1], 2);
    assert_int_equal(path[2], 5);
    hs_relations_free(r);
    hs_graph_free(g);
}

static void
test_shortest_path_out_of_order(void **state)
{
    (void)state;
    /* 2 was met before the only node that refers to it (3): the path is
     * found by a search from the root. */
    static const uint32_t e[][2] = {{0, 1}, {1, 3}, {3, 2}};
    hs_graph *g = make(4, e, 3);
    hs_relations *r;
    assert_int_equal(hs_relations_new(&r, g, NULL), 0);
    hs_id path[8];
    size_t len;
    assert_int_equal(hs_shortest_path(r, 2, path, 8, &len), 0);
    assert_int_equal(len, 4);
    assert_int_equal(path[0], 0);
    assert_int_equal(path[1], 1);
    assert_int_equal(path[2], 3);
    assert_int_equal(path[3], 2);
    assert_int_equal(hs_shortest_path(r, 2, path, 3, &len), -HS_ERANGE);
    hs_relations_free(r);
    hs_graph_free(g);
}

static void
test_second_root(void **state)
{
    (void)state;
    /* Node 3 is the collector-only root: it keeps 4 alive on its own. */
    static const uint32_t e[][2] = {{0, 1}, {1, 2}, {3, 4}};
    hs_graph *g = hs_graph_new(16, 16);
    hs_id id;
    int is_new;
    assert_int_equal(hs_graph_add_virtual(g, &id), 0);
    assert_int_equal(hs_graph_intern(g, A(1), &id, &is_new), 0);
    assert_int_equal(hs_graph_intern(g, A(2), &id, &is_new), 0);
    assert_int_equal(hs_graph_add_virtual(g, &id), 0);
    g->gc_root = id;
    assert_int_equal(hs_graph_intern(g, A(4), &id, &is_new), 0);
    for (hs_id i = 1; i < 5; i++) {
        g->type[i] = 1;
        hs_graph_set_size(g, i, 8);
    }
    size_t k = 0;
    for (uint32_t i = 0; i < 5; i++) {
        for (; k < 3 && e[k][0] == i; k++)
            assert_int_equal(hs_graph_add_edge(g, e[k][1]), 0);
        hs_graph_end_node(g, i);
    }
    hs_relations *r;
    assert_int_equal(hs_relations_new(&r, g, NULL), 0);
    assert_int_equal(hs_dominators(r, NULL), 0);
    assert_int_equal(r->idom[4], 3);
    assert_int_equal(r->idom[2], 1);
    assert_int_equal(r->retained[3], 8);
    hs_relations_free(r);
    hs_graph_free(g);
}

/* Marks in out[v] the nodes the root does not reach once s is gone (a
 * plain flood the library shares no code with). */
static void
unreached(const hs_graph *g, const hs_set *s, char *out)
{
    uint32_t n = g->n;
    char *seen = calloc(n, 1);
    hs_id *q = malloc(n * sizeof *q);
    for (size_t k = 0; k < s->n; k++)
        seen[s->ids[k]] = 2;
    size_t head = 0, tail = 0;
    q[tail++] = 0;
    seen[0] = 1;
    while (head < tail) {
        hs_id v = q[head++];
        for (uint32_t j = 0; j < hs_graph_nout(g, v); j++) {
            hs_id w = hs_graph_out(g, v)[j];
            if (!seen[w]) {
                seen[w] = 1;
                q[tail++] = w;
            }
        }
    }
    for (uint32_t v = 0; v < n; v++)
        out[v] = seen[v] != 1;
    free(seen);
    free(q);
}

/* Reference answer: bytes of the objects no root reaches once s is gone
 * (of those the tree gives a dominator: what a root reaches at all). */
static uint64_t
brute_freed(const hs_graph *g, const hs_set *s, const uint32_t *idom_ok)
{
    char *gone = malloc(g->n);
    unreached(g, s, gone);
    uint64_t total = 0;
    for (uint32_t v = 1; v < g->n; v++)
        if (gone[v] && idom_ok[v])
            total += hs_graph_size(g, v);
    free(gone);
    return total;
}

static void
test_domisize_random_graphs(void **state)
{
    (void)state;
    /* Random graphs with merges and cycles: working outward from the set
     * and flooding from the root must both give the reference answer. */
    uint64_t seed = 12345;
#define RND() (seed = seed * 6364136223846793005ull + 1442695040888963407ull, \
               (uint32_t)(seed >> 33))
    for (int round = 0; round < 20; round++) {
        uint32_t n = 50 + RND() % 400, ne = 0;
        uint32_t (*e)[2] = malloc((size_t)n * 4 * sizeof *e);
        for (uint32_t v = 0; v < n; v++) {
            /* a spanning tree so every node is reachable, plus extras */
            if (v > 0) {
                /* odd rounds: a deep tree (long DFS paths to compress) */
                uint32_t back = 1 + RND() % 3;
                e[ne][0] = round % 2 ? (v > back ? v - back : 0) : RND() % v;
                e[ne++][1] = v;
            }
        }
        for (uint32_t k = 0; k < n * 2; k++) {
            e[ne][0] = RND() % n;
            e[ne++][1] = 1 + RND() % (n - 1);
        }
        /* sort by source for make() */
        for (uint32_t i = 1; i < ne; i++)
            for (uint32_t j = i; j > 0 && e[j - 1][0] > e[j][0]; j--) {
                uint32_t a = e[j][0], b = e[j][1];
                e[j][0] = e[j - 1][0];
                e[j][1] = e[j - 1][1];
                e[j - 1][0] = a;
                e[j - 1][1] = b;
            }
        hs_graph *g = make(n, (const uint32_t (*)[2])e, ne);
        free(e);
        hs_relations *r;
        assert_int_equal(hs_relations_new(&r, g, NULL), 0);
        assert_int_equal(hs_dominators(r, NULL), 0);
        uint32_t *ok = calloc(n, sizeof *ok);
        for (uint32_t v = 1; v < n; v++)
            ok[v] = r->idom[v] != HS_NO_ID;
        /* The tree itself, against dominance by definition: d dominates
         * v when the root no longer reaches v without d.  The strict
         * dominators of v form a chain; its last (the one dominating the
         * fewest nodes) is v's immediate dominator. */
        char *dom = calloc((size_t)n * n, 1);
        uint32_t *ndom = calloc(n, sizeof *ndom);
        for (uint32_t d = 1; d < n; d++) {
            hs_id one = d;
            hs_set s1 = set_of(&one, 1);
            unreached(g, &s1, dom + (size_t)d * n);
            hs_set_free(&s1);
            for (uint32_t v = 1; v < n; v++)
                ndom[d] += dom[(size_t)d * n + v];
        }
        for (uint32_t v = 1; v < n; v++) {
            hs_id want = 0;
            uint32_t best = UINT32_MAX;
            for (uint32_t d = 1; d < n; d++)
                if (d != v && dom[(size_t)d * n + v] && ndom[d] < best) {
                    best = ndom[d];
                    want = d;
                }
            assert_int_equal(r->idom[v], want);
        }
        free(dom);
        free(ndom);
        for (int t = 0; t < 30; t++) {
            hs_id ids[8];
            size_t m = 1 + RND() % 8;
            for (size_t k = 0; k < m; k++)
                ids[k] = 1 + RND() % (n - 1);
            hs_set s = set_of(ids, m);
            uint64_t want = brute_freed(g, &s, ok), a, b, c;
            hs_set fa, fb;
            r->domisize_budget = 0;
            assert_int_equal(hs_domisize(r, &s, &a, &fa, NULL), 0);
            r->domisize_budget = 1;     /* forces the flood */
            assert_int_equal(hs_domisize(r, &s, &b, &fb, NULL), 0);
            assert_int_equal(a, want);
            assert_int_equal(b, want);
            assert_int_equal(fa.n, fb.n);
            assert_memory_equal(fa.ids, fb.ids, fa.n * sizeof *fa.ids);
            if (s.n == 1) {
                assert_int_equal(hs_domisize(r, &s, &c, NULL, NULL), 0);
                assert_int_equal(c, want);
            }
            hs_set_free(&fa);
            hs_set_free(&fb);
            hs_set_free(&s);
        }
        /* Large sets (most of the heap's edges: the default floods at
         * once) agree with the walk outward from the set. */
        for (int t = 0; t < 4; t++) {
            hs_id *ids = malloc(n * sizeof *ids);
            size_t m = 0;
            for (uint32_t v = 1; v < n; v++)
                if (RND() % 10 < (unsigned)(7 + t))
                    ids[m++] = v;
            hs_set s = set_of(ids, m);
            uint64_t want = brute_freed(g, &s, ok), a, b;
            hs_set fa, fb;
            r->domisize_budget = 0;
            assert_int_equal(hs_domisize(r, &s, &a, &fa, NULL), 0);
            r->domisize_budget = SIZE_MAX;  /* never floods */
            assert_int_equal(hs_domisize(r, &s, &b, &fb, NULL), 0);
            assert_int_equal(a, want);
            assert_int_equal(b, want);
            assert_int_equal(fa.n, fb.n);
            assert_memory_equal(fa.ids, fb.ids, fa.n * sizeof *fa.ids);
            hs_set_free(&fa);
            hs_set_free(&fb);
            hs_set_free(&s);
            free(ids);
        }
        r->domisize_budget = 0;
        free(ok);
        hs_relations_free(r);
        hs_graph_free(g);
    }
#undef RND
}

static int
cancel_at_once(void *arg, const char *what, uint64_t done, uint64_t total)
{
    (void)what;
    (void)done;
    (void)total;
    ++*(int *)arg;
    return 1;
}

static void
test_dominators_cancelled(void **state)
{
    (void)state;
    hs_graph *g = make(5, diamond, 6);
    hs_relations *r;
    assert_int_equal(hs_relations_new(&r, g, NULL), 0);
    int calls = 0;
    hs_progress p = {cancel_at_once, &calls};
    assert_int_equal(hs_dominators(r, &p), -HS_ECANCELED);
    assert_int_equal(calls, 1);
    assert_false(r->have_dominators);
    assert_null(r->idom);
    assert_int_equal(hs_dominators(r, NULL), 0);
    assert_int_equal(r->idom[4], 3);
    hs_relations_free(r);
    hs_graph_free(g);
}

static void
test_relations_cancelled(void **state)
{
    (void)state;
    hs_graph *g = make(5, diamond, 6);
    hs_relations *r = NULL;
    int calls = 0;
    hs_progress p = {cancel_at_once, &calls};
    assert_int_equal(hs_relations_new(&r, g, &p), -HS_ECANCELED);
    assert_int_equal(calls, 1);
    assert_null(r);
    assert_int_equal(hs_relations_new(&r, g, NULL), 0);
    assert_int_equal(hs_rel_nin(r, 3), 2);
    hs_relations_free(r);
    hs_graph_free(g);
}

/* The reverse edges of a big graph are faulted in by a helper thread.
 * With a progress that may be ticked from any thread (the explorer's
 * worker: its tick pauses while a key's call runs), the helper ticks it
 * too, and so pauses with the worker; with any other, only the caller's
 * thread ticks (the explorer's own tick draws, and is not thread-safe). */
typedef struct {
    pthread_t caller;
    int wait;                /* the caller's first tick waits for a helper's */
    atomic_int mine, others;
} tick_threads;

static int
count_threads(void *arg, const char *what, uint64_t done, uint64_t total)
{
    tick_threads *t = arg;
    (void)what;
    (void)done;
    (void)total;
    if (!pthread_equal(pthread_self(), t->caller)) {
        atomic_fetch_add(&t->others, 1);
        return 0;
    }
    if (atomic_fetch_add(&t->mine, 1) == 0 && t->wait) {
        /* the caller's first tick waits for the helper's first, so that
         * the helper ticks before the caller is done however the threads
         * are scheduled (valgrind runs one at a time) */
        time_t give_up = time(NULL) + 10;
        while (atomic_load(&t->others) == 0 && time(NULL) < give_up)
            sched_yield();
    }
    return 0;
}

static void
test_relations_helper_ticks_when_allowed(void **state)
{
    (void)state;
    /* 4 M nodes in a chain: 32 MiB of reverse edges, worth a helper */
    uint32_t n = (uint32_t)1 << 22;
    uint32_t (*e)[2] = malloc((size_t)n * sizeof *e);
    assert_non_null(e);
    for (uint32_t i = 0; i < n - 1; i++) {
        e[i][0] = i;
        e[i][1] = i + 1;
    }
    hs_graph *g = make(n, (const uint32_t (*)[2])e, n - 1);
    free(e);
    for (int any = 0; any <= 1; any++) {
        tick_threads t = {pthread_self(), any, 0, 0};
        hs_progress p = {count_threads, &t, any};
        hs_relations *r;
        assert_int_equal(hs_relations_new(&r, g, &p), 0);
        assert_true(atomic_load(&t.mine) > 0);
        if (any)
            assert_true(atomic_load(&t.others) > 0);
        else
            assert_int_equal(atomic_load(&t.others), 0);
        assert_int_equal(hs_rel_nin(r, n - 1), 1);
        assert_int_equal(hs_rel_in(r, n - 1)[0], n - 2);
        hs_relations_free(r);
    }
    hs_graph_free(g);
}

/* A worker computing the tree pauses in its progress callback (as the
 * explorer's does while a key's call runs) until another thread waits for
 * the tree: then it must go on, or the two wait for each other. */
typedef struct {
    hs_relations *r;
    atomic_int in_tick;      /* the worker is paused */
    int saw_waiter;          /* it went on because of the waiter */
} pauser;

static int
pause_until_awaited(void *arg, const char *what, uint64_t done,
                    uint64_t total)
{
    pauser *w = arg;
    (void)what;
    (void)done;
    (void)total;
    atomic_store(&w->in_tick, 1);
    time_t give_up = time(NULL) + 10;
    while (time(NULL) < give_up) {
        if (hs_dominators_awaited(w->r)) {
            w->saw_waiter = 1;
            return 0;
        }
        sched_yield();
    }
    return 1;                /* nobody came: give up (the test fails) */
}

static void *
compute_paused(void *arg)
{
    pauser *w = arg;
    hs_progress p = {pause_until_awaited, w};
    return (void *)(intptr_t)hs_dominators(w->r, &p);
}

static void
test_dominators_awaited_by_a_waiter(void **state)
{
    (void)state;
    hs_graph *g = make(5, diamond, 6);
    hs_relations *r;
    assert_int_equal(hs_relations_new(&r, g, NULL), 0);
    assert_false(hs_dominators_awaited(r));
    pauser w = {r, 0, 0};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, compute_paused, &w), 0);
    while (!atomic_load(&w.in_tick))
        sched_yield();
    /* the worker holds the tree's lock and waits for a waiter */
    assert_int_equal(hs_dominators(r, NULL), 0);
    void *ret;
    pthread_join(th, &ret);
    assert_int_equal((intptr_t)ret, 0);
    assert_true(w.saw_waiter);
    assert_false(hs_dominators_awaited(r));
    assert_int_equal(r->idom[4], 3);
    hs_relations_free(r);
    hs_graph_free(g);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reverse_edges),
        cmocka_unit_test(test_rcs_kinds),
        cmocka_unit_test(test_rcs_two_threads),
        cmocka_unit_test(test_rcs_no_referrers),
        cmocka_unit_test(test_rcs_intern_many),
        cmocka_unit_test(test_rcs_table_pick),
        cmocka_unit_test(test_dominators_and_domisize),
        cmocka_unit_test(test_hidden_and_static_keep_nothing),
        cmocka_unit_test(test_long_chain),
        cmocka_unit_test(test_shortest_path_takes_short_way),
        cmocka_unit_test(test_shortest_path_out_of_order),
        cmocka_unit_test(test_second_root),
        cmocka_unit_test(test_domisize_random_graphs),
        cmocka_unit_test(test_dominators_cancelled),
        cmocka_unit_test(test_relations_cancelled),
        cmocka_unit_test(test_relations_helper_ticks_when_allowed),
        cmocka_unit_test(test_dominators_awaited_by_a_waiter),
    };
    return cmocka_run_group_tests_name("relations", tests, NULL, NULL);
}
