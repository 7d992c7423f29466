/* The load driver's HTTP/1.1 response reader (chaos.load.http): llhttp (vendored in
 * chaos/load/llhttp, the parser httptools wraps) driven from C, so that one read costs one
 * call from Python instead of a Python-level callback per header, per body chunk and per
 * message edge.
 *
 * `Response(region_header)` reads one response per `reset()`. `feed(data)` parses one read
 * and returns what happened in it, as bit flags (HEAD, BYTES, BODY, COMPLETE, ERROR, EXTRA);
 * a 2xx body's bytes of that read, de-chunked, are then in `body`, for the protocol's stream
 * reader. Of the head it keeps only what the driver reads: the status, the region header's
 * value (the last one sent, without trailing spaces, at most 64 bytes, as Latin-1), whether a Connection, a
 * Content-Length or a Transfer-Encoding header came, and the keep-alive verdict. Of a
 * non-2xx body it keeps the first 256 bytes (`head`, for its error code). Trailers are
 * parsed and ignored.
 *
 * The parser pauses at the end of every message: bytes after it in the same read are
 * EXTRA (the connection's next request then needs a fresh parser, which `reset()` always
 * makes); a second message is never read into the same exchange. A parse error, and the
 * upgrade pause, are ERROR: as with httptools, the caller cannot trust the connection.
 *
 * Invariant: the flags of one feed describe only that read; `status` is -1 until the head
 * is complete. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#include "llhttp/llhttp.h"

enum {
    HEAD = 1,      /* the head completed in this read */
    BYTES = 2,     /* body bytes arrived in this read (any status) */
    BODY = 4,      /* a 2xx body's bytes arrived: they are in `body` */
    COMPLETE = 8,  /* the message completed in this read */
    ERROR = 16,    /* the bytes are not HTTP/1.1 (or an upgrade): nothing after them counts */
    EXTRA = 32,    /* bytes after the complete message, in the same read */
};

#define NAME_CAP 64    /* longer header names match none of the ones read */
#define REGION_CAP 64  /* the region as the driver keeps it (chaos.load.http: [:64]) */
#define HEAD_CAP 256   /* chaos.load.exchange.ERROR_HEAD_BYTES */

enum { OTHER = 0, REGION = 1 };

typedef struct {
    PyObject_HEAD
    llhttp_t parser;
    char want[NAME_CAP]; /* the region header's name, lower case */
    Py_ssize_t want_len;
    /* the header being read */
    char name[NAME_CAP];
    Py_ssize_t name_len; /* > NAME_CAP: too long to be one we read */
    int which, field_done;
    /* the response */
    int status; /* -1 until the head is complete */
    int success;
    int in_head;
    int framed, connection_header, complete, keep_alive;
    char region[REGION_CAP];
    Py_ssize_t region_len;  /* bytes kept; -1: none came */
    Py_ssize_t region_seen; /* bytes of the value read so far */
    Py_ssize_t region_end;  /* just after its last byte that is not a space or a tab */
    char head[HEAD_CAP];
    Py_ssize_t head_len;
    Py_ssize_t bytes;
    /* this read */
    int flags;
    char *buf;
    Py_ssize_t buf_len, buf_cap;
    int nomem;
    PyObject *body;
} Response;

static llhttp_settings_t settings;

static inline char lower(char ch) { return ch >= 'A' && ch <= 'Z' ? (char)(ch + 32) : ch; }

static int named(const Response *r, const char *word, Py_ssize_t n) {
    if (n > NAME_CAP || r->name_len != n) return 0; /* only whole names are compared */
    for (Py_ssize_t i = 0; i < n; i++)
        if (lower(r->name[i]) != word[i]) return 0;
    return 1;
}

static int on_header_field(llhttp_t *p, const char *at, size_t length) {
    Response *r = p->data;
    if (!r->in_head) return 0; /* a trailer */
    if (r->field_done) { /* a new header's name */
        r->name_len = 0;
        r->field_done = 0;
    }
    if (r->name_len + (Py_ssize_t)length <= NAME_CAP) memcpy(r->name + r->name_len, at, length);
    r->name_len += (Py_ssize_t)length;
    return 0;
}

