/* The load driver's per-read fast paths, in C: one call per read instead of one per event.
 *
 * openai(pending, data), anthropic(pending, data) and custom(done, error_key, content_key,
 * usage_key, pending, data) read the bytes pending in the SSE decoder plus one read, up to
 * their last blank line, when they are only single-line `data: ` events with LF line ends
 * (anthropic: each may have one `event: ` line first), and judge every event as the
 * profile's `classify` would, summed over the read:
 *
 *   (events, content events, kind of the first, last usage completion_tokens,
 *    last finish_reason, ends with the completion marker, the bytes after the last blank line)
 *
 * Each returns None whenever it is not sure, and then the read goes one event at a time
 * through the Python profile, which has the last word. Never sure of: a CR, a comment,
 * any other line (an `event:` line too, for openai and custom); JSON it does not fully
 * validate (strict RFC 8259: UTF-8 checked, no lone surrogate escapes, no exponents, no
 * integer of more than 18 digits, nesting at most 64 deep); a key with an escape; a key it
 * reads given twice in one object; a number where truthiness is read; an error; a
 * completion marker that is not the last event. openai: a chunk with neither choices nor
 * a usage count, a choice or delta of the wrong type, a finish_reason that is not a string
 * without escapes. anthropic: a content_block_delta whose delta is not an object, a type
 * or stop_reason with escapes. anthropic and custom: a data line that is not an object
 * (but anthropic's `ping` is ignored unread, as the profile does).
 * Within one call, a chunk that opens with the same unread members as the chunk before it
 * (id, object, created, model) is read from where they end (see "the plain prefix").
 * `chaos.protocols.profiles._openai_scan_py` is openai() in Python (the fallback when this
 * module is not built; anthropic and custom then read event by event); tests hold each,
 * and one event at a time, to the same result.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define MAX_DEPTH 64
#define MAX_PENDING (1 << 20) /* chaos.protocols.sse.MAX_EVENT_BYTES */

typedef const unsigned char *ptr;

typedef struct {
    ptr p;
    ptr end;
    int depth;
} cur;

/* -1: not sure (fall back); 0: read. */
#define NOPE (-1)

static inline void skip_ws(cur *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static inline int hexval(unsigned char ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* One UTF-8 sequence starting at p (a byte >= 0x80); returns its length or 0 if invalid
 * (overlong, surrogate, above U+10FFFF, truncated), as Python's strict decoder rules. */
static inline int utf8_len(ptr p, ptr end) {
    unsigned char b0 = p[0];
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        if (end - p < 2 || (p[1] & 0xC0) != 0x80) return 0;
        return 2;
    }
    if (b0 >= 0xE0 && b0 <= 0xEF) {
        if (end - p < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80) return 0;
        if (b0 == 0xE0 && p[1] < 0xA0) return 0; /* overlong */
        if (b0 == 0xED && p[1] >= 0xA0) return 0; /* surrogate */
        return 3;
    }
    if (b0 >= 0xF0 && b0 <= 0xF4) {
        if (end - p < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80)
            return 0;
        if (b0 == 0xF0 && p[1] < 0x90) return 0; /* overlong */
        if (b0 == 0xF4 && p[1] >= 0x90) return 0; /* above U+10FFFF */
        return 4;
    }
    return 0;
}

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

/* The high bit of each of the 8 bytes of w that may be a quote, a backslash, a control
 * byte (< 0x20) or not ASCII (>= 0x80): zero only for 8 bytes of plain string text. No
 * special byte goes unflagged, and a byte is flagged falsely only above a real one (only a
 * special byte starts a borrow), so on a little-endian load the lowest flag is exact. */
static inline uint64_t maybe_special(uint64_t w) {
    uint64_t quote = w ^ (ONES * '"'), backslash = w ^ (ONES * '\\');
    return (((quote - ONES) & ~quote) | ((backslash - ONES) & ~backslash) |
            (w - ONES * 0x20) | w) & HIGHS;
}

/* A string at c->p (its opening quote). Sets `start` and `len` to the raw bytes between the
 * quotes and *escaped when they hold a backslash. */
static int read_string(cur *c, ptr *start, Py_ssize_t *len, int *escaped) {
    ptr p = c->p + 1, end = c->end;
    *escaped = 0;
    *start = p;
    while (p < end) {
#if defined(__GNUC__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        /* Plain text 8 bytes at a time, up to the first byte that may be special (the lowest
         * flagged byte always is one: a false flag only ever sits above a real one). */
        while (end - p >= 8) {
            uint64_t w, special;
            memcpy(&w, p, 8);
            special = maybe_special(w);
            if (special) {
                p += __builtin_ctzll(special) >> 3;
                break;
            }
            p += 8;
        }
        if (p >= end) break;
#endif
        unsigned char ch = *p;
        if (ch == '"') {
            *len = p - *start;
            c->p = p + 1;
            return 0;
        }
        if (ch < 0x20) return NOPE;
        if (ch == '\\') {
            *escaped = 1;
            if (p + 1 >= end) return NOPE;
            ch = p[1];
            if (ch == 'u') {
                int v = 0;
                if (end - p < 6) return NOPE;
                for (int i = 2; i < 6; i++) {
                    int h = hexval(p[i]);
                    if (h < 0) return NOPE;
                    v = v * 16 + h;
                }
                if (v >= 0xD800 && v <= 0xDFFF) return NOPE; /* surrogates: not sure */
                p += 6;
                continue;
            }
            if (ch == '"' || ch == '\\' || ch == '/' || ch == 'b' || ch == 'f' || ch == 'n' ||
                ch == 'r' || ch == 't') {
                p += 2;
                continue;
            }
            return NOPE;
        }
        if (ch >= 0x80) {
            int n = utf8_len(p, end);
            if (n == 0) return NOPE;
            p += n;
            continue;
        }
        p++;
    }
    return NOPE;
}

