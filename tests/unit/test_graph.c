/* test_graph.c - cmocka tests of src/graph on hand-made graphs: the address
 * table, CSR edges, big sizes, dict owners, set algebra and partitions. */
#include <pthread.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "heapscope/graph.h"
#include "../../src/graph/bigmem.h"   /* hs_big_populate */

#if defined(__SANITIZE_ADDRESS__)
#define HS_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HS_UNDER_ASAN 1
#endif
#endif
#ifndef HS_UNDER_ASAN
#define HS_UNDER_ASAN 0
#endif

#define A(i) ((uintptr_t)0x100000 + (uintptr_t)(i) * 16)

/* A graph shaped like a small heap: node 0 the root, then n objects whose
 * "types" are nodes 1 and 2, each object i pointing at object i+1. */
static hs_graph *
chain(uint32_t n)
{
    hs_graph *g = hs_graph_new(16, 16);
    assert_non_null(g);
    hs_id root, id;
    int is_new;
    assert_int_equal(hs_graph_add_virtual(g, &root), 0);
    assert_int_equal(root, HS_ROOT);
    assert_int_equal(hs_graph_intern(g, A(1), &id, &is_new), 0);
    assert_int_equal(hs_graph_add_root_edge(g, id, "i0_first"), 0);
    hs_graph_end_node(g, root);
    for (uint32_t i = 1; i <= n; i++) {
        assert_int_equal(g->addr[i], A(i));
        g->type[i] = 1 + (i % 2);
        assert_int_equal(hs_graph_set_size(g, i, 16 * (i % 3 + 1)), 0);
        if (i < n) {
            assert_int_equal(hs_graph_intern(g, A(i + 1), &id, &is_new), 0);
            assert_true(is_new);
            assert_int_equal(hs_graph_add_edge(g, id), 0);
        }
        hs_graph_end_node(g, i);
    }
    assert_int_equal(hs_graph_finish(g), 0);
    return g;
}

static void
test_intern_finds_and_grows(void **state)
{
    (void)state;
    /* 200k nodes from a 16-node hint: the table and arrays must grow. */
    hs_graph *g = chain(200000);
    assert_int_equal(g->n, 200001);
    for (uint32_t i = 1; i <= 200000; i += 997)
        assert_int_equal(hs_graph_find(g, A(i)), i);
    assert_int_equal(hs_graph_find(g, A(300000)), HS_NO_ID);
    hs_id id;
    int is_new;
    assert_int_equal(hs_graph_intern(g, A(5), &id, &is_new), 0);
    assert_false(is_new);
    assert_int_equal(id, 5);
    hs_graph_free(g);
}

static void
test_odd_addresses(void **state)
{
    (void)state;
    /* Addresses the table cannot key still intern and find, exactly. */
    hs_graph *g = chain(1000);
    uintptr_t odd[] = {0x100003, (uintptr_t)1 << 50, ((uintptr_t)1 << 50) + 16};
    hs_id ids[3];
    int is_new;
    for (int k = 0; k < 3; k++) {
        assert_int_equal(hs_graph_intern(g, odd[k], &ids[k], &is_new), 0);
        assert_true(is_new);
    }
    for (int k = 0; k < 3; k++)
        assert_int_equal(hs_graph_find(g, odd[k]), ids[k]);
    assert_int_equal(hs_graph_find(g, 0x100005), HS_NO_ID);
    assert_int_equal(hs_graph_find(g, A(999)), 999);
    hs_graph_free(g);
}

/* Addresses 8 bytes apart (odd i) and 28 KiB apart (even i). */
static uintptr_t
dense_or_sparse_addr(uint32_t i)
{
    return (i % 2) ? 0x7f0000000000u + (uintptr_t)i * 8
                   : 0x560000000000u + (uintptr_t)i * 4096 * 7;
}

static void
test_dense_and_sparse_addresses(void **state)
{
    (void)state;
    /* Addresses 8 bytes apart and far apart: every one is found under
     * its own id, none is confused. */
    hs_graph *g = hs_graph_new(16, 16);
    hs_id root, id;
    int is_new;
    assert_int_equal(hs_graph_add_virtual(g, &root), 0);
    for (uint32_t i = 0; i < 300000; i++) {
        assert_int_equal(hs_graph_intern(g, dense_or_sparse_addr(i), &id,
                                         &is_new), 0);
        assert_true(is_new);
        assert_int_equal(id, i + 1);
    }
    for (uint32_t i = 0; i < 300000; i += 7)
        assert_int_equal(hs_graph_find(g, dense_or_sparse_addr(i)), i + 1);
    assert_int_equal(hs_graph_find(g, 0x7f0000000000u + 8), 2);
    assert_int_equal(hs_graph_find(g, 0x7f0000000000u + 16), HS_NO_ID);
    hs_graph_free(g);
}

static uintptr_t
mixed_addr(uint32_t i)
{
    return (i % 3 == 0)   ? 0x7f0000000000u + (uintptr_t)i * 8
           : (i % 3 == 1) ? 0x560000000000u + (uintptr_t)i * 4096 * 7
                          : 0x7ffffffff000u - (uintptr_t)i * 24;
}

static void
test_table_of_any_size_through_rehashes(void **state)
{
    (void)state;
    /* A table sized to a hint that is no power of two (1,000,001 entries
     * at 1/2), then doubled twice: every address keeps its own id. */
    hs_graph *g = hs_graph_new(1000001, 16);
    hs_id root, id;
    int is_new;
    assert_int_equal(hs_graph_add_virtual(g, &root), 0);
    uint64_t slots0 = g->tslots;
    assert_true((slots0 & (slots0 - 1)) != 0);
    const uint32_t n = 3000000;
    for (uint32_t i = 0; i < n; i++) {
        assert_int_equal(hs_graph_intern(g, mixed_addr(i), &id, &is_new), 0);
        assert_true(is_new);
        assert_int_equal(id, i + 1);
    }
    assert_true(g->tslots >= 4 * slots0 - 4);
    assert_true(g->tused * 2 <= g->tslots);
    for (uint32_t i = 0; i < n; i += 5)
        assert_int_equal(hs_graph_find(g, mixed_addr(i)), i + 1);
    for (uint32_t i = n; i < n + 1000; i++)
        assert_int_equal(hs_graph_find(g, mixed_addr(i)), HS_NO_ID);
    hs_graph_free(g);
}

/* Dense runs of 8-byte neighbours in thousands of 8 MiB windows: the
 * windows' runs of slots overlap at random, some spots fill up, and what
 * finds no slot near its home goes to the spill table; through two
 * rehashes every address keeps its id and its unused neighbours are not
 * found. */
static uintptr_t
window_addr(uint32_t w, uint32_t k)
{
    return ((uintptr_t)(0xAC0000u + w * 7u) << 23) + (uintptr_t)k * 8;
}

/* Every address of windows [0, nw) is found under its id, its unused
 * neighbours are not. */
