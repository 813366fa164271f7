/* tests/unit/test_tui_man.c - keys.def and the man page's EXPLORER KEYS
 * section must list the same keys with the same words: every row of the
 * table is a .TP entry under the .SS of its group, and every .TP entry
 * there is a row of the table.
 *
 *     test_tui_man --print    writes the entries (to paste into the page)
 *
 * The page is read from $HEAPSCOPE_SRCDIR/man/heapscope.1, or from the
 * source tree the test was built from.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../tui/tui_int.h"

#ifndef HS_TOP_SRCDIR
#define HS_TOP_SRCDIR "."
#endif

/* The order of the ? screen, and of the man page. */
static const enum hs_group order[] = {HS_G_TABLE, HS_G_INSPECT, HS_G_ALL,
                                      HS_G_PROMPT, HS_G_ASK};
#define NORDER (sizeof(order) / sizeof(order[0]))

/* The man page's words for a key: its help, capitalised, with a full
 * stop. */
static void
man_text(const hs_keydef *k, char *buf, size_t len)
{
    snprintf(buf, len, "%s.", k->help);
    if (buf[0] >= 'a' && buf[0] <= 'z') {
        buf[0] = (char)(buf[0] - 'a' + 'A');
    }
}

static void
print_section(FILE *fp)
{
    char text[512];

    for (size_t g = 0; g < NORDER; g++) {
        fprintf(fp, ".SS \"%s\"\n", hs_group_title[order[g]]);
        for (size_t i = 0; i < hs_nkeys; i++) {
            if (hs_keys[i].group != order[g]) {
                continue;
            }
            man_text(&hs_keys[i], text, sizeof(text));
            fprintf(fp, ".TP\n.B \"%s\"\n", hs_keys[i].names);
            /* lines of at most 78 bytes, broken at spaces (mandoc's
             * style check); the parser joins them with one space */
            for (const char *p = text; *p;) {
                size_t n = strlen(p), cut = n;

                if (n > 78) {
                    cut = 78;
                    while (cut > 0 && p[cut] != ' ') {
                        cut--;
                    }
                    if (cut == 0) {
                        cut = strcspn(p, " ");
                    }
                }
                fprintf(fp, "%.*s\n", (int)cut, p);
                p += cut;
                while (*p == ' ') {
                    p++;
                }
            }
        }
    }
}

typedef struct entry {
    int group;          /* index into hs_group_title, -1: unknown .SS */
    char names[128];
    char text[1024];
    int matched;
} entry;

#define MAX_ENTRIES 256

static char *
read_page(void)
{
    const char *dir = getenv("HEAPSCOPE_SRCDIR");
    char path[4096];
    static char buf[1 << 18];
    size_t n;
    FILE *fp;

    snprintf(path, sizeof(path), "%s/man/heapscope.1",
             dir != NULL && *dir ? dir : HS_TOP_SRCDIR);
    fp = fopen(path, "r");
    if (fp == NULL) {
        fail_msg("cannot read %s", path);
    }
    n = fread(buf, 1, sizeof(buf) - 1, fp);
    buf[n] = '\0';
    fclose(fp);
    return buf;
}