/* A number at c->p. Sets *is_int, and *value (its magnitude) and *negative for an
 * integer. No exponent, at most 18 integer digits. */
static int read_number(cur *c, int *is_int, long long *value, int *negative) {
    ptr p = c->p, end = c->end;
    long long v = 0;
    int digits = 0;
    *negative = 0;
    if (p < end && *p == '-') {
        *negative = 1;
        p++;
    }
    if (p >= end) return NOPE;
    if (*p == '0') {
        p++;
        digits = 1;
    } else if (*p >= '1' && *p <= '9') {
        while (p < end && *p >= '0' && *p <= '9') {
            if (++digits > 18) return NOPE;
            v = v * 10 + (*p - '0');
            p++;
        }
    } else {
        return NOPE;
    }
    *is_int = 1;
    if (p < end && *p == '.') {
        p++;
        if (p >= end || *p < '0' || *p > '9') return NOPE;
        while (p < end && *p >= '0' && *p <= '9') p++;
        *is_int = 0;
    }
    if (p < end && (*p == 'e' || *p == 'E')) return NOPE;
    *value = v;
    c->p = p;
    return 0;
}

static int skip_value(cur *c);

/* Read a member (c->p at its value; it must consume it) or, in an array, an element (key
 * NULL). Object keys with escapes are not sure. */
typedef int (*member_fn)(cur *c, ptr key, Py_ssize_t n, void *ctx);

/* A container at c->p ('{' or '[', closed by `close`): each member or element goes to
 * `each`, or is skipped (validated) when `each` is NULL; a skipped object's keys may carry
 * escapes, since none is read by name. */
static int members(cur *c, unsigned char close, member_fn each, void *ctx);

static int walk(cur *c, unsigned char close, member_fn each, void *ctx) {
    if (++c->depth > MAX_DEPTH) return NOPE;
    c->p++;
    skip_ws(c);
    if (c->p < c->end && *c->p == close) {
        c->p++;
        c->depth--;
        return 0;
    }
    return members(c, close, each, ctx);
}

/* The members or elements of a container from c->p, where one must start (after its opening
 * bracket or a comma, and any whitespace), through its closing bracket. */
static int members(cur *c, unsigned char close, member_fn each, void *ctx) {
    for (;;) {
        ptr key = NULL;
        Py_ssize_t n = 0;
        if (close == '}') {
            int esc;
            if (c->p >= c->end || *c->p != '"' || read_string(c, &key, &n, &esc)) return NOPE;
            if (esc && each != NULL) return NOPE;
            skip_ws(c);
            if (c->p >= c->end || *c->p != ':') return NOPE;
            c->p++;
            skip_ws(c);
        }
        if (each != NULL ? each(c, key, n, ctx) : skip_value(c)) return NOPE;
        skip_ws(c);
        if (c->p >= c->end) return NOPE;
        if (*c->p == ',') {
            c->p++;
            skip_ws(c);
            continue;
        }
        if (*c->p == close) {
            c->p++;
            c->depth--;
            return 0;
        }
        return NOPE;
    }
}

static inline int literal(cur *c, const char *word, size_t n) {
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n) != 0) return NOPE;
    c->p += n;
    return 0;
}

/* Any value at c->p (whitespace before it already skipped). */
static int skip_value(cur *c) {
    if (c->p >= c->end) return NOPE;
    switch (*c->p) {
    case '{':
        return walk(c, '}', NULL, NULL);
    case '[':
        return walk(c, ']', NULL, NULL);
    case '"': {
        ptr s;
        Py_ssize_t n;
        int esc;
        return read_string(c, &s, &n, &esc);
    }
    case 't':
        return literal(c, "true", 4);
    case 'f':
        return literal(c, "false", 5);
    case 'n':
        return literal(c, "null", 4);
    default: {
        int is_int, neg;
        long long v;
        return read_number(c, &is_int, &v, &neg);
    }
    }
}