static void
check_windows(hs_graph *g, uint32_t nw, uint32_t run)
{
    hs_id id;
    int is_new;
    for (uint32_t w = 0; w < nw; w++) {
        for (uint32_t k = 0; k < run; k++) {
            assert_int_equal(hs_graph_find(g, window_addr(w, k)),
                             1 + w * run + k);
            assert_int_equal(hs_graph_intern(g, window_addr(w, k), &id,
                                             &is_new), 0);
            assert_false(is_new);
            assert_int_equal(id, 1 + w * run + k);
        }
        assert_int_equal(hs_graph_find(g, window_addr(w, run)), HS_NO_ID);
        assert_int_equal(hs_graph_find(g, window_addr(w, run + 4096)),
                         HS_NO_ID);
    }
}

static void
test_dense_windows_spill(void **state)
{
    (void)state;
    hs_graph *g = hs_graph_new(16, 16);
    hs_id root, id;
    int is_new;
    assert_int_equal(hs_graph_add_virtual(g, &root), 0);
    const uint32_t nw = 1500, run = 600;
    int checked = 0;
    for (uint32_t w = 0; w < nw; w++) {
        for (uint32_t k = 0; k < run; k++) {
            assert_int_equal(hs_graph_intern(g, window_addr(w, k), &id,
                                             &is_new), 0);
            assert_true(is_new);
            assert_int_equal(id, 1 + w * run + k);
        }
        if (!checked && g->nspill > 0) {
            check_windows(g, w + 1, run);       /* found in the spill too */
            checked = 1;
        }
    }
    assert_true(checked);                       /* the spill was used */
    assert_true(g->tslots >= 2 * (1u << 20));   /* and rehashed */
    check_windows(g, nw, run);
    hs_graph_free(g);
}

static void
test_csr_edges_and_root_labels(void **state)
{
    (void)state;
    hs_graph *g = chain(10);
    assert_int_equal(hs_graph_nout(g, HS_ROOT), 1);
    assert_int_equal(hs_graph_out(g, HS_ROOT)[0], 1);
    assert_string_equal(g->root_label[0], "i0_first");
    for (hs_id i = 1; i < 10; i++) {
        assert_int_equal(hs_graph_nout(g, i), 1);
        assert_int_equal(hs_graph_out(g, i)[0], i + 1);
    }
    assert_int_equal(hs_graph_nout(g, 10), 0);
    assert_int_equal(g->nedges, 10);
    hs_graph_free(g);
}

static void
test_root_label_needs_root_first(void **state)
{
    (void)state;
    hs_graph *g = chain(3);
    /* The root is closed: a labelled edge now would desynchronise labels. */
    assert_int_equal(hs_graph_add_root_edge(g, 1, "late"), -HS_EINVAL);
    hs_graph_free(g);
}

static void
test_big_sizes(void **state)
{
    (void)state;
    hs_graph *g = chain(5);
    assert_int_equal(hs_graph_set_size(g, 4, 5ull << 32), 0);
    assert_int_equal(hs_graph_set_size(g, 2, UINT32_MAX), 0);
    assert_int_equal(hs_graph_size(g, 4), 5ull << 32);
    assert_int_equal(hs_graph_size(g, 2), UINT32_MAX);
    assert_int_equal(hs_graph_size(g, 3), 16 * (3 % 3 + 1));
    hs_graph_free(g);
}

static void
test_dict_owners(void **state)
{
    (void)state;
    hs_graph *g = chain(8);
    g->flags[6] |= HS_F_DICT;
    g->flags[3] |= HS_F_DICT;
    assert_int_equal(hs_graph_add_owner(g, 6, 5), 0);
    assert_int_equal(hs_graph_add_owner(g, 3, 7), 0);
    assert_int_equal(hs_graph_finish(g), 0);
    assert_int_equal(hs_graph_owner(g, 3), 7);
    assert_int_equal(hs_graph_owner(g, 6), 5);
    assert_int_equal(hs_graph_owner(g, 4), HS_NO_ID);
    /* clodo: "dict of <owner's type>", otherwise the type. */
    assert_int_equal(hs_classify(g, 6, HS_BY_CLODO), g->type[5] | HS_KEY_DICTOF);
    assert_int_equal(hs_classify(g, 3, HS_BY_CLODO), g->type[7] | HS_KEY_DICTOF);
    assert_int_equal(hs_classify(g, 4, HS_BY_CLODO), g->type[4]);
    hs_graph_free(g);
}

static void
test_drop_edges_keeps_lookup(void **state)
{
    (void)state;
    hs_graph *g = chain(100);
    hs_graph_drop_edges(g);
    assert_null(g->edges);
    assert_int_equal(hs_graph_find(g, A(77)), 77);
    assert_int_equal(g->type[77], 2);
    hs_graph_free(g);
}

static void
test_set_from_ids_sorts_and_dedups(void **state)
{
    (void)state;
    hs_id raw[] = {9, 3, 3, 7, 1, 9, 0};
    hs_set s;
    assert_int_equal(hs_set_from_ids(&s, raw, 7), 0);
    assert_int_equal(s.n, 5);
    hs_id want[] = {0, 1, 3, 7, 9};
    assert_memory_equal(s.ids, want, sizeof want);
    assert_true(hs_set_contains(&s, 7));
    assert_false(hs_set_contains(&s, 8));
    hs_set_free(&s);

    /* Large unsorted input goes through the radix sort. */
    size_t n = 100000;
    hs_id *big = malloc(n * sizeof *big);
    for (size_t i = 0; i < n; i++)
        big[i] = (hs_id)((i * 7919u) % n) * 3u + (hs_id)(i % 2) * 70000u;
    assert_int_equal(hs_set_from_ids(&s, big, n), 0);
    for (size_t i = 1; i < s.n; i++)
        assert_true(s.ids[i - 1] < s.ids[i]);
    free(big);
    hs_set_free(&s);
}

static hs_set
mk(const hs_id *ids, size_t n)
{
    hs_set s;
    assert_int_equal(hs_set_from_ids(&s, ids, n), 0);
    return s;
}