/* The .TP entries of the EXPLORER KEYS section. */
static size_t
parse(char *page, entry *e, size_t max)
{
    char *line, *save = NULL;
    int in_section = 0, group = -1, want_names = 0;
    size_t n = 0;
    entry *cur = NULL;

    for (line = strtok_r(page, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, ".SH", 3) == 0) {
            in_section = strstr(line, "EXPLORER KEYS") != NULL;
            cur = NULL;
            continue;
        }
        if (!in_section) {
            continue;
        }
        if (strncmp(line, ".SS", 3) == 0) {
            char t[256];
            const char *p = line + 3;

            while (*p == ' ') {
                p++;
            }
            snprintf(t, sizeof(t), "%s", *p == '"' ? p + 1 : p);
            if (t[0] && t[strlen(t) - 1] == '"') {
                t[strlen(t) - 1] = '\0';
            }
            group = -1;
            for (int g = 0; g < HS_G_N; g++) {
                if (strcmp(t, hs_group_title[g]) == 0) {
                    group = g;
                }
            }
            cur = NULL;
            continue;
        }
        if (strcmp(line, ".TP") == 0) {
            want_names = 1;
            cur = NULL;
            continue;
        }
        if (want_names && strncmp(line, ".B ", 3) == 0) {
            const char *p = line + 3;

            assert_true(n < max);
            cur = &e[n++];
            memset(cur, 0, sizeof(*cur));
            cur->group = group;
            snprintf(cur->names, sizeof(cur->names), "%s",
                     *p == '"' ? p + 1 : p);
            if (cur->names[0]
                && cur->names[strlen(cur->names) - 1] == '"') {
                cur->names[strlen(cur->names) - 1] = '\0';
            }
            want_names = 0;
            continue;
        }
        want_names = 0;
        if (line[0] == '.') {   /* .PP, .RS...: the entry's text ends */
            cur = NULL;
            continue;
        }
        if (cur != NULL) {
            size_t l = strlen(cur->text);

            snprintf(cur->text + l, sizeof(cur->text) - l, "%s%s",
                     l ? " " : "", line);
        }
    }
    return n;
}

static void
test_man_lists_every_key(void **state)
{
    static entry e[MAX_ENTRIES];
    size_t n = parse(read_page(), e, MAX_ENTRIES);
    char text[512];
    int bad = 0;

    (void)state;
    assert_true(n > 0);
    for (size_t i = 0; i < hs_nkeys; i++) {
        const hs_keydef *k = &hs_keys[i];
        entry *found = NULL;

        for (size_t j = 0; j < n; j++) {
            if (e[j].group == (int)k->group
                && strcmp(e[j].names, k->names) == 0) {
                found = &e[j];
            }
        }
        if (found == NULL) {
            print_error("man page: no entry for \"%s\" under \"%s\"\n",
                        k->names, hs_group_title[k->group]);
            bad++;
            continue;
        }
        found->matched = 1;
        man_text(k, text, sizeof(text));
        if (strcmp(found->text, text) != 0) {
            print_error("man page: \"%s\" says \"%s\", keys.def \"%s\"\n",
                        k->names, found->text, text);
            bad++;
        }
    }
    for (size_t j = 0; j < n; j++) {
        if (!e[j].matched) {
            print_error("man page: \"%s\" is not in keys.def\n",
                        e[j].names);
            bad++;
        }
    }
    if (bad) {
        fail_msg("%d differences between keys.def and man/heapscope.1 "
                 "(test_tui_man --print writes the entries)", bad);
    }
}

/* The check itself must catch a missing and an extra key. */
static void
test_parser_sees_differences(void **state)
{
    static char page[] =
        ".TH X 1\n.SH EXPLORER KEYS\nIntro.\n"
        ".SS \"The partition table\"\n.TP\n.B \"c\"\nPartition.\n"
        ".TP\n.B \"zz\"\nNot a key\nover two lines.\n.PP\nAfter.\n"
        ".SH SEE ALSO\n.TP\n.B \"j\"\nOutside.\n";
    static entry e[8];
    size_t n = parse(page, e, 8);

    (void)state;
    assert_int_equal(n, 2);
    assert_int_equal(e[0].group, HS_G_TABLE);
    assert_string_equal(e[0].names, "c");
    assert_string_equal(e[1].names, "zz");
    assert_string_equal(e[1].text, "Not a key over two lines.");
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parser_sees_differences),
        cmocka_unit_test(test_man_lists_every_key),
    };

    if (argc > 1 && strcmp(argv[1], "--print") == 0) {
        print_section(stdout);
        return 0;
    }
    return cmocka_run_group_tests_name("tui_man", tests, NULL, NULL);
}