/* Python truthiness of a value (a delta field): null/false 0, true 1, a string, array or
 * object by being non-empty; a number is not sure. */
static int truth(cur *c, int *out) {
    if (c->p >= c->end) return NOPE;
    unsigned char ch = *c->p;
    if (ch == '"') {
        ptr s;
        Py_ssize_t n;
        int esc;
        if (read_string(c, &s, &n, &esc)) return NOPE;
        *out = n > 0;
        return 0;
    }
    if (ch == '[' || ch == '{') {
        ptr q = c->p + 1;
        while (q < c->end && (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r')) q++;
        *out = !(q < c->end && *q == (ch == '[' ? ']' : '}'));
        return skip_value(c);
    }
    if (ch == 'n') {
        *out = 0;
        return literal(c, "null", 4);
    }
    if (ch == 'f') {
        *out = 0;
        return literal(c, "false", 5);
    }
    if (ch == 't') {
        *out = 1;
        return literal(c, "true", 4);
    }
    return NOPE;
}

static inline int key_is(ptr s, Py_ssize_t n, const char *name) {
    size_t len = strlen(name);
    return (size_t)n == len && memcmp(s, name, len) == 0;
}

/* An object at c->p whose members go to `member`. */
static int read_object(cur *c, member_fn member, void *ctx) {
    if (c->p >= c->end || *c->p != '{') return NOPE;
    return walk(c, '}', member, ctx);
}

/* -- a delta: content, reasoning_content, reasoning, tool_calls, function_call ---------- */
typedef struct {
    unsigned seen;
    int content, reasoning, tool;
} delta_t;

static int delta_member(cur *c, ptr key, Py_ssize_t n, void *ctx) {
    delta_t *d = ctx;
    static const char *names[] = {"content", "reasoning_content", "reasoning", "tool_calls",
                                  "function_call"};
    for (unsigned i = 0; i < 5; i++) {
        if (!key_is(key, n, names[i])) continue;
        if (d->seen & (1u << i)) return NOPE; /* given twice */
        d->seen |= 1u << i;
        int t;
        if (truth(c, &t)) return NOPE;
        if (i == 0) d->content = t;
        else if (i <= 2) d->reasoning |= t;
        else d->tool |= t;
        return 0;
    }
    return skip_value(c);
}

/* -- a choice: delta and finish_reason ------------------------------------------------- */
typedef struct {
    unsigned seen;
    int has_delta;
    delta_t delta;
    ptr finish;
    Py_ssize_t finish_len;
} choice_t;

static int choice_member(cur *c, ptr key, Py_ssize_t n, void *ctx) {
    choice_t *ch = ctx;
    if (key_is(key, n, "delta")) {
        if (ch->seen & 1u) return NOPE;
        ch->seen |= 1u;
        if (c->p < c->end && *c->p == 'n') return literal(c, "null", 4);
        ch->has_delta = 1;
        return read_object(c, delta_member, &ch->delta);
    }
    if (key_is(key, n, "finish_reason")) {
        if (ch->seen & 2u) return NOPE;
        ch->seen |= 2u;
        if (c->p < c->end && *c->p == 'n') return literal(c, "null", 4);
        if (c->p >= c->end || *c->p != '"') return NOPE;
        int esc;
        if (read_string(c, &ch->finish, &ch->finish_len, &esc) || esc) return NOPE;
        return 0;
    }
    return skip_value(c);
}

/* -- usage: completion_tokens ------------------------------------------------------- */
typedef struct {
    int seen;
    long long tokens; /* -1: none */
} usage_t;

static int usage_member(cur *c, ptr key, Py_ssize_t n, void *ctx) {
    usage_t *u = ctx;
    if (!key_is(key, n, "completion_tokens")) return skip_value(c);
    if (u->seen) return NOPE;
    u->seen = 1;
    if (c->p < c->end && (*c->p == '-' || (*c->p >= '0' && *c->p <= '9'))) {
        int is_int, neg;
        long long v;
        if (read_number(c, &is_int, &v, &neg)) return NOPE;
        if (neg && v == 0 && is_int) return NOPE; /* -0: not sure */
        u->tokens = (is_int && !neg) ? v : -1;
        return 0;
    }
    return skip_value(c); /* a string, bool, null, ...: no count */
}

/* -- the plain prefix of a chunk --------------------------------------------------------
 * The members a chunk opens with that no reader reads by name (an OpenAI chunk's id, object,
 * created, model) are the same bytes event after event. Within one call the reader keeps the
 * last chunk's prefix: its '{' through the whitespace before its first member read by name,
 * when at least one member came before that one and none of them was read. A chunk that
 * starts with the same bytes is read from there, inside its object: parsing those bytes again
 * would end in the same state (depth 1, nothing read, nothing seen), as JSON is read left to
 * right and the prefix ends after a comma. */
typedef struct {
    ptr p;          /* NULL: none */
    Py_ssize_t len;
} memo_t;

typedef struct {
    int members;    /* members met so far in the chunk's object */
    ptr read_from;  /* the opening quote of its first member read by name, when members came before */
} plain_t;

static inline void note_member(plain_t *plain, ptr key, int read) {
    plain->members++;
    if (read && plain->read_from == NULL && plain->members > 1) plain->read_from = key - 1;
}

/* The chunk's object at c->p, its members to `member`; `plain` is the start of `ctx`. */
static int read_memo_object(cur *c, member_fn member, void *ctx, memo_t *memo) {
    plain_t *plain = ctx;
    if (memo != NULL && memo->p != NULL && c->end - c->p > memo->len &&
        memcmp(c->p, memo->p, (size_t)memo->len) == 0) {
        c->p += memo->len;
        c->depth = 1;
        plain->members = 2; /* never a new prefix: this one stays */
        return members(c, '}', member, ctx);
    }
    ptr start = c->p;
    if (read_object(c, member, ctx)) return NOPE;
    if (memo != NULL && plain->read_from != NULL) {
        memo->p = start;
        memo->len = plain->read_from - start;
    }
    return 0;
}

/* -- a chunk ---------------------------------------------------------------------------- */
typedef struct {
    plain_t plain;    /* first: read_memo_object's view */
    unsigned seen;
    long long tokens; /* -1: none */
    int has_choices;  /* a list (possibly empty) */
    int kind;         /* 0 none, 1 content, 2 reasoning, 3 tool_call */
    ptr finish;       /* the last choice's non-null finish_reason in this chunk */
    Py_ssize_t finish_len;
} chunk_t;

static int choice_element(cur *c, ptr key, Py_ssize_t n, void *ctx) {
    (void)key;
    (void)n;
    chunk_t *k = ctx;
    choice_t ch;
    memset(&ch, 0, sizeof ch);
    if (c->p >= c->end || *c->p != '{') return NOPE; /* a choice that is not an object */
    if (read_object(c, choice_member, &ch)) return NOPE;
    if (ch.finish != NULL) {
        k->finish = ch.finish;
        k->finish_len = ch.finish_len;
    }
    if (ch.has_delta) {
        if (ch.delta.content) k->kind = 1;
        else if (k->kind == 0 && ch.delta.reasoning) k->kind = 2;
        else if (k->kind == 0 && ch.delta.tool) k->kind = 3;
    }
    return 0;
}

static int chunk_member(cur *c, ptr key, Py_ssize_t n, void *ctx) {
    chunk_t *k = ctx;
    int read = key_is(key, n, "error") || key_is(key, n, "usage") || key_is(key, n, "choices");
    note_member(&k->plain, key, read);
    if (!read) return skip_value(c);
    if (key_is(key, n, "error")) {
        if (k->seen & 1u) return NOPE;
        k->seen |= 1u;
        return literal(c, "null", 4); /* an error: the Python path reads it */
    }
    if (key_is(key, n, "usage")) {
        if (k->seen & 2u) return NOPE;
        k->seen |= 2u;
        if (c->p < c->end && *c->p == '{') {
            usage_t u = {0, -1};
            if (read_object(c, usage_member, &u)) return NOPE;
            k->tokens = u.tokens;
            return 0;
        }
        return skip_value(c);
    }
    if (key_is(key, n, "choices")) {
        if (k->seen & 4u) return NOPE;
        k->seen |= 4u;
        if (c->p < c->end && *c->p == 'n') return literal(c, "null", 4);
        if (c->p >= c->end || *c->p != '[') return NOPE;
        k->has_choices = 1;
        return walk(c, ']', choice_element, k);
    }
    return skip_value(c);
}

static int read_chunk(ptr p, ptr end, chunk_t *k, memo_t *memo) {
    cur c = {p, end, 0};
    memset(k, 0, sizeof *k);
    k->tokens = -1;
    skip_ws(&c);
    if (read_memo_object(&c, chunk_member, k, memo)) return NOPE;
    skip_ws(&c);
    return c.p == c.end ? 0 : NOPE;
}

/* -- a custom profile's chunk: an error key, a content key, a usage key (one segment each) */
typedef struct {
    const char *error, *content, *usage; /* NULL: not read (content is always read) */
    Py_ssize_t error_len, content_len, usage_len;
} custom_cfg;

typedef struct {
    plain_t plain; /* first: read_memo_object's view */
    const custom_cfg *cfg;
    unsigned seen;
    int content;
    long long tokens; /* -1: none */
} custom_t;

static inline int key_eq(ptr key, Py_ssize_t n, const char *want, Py_ssize_t want_len) {
    return want != NULL && n == want_len && memcmp(key, want, (size_t)n) == 0;
}

static int custom_member(cur *c, ptr key, Py_ssize_t n, void *ctx) {
    custom_t *t = ctx;
    const custom_cfg *cfg = t->cfg;
    note_member(&t->plain, key, key_eq(key, n, cfg->error, cfg->error_len) ||
                key_eq(key, n, cfg->content, cfg->content_len) || key_eq(key, n, cfg->usage, cfg->usage_len));
    if (key_eq(key, n, cfg->error, cfg->error_len)) {
        if (t->seen & 1u) return NOPE;
        t->seen |= 1u;
        if (c->p < c->end && *c->p == 'n') return literal(c, "null", 4);
        if (c->p < c->end && *c->p == 'f') return literal(c, "false", 5);
        return NOPE; /* an error (even 0 or ""): the profile reads it */
    }
    if (key_eq(key, n, cfg->content, cfg->content_len)) {
        if (t->seen & 2u) return NOPE;
        t->seen |= 2u;
        return truth(c, &t->content);
    }
    if (key_eq(key, n, cfg->usage, cfg->usage_len)) {
        if (t->seen & 4u) return NOPE;
        t->seen |= 4u;
        usage_t u = {0, -1};
        if (usage_member(c, (ptr) "completion_tokens", 17, &u)) return NOPE;
        t->tokens = u.tokens;
        return 0;
    }
    return skip_value(c);
}

/* -- the split and the sum, for either profile ------------------------------------------ */
typedef struct {
    long long tokens; /* -1: none */
    int kind;         /* 0 none, 1 content, 2 reasoning, 3 tool_call */
    int done;         /* the completion marker */
    ptr finish;       /* NULL: none */
    Py_ssize_t finish_len;
} verdict_t;

/* One event: its name (NULL for an unnamed event) and its data line. */
typedef int (*judge_fn)(ptr name, Py_ssize_t name_len, ptr p, ptr end, const void *cfg,
                        memo_t *memo, verdict_t *v);

static int judge_openai(ptr name, Py_ssize_t name_len, ptr p, ptr end, const void *cfg,
                        memo_t *memo, verdict_t *v) {
    (void)cfg;
    (void)name_len;
    if (name != NULL) return NOPE; /* named events: the profile reads them */
    chunk_t k;
    if (read_chunk(p, end, &k, memo)) return NOPE;
    v->tokens = k.tokens;
    v->kind = 0;
    v->done = 0;
    v->finish = NULL;
    if (!k.has_choices) return k.tokens < 0 ? NOPE : 0; /* no_choices: malformed; else usage only */
    v->kind = k.kind;
    v->finish = k.finish;
    v->finish_len = k.finish_len;
    return 0;
}

static int judge_custom(ptr name, Py_ssize_t name_len, ptr p, ptr end, const void *cfg,
                        memo_t *memo, verdict_t *v) {
    (void)name_len;
    if (name != NULL) return NOPE; /* named events: the profile reads them */
    custom_t t = {{0, NULL}, cfg, 0, 0, -1};
    cur c = {p, end, 0};
    skip_ws(&c);
    if (c.p >= c.end || *c.p != '{') return NOPE; /* not an object: not sure */
    if (read_memo_object(&c, custom_member, &t, memo)) return NOPE;
    skip_ws(&c);
    if (c.p != c.end) return NOPE;
    v->tokens = t.tokens;
    v->kind = t.content ? 1 : 0;
    v->done = 0;
    v->finish = NULL;
    return 0;
}

/* -- an Anthropic message event: type, delta {type, text, thinking, partial_json,
 * stop_reason}, usage {output_tokens} ----------------------------------------------- */
typedef struct {
    unsigned seen;
    int is_object;
    ptr type;
    Py_ssize_t type_len;
    int text, thinking, partial_json;
    ptr stop;
    Py_ssize_t stop_len;
} a_delta_t;

/* A string member read for its value (a type or a stop reason): escapes are not sure;
 * another type is no value (as `isinstance(x, str)` and `==` read it). */
static int string_value(cur *c, ptr *out, Py_ssize_t *len) {
    if (c->p < c->end && *c->p == '"') {
        int esc;
        if (read_string(c, out, len, &esc) || esc) return NOPE;
        return 0;
    }
    *out = NULL;
    return skip_value(c);
}

static int a_delta_member(cur *c, ptr key, Py_ssize_t n, void *ctx) {
    a_delta_t *d = ctx;
    static const char *names[] = {"type", "text", "thinking", "partial_json", "stop_reason"};
    for (unsigned i = 0; i < 5; i++) {
        if (!key_is(key, n, names[i])) continue;
        if (d->seen & (1u << i)) return NOPE; /* given twice */
        d->seen |= 1u << i;
        switch (i) {
        case 0: return string_value(c, &d->type, &d->type_len);
        case 1: return truth(c, &d->text);
        case 2: return truth(c, &d->thinking);
        case 3: return truth(c, &d->partial_json);
        default: return string_value(c, &d->stop, &d->stop_len);
        }
    }
    return skip_value(c);
}

typedef struct {
    unsigned seen;
    ptr type;
    Py_ssize_t type_len;
    a_delta_t delta;
    long long tokens; /* usage.output_tokens, -1: none */
} a_event_t;

static int a_usage_member(cur *c, ptr key, Py_ssize_t n, void *ctx) {
    usage_t *u = ctx;
    if (!key_is(key, n, "output_tokens")) return skip_value(c);
    return usage_member(c, (ptr) "completion_tokens", 17, u); /* the same reading */
}

static int a_event_member(cur *c, ptr key, Py_ssize_t n, void *ctx) {
    a_event_t *e = ctx;
    if (key_is(key, n, "type")) {
        if (e->seen & 1u) return NOPE;
        e->seen |= 1u;
        return string_value(c, &e->type, &e->type_len);
    }
    if (key_is(key, n, "delta")) {
        if (e->seen & 2u) return NOPE;
        e->seen |= 2u;
        if (c->p < c->end && *c->p == '{') {
            e->delta.is_object = 1;
            return read_object(c, a_delta_member, &e->delta);
        }
        return skip_value(c);
    }
    if (key_is(key, n, "usage")) {
        if (e->seen & 4u) return NOPE;
        e->seen |= 4u;
        if (c->p < c->end && *c->p == '{') {
            usage_t u = {0, -1};
            if (read_object(c, a_usage_member, &u)) return NOPE;
            e->tokens = u.tokens;
            return 0;
        }
        return skip_value(c);
    }
    return skip_value(c);
}

static inline int is_word(ptr p, Py_ssize_t n, const char *word) {
    return p != NULL && key_is(p, n, word);
}

static int judge_anthropic(ptr name, Py_ssize_t name_len, ptr p, ptr end, const void *cfg,
                           memo_t *memo, verdict_t *v) {
    (void)cfg;
    (void)memo; /* its events open with "type", which it reads */
    v->tokens = -1;
    v->kind = 0;
    v->done = 0;
    v->finish = NULL;
    if (is_word(name, name_len, "ping")) return 0; /* ignored unread, as the profile does */
    a_event_t e;
    memset(&e, 0, sizeof e);
    e.tokens = -1;
    cur c = {p, end, 0};
    skip_ws(&c);
    if (c.p >= c.end || *c.p != '{') return NOPE;
    if (read_object(&c, a_event_member, &e)) return NOPE;
    skip_ws(&c);
    if (c.p != c.end) return NOPE;
    ptr kind = name != NULL ? name : e.type; /* the event's name, else its "type" */
    Py_ssize_t kind_len = name != NULL ? name_len : e.type_len;
    if (is_word(kind, kind_len, "content_block_delta")) {
        a_delta_t *d = &e.delta;
        if (!d->is_object) return NOPE; /* bad_delta: malformed */
        if (is_word(d->type, d->type_len, "text_delta") && d->text) v->kind = 1;
        else if (is_word(d->type, d->type_len, "thinking_delta") && d->thinking) v->kind = 2;
        else if (is_word(d->type, d->type_len, "input_json_delta") && d->partial_json) v->kind = 3;
        return 0;
    }
    if (is_word(kind, kind_len, "message_delta")) {
        v->tokens = e.tokens;
        if (e.delta.is_object && e.delta.stop != NULL) {
            v->finish = e.delta.stop;
            v->finish_len = e.delta.stop_len;
        }
        return 0;
    }
    if (is_word(kind, kind_len, "message_stop")) {
        v->done = 1;
        return 0;
    }
    if (is_word(kind, kind_len, "error")) return NOPE; /* the profile reads it */
    return 0; /* message_start, content_block_start/stop, and events added later */
}

static PyObject *kind_names[4];

/* The pending bytes plus one read, split into data events and judged; see the top. */
static PyObject *split_and_judge(PyObject *pending, PyObject *data, judge_fn judge,
                                 const void *cfg, const char *marker, Py_ssize_t marker_len,
                                 int named) {
    Py_ssize_t plen = PyBytes_GET_SIZE(pending), dlen = PyBytes_GET_SIZE(data);
    const char *pd = PyBytes_AS_STRING(pending), *dd = PyBytes_AS_STRING(data);
    if (memchr(dd, '\r', (size_t)dlen) != NULL) Py_RETURN_NONE;
    /* The last blank line. The pending bytes never hold one (they are what came after the
     * last), so it ends in this read; without one there is nothing to judge and nothing is
     * copied (a long event arriving in many reads). */
    Py_ssize_t last = -1;
    for (Py_ssize_t i = dlen - 2; i >= 0; i--) {
        if (dd[i] == '\n' && dd[i + 1] == '\n') {
            last = plen + i;
            break;
        }
    }
    if (last < 0 && plen > 0 && dlen > 0 && pd[plen - 1] == '\n' && dd[0] == '\n') last = plen - 1;
    if (last < 0) Py_RETURN_NONE;
    PyObject *joined = NULL;
    ptr buf;
    Py_ssize_t len;
    if (plen == 0) {
        buf = (ptr)dd;
        len = dlen;
    } else {
        joined = PyBytes_FromStringAndSize(NULL, plen + dlen);
        if (joined == NULL) return NULL;
        memcpy(PyBytes_AS_STRING(joined), pd, (size_t)plen);
        memcpy(PyBytes_AS_STRING(joined) + plen, dd, (size_t)dlen);
        buf = (ptr)PyBytes_AS_STRING(joined);
        len = plen + dlen;
    }
    Py_ssize_t rest_at = last + 2;
    if (len - rest_at > MAX_PENDING) goto nope;

    long long events = 0, content = 0, tokens = -1;
    int first = 0, done = 0;
    ptr finish = NULL;
    Py_ssize_t finish_len = 0;
    Py_ssize_t pos = 0;
    memo_t memo = {NULL, 0};
    while (pos < rest_at) {
        ptr name = NULL;
        Py_ssize_t name_len = 0;
        if (named && rest_at - pos >= 7 && memcmp(buf + pos, "event: ", 7) == 0) {
            name = buf + pos + 7;
            ptr eol = memchr(name, '\n', (size_t)(buf + rest_at - name));
            if (eol == NULL) goto nope;
            name_len = eol - name;
            pos = (eol + 1) - buf;
        }
        if (rest_at - pos < 6 || memcmp(buf + pos, "data: ", 6) != 0) goto nope;
        ptr start = buf + pos + 6;
        ptr nl = memchr(start, '\n', (size_t)(buf + rest_at - start));
        if (nl == NULL || nl + 1 >= buf + rest_at || nl[1] != '\n') goto nope;
        pos = (nl + 2) - buf;
        events++;
        if (name == NULL && marker != NULL && nl - start == marker_len &&
            memcmp(start, marker, (size_t)marker_len) == 0) {
            if (pos != rest_at) goto nope; /* a marker before the end */
            done = 1;
            break;
        }
        verdict_t v;
        if (judge(name, name_len, start, nl, cfg, &memo, &v)) goto nope;
        if (v.tokens >= 0) tokens = v.tokens;
        if (v.finish != NULL) {
            finish = v.finish;
            finish_len = v.finish_len;
        }
        if (v.kind) {
            content++;
            if (!first) first = v.kind;
        }
        if (v.done) {
            if (pos != rest_at) goto nope; /* a marker before the end */
            done = 1;
            break;
        }
    }
    PyObject *finish_obj = NULL, *tokens_obj = NULL, *rest = NULL, *result = NULL;
    if (finish != NULL) {
        finish_obj = PyUnicode_DecodeUTF8((const char *)finish, finish_len, "strict");
        if (finish_obj == NULL) goto fail;
    } else {
        finish_obj = Py_NewRef(Py_None);
    }
    tokens_obj = tokens >= 0 ? PyLong_FromLongLong(tokens) : Py_NewRef(Py_None);
    if (tokens_obj == NULL) goto fail;
    rest = PyBytes_FromStringAndSize((const char *)buf + rest_at, len - rest_at);
    if (rest == NULL) goto fail;
    result = Py_BuildValue("(LLONNON)", events, content, kind_names[first], tokens_obj,
                           finish_obj, done ? Py_True : Py_False, rest);
    Py_XDECREF(joined);
    return result; /* N steals the three references */
fail:
    Py_XDECREF(finish_obj);
    Py_XDECREF(tokens_obj);
    Py_XDECREF(rest);
    Py_XDECREF(joined);
    return NULL;
nope:
    Py_XDECREF(joined);
    Py_RETURN_NONE;
}

static int is_bytes(PyObject *o, int optional) {
    return PyBytes_CheckExact(o) || (optional && o == Py_None);
}

static PyObject *openai(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 2 || !is_bytes(args[0], 0) || !is_bytes(args[1], 0)) {
        PyErr_SetString(PyExc_TypeError, "openai(pending: bytes, data: bytes)");
        return NULL;
    }
    return split_and_judge(args[0], args[1], judge_openai, NULL, "[DONE]", 6, 0);
}

static inline void opt_bytes(PyObject *o, const char **p, Py_ssize_t *n) {
    *p = o == Py_None ? NULL : PyBytes_AS_STRING(o);
    *n = o == Py_None ? 0 : PyBytes_GET_SIZE(o);
}

/* The profile's rules first, so that functools.partial binds them once per profile. */
static PyObject *custom(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 6 || !is_bytes(args[0], 1) || !is_bytes(args[1], 1) || !is_bytes(args[2], 0) ||
        !is_bytes(args[3], 1) || !is_bytes(args[4], 0) || !is_bytes(args[5], 0)) {
        PyErr_SetString(PyExc_TypeError,
                        "custom(done: bytes | None, error_key: bytes | None, content_key: bytes, "
                        "usage_key: bytes | None, pending: bytes, data: bytes)");
        return NULL;
    }
    custom_cfg cfg;
    const char *marker;
    Py_ssize_t marker_len;
    opt_bytes(args[0], &marker, &marker_len);
    opt_bytes(args[1], &cfg.error, &cfg.error_len);
    opt_bytes(args[2], &cfg.content, &cfg.content_len);
    opt_bytes(args[3], &cfg.usage, &cfg.usage_len);
    return split_and_judge(args[4], args[5], judge_custom, &cfg, marker, marker_len, 0);
}