static void
test_set_algebra(void **state)
{
    (void)state;
    hs_id a_ids[] = {1, 2, 3, 5, 8}, b_ids[] = {2, 3, 4, 8, 9};
    hs_set a = mk(a_ids, 5), b = mk(b_ids, 5), r;

    hs_id or_want[] = {1, 2, 3, 4, 5, 8, 9};
    assert_int_equal(hs_set_op(&r, &a, &b, HS_OR), 0);
    assert_int_equal(r.n, 7);
    assert_memory_equal(r.ids, or_want, sizeof or_want);
    hs_set_free(&r);

    hs_id and_want[] = {2, 3, 8};
    assert_int_equal(hs_set_op(&r, &a, &b, HS_AND), 0);
    assert_int_equal(r.n, 3);
    assert_memory_equal(r.ids, and_want, sizeof and_want);
    hs_set_free(&r);

    hs_id sub_want[] = {1, 5};
    assert_int_equal(hs_set_op(&r, &a, &b, HS_SUB), 0);
    assert_int_equal(r.n, 2);
    assert_memory_equal(r.ids, sub_want, sizeof sub_want);
    hs_set_free(&r);

    hs_id xor_want[] = {1, 4, 5, 9};
    assert_int_equal(hs_set_op(&r, &a, &b, HS_XOR), 0);
    assert_int_equal(r.n, 4);
    assert_memory_equal(r.ids, xor_want, sizeof xor_want);
    hs_set_free(&r);

    /* x ^ x is empty (the tutorial's "hp.Nothing"). */
    assert_int_equal(hs_set_op(&r, &a, &a, HS_XOR), 0);
    assert_int_equal(r.n, 0);
    hs_set_free(&r);

    assert_false(hs_set_le(&a, &b));
    hs_id sub_ids[] = {2, 8};
    hs_set c = mk(sub_ids, 2);
    assert_true(hs_set_le(&c, &a));
    assert_true(hs_set_le(&c, &b));
    assert_true(hs_set_le(&a, &a));
    hs_set_free(&a);
    hs_set_free(&b);
    hs_set_free(&c);
}

static void
test_partition_by_type_and_size(void **state)
{
    (void)state;
    hs_graph *g = chain(12);
    hs_id ids[12];
    for (int i = 0; i < 12; i++)
        ids[i] = (hs_id)(i + 1);
    hs_set s = mk(ids, 12);

    hs_partition p;
    assert_int_equal(hs_partition_new(&p, g, &s, HS_BY_TYPE, NULL), 0);
    assert_int_equal(p.ngroups, 2);
    assert_int_equal(p.total_count, 12);
    assert_int_equal(p.total_size, hs_set_size(g, &s));
    /* members only when asked for; asking twice is asking once */
    assert_null(p.member);
    assert_int_equal(hs_partition_members(&p, g, &s), 0);
    hs_id *member = p.member;
    assert_non_null(member);
    assert_int_equal(hs_partition_members(&p, g, &s), 0);
    assert_ptr_equal(p.member, member);
    uint64_t sum = 0;
    for (size_t k = 0; k < p.ngroups; k++) {
        assert_int_equal(p.count[k], 6);
        assert_int_equal(p.start[k + 1] - p.start[k], 6);
        /* members of a group are sorted and all of that type */
        for (size_t m = p.start[k]; m < p.start[k + 1]; m++) {
            assert_int_equal(g->type[p.member[m]], p.key[k]);
            if (m > p.start[k])
                assert_true(p.member[m - 1] < p.member[m]);
        }
        sum += p.gsize[k];
    }
    assert_int_equal(sum, p.total_size);
    /* largest group first */
    assert_true(p.gsize[0] >= p.gsize[1]);
    hs_partition_free(&p);

    assert_int_equal(hs_partition_new(&p, g, &s, HS_BY_SIZE, NULL), 0);
    assert_int_equal(p.ngroups, 3);
    assert_int_equal(p.key[0], 48);   /* 4 objects of 48 bytes */
    assert_int_equal(p.count[0], 4);
    assert_int_equal(p.key[2], 16);
    hs_partition_free(&p);

    assert_int_equal(hs_partition_new(&p, g, &s, HS_BY_UNITY, NULL), 0);
    assert_int_equal(p.ngroups, 1);
    assert_int_equal(p.count[0], 12);
    hs_partition_free(&p);
    hs_set_free(&s);
    hs_graph_free(g);
}

static void
test_partition_by_id_orders_by_size(void **state)
{
    (void)state;
    hs_graph *g = chain(9);
    hs_id ids[9];
    for (int i = 0; i < 9; i++)
        ids[i] = (hs_id)(i + 1);
    hs_set s = mk(ids, 9);
    hs_partition p;
    assert_int_equal(hs_partition_new(&p, g, &s, HS_BY_ID, NULL), 0);
    assert_int_equal(p.ngroups, 9);
    /* one member a row: only the members are kept, read through the
     * accessors */
    assert_true(p.unit);
    assert_null(p.key);
    assert_null(p.start);
    uint64_t sum = 0;
    for (size_t k = 0; k < p.ngroups; k++) {
        assert_int_equal(hs_partition_count(&p, k), 1);
        assert_int_equal(hs_partition_start(&p, k), k);
        assert_int_equal(hs_partition_key(&p, k), p.member[k]);
        assert_int_equal(hs_partition_gsize(&p, g, k),
                         hs_graph_size(g, p.member[k]));
        sum += hs_partition_gsize(&p, g, k);
        if (k == 0)
            continue;
        assert_true(hs_partition_gsize(&p, g, k - 1) >=
                    hs_partition_gsize(&p, g, k));
        if (hs_partition_gsize(&p, g, k - 1) == hs_partition_gsize(&p, g, k))
            assert_true(hs_partition_key(&p, k - 1) < hs_partition_key(&p, k));
    }
    assert_int_equal(hs_partition_start(&p, p.ngroups), 9);
    assert_int_equal(sum, p.total_size);
    assert_int_equal(p.total_count, 9);
    /* members are there already: asking is a no-op */
    hs_id *member = p.member;
    assert_int_equal(hs_partition_members(&p, g, &s), 0);
    assert_ptr_equal(p.member, member);
    hs_partition_free(&p);
    hs_set_free(&s);
    hs_graph_free(g);
}

/* A progress callback that asks to stop at its first call (with *arg 0). */
static int
stop_at_call(void *arg, const char *what, uint64_t done, uint64_t total)
{
    (void)what;
    (void)done;
    (void)total;
    return ++*(int *)arg == 1;
}

