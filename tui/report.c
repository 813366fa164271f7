/* tui/report.c - key w: the current view, every row, written to a text
 * file in heapy's layout (the same lines `print(h.all)` would give), so
 * it can be diffed with an earlier run or attached to a bug report.
 *
 * Writes only the file the user named (asked first, by browse.c, when
 * there is one already); long views show progress and Esc stops the
 * writing (the file then ends where it stopped, and the status line says
 * so).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tui_int.h"

#define HEAPY_WIDTH 100     /* heapy wraps labels to keep lines this wide */

/* The label after the prefix, wrapped on spaces as heapy does, the
 * continuation lines aligned under the label. */
static void
put_label(FILE *fp, size_t prefix, const char *label)
{
    size_t room = HEAPY_WIDTH > prefix + 20 ? HEAPY_WIDTH - prefix : 20;
    size_t cur = 0;
    const char *p = label;

    if (strlen(label) <= room) {
        fputs(label, fp);
        return;
    }
    while (*p) {
        size_t w = strcspn(p, " ");

        if (cur > 0 && cur + 1 + w > room) {
            fprintf(fp, "\n%*s", (int)prefix, "");
            cur = 0;
        }
        else if (cur > 0) {
            fputc(' ', fp);
            cur++;
        }
        fwrite(p, 1, w, fp);
        cur += w;
        p += w;
        if (*p == ' ') {
            p++;
        }
    }
}

static double
pct1(uint64_t x, uint64_t total)
{
    return total ? 100.0 * (double)x / (double)total : 0.0;
}

/* The file path names: ~/ is the home directory, as in a shell. */
static void
expand(const char *path, char *full, size_t len)
{
    const char *home = getenv("HOME");

    if (path[0] == '~' && path[1] == '/' && home != NULL) {
        snprintf(full, len, "%s%s", home, path + 1);
    }
    else {
        snprintf(full, len, "%s", path);
    }
}

int
hs_report_exists(const char *path)
{
    char full[HS_PROMPT_MAX + 256];
    struct stat st;

    expand(path, full, sizeof(full));
    return stat(full, &st) == 0 && !S_ISDIR(st.st_mode);
}

int
hs_report_write(hs_tui *t, hs_frame *f, const char *path)
{
    const hs_view_info *in = &f->info;
    char full[HS_PROMPT_MAX + 256];
    uint64_t cum = 0;
    hs_progress p;
    size_t i;
    FILE *fp;
    int err;

    expand(path, full, sizeof(full));
    fp = fopen(full, "w");
    if (fp == NULL) {
        hs_tui_msg(t, 1, "cannot write %s: %s", full, strerror(errno));
        return -1;
    }
    fprintf(fp, "%s\n", f->summary);
    if (in->rel == HS_REL_ID) {
        fprintf(fp, " Index     Size   %%   Cumulative  %%   %s\n", f->column);
    }
    else {
        fprintf(fp, " Index  Count   %%     Size   %% Cumulative  %% %s\n",
                f->column);
    }
    hs_progress_begin(t, &p);
    for (i = 0; i < in->nrows; i++) {
        hs_row r;

        if ((i & 1023) == 1023 && p.tick(p.arg, "writing", i, in->nrows)) {
            break;
        }
        if (hs_frame_row(t, f, i, &r) < 0) {
            break;
        }
        cum += r.size;
        if (in->rel == HS_REL_ID) {
            fprintf(fp, "%6zu %8llu %5.1f %9llu %5.1f %s\n", r.index,
                    (unsigned long long)r.size, pct1(r.size, in->size),
                    (unsigned long long)cum, pct1(cum, in->size), r.label);
        }
        else {
            int n = fprintf(fp, "%6zu %6llu %3d %8llu %3d %9llu %3d ",
                            r.index, (unsigned long long)r.count,
                            hs_fmt_pct(r.count, in->count),
                            (unsigned long long)r.size,
                            hs_fmt_pct(r.size, in->size),
                            (unsigned long long)cum,
                            hs_fmt_pct(cum, in->size));

            put_label(fp, n > 0 ? (size_t)n : 0, r.label);
            fputc('\n', fp);
        }
    }
    hs_progress_end(t);
    err = ferror(fp);
    if (fclose(fp) != 0 || err) {
        hs_tui_msg(t, 1, "cannot write %s: %s", full,
                   strerror(errno ? errno : EIO));
        return -1;
    }
    if (i < in->nrows) {
        if (!t->op_cancelled) {
            return -1;      /* hs_frame_row said why */
        }
        hs_tui_msg(t, 1, "stopped: %zu of %zu rows written to %s", i,
                   in->nrows, full);
        return -1;
    }
    hs_tui_msg(t, 0, "wrote %zu rows to %s", in->nrows, full);
    return 0;
}