static PyObject *anthropic(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 2 || !is_bytes(args[0], 0) || !is_bytes(args[1], 0)) {
        PyErr_SetString(PyExc_TypeError, "anthropic(pending: bytes, data: bytes)");
        return NULL;
    }
    return split_and_judge(args[0], args[1], judge_anthropic, NULL, NULL, 0, 1);
}

/* hdr_tally(values, counts, lowest, highest, sub_bucket_bits): each int of the list `values`,
 * clamped to [lowest, highest] (lowest >= 1), counted into its bucket of an HDR histogram of
 * unit magnitude 0 whose counts are the writable 64-bit buffer `counts` (what hdrh's
 * `record_value` would do, one value at a time). Returns (values counted, min, max) of the
 * clamped values, min > max for none. The load worker's window encoding (chaos.load.window):
 * a window of 40,000 values encodes in 0.35 ms with it, 4.4 ms without. */
static PyObject *hdr_tally(PyObject *self, PyObject *args) {
    PyObject *values;
    Py_buffer buf;
    long long lowest, highest;
    int bits;
    (void)self;
    if (!PyArg_ParseTuple(args, "O!w*LLi", &PyList_Type, &values, &buf, &lowest, &highest, &bits))
        return NULL;
    if (buf.itemsize != 8 || buf.len % 8 != 0 || lowest < 1 || highest < lowest || bits < 2 ||
        bits > 30) {
        PyBuffer_Release(&buf);
        PyErr_SetString(PyExc_ValueError, "hdr_tally: counts must be 64-bit, 1 <= lowest <= highest");
        return NULL;
    }
    uint64_t *counts = buf.buf;
    Py_ssize_t slots = buf.len / 8, n = PyList_GET_SIZE(values);
    long long half = 1LL << (bits - 1), lo = highest, hi = lowest;
    for (Py_ssize_t i = 0; i < n; i++) {
        int overflow;
        long long v = PyLong_AsLongLongAndOverflow(PyList_GET_ITEM(values, i), &overflow);
        if (v == -1 && PyErr_Occurred()) {
            PyBuffer_Release(&buf);
            return NULL;
        }
        if (overflow > 0 || v > highest) v = highest;
        else if (overflow < 0 || v < lowest) v = lowest;
        int bucket = (64 - __builtin_clzll((unsigned long long)v)) - bits;
        if (bucket < 0) bucket = 0;
        long long index = ((long long)(bucket + 1) << (bits - 1)) + (v >> bucket) - half;
        if (index < 0 || index >= slots) {
            PyBuffer_Release(&buf);
            PyErr_SetString(PyExc_ValueError, "hdr_tally: a value beyond the counts");
            return NULL;
        }
        counts[index]++;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
    }
    PyBuffer_Release(&buf);
    return Py_BuildValue("(nLL)", n, lo, hi);
}

static PyMethodDef methods[] = {
    {"hdr_tally", hdr_tally, METH_VARARGS,
     "hdr_tally(values, counts, lowest, highest, sub_bucket_bits) -> (counted, min, max)"},
    {"anthropic", (PyCFunction)(void (*)(void))anthropic, METH_FASTCALL,
     "anthropic(pending, data) -> the same | None"},
    {"openai", (PyCFunction)(void (*)(void))openai, METH_FASTCALL,
     "openai(pending, data) -> (events, content, first_kind, tokens, finish, done, rest) | None"},
    {"custom", (PyCFunction)(void (*)(void))custom, METH_FASTCALL,
     "custom(done, error_key, content_key, usage_key, pending, data) -> the same | None"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_scan",
    "The load driver's per-read fast paths in C (see chaos.protocols.profiles), and its "
    "window's histogram tally (chaos.load.window).", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__scan(void) {
    kind_names[0] = Py_None;
    kind_names[1] = PyUnicode_InternFromString("content");
    kind_names[2] = PyUnicode_InternFromString("reasoning");
    kind_names[3] = PyUnicode_InternFromString("tool_call");
    if (!kind_names[1] || !kind_names[2] || !kind_names[3]) return NULL;
    return PyModule_Create(&module);
}