static int on_header_field_complete(llhttp_t *p) {
    Response *r = p->data;
    if (!r->in_head) return 0;
    r->which = OTHER;
    r->field_done = 1;
    if (named(r, r->want, r->want_len)) {
        r->which = REGION;
        r->region_len = r->region_seen = r->region_end = 0; /* the last one sent wins */
    } else if (named(r, "content-length", 14) || named(r, "transfer-encoding", 17)) {
        r->framed = 1;
    } else if (named(r, "connection", 10)) {
        r->connection_header = 1;
    }
    return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t length) {
    Response *r = p->data;
    if (!r->in_head || r->which != REGION) return 0;
    Py_ssize_t room = REGION_CAP - r->region_len;
    Py_ssize_t n = (Py_ssize_t)length < room ? (Py_ssize_t)length : room;
    memcpy(r->region + r->region_len, at, (size_t)n);
    r->region_len += n;
    for (Py_ssize_t i = (Py_ssize_t)length - 1; i >= 0; i--) {
        if (at[i] != ' ' && at[i] != '\t') {
            r->region_end = r->region_seen + i + 1;
            break;
        }
    }
    r->region_seen += (Py_ssize_t)length;
    return 0;
}

static int on_headers_complete(llhttp_t *p) {
    Response *r = p->data;
    r->in_head = 0;
    r->status = p->status_code;
    r->success = r->status >= 200 && r->status < 300;
    r->flags |= HEAD;
    return p->upgrade ? 1 : 0; /* as httptools: an upgrade has no body, and pauses */
}

static int on_body(llhttp_t *p, const char *at, size_t length) {
    Response *r = p->data;
    Py_ssize_t n = (Py_ssize_t)length;
    r->bytes += n;
    r->flags |= BYTES;
    if (!r->success) {
        Py_ssize_t keep = HEAD_CAP - r->head_len;
        if (keep > n) keep = n;
        if (keep > 0) {
            memcpy(r->head + r->head_len, at, (size_t)keep);
            r->head_len += keep;
        }
        return 0;
    }
    if (r->buf_len + n > r->buf_cap) {
        Py_ssize_t cap = r->buf_cap ? r->buf_cap : 4096;
        while (cap < r->buf_len + n) cap *= 2;
        char *grown = PyMem_Realloc(r->buf, (size_t)cap);
        if (grown == NULL) {
            r->nomem = 1;
            return HPE_USER;
        }
        r->buf = grown;
        r->buf_cap = cap;
    }
    memcpy(r->buf + r->buf_len, at, length);
    r->buf_len += n;
    return 0;
}

static int on_message_complete(llhttp_t *p) {
    Response *r = p->data;
    r->complete = 1;
    /* Like h11, never reuse an HTTP/1.0 connection, whatever its Connection header says
     * (llhttp would keep one with "keep-alive"). */
    r->keep_alive = llhttp_should_keep_alive(p) &&
                    (!r->connection_header || (p->http_major == 1 && p->http_minor == 1));
    r->flags |= COMPLETE;
    return HPE_PAUSED; /* one message per exchange: see EXTRA */
}

static void start(Response *r) {
    llhttp_init(&r->parser, HTTP_RESPONSE, &settings);
    r->parser.data = r;
    r->name_len = 0;
    r->which = OTHER;
    r->field_done = 0;
    r->status = -1;
    r->success = 0;
    r->in_head = 1;
    r->framed = r->connection_header = r->complete = r->keep_alive = 0;
    r->region_len = -1;
    r->head_len = 0;
    r->bytes = 0;
}

static PyObject *Response_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    const char *want;
    Py_ssize_t want_len;
    static char *kwlist[] = {"region_header", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "y#", kwlist, &want, &want_len)) return NULL;
    Response *r = (Response *)type->tp_alloc(type, 0);
    if (r == NULL) return NULL;
    /* A name longer than NAME_CAP matches none (`named`). */
    r->want_len = want_len <= NAME_CAP ? want_len : NAME_CAP + 1;
    for (Py_ssize_t i = 0; i < want_len && i < NAME_CAP; i++) r->want[i] = lower(want[i]);
    r->body = Py_NewRef(Py_None);
    start(r);
    return (PyObject *)r;
}

static void Response_dealloc(Response *r) {
    PyMem_Free(r->buf);
    Py_XDECREF(r->body);
    Py_TYPE(r)->tp_free((PyObject *)r);
}

static PyObject *Response_reset(Response *r, PyObject *unused) {
    start(r);
    Py_RETURN_NONE;
}