static void
test_partition_with_given_keys(void **state)
{
    (void)state;
    hs_graph *g = chain(6);
    hs_id ids[] = {1, 2, 3, 4, 5, 6};
    hs_set s = mk(ids, 6);
    uint64_t keys[] = {7, 7, 9, 7, 9, 1};
    hs_partition p;
    assert_int_equal(hs_partition_new(&p, g, &s, HS_BY_UNITY, keys), 0);
    assert_int_equal(p.ngroups, 3);
    assert_int_equal(p.total_count, 6);
    /* given keys are not kept: the members are there at once */
    assert_non_null(p.member);
    for (size_t k = 0; k < p.ngroups; k++)
        for (size_t m = p.start[k]; m < p.start[k + 1]; m++)
            assert_int_equal(keys[p.member[m] - 1], p.key[k]);
    /* Small keys are counted in arrays, big ones hashed: the same groups
     * in the same order either way (ties go to the smaller key). */
    uint64_t big[6];
    for (int i = 0; i < 6; i++)
        big[i] = keys[i] * 1000003u + ((uint64_t)1 << 40);
    hs_partition q;
    assert_int_equal(hs_partition_new(&q, g, &s, HS_BY_UNITY, big), 0);
    assert_int_equal(q.ngroups, p.ngroups);
    for (size_t k = 0; k < p.ngroups; k++) {
        assert_int_equal(q.key[k], p.key[k] * 1000003u + ((uint64_t)1 << 40));
        assert_int_equal(q.count[k], p.count[k]);
        assert_int_equal(q.gsize[k], p.gsize[k]);
        assert_int_equal(q.start[k + 1], p.start[k + 1]);
    }
    assert_memory_equal(q.member, p.member, 6 * sizeof *p.member);
    hs_partition_free(&q);
    /* Counted by the caller (byvia counts its rows as it numbers them):
     * the same partition again, a key of no members being no group. */
    uint64_t count[10] = {0}, size[10] = {0};
    uint32_t keys32[6];
    for (int i = 0; i < 6; i++) {
        keys32[i] = (uint32_t)keys[i];
        count[keys[i]]++;
        size[keys[i]] += hs_graph_size(g, ids[i]);
    }
    hs_partition c;
    /* asked to stop: nothing is left behind */
    int calls = 0;
    hs_progress stop = {stop_at_call, &calls};
    assert_int_equal(hs_partition_counted(&c, &s, keys32, 10, count, size,
                                          &stop),
                     -HS_ECANCELED);
    assert_int_equal(calls, 1);
    assert_null(c.member);
    assert_int_equal(c.ngroups, 0);
    calls = -1000;              /* (never reaches 1: goes on) */
    assert_int_equal(hs_partition_counted(&c, &s, keys32, 10, count, size,
                                          &stop),
                     0);
    assert_true(calls > -1000);
    assert_int_equal(c.ngroups, p.ngroups);
    assert_int_equal(c.total_count, 6);
    assert_int_equal(c.total_size, p.total_size);
    for (size_t k = 0; k < p.ngroups; k++) {
        assert_int_equal(c.key[k], p.key[k]);
        assert_int_equal(c.count[k], p.count[k]);
        assert_int_equal(c.gsize[k], p.gsize[k]);
        assert_int_equal(c.start[k + 1], p.start[k + 1]);
    }
    assert_memory_equal(c.member, p.member, 6 * sizeof *p.member);
    hs_partition_free(&c);
    hs_partition_free(&p);
    hs_set_free(&s);
    hs_graph_free(g);
}

/* Many groups (byvia: half a million rows of one string) are put in order
 * by a radix sort on their size, runs of one size by their counts: the
 * order is still size, then count, both descending, then key ascending,
 * with many equal sizes, counts that differ within them, and keys of no
 * members. */
static void
test_partition_many_groups_order(void **state)
{
    (void)state;
    enum { NKEYS = 30000 };
    uint64_t *count = calloc(NKEYS, sizeof *count);
    uint64_t *size = calloc(NKEYS, sizeof *size);
    hs_id *ids = malloc(4 * NKEYS * sizeof *ids);
    uint32_t *keys = malloc(4 * NKEYS * sizeof *keys);
    assert_non_null(count);
    assert_non_null(size);
    assert_non_null(ids);
    assert_non_null(keys);
    size_t n = 0;
    for (uint32_t k = 0; k < NKEYS; k++) {
        if (k % 11 == 5)
            continue;           /* a key of no members: no group */
        count[k] = 1 + (k / 7) % 3;
        size[k] = 100 * ((k * 104729u) % 9) + (k % 1000 == 0 ? 1 : 0);
        for (uint64_t j = 0; j < count[k]; j++) {
            ids[n] = (hs_id)n;
            keys[n++] = k;
        }
    }
    hs_set s = mk(ids, n);
    hs_partition p;
    assert_int_equal(hs_partition_counted(&p, &s, keys, NKEYS, count, size, NULL),
                     0);
    assert_int_equal(p.total_count, n);
    size_t groups = 0;
    for (uint32_t k = 0; k < NKEYS; k++)
        groups += count[k] != 0;
    assert_int_equal(p.ngroups, groups);
    for (size_t r = 0; r < p.ngroups; r++) {
        uint64_t k = p.key[r];
        assert_int_equal(p.count[r], count[k]);
        assert_int_equal(p.gsize[r], size[k]);
        assert_int_equal(p.start[r + 1] - p.start[r], count[k]);
        for (size_t m = p.start[r]; m < p.start[r + 1]; m++)
            assert_int_equal(keys[p.member[m]], k);
        if (r == 0)
            continue;
        uint64_t j = p.key[r - 1];
        int before = size[j] > size[k] ||
                     (size[j] == size[k] &&
                      (count[j] > count[k] ||
                       (count[j] == count[k] && j < k)));
        assert_true(before);
    }
    hs_partition_free(&p);
    hs_set_free(&s);
    free(count);
    free(size);
    free(ids);
    free(keys);
}

/* Counted partition of s by keys renumbered in the order s meets them, as
 * byvia numbers its rows; *orig: each new key's original. */
static void
counted_as_met(hs_partition *p, const hs_graph *g, const hs_set *s,
               const uint32_t *key_of_id, uint32_t nkeys, uint32_t **orig)
{
    uint32_t *renum = malloc(nkeys * sizeof *renum);
    uint32_t *keys = malloc((s->n + 1) * sizeof *keys);
    uint64_t *count = calloc(nkeys, sizeof *count);
    uint64_t *size = calloc(nkeys, sizeof *size);
    *orig = malloc(nkeys * sizeof **orig);
    assert_true(renum && keys && count && size && *orig);
    memset(renum, 0xff, nkeys * sizeof *renum);
    uint32_t next = 0;
    for (size_t k = 0; k < s->n; k++) {
        uint32_t o = key_of_id[s->ids[k]];
        if (renum[o] == UINT32_MAX) {
            (*orig)[next] = o;
            renum[o] = next++;
        }
        keys[k] = renum[o];
        count[keys[k]]++;
        size[keys[k]] += hs_graph_size(g, s->ids[k]);
    }
    assert_int_equal(hs_partition_counted(p, s, keys, nkeys, count, size, NULL), 0);
    free(renum);
    free(keys);
    free(count);
    free(size);
}

/* A subset's partition cut from its superset's (byvia of a row from the
 * heap's): the partition the subset's own numbering makes, group for
 * group and member for member, and each new key's key in the superset;
 * a set that is not within it, or a partition without its members, is
 * refused.  Enough groups that they are put in order by the radix sort. */
