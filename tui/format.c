/* tui/format.c - numbers as the explorer shows them: heapy's percentages
 * and human-readable byte counts for the Dominated column.
 *
 * Pure functions; they write into the caller's buffer and nothing else.
 */
#include <stdio.h>

#include "tui_int.h"

int
hs_fmt_pct(uint64_t x, uint64_t total)
{
    if (total == 0) {
        return 0;
    }
    /* heapy computes round(100.0 * x / total) in doubles, and Python
     * rounds halves to even: the same arithmetic gives the same digits */
    double q = 100.0 * (double)x / (double)total;
    uint64_t lo = (uint64_t)q;
    double frac = q - (double)lo;

    if (frac > 0.5 || (frac == 0.5 && (lo & 1))) {
        lo++;
    }
    return (int)lo;
}

int
hs_fmt_digits(uint64_t n)
{
    int d = 1;

    while (n >= 10) {
        n /= 10;
        d++;
    }
    return d;
}

void
hs_fmt_bytes(uint64_t n, char *buf, size_t len)
{
    static const char *const unit[] = {"kB", "MB", "GB", "TB", "PB", "EB"};
    double v = (double)n;
    int u = -1;

    if (n < 1000) {
        snprintf(buf, len, "%llu B", (unsigned long long)n);
        return;
    }
    /* 999.96 kB would print as "1000.0 kB": move up a unit first */
    while (u < 5 && v >= 999.5) {
        v /= 1000.0;
        u++;
    }
    if (v < 99.95) {
        snprintf(buf, len, "%.1f %s", v, unit[u]);
    }
    else {
        snprintf(buf, len, "%.0f %s", v, unit[u]);
    }
}
