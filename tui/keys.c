/* tui/keys.c - the key table built from keys.def, and lookups in it.
 *
 * Data only: what a key does is decided by the screen that receives the
 * action (browse.c, inspect.c, help.c, prompt.c).  No curses here.
 */
#include "tui_int.h"

/* One array of codes per row of the table, ended by 0. */
#define HS_KEY(action, group, names, help, hint, ...) \
    static const int hs_codes_##action[] = {__VA_ARGS__, 0};
#include "keys.def"
#undef HS_KEY

const hs_keydef hs_keys[] = {
#define HS_KEY(action, group, names, help, hint, ...) \
    {HS_ACT_##action, group, names, help, hint, hs_codes_##action},
#include "keys.def"
#undef HS_KEY
};

const size_t hs_nkeys = sizeof(hs_keys) / sizeof(hs_keys[0]);

const char *const hs_group_title[HS_G_N] = {
    "Everywhere",
    "The partition table",
    "The object inspector",
    "A prompt (: / w)",
    "A question (y/n)",
};

static enum hs_action
find(int code, enum hs_group g)
{
    for (size_t i = 0; i < hs_nkeys; i++) {
        if (hs_keys[i].group != g) {
            continue;
        }
        for (const int *c = hs_keys[i].codes; *c; c++) {
            if (*c == code) {
                return hs_keys[i].action;
            }
        }
    }
    return HS_ACT_NONE;
}

enum hs_action
hs_key_action(int code, enum hs_group g)
{
    enum hs_action a = find(code, g);

    /* In a prompt every other key is text; a question takes no other. */
    if (a == HS_ACT_NONE && g != HS_G_PROMPT && g != HS_G_ASK
        && g != HS_G_ALL) {
        a = find(code, HS_G_ALL);
    }
    return a;
}

const hs_keydef *
hs_key_def(enum hs_action a)
{
    for (size_t i = 0; i < hs_nkeys; i++) {
        if (hs_keys[i].action == a) {
            return &hs_keys[i];
        }
    }
    return NULL;
}