static void
test_partition_restrict_to_a_subset(void **state)
{
    (void)state;
    enum { N = 30000, NKEYS = 6000 };
    hs_graph *g = chain(N);
    uint32_t *key_of_id = calloc(N + 1, sizeof *key_of_id);
    hs_id *all = malloc(N * sizeof *all), *some = malloc(N * sizeof *some);
    assert_true(key_of_id && all && some);
    size_t ns = 0;
    for (hs_id i = 1; i <= N; i++) {
        key_of_id[i] = (uint32_t)((i * 2654435761u) >> 7) % NKEYS;
        all[i - 1] = i;
        if ((i * 7u) % 5 != 0 && key_of_id[i] % 13 != 3)
            some[ns++] = i;
    }
    hs_set whole = mk(all, N), sub = mk(some, ns);
    hs_partition p, want, got;
    uint32_t *porig, *worig;
    counted_as_met(&p, g, &whole, key_of_id, NKEYS, &porig);
    counted_as_met(&want, g, &sub, key_of_id, NKEYS, &worig);
    assert_true(want.ngroups >= 4096);
    uint64_t *from;
    assert_int_equal(hs_partition_restrict(&got, &p, g, &sub, &from), 0);
    assert_int_equal(got.ngroups, want.ngroups);
    assert_int_equal(got.total_count, ns);
    assert_int_equal(got.total_size, want.total_size);
    for (size_t r = 0; r < got.ngroups; r++) {
        assert_int_equal(got.key[r], want.key[r]);
        assert_int_equal(got.count[r], want.count[r]);
        assert_int_equal(got.gsize[r], want.gsize[r]);
        assert_int_equal(got.start[r + 1], want.start[r + 1]);
        /* the superset's key of the new key: the same original key */
        assert_int_equal(porig[from[got.key[r]]], worig[got.key[r]]);
    }
    assert_memory_equal(got.member, want.member, ns * sizeof *got.member);
    hs_partition_free(&got);
    free(from);

    /* the whole set again: the same partition */
    assert_int_equal(hs_partition_restrict(&got, &p, g, &whole, &from), 0);
    assert_int_equal(got.ngroups, p.ngroups);
    assert_memory_equal(got.member, p.member, N * sizeof *got.member);
    hs_partition_free(&got);
    free(from);

    /* the empty set: no groups */
    hs_set none = {NULL, 0};
    assert_int_equal(hs_partition_restrict(&got, &p, g, &none, &from), 0);
    assert_int_equal(got.ngroups, 0);
    hs_partition_free(&got);
    free(from);

    /* not within: the root (node 0) is no member of p's set */
    hs_id out_ids[] = {0, 5, 9};
    hs_set out = mk(out_ids, 3);
    assert_int_equal(hs_partition_restrict(&got, &p, g, &out, &from),
                     -HS_EINVAL);
    assert_null(from);
    assert_null(got.member);
    assert_int_equal(got.ngroups, 0);
    hs_set_free(&out);

    /* a partition whose members are not made yet */
    hs_partition lazy;
    assert_int_equal(hs_partition_new(&lazy, g, &whole, HS_BY_TYPE, NULL), 0);
    assert_null(lazy.member);
    assert_int_equal(hs_partition_restrict(&got, &lazy, g, &sub, &from),
                     -HS_EINVAL);
    hs_partition_free(&lazy);

    hs_partition_free(&p);
    hs_partition_free(&want);
    hs_set_free(&whole);
    hs_set_free(&sub);
    free(porig);
    free(worig);
    free(key_of_id);
    free(all);
    free(some);
    hs_graph_free(g);
}

/* Sorting: all 64 bits, or a range of them alone and stably (byvia groups
 * member << 32 | name by member). */
static void
test_sorts(void **state)
{
    (void)state;
    size_t n = 100000;
    uint64_t *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    assert_non_null(a);
    assert_non_null(b);
    uint64_t x = 88172645463325252ull;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        /* a member below 2^20 above, its place in the input below */
        a[i] = b[i] = ((x % (1u << 20)) << 32) | i;
    }
    assert_int_equal(hs_sort_u64_bits(a, n, 32, 52), 0);
    for (size_t i = 1; i < n; i++) {
        assert_true(a[i - 1] >> 32 <= a[i] >> 32);
        if (a[i - 1] >> 32 == a[i] >> 32)      /* stable */
            assert_true((uint32_t)a[i - 1] < (uint32_t)a[i]);
    }
    /* here that is the whole order too */
    assert_int_equal(hs_sort_u64(b, n), 0);
    assert_memory_equal(a, b, n * sizeof *a);
    /* nothing to sort by, or one value: unchanged */
    uint64_t c[] = {3, 1, 2};
    assert_int_equal(hs_sort_u64_bits(c, 3, 40, 40), 0);
    assert_int_equal(c[0], 3);
    assert_int_equal(hs_sort_u64_bits(c, 3, 32, 40), 0);
    assert_int_equal(c[0], 3);
    assert_int_equal(hs_sort_u64_bits(c, 3, 0, 2), 0);
    assert_int_equal(c[0], 1);
    assert_int_equal(c[2], 3);
    /* a range of 13 bits takes two passes of 7: the bit past it is not
     * sorted by */
    uint64_t d[] = {1u << 13, 5, 1u << 13 | 2, 3};
    assert_int_equal(hs_sort_u64_bits(d, 4, 0, 13), 0);
    assert_int_equal(d[0], 1u << 13);
    assert_int_equal(d[1], 1u << 13 | 2);
    assert_int_equal(d[2], 3);
    assert_int_equal(d[3], 5);
    free(a);
    free(b);
}

/* Scratch: a small block from malloc, a big one mapped and faulted in by
 * a helper thread while it is written; both zeroed. */
static void
test_scratch(void **state)
{
    (void)state;
    size_t sizes[] = {0, 5, (size_t)3 << 20};
    for (size_t t = 0; t < sizeof sizes / sizeof *sizes; t++) {
        size_t n = sizes[t];
        uint64_t *k = hs_scratch_new((n + 1) * sizeof *k);
        assert_non_null(k);
        for (size_t i = 0; i <= n; i++)
            assert_true(k[i] == 0);
        for (size_t i = 0; i <= n; i++)
            k[i] = i * 0x9E3779B97F4A7C15ull;
        for (size_t i = 0; i <= n; i++)
            assert_true(k[i] == i * 0x9E3779B97F4A7C15ull);
        hs_scratch_free(k);
    }
    hs_scratch_free(NULL);
    assert_null(hs_scratch_new(SIZE_MAX - 8));
}

/* The page filter lets through every address of the graph, and the page
 * of any of them; of addresses on pages no object of the graph starts on,
 * it stops nearly all. */