static PyObject *Response_feed(Response *r, PyObject *data) {
    if (!PyBytes_CheckExact(data)) {
        PyErr_SetString(PyExc_TypeError, "feed(data: bytes)");
        return NULL;
    }
    const char *at = PyBytes_AS_STRING(data);
    Py_ssize_t len = PyBytes_GET_SIZE(data);
    r->flags = 0;
    r->buf_len = 0;
    r->nomem = 0;
    if (r->complete) {
        r->flags = EXTRA; /* the message already ended: these bytes belong to none */
    } else {
        llhttp_errno_t err = llhttp_execute(&r->parser, at, (size_t)len);
        if (err == HPE_PAUSED) {
            if (llhttp_get_error_pos(&r->parser) < at + len) r->flags |= EXTRA;
        } else if (err != HPE_OK) {
            if (r->nomem) return PyErr_NoMemory();
            r->flags |= ERROR;
        }
    }
    if (r->buf_len > 0) {
        PyObject *body = PyBytes_FromStringAndSize(r->buf, r->buf_len);
        if (body == NULL) return NULL;
        Py_SETREF(r->body, body);
        r->flags |= BODY;
    }
    return PyLong_FromLong(r->flags);
}

static PyObject *get_status(Response *r, void *closure) { return PyLong_FromLong(r->status); }

static PyObject *get_region(Response *r, void *closure) {
    if (r->region_len < 0) Py_RETURN_NONE;
    /* llhttp keeps a value's trailing spaces; HTTP does not count them (RFC 9110 5.5) */
    Py_ssize_t n = r->region_end < r->region_len ? r->region_end : r->region_len;
    return PyUnicode_DecodeLatin1(r->region, n, NULL);
}

static PyObject *get_head(Response *r, void *closure) {
    return PyBytes_FromStringAndSize(r->head, r->head_len);
}

static PyObject *get_flag(Response *r, void *closure) {
    int value = 0;
    switch ((int)(intptr_t)closure) {
    case 0: value = r->complete; break;
    case 1: value = r->keep_alive; break;
    case 2: value = r->framed; break;
    }
    return PyBool_FromLong(value);
}

static PyObject *get_bytes(Response *r, void *closure) { return PyLong_FromSsize_t(r->bytes); }

static PyObject *get_body(Response *r, void *closure) { return Py_NewRef(r->body); }

static PyGetSetDef getset[] = {
    {"status", (getter)get_status, NULL, "the status code, -1 until the head is complete", NULL},
    {"region", (getter)get_region, NULL, "the region header's last value (Latin-1, at most 64), or None", NULL},
    {"head", (getter)get_head, NULL, "a non-2xx body's first 256 bytes", NULL},
    {"complete", (getter)get_flag, NULL, "the message is complete", (void *)0},
    {"keep_alive", (getter)get_flag, NULL, "complete, and the connection may carry another request", (void *)1},
    {"framed", (getter)get_flag, NULL, "a Content-Length or Transfer-Encoding header came", (void *)2},
    {"bytes", (getter)get_bytes, NULL, "body bytes so far", NULL},
    {"body", (getter)get_body, NULL, "the 2xx body bytes of the last read flagged BODY", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef response_methods[] = {
    {"reset", (PyCFunction)Response_reset, METH_NOARGS, "expect a new response (a fresh parser)"},
    {"feed", (PyCFunction)Response_feed, METH_O, "feed(data) -> flags of this read"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject ResponseType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "chaos.load._wire.Response",
    .tp_basicsize = sizeof(Response),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Response(region_header: bytes): one HTTP/1.1 response per reset(), read by llhttp",
    .tp_new = Response_new,
    .tp_dealloc = (destructor)Response_dealloc,
    .tp_methods = response_methods,
    .tp_getset = getset,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_wire",
    "The load driver's HTTP/1.1 response reader in C (llhttp); see chaos.load.http.", -1,
    NULL, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__wire(void) {
    llhttp_settings_init(&settings);
    settings.on_header_field = on_header_field;
    settings.on_header_field_complete = on_header_field_complete;
    settings.on_header_value = on_header_value;
    settings.on_headers_complete = on_headers_complete;
    settings.on_body = on_body;
    settings.on_message_complete = on_message_complete;
    if (PyType_Ready(&ResponseType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    if (PyModule_AddObjectRef(m, "Response", (PyObject *)&ResponseType) < 0 ||
        PyModule_AddIntConstant(m, "HEAD", HEAD) < 0 ||
        PyModule_AddIntConstant(m, "BYTES", BYTES) < 0 ||
        PyModule_AddIntConstant(m, "BODY", BODY) < 0 ||
        PyModule_AddIntConstant(m, "COMPLETE", COMPLETE) < 0 ||
        PyModule_AddIntConstant(m, "ERROR", ERROR) < 0 ||
        PyModule_AddIntConstant(m, "EXTRA", EXTRA) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