static void
test_pagefilter(void **state)
{
    (void)state;
    hs_graph *g = hs_graph_new(0, 0);
    assert_non_null(g);
    hs_id root, id;
    int is_new;
    assert_int_equal(hs_graph_add_virtual(g, &root), 0);
    const uintptr_t base = 0x7f0000000000;
    /* 3000 objects on 100 pages, every other page of a stretch */
    for (uintptr_t k = 0; k < 3000; k++) {
        uintptr_t a = base + (k % 100) * 2 * 4096 + (k / 100) * 64;
        assert_int_equal(hs_graph_intern(g, a, &id, &is_new), 0);
    }
    hs_pagefilter f;
    assert_int_equal(hs_pagefilter_build(&f, g), 0);
    for (hs_id i = 1; i < g->n; i++) {
        assert_true(hs_pagefilter_maybe(&f, g->addr[i]));
        assert_true(hs_pagefilter_maybe(&f, (g->addr[i] & ~(uintptr_t)4095) + 4088));
    }
    size_t hits = 0, tries = 0;
    for (uintptr_t p = 0; p < 200; p++, tries++)      /* the pages between */
        hits += (size_t)hs_pagefilter_maybe(&f, base + (2 * p + 1) * 4096);
    for (uintptr_t p = 0; p < 20000; p++, tries++)    /* far away */
        hits += (size_t)hs_pagefilter_maybe(&f, 0x10000000 + p * 4096 + 8);
    assert_true(hits * 50 < tries);
    hs_pagefilter_free(&f);
    assert_null(f.bits);
    hs_pagefilter_free(&f);
    hs_graph_free(g);
}

/* ---- freed big blocks kept for the next ones (hs_memory_keep) ---------- */

#define MB ((size_t)1 << 20)

/* p[0..n) reads as zeros; then it is filled with `with`. */
static void
zero_then_fill(unsigned char *p, size_t n, int with)
{
    for (size_t i = 0; i < n; i += 1024)
        assert_int_equal(p[i], 0);
    assert_int_equal(p[n - 1], 0);
    memset(p, with, n);
}

/* A graph of n nodes at scattered addresses in arrays sized for cap; with
 * cap == n (scattered_graph) every page of them is written, so that a
 * block reused from them shows any byte not zeroed. */
static hs_graph *
scattered_graph_in(size_t cap, size_t n)
{
    hs_graph *g = hs_graph_new(cap, cap);
    assert_non_null(g);
    hs_id root, id;
    int is_new;
    assert_int_equal(hs_graph_add_virtual(g, &root), 0);
    for (size_t k = 0; k < n - 1; k++) {
        uintptr_t a = 0x100000 + ((k * 0x9E3779B1u) % (n * 64)) * 8;
        assert_int_equal(hs_graph_intern(g, a, &id, &is_new), 0);
        assert_int_equal(hs_graph_add_edge(g, id), 0);
    }
    hs_graph_end_node(g, root);
    for (hs_id i = 1; i < g->n; i++) {
        assert_int_equal(hs_graph_set_size(g, i, 48), 0);
        g->flags[i] = HS_F_GC;
        hs_graph_end_node(g, i);
    }
    return g;
}

static hs_graph *
scattered_graph(size_t n)
{
    return scattered_graph_in(n, n);
}

/* Every slot of g's table is empty and every node array reads zeros. */
static void
graph_arrays_zero(const hs_graph *g)
{
    for (uint64_t k = 0; k < g->tslots; k++)
        if (g->table[k] != 0)
            fail_msg("slot %llu not empty", (unsigned long long)k);
    for (size_t k = 0; k < g->cap; k += 512)
        assert_true(g->addr[k] == 0 && g->type[k] == 0 && g->size[k] == 0 &&
                    g->flags[k] == 0 && g->edge_start[k + 1] == 0);
    for (size_t k = 0; k < g->edge_cap; k += 1024)
        assert_true(g->edges[k] == 0);
}

/* Nothing is kept by default.  With a limit, a graph's arrays are kept
 * when it is freed, and a new graph's come from them: cut from the
 * smallest kept mapping that holds each (the rest stays kept), or the
 * biggest grown; they read as zeros whatever was written there, and the
 * graph works.  Big scratch takes and gives the same way.  The limit is
 * kept to (the smallest go first), and 0 gives everything back. */
static void
test_memory_kept(void **state)
{
    (void)state;
    const size_t n = (size_t)1 << 21;       /* a 32 MiB table, 16 MiB addr */
    hs_memory_keep(0);
    hs_graph_free(scattered_graph(n));
    assert_true(hs_memory_kept() == 0);

    hs_memory_keep(1024 * MB);
    /* scratch of HS_PREFAULT_MIN bytes or more (the rest is malloc's) is
     * kept when freed, whole, and the next one of its size is that block,
     * zeroed again */
    unsigned char *s = hs_scratch_new(20 * MB);
    zero_then_fill(s, 20 * MB, 0xAB);
    hs_scratch_free(s);
    size_t kept = hs_memory_kept();
    assert_true(kept > 20 * MB && kept <= 21 * MB);
    unsigned char *s2 = hs_scratch_new(20 * MB);
    assert_true(hs_memory_kept() == 0);
    zero_then_fill(s2, 20 * MB, 0xCD);
    hs_scratch_free(s2);
    assert_true(hs_memory_kept() == kept);
    hs_memory_keep(0);
    hs_memory_keep(1024 * MB);

    /* a graph's arrays serve a scratch block, and take it back */
    hs_graph_free(scattered_graph(n));
    kept = hs_memory_kept();
    assert_true(kept >= 64 * MB && kept <= 96 * MB);
    s = hs_scratch_new(20 * MB);
    assert_true(hs_memory_kept() < kept - 20 * MB + MB);
    zero_then_fill(s, 20 * MB, 0xAB);
    hs_scratch_free(s);
    assert_true(hs_memory_kept() == kept);

    for (int round = 0; round < 3; round++) {
        /* the same size twice, then twice as big (grown from kept ones) */
        size_t nn = round < 2 ? n : 2 * n;
        hs_graph *g = hs_graph_new(nn, nn);
        assert_non_null(g);
        assert_true(hs_memory_kept() < kept / 4);
        graph_arrays_zero(g);
        hs_graph_free(g);
        g = scattered_graph(nn);
        for (size_t k = 0; k < nn - 1; k += 97) {
            uintptr_t a = 0x100000 + ((k * 0x9E3779B1u) % (nn * 64)) * 8;
            hs_id id = hs_graph_find(g, a);
            assert_true(id != HS_NO_ID && g->addr[id] == a);
        }
        assert_true(hs_graph_find(g, 0x100000 + nn * 64 * 8) == HS_NO_ID);
        hs_graph_free(g);
        kept = hs_memory_kept();
        assert_true(kept >= 64 * MB * (round < 2 ? 1 : 2));
    }

    hs_memory_keep(100 * MB);                 /* the smallest go first */
    assert_true(hs_memory_kept() <= 100 * MB);
    assert_true(hs_memory_kept() >= 64 * MB); /* the table's is left */
    hs_memory_keep(8 * MB);
    hs_graph_free(scattered_graph(n));        /* over the limit: unmapped */
    assert_true(hs_memory_kept() <= 8 * MB);
    hs_memory_keep(0);
    assert_true(hs_memory_kept() == 0);
}

/* How many of the pages of [p, p + bytes) are in memory. */
static size_t
resident_pages(const void *p, size_t bytes)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE), n = bytes / page, in = 0;
    unsigned char *v = malloc(n);
    assert_non_null(v);
    assert_int_equal(mincore((void *)p, n * page, v), 0);
    for (size_t k = 0; k < n; k++)
        in += v[k] & 1;
    free(v);
    return in;
}

/* A table read before it is written (hs_table_alloc) is zeroed and in
 * memory from the start, every page of it written once: none is left to
 * map the zero page on a first read and fault again on the first write.
 * (Fresh from calloc, a block this big, past what malloc serves from its
 * heap, is not in memory.)  A small one reused after a dirty free reads as
 * zeros too. */
static void
test_table_alloc(void **state)
{
    (void)state;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t sizes[] = {(64 * MB) / 8, 1000, 1000};
    for (size_t r = 0; r < sizeof sizes / sizeof *sizes; r++) {
        size_t n = sizes[r];
        uint64_t *t = hs_table_alloc(n, sizeof *t);
        assert_non_null(t);
        /* (before any read: a page read maps the zero page, which mincore
         * counts as in memory) */
        uintptr_t from = ((uintptr_t)t + page - 1) & ~(uintptr_t)(page - 1);
        uintptr_t to = ((uintptr_t)(t + n)) & ~(uintptr_t)(page - 1);
        if (to > from)
            assert_int_equal(resident_pages((void *)from, to - from),
                             (to - from) / page);
        for (size_t i = 0; i < n; i += 97)
            assert_true(t[i] == 0);
        assert_true(t[n - 1] == 0);
        memset(t, 0xA5, n * sizeof *t);     /* (the next may reuse it) */
        free(t);
    }
    void *e = hs_table_alloc(0, 8);
    assert_non_null(e);
    free(e);
    assert_null(hs_table_alloc(SIZE_MAX / 4, 8));
}

/* A tick that counts its calls and says stop at call `stop` (0: never). */
typedef struct {
    int calls, stop;
} ticks;

static int
counting_tick(void *arg, const char *what, uint64_t done, uint64_t total)
{
    ticks *t = arg;
    (void)what;
    (void)done;
    (void)total;
    return ++t->calls == t->stop;
}

/* hs_big_populate brings a fresh mapping's pages in a step of 2 MiB at a
 * time with a tick before each, so that a worker can give way between two
 * steps; it changes no byte, and it stops when a tick says so, the steps
 * after that not taken.  (Without MADV_POPULATE_WRITE, an older kernel,
 * it does nothing: then only the ticks and the bytes are checked.) */
static void
test_populate(void **state)
{
    (void)state;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t bytes = 16 * MB + page;            /* 9 steps */
    unsigned char *p = hs_big_alloc(bytes);
    assert_non_null(p);
    int can = madvise(p, page, 23 /* MADV_POPULATE_WRITE */) == 0;
    ticks t = {0, 0};
    hs_progress prog = {counting_tick, &t};
    assert_int_equal(hs_big_populate(p, bytes, &prog, "x", 0, 1), 0);
    assert_int_equal(t.calls, can ? 9 : 1);
    if (can)
        assert_int_equal(resident_pages(p, bytes), bytes / page);
    zero_then_fill(p, bytes, 0x5A);
    hs_big_free(p, bytes);

    p = hs_big_alloc(bytes);
    assert_non_null(p);
    t = (ticks){0, 3};
    assert_int_equal(hs_big_populate(p, bytes, &prog, "x", 0, 1),
                     can ? -HS_ECANCELED : 0);
    if (can) {
        assert_int_equal(t.calls, 3);
        /* (two steps; a huge page may bring in a little more) */
        size_t in = resident_pages(p, bytes);
        assert_true(in >= 4 * MB / page && in <= 6 * MB / page);
    }
    hs_big_free(p, bytes);
    /* nothing to do, and no progress at all, are fine */
    assert_int_equal(hs_big_populate(NULL, bytes, &prog, "x", 0, 1), 0);
    p = hs_big_alloc(page);
    assert_int_equal(hs_big_populate(p, page, NULL, "x", 0, 1), 0);
    assert_int_equal(p[page - 1], 0);
    hs_big_free(p, page);
}

/* A kept block is cleared in place: what the last graph wrote reads as
 * zeros again, and what hs_graph_finish gave back (the unused end of an
 * array sized for more) stays out of memory. */
static void
test_memory_kept_trimmed(void **state)
{
    (void)state;
    const size_t cap = (size_t)1 << 22, used = 5000;   /* 32 MiB of addr */
    hs_memory_keep(1024 * MB);
    hs_graph *g = scattered_graph_in(cap, used);
    assert_int_equal(hs_graph_finish(g), 0);
    hs_graph_free(g);
    assert_true(hs_memory_kept() > 0);

    g = hs_graph_new(cap, cap);
    assert_non_null(g);
    assert_true(hs_memory_kept() < 8 * MB);
    /* what the old graph used is within its first 4 MiB; the rest was
     * given back and must not have come back */
    size_t tail = cap * sizeof *g->addr - 4 * MB;
    assert_int_equal(resident_pages((char *)g->addr + 4 * MB, tail), 0);
    for (size_t k = 0; k < used + 1024; k++)
        assert_true(g->addr[k] == 0 && g->type[k] == 0 && g->size[k] == 0 &&
                    g->flags[k] == 0 && g->edge_start[k + 1] == 0 &&
                    g->edges[k] == 0);
    graph_arrays_zero(g);
    hs_graph_free(g);
    hs_memory_keep(0);
    assert_true(hs_memory_kept() == 0);
}

/* Two threads free graphs and take blocks from one pool at once. */
static void *
churn(void *arg)
{
    unsigned x = (unsigned)(uintptr_t)arg;
    for (int i = 0; i < 12; i++) {
        x = x * 1103515245u + 12345u;
        size_t n = (16 + (x >> 16) % 25) * MB;
        unsigned char *p = hs_scratch_new(n);
        if (p == NULL)
            return (void *)1;
        for (size_t k = 0; k < n; k += 4096)
            if (p[k] != 0)
                return (void *)2;
        memset(p, 0x5A, n);
        hs_scratch_free(p);
        hs_graph *g = hs_graph_new((size_t)1 << 20, (size_t)1 << 20);
        if (g == NULL)
            return (void *)3;
        for (size_t k = 0; k < g->tslots; k += 512)
            if (g->table[k] != 0)
                return (void *)4;
        memset(g->table, 0x5A, g->tslots * sizeof *g->table);
        hs_graph_free(g);
    }
    return NULL;
}

static void
test_memory_kept_threads(void **state)
{
    (void)state;
    hs_memory_keep(96 * MB);
    pthread_t t[2];
    for (uintptr_t k = 0; k < 2; k++)
        assert_int_equal(pthread_create(&t[k], NULL, churn, (void *)(k + 7)),
                         0);
    for (int k = 0; k < 2; k++) {
        void *r;
        assert_int_equal(pthread_join(t[k], &r), 0);
        assert_null(r);
    }
    assert_true(hs_memory_kept() <= 96 * MB);
#if !HS_UNDER_ASAN
    /* a child forked while a thread takes and frees blocks has a pool it
     * can use (the lock is taken around fork).  Not under ASan: its
     * allocator has no fork handlers, so a child forked while the thread
     * is inside it may hang in its first free(). */
    pthread_t busy;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    assert_int_equal(pthread_create(&busy, NULL, churn, (void *)3), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        hs_graph_free(scattered_graph((size_t)1 << 18));
        hs_memory_keep(0);
        char ok = hs_memory_kept() == 0 ? 'y' : 'n';
        _exit(write(fds[1], &ok, 1) == 1 ? 0 : 1);
    }
    close(fds[1]);
    char got = 0;
    assert_int_equal(read(fds[0], &got, 1), 1);
    close(fds[0]);
    int status = -1;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    /* The answer comes by the pipe: under valgrind the child's exit status
     * is valgrind's, which counts as lost what the parent's churning
     * thread held when the child was forked (that thread is not in the
     * child). */
    assert_true(WIFEXITED(status));
    assert_int_equal(got, 'y');
    void *r;
    assert_int_equal(pthread_join(busy, &r), 0);
    assert_null(r);
#endif
    hs_memory_keep(0);
    assert_true(hs_memory_kept() == 0);
}

static void
test_partition_clodo_members_follow_owners(void **state)
{
    (void)state;
    /* nodes 2, 4, 6 are dicts; 4 and 6 the __dict__s of 1 and 3 */
    hs_graph *g = chain(8);
    for (hs_id d = 2; d <= 6; d += 2)
        g->flags[d] |= HS_F_DICT;
    assert_int_equal(hs_graph_add_owner(g, 6, 3), 0);
    assert_int_equal(hs_graph_add_owner(g, 4, 1), 0);
    assert_int_equal(hs_graph_finish(g), 0);
    hs_id ids[] = {1, 2, 3, 4, 5, 6, 7, 8};
    hs_set s = mk(ids, 8);
    hs_partition p;
    assert_int_equal(hs_partition_new(&p, g, &s, HS_BY_CLODO, NULL), 0);
    /* One group cut by one pass, before the members exist, is the group
     * the members give later (and after they exist, a copy of it). */
    hs_set one[8];
    assert_true(p.ngroups <= 8);
    for (size_t k = 0; k < p.ngroups; k++) {
        assert_int_equal(hs_partition_select(&p, g, &s, k, &one[k]), 0);
        assert_int_equal(one[k].n, p.count[k]);
    }
    assert_null(p.member);
    hs_set none;
    assert_int_equal(hs_partition_select(&p, g, &s, p.ngroups, &none),
                     -HS_EINVAL);
    assert_int_equal(hs_partition_members(&p, g, &s), 0);
    for (size_t k = 0; k < p.ngroups; k++) {
        assert_memory_equal(one[k].ids, p.member + p.start[k],
                            one[k].n * sizeof *one[k].ids);
        hs_set again;
        assert_int_equal(hs_partition_select(&p, g, &s, k, &again), 0);
        assert_int_equal(again.n, one[k].n);
        assert_memory_equal(again.ids, one[k].ids, again.n * sizeof *again.ids);
        hs_set_free(&again);
        hs_set_free(&one[k]);
    }
    size_t dictof = 0;
    for (size_t k = 0; k < p.ngroups; k++)
        for (size_t m = p.start[k]; m < p.start[k + 1]; m++) {
            hs_id id = p.member[m];
            assert_int_equal(hs_classify(g, id, HS_BY_CLODO), p.key[k]);
            if (p.key[k] & HS_KEY_DICTOF)
                dictof++;
        }
    assert_int_equal(dictof, 2);
    /* a set that is not the partitioned one is refused, not scattered */
    hs_partition q;
    assert_int_equal(hs_partition_new(&q, g, &s, HS_BY_TYPE, NULL), 0);
    hs_id other[] = {1, 2, 3};
    hs_set t = mk(other, 3);
    assert_int_equal(hs_partition_members(&q, g, &t), -HS_EINVAL);
    hs_set cut;
    assert_int_equal(hs_partition_select(&q, g, &t, 0, &cut), -HS_EINVAL);
    hs_partition_free(&q);
    hs_set_free(&t);
    hs_partition_free(&p);
    hs_set_free(&s);
    hs_graph_free(g);
}

static void
test_empty_set(void **state)
{
    (void)state;
    hs_graph *g = chain(3);
    hs_set s = {NULL, 0}, r;
    hs_partition p;
    assert_int_equal(hs_partition_new(&p, g, &s, HS_BY_CLODO, NULL), 0);
    assert_int_equal(p.ngroups, 0);
    hs_partition_free(&p);
    assert_int_equal(hs_partition_new(&p, g, &s, HS_BY_ID, NULL), 0);
    assert_int_equal(p.ngroups, 0);
    hs_partition_free(&p);
    assert_int_equal(hs_set_op(&r, &s, &s, HS_OR), 0);
    assert_int_equal(r.n, 0);
    assert_int_equal(hs_set_size(g, &s), 0);
    hs_graph_free(g);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_intern_finds_and_grows),
        cmocka_unit_test(test_table_of_any_size_through_rehashes),
        cmocka_unit_test(test_odd_addresses),
        cmocka_unit_test(test_dense_and_sparse_addresses),
        cmocka_unit_test(test_dense_windows_spill),
        cmocka_unit_test(test_csr_edges_and_root_labels),
        cmocka_unit_test(test_root_label_needs_root_first),
        cmocka_unit_test(test_big_sizes),
        cmocka_unit_test(test_dict_owners),
        cmocka_unit_test(test_drop_edges_keeps_lookup),
        cmocka_unit_test(test_set_from_ids_sorts_and_dedups),
        cmocka_unit_test(test_set_algebra),
        cmocka_unit_test(test_partition_by_type_and_size),
        cmocka_unit_test(test_partition_by_id_orders_by_size),
        cmocka_unit_test(test_partition_with_given_keys),
        cmocka_unit_test(test_partition_many_groups_order),
        cmocka_unit_test(test_partition_restrict_to_a_subset),
        cmocka_unit_test(test_sorts),
        cmocka_unit_test(test_scratch),
        cmocka_unit_test(test_memory_kept),
        cmocka_unit_test(test_memory_kept_trimmed),
        cmocka_unit_test(test_table_alloc),
        cmocka_unit_test(test_populate),
        cmocka_unit_test(test_memory_kept_threads),
        cmocka_unit_test(test_partition_clodo_members_follow_owners),
        cmocka_unit_test(test_empty_set),
        cmocka_unit_test(test_pagefilter),
    };
    return cmocka_run_group_tests_name("graph", tests, NULL, NULL);
}
