/*
 * analyzer.readers._chunkscan: the native translation of analyzer/readers/chunkscan.py (scan, keys_of, hits).
 *
 * The three functions run once per record of every .evtx chunk.  Here no Python object is made per record
 * on the common path: scan fills four packed arrays from C, keys_of compares each record's key bytes with
 * the previous record's and with the distinct keys met so far (a hash table over the chunk bytes) and makes
 * a bytes object only for a new distinct key, hits converts its per-key sequences and the wanted EventIDs
 * to C tables once per call and reads every record with C arithmetic.  The Python module is the contract:
 * every function answers exactly what its Python twin answers (same values and types for bytes input, same
 * exceptions), and the tests compare both on real, generated and fuzzed chunks and fuzzed arguments.
 * Arguments of unusual types or values (ints beyond +-2**60, objects that are not ints, sets holding other
 * things than bytes) take a general path written with Python objects that follows the Python code step by
 * step.  Any bytes-like object is accepted as data and read as bytes (the keys come back as bytes).
 *
 * The chunk bytes come from customer files and are untrusted: every read is checked against the buffer
 * length, offsets are computed in 64-bit (or Python int) arithmetic, and slices follow Python's clamping
 * rules exactly (negative starts count from the end, anything past the end gives short or empty bytes).
 *
 * Plain C99 with the CPython API only, so it builds with GCC, Clang and MSVC alike: no VLAs, no compiler
 * extensions, little-endian fields read byte by byte.  The GIL is held throughout (each call is one chunk).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define CHUNK_HEADER_SIZE 512
#define CHUNK_SIZE 65536
#define RECORD_HEADER_SIZE 24
#define SIZE_COPY 4
#define KEY_AT RECORD_HEADER_SIZE
/* The most records a clean chunk can hold: every record ends inside the chunk and takes 28 bytes at least. */
#define MAX_RECORDS ((CHUNK_SIZE - CHUNK_HEADER_SIZE) / (RECORD_HEADER_SIZE + SIZE_COPY) + 1)

/* Integers within +-SMALL are summed (three at most) in 64-bit arithmetic without overflow, and stay
   inside Py_ssize_t; any other value goes through Python int arithmetic, so huge or negative values
   behave exactly as in Python. */
#define SMALL ((long long)(PY_SSIZE_T_MAX / 4) < (1LL << 60) ? (long long)(PY_SSIZE_T_MAX / 4) : (1LL << 60))

#define RECORD_MAGIC 0x00002a2aUL /* b"**\0\0" read as a little-endian uint32 */

/* What the module keeps: the packed array types it fills (one element of each, repeated to size) and
   struct.error (what the Python scan raises through struct.unpack_from). */
typedef struct {
    PyObject *unit_u32;     /* array('I', [0]) */
    PyObject *unit_u64;     /* array('Q', [0]) */
    PyObject *struct_error; /* struct.error */
    PyObject *zip;          /* builtins.zip, for the general path of hits */
    PyObject *wanted;       /* the last frozenset given to hits as wanted, held, or NULL ... */
    struct Table *table;    /* ... and its lookup table (a reader passes the same frozenset every chunk) */
} State;

static State *
state_of(PyObject *module)
{
    return (State *)PyModule_GetState(module);
}

static unsigned long
u32_at(const unsigned char *p)
{
    return (unsigned long)p[0] | ((unsigned long)p[1] << 8) | ((unsigned long)p[2] << 16) |
           ((unsigned long)p[3] << 24);
}

static unsigned long long
u64_at(const unsigned char *p)
{
    return (unsigned long long)u32_at(p) | ((unsigned long long)u32_at(p + 4) << 32);
}

/* What struct.unpack_from raises when the buffer is too short: struct.error, with its message. */
static void
set_struct_error(State *state, Py_ssize_t need, Py_ssize_t offset, Py_ssize_t have)
{
    PyErr_Format(state->struct_error,
                 "unpack_from requires a buffer of at least %zd bytes for unpacking %zd bytes at offset %zd "
                 "(actual buffer size is %zd)",
                 offset + need, need, offset, have);
}

/* An exact int within +-SMALL as a long long: 1, or 0 when the value must take the Python way. */
static int
small_int(PyObject *obj, long long *out)
{
    int overflow = 0;
    long long value;
    if (!PyLong_CheckExact(obj)) {
        return 0;
    }
    value = PyLong_AsLongLongAndOverflow(obj, &overflow);
    if (overflow != 0 || value < -SMALL || value > SMALL) {
        return 0; /* cannot fail for an exact int: no error is set when it does not fit */
    }
    *out = value;
    return 1;
}

/* One bound of a slice, as Python's slicing reads it: an object with __index__ is clipped to the
   Py_ssize_t range, anything else is a TypeError.  Returns -1 on error. */
static int
slice_bound(PyObject *obj, Py_ssize_t *out)
{
    Py_ssize_t value;
    if (!PyIndex_Check(obj)) {
        PyErr_SetString(PyExc_TypeError, "slice indices must be integers or None or have an __index__ method");
        return -1;
    }
    value = PyNumber_AsSsize_t(obj, NULL);
    if (value == -1 && PyErr_Occurred()) {
        return -1;
    }
    *out = value;
    return 0;
}

/* Python's clamping of data[a:b] (step 1) over a buffer of n bytes, for a and b within +-2*SMALL... or any
   Py_ssize_t; the slice is [*a, *a + return). */
static Py_ssize_t
clamp_slice(Py_ssize_t n, long long a, long long b, Py_ssize_t *from)
{
    if (a < 0) {
        a += n;
        if (a < 0) {
            a = 0;
        }
    }
    else if (a > n) {
        a = n;
    }
    if (b < 0) {
        b += n;
        if (b < 0) {
            b = 0;
        }
    }
    else if (b > n) {
        b = n;
    }
    *from = (Py_ssize_t)a;
    return b > a ? (Py_ssize_t)(b - a) : 0;
}

/* data[(base + first) : (base + first) + extra] computed with Python ints (the general case), clamped
   to the buffer of n bytes. */
static int
python_slice(PyObject *base, PyObject *first, PyObject *extra, Py_ssize_t n, Py_ssize_t *from, Py_ssize_t *len)
{
    Py_ssize_t a, b;
    PyObject *start = PyNumber_Add(base, first);
    PyObject *stop;
    if (start == NULL) {
        return -1;
    }
    stop = PyNumber_Add(start, extra);
    if (stop == NULL || slice_bound(start, &a) < 0 || slice_bound(stop, &b) < 0) {
        Py_DECREF(start);
        Py_XDECREF(stop);
        return -1;
    }
    Py_DECREF(start);
    Py_DECREF(stop);
    *len = clamp_slice(n, a, b, from);
    return 0;
}

/* A packed array of ``count`` elements like ``unit``, its memory writable through ``view`` until
   released: NULL on error. */
static PyObject *
new_array(PyObject *unit, Py_ssize_t count, Py_buffer *view)
{
    PyObject *array = PySequence_Repeat(unit, count);
    if (array == NULL) {
        return NULL;
    }
    if (PyObject_GetBuffer(array, view, PyBUF_WRITABLE) < 0) {
        Py_DECREF(array);
        return NULL;
    }
    return array;
}

/* A column of ints read once per call: an array('I') (or any buffer of native unsigned ints) read in
   place, or a list or tuple of exact ints within +-SMALL copied into C. */
typedef struct {
    Py_buffer view;
    int has_view;
    const unsigned int *u32;
    long long *owned;
    Py_ssize_t len;
} Column;

static void
column_release(Column *c)
{
    if (c->has_view) {
        PyBuffer_Release(&c->view);
        c->has_view = 0;
    }
    PyMem_Free(c->owned);
    c->owned = NULL;
    c->u32 = NULL;
}

/* 1 when the buffer holds native unsigned ints of 4 bytes in one dimension (then ``view`` is held). */
static int
u32_view(PyObject *obj, Py_buffer *view)
{
    if (PyBytes_Check(obj) || PyByteArray_Check(obj) || !PyObject_CheckBuffer(obj)) {
        return 0;
    }
    if (PyObject_GetBuffer(obj, view, PyBUF_FORMAT | PyBUF_ND) < 0) {
        PyErr_Clear(); /* not contiguous, or no format: read it as a sequence */
        return 0;
    }
    if (view->ndim == 1 && view->itemsize == 4 && sizeof(unsigned int) == 4 && view->format != NULL &&
        strcmp(view->format, "I") == 0) {
        return 1;
    }
    PyBuffer_Release(view);
    return 0;
}

/* Load ``obj`` as a column: 1 done, 0 when some item is no exact int within [minimum, SMALL] or the
   object is neither such a buffer nor a list or tuple (then the general path runs), -1 on error. */
static int
column_load(Column *c, PyObject *obj, long long minimum)
{
    Py_ssize_t i, n;
    memset(c, 0, sizeof(*c));
    if (u32_view(obj, &c->view)) {
        c->has_view = 1;
        c->u32 = (const unsigned int *)c->view.buf;
        c->len = c->view.len / 4;
        return 1;
    }
    if (!PyList_CheckExact(obj) && !PyTuple_CheckExact(obj)) {
        return 0;
    }
    n = PySequence_Fast_GET_SIZE(obj);
    c->owned = (long long *)PyMem_Malloc(sizeof(long long) * (size_t)(n > 0 ? n : 1));
    if (c->owned == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (i = 0; i < n; i++) {
        long long value;
        if (!small_int(PySequence_Fast_GET_ITEM(obj, i), &value) || value < minimum) {
            column_release(c);
            return 0;
        }
        c->owned[i] = value;
    }
    c->len = n;
    return 1;
}

static long long
column_at(const Column *c, Py_ssize_t i)
{
    return c->u32 != NULL ? (long long)c->u32[i] : c->owned[i];
}

/* A growable C array of record indexes (the per-record key index of keys_of). */
typedef struct {
    unsigned int *items;
    Py_ssize_t used, room;
} U32s;

static int
u32s_push(U32s *v, unsigned int value)
{
    if (v->used == v->room) {
        Py_ssize_t room = v->room ? v->room * 2 : 256;
        unsigned int *items = (unsigned int *)PyMem_Realloc(v->items, sizeof(unsigned int) * (size_t)room);
        if (items == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        v->items = items;
        v->room = room;
    }
    v->items[v->used++] = value;
    return 0;
}

/* ------------------------------------------------------------------------------------------------ scan */

/* free and length as the scan compares them: ints clipped well inside the Py_ssize_t range (any value
   beyond behaves the same, since offsets never pass the buffer length). */
static int
scan_bound(PyObject *obj, long long *out)
{
    Py_ssize_t value = PyNumber_AsSsize_t(obj, NULL);
    if (value == -1 && PyErr_Occurred()) {
        return -1;
    }
    if (value > PY_SSIZE_T_MAX - 64) {
        value = PY_SSIZE_T_MAX - 64;
    }
    else if (value < PY_SSIZE_T_MIN + 64) {
        value = PY_SSIZE_T_MIN + 64;
    }
    *out = (long long)value;
    return 0;
}

PyDoc_STRVAR(scan_doc,
             "scan(data, free, length)\n--\n\n"
             "The records of a chunk whose walk raises no doubt, or None (native chunkscan.scan).");

static PyObject *
scan(PyObject *module, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"data", "free", "length", NULL};
    State *state = state_of(module);
    PyObject *data_obj, *free_obj, *length_obj;
    PyObject *arrays[4] = {NULL, NULL, NULL, NULL};
    Py_buffer views[4];
    PyObject *result = NULL;
    Py_buffer view;
    const unsigned char *d;
    unsigned int *starts, *sizes;
    unsigned long long *rids, *written;
    long long n, free_at, length, pos, last, end, i;
    unsigned long size;
    Py_ssize_t count = 0, k, held = 0;
    int doubt = 0, increasing = 1;
    /* Where the first pass found each record: the second pass then reads all records at once instead of
       following the size fields again (each step of that chain waits for a memory read). */
    unsigned int found_at[MAX_RECORDS], found_size[MAX_RECORDS];

    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOO:scan", keywords, &data_obj, &free_obj, &length_obj)) {
        return NULL;
    }
    if (PyObject_GetBuffer(data_obj, &view, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    if (scan_bound(free_obj, &free_at) < 0 || scan_bound(length_obj, &length) < 0) {
        PyBuffer_Release(&view);
        return NULL;
    }
    d = (const unsigned char *)view.buf;
    n = (long long)view.len;

    /* First pass: the checks of the Python scan, in its order, counting the records. */
    pos = CHUNK_HEADER_SIZE;
    last = free_at - RECORD_HEADER_SIZE - SIZE_COPY;
    while (pos <= last) {
        if (pos + RECORD_HEADER_SIZE > n) {
            set_struct_error(state, RECORD_HEADER_SIZE, (Py_ssize_t)pos, (Py_ssize_t)n);
            PyBuffer_Release(&view);
            return NULL;
        }
        if (u32_at(d + pos) != RECORD_MAGIC) {
            long long stop = free_at < n ? free_at : n;
            for (i = pos; i < stop; i++) {
                if (d[i] != 0) {
                    doubt = 1;
                    break;
                }
            }
            break;
        }
        size = u32_at(d + pos + 4);
        end = pos + (long long)size;
        if (size < RECORD_HEADER_SIZE + SIZE_COPY || end > CHUNK_SIZE || end > length) {
            doubt = 1;
            break;
        }
        if (end > n) {
            set_struct_error(state, SIZE_COPY, (Py_ssize_t)(end - SIZE_COPY), (Py_ssize_t)n);
            PyBuffer_Release(&view);
            return NULL;
        }
        if (u32_at(d + end - SIZE_COPY) != size) {
            doubt = 1;
            break;
        }
        if (count == MAX_RECORDS) { /* cannot happen: sizes of 28 and more, ends inside the chunk */
            PyErr_SetString(PyExc_SystemError, "scan: more records than a chunk holds");
            PyBuffer_Release(&view);
            return NULL;
        }
        found_at[count] = (unsigned int)pos;
        found_size[count] = (unsigned int)size;
        count++;
        pos = end;
    }
    if (doubt) {
        PyBuffer_Release(&view);
        Py_RETURN_NONE;
    }

    /* Second pass: the same records, known sound now, straight into the four packed arrays. */
    for (k = 0; k < 4; k++) {
        arrays[k] = new_array(k < 2 ? state->unit_u32 : state->unit_u64, count, &views[k]);
        if (arrays[k] == NULL) {
            goto done;
        }
        held++;
    }
    starts = (unsigned int *)views[0].buf;
    sizes = (unsigned int *)views[1].buf;
    rids = (unsigned long long *)views[2].buf;
    written = (unsigned long long *)views[3].buf;
    if (count > 0) {
        memcpy(starts, found_at, sizeof(unsigned int) * (size_t)count);
        memcpy(sizes, found_size, sizeof(unsigned int) * (size_t)count);
    }
    for (k = 0; k < count; k++) {
        rids[k] = u64_at(d + found_at[k] + 8);
        written[k] = u64_at(d + found_at[k] + 16);
        if (k > 0 && rids[k - 1] >= rids[k]) {
            increasing = 0;
        }
    }
    for (k = 0; k < 4; k++) {
        PyBuffer_Release(&views[k]);
    }
    held = 0;
    result = PyTuple_New(5);
    if (result != NULL) {
        for (k = 0; k < 4; k++) {
            PyTuple_SET_ITEM(result, k, arrays[k]); /* the tuple owns them now */
            arrays[k] = NULL;
        }
        PyTuple_SET_ITEM(result, 4, PyBool_FromLong(increasing));
    }
done:
    for (k = 0; k < held; k++) {
        PyBuffer_Release(&views[k]);
    }
    for (k = 0; k < 4; k++) {
        Py_XDECREF(arrays[k]);
    }
    PyBuffer_Release(&view);
    return result;
}

/* --------------------------------------------------------------------------------------------- keys_of */

/* The distinct keys met so far in one call: the bytes objects (in the result list, first-met order), their
   hashes, and an open-addressing table of their indexes (slot value index + 1, 0 for an empty slot).
   Before the table, a small direct-mapped cache indexed by a fingerprint of the key's first and last
   eight bytes: records of one template mostly repeat a few keys, and a cache hit (then confirmed by
   comparing the bytes) costs two loads and one comparison instead of hashing the whole key. */
#define RECENT 64

typedef struct {
    PyObject *list;
    uint64_t *hashes;
    Py_ssize_t *slots;
    Py_ssize_t mask; /* table size - 1, a power of two minus one */
    Py_ssize_t count, room;
    uint64_t recent_print[RECENT];
    Py_ssize_t recent_index[RECENT]; /* -1: empty */
} Keys;

/* The fingerprint of a key of at least 8 bytes (its first and last eight bytes, mixed). */
static uint64_t
key_print(const unsigned char *s, Py_ssize_t len)
{
    uint64_t first, last;
    memcpy(&first, s, 8);
    memcpy(&last, s + len - 8, 8);
    return (first ^ (last * 0x9E3779B97F4A7C15ULL) ^ (uint64_t)len) * 0xFF51AFD7ED558CCDULL;
}

/* A hash of the key bytes, eight at a time (only compared within one call, so byte order is free). */
static uint64_t
key_hash(const unsigned char *s, Py_ssize_t len)
{
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ (uint64_t)len;
    uint64_t w;
    while (len >= 8) {
        memcpy(&w, s, 8);
        h = (h ^ w) * 0xFF51AFD7ED558CCDULL;
        h ^= h >> 32;
        s += 8;
        len -= 8;
    }
    if (len > 0) {
        w = 0;
        memcpy(&w, s, (size_t)len);
        h = (h ^ w) * 0xC4CEB9FE1A85EC53ULL;
    }
    h ^= h >> 29;
    h *= 0x94D049BB133111EBULL;
    h ^= h >> 32;
    return h;
}

static int
keys_init(Keys *keys)
{
    int j;
    memset(keys, 0, sizeof(*keys));
    for (j = 0; j < RECENT; j++) {
        keys->recent_index[j] = -1;
    }
    keys->list = PyList_New(0);
    keys->mask = 63;
    keys->slots = (Py_ssize_t *)PyMem_Calloc((size_t)keys->mask + 1, sizeof(Py_ssize_t));
    if (keys->list == NULL || keys->slots == NULL) {
        if (keys->slots == NULL) {
            PyErr_NoMemory();
        }
        return -1;
    }
    return 0;
}

static void
keys_free(Keys *keys)
{
    Py_XDECREF(keys->list);
    PyMem_Free(keys->hashes);
    PyMem_Free(keys->slots);
}

static int
key_equals(Keys *keys, Py_ssize_t index, const char *s, Py_ssize_t len)
{
    PyObject *key = PyList_GET_ITEM(keys->list, index);
    return PyBytes_GET_SIZE(key) == len && memcmp(PyBytes_AS_STRING(key), s, (size_t)len) == 0;
}

/* Double the table when it is half full, placing every key again by its hash. */
static int
keys_grow(Keys *keys)
{
    Py_ssize_t mask = keys->mask * 2 + 1, i, at;
    Py_ssize_t *slots = (Py_ssize_t *)PyMem_Calloc((size_t)mask + 1, sizeof(Py_ssize_t));
    if (slots == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (i = 0; i < keys->count; i++) {
        at = (Py_ssize_t)(keys->hashes[i] & (uint64_t)mask);
        while (slots[at] != 0) {
            at = (at + 1) & mask;
        }
        slots[at] = i + 1;
    }
    PyMem_Free(keys->slots);
    keys->slots = slots;
    keys->mask = mask;
    return 0;
}

/* The index of the key s[0:len] among the distinct keys, adding it (one new bytes object) when it is
   new; -1 on error. */
static Py_ssize_t
keys_index(Keys *keys, const char *s, Py_ssize_t len)
{
    uint64_t h = key_hash((const unsigned char *)s, len);
    Py_ssize_t at = (Py_ssize_t)(h & (uint64_t)keys->mask);
    PyObject *key;
    int failed;
    while (keys->slots[at] != 0) {
        if (keys->hashes[keys->slots[at] - 1] == h && key_equals(keys, keys->slots[at] - 1, s, len)) {
            return keys->slots[at] - 1;
        }
        at = (at + 1) & keys->mask;
    }
    if (keys->count == keys->room) {
        Py_ssize_t room = keys->room ? keys->room * 2 : 16;
        uint64_t *hashes = (uint64_t *)PyMem_Realloc(keys->hashes, sizeof(uint64_t) * (size_t)room);
        if (hashes == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        keys->hashes = hashes;
        keys->room = room;
    }
    key = PyBytes_FromStringAndSize(s, len);
    if (key == NULL) {
        return -1;
    }
    failed = PyList_Append(keys->list, key);
    Py_DECREF(key);
    if (failed) {
        return -1;
    }
    keys->hashes[keys->count] = h;
    keys->slots[at] = keys->count + 1;
    keys->count++;
    if (keys->count * 2 > keys->mask && keys_grow(keys) < 0) {
        return -1;
    }
    return keys->count - 1;
}

PyDoc_STRVAR(keys_of_doc,
             "keys_of(data, starts, key_length)\n--\n\n"
             "The distinct record keys in first-met order and each record's key index (native "
             "chunkscan.keys_of).");

static PyObject *
keys_of(PyObject *module, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"data", "starts", "key_length", NULL};
    State *state = state_of(module);
    PyObject *data_obj, *starts_obj, *key_length_obj;
    PyObject *seq = NULL, *key_at = NULL, *of = NULL, *result = NULL;
    Py_buffer view, starts_view, of_view;
    int has_starts_view = 0;
    const unsigned int *packed = NULL;
    const char *d;
    Py_ssize_t n, count, i, last = -1;
    long long key_length = 0;
    int small_length;
    Keys keys;
    U32s indexes = {NULL, 0, 0};

    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOO:keys_of", keywords, &data_obj, &starts_obj,
                                     &key_length_obj)) {
        return NULL;
    }
    if (PyObject_GetBuffer(data_obj, &view, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    if (keys_init(&keys) < 0) {
        goto done;
    }
    d = (const char *)view.buf;
    n = view.len;
    if (u32_view(starts_obj, &starts_view)) {
        has_starts_view = 1;
        packed = (const unsigned int *)starts_view.buf;
        count = starts_view.len / 4;
    }
    else {
        seq = PySequence_Fast(starts_obj, "keys_of: starts must be iterable");
        if (seq == NULL) {
            goto done;
        }
        count = PySequence_Fast_GET_SIZE(seq);
    }
    small_length = small_int(key_length_obj, &key_length);
    for (i = 0; packed != NULL ? i < count : i < PySequence_Fast_GET_SIZE(seq); i++) {
        Py_ssize_t from, len, index;
        long long start = 0;
        if (packed != NULL) {
            start = (long long)packed[i];
        }
        if ((packed != NULL || small_int(PySequence_Fast_GET_ITEM(seq, i), &start)) && small_length) {
            len = clamp_slice(n, start + KEY_AT, start + KEY_AT + key_length, &from);
        }
        else { /* data[p + 24 : p + 24 + key_length] with Python ints */
            PyObject *p;
            int failed;
            if (packed != NULL) {
                p = PyLong_FromUnsignedLong(packed[i]);
                if (p == NULL) {
                    goto done;
                }
            }
            else {
                p = PySequence_Fast_GET_ITEM(seq, i);
                Py_INCREF(p); /* Python code may run in the additions below */
            }
            if (key_at == NULL && (key_at = PyLong_FromLong(KEY_AT)) == NULL) {
                Py_DECREF(p);
                goto done;
            }
            failed = python_slice(p, key_at, key_length_obj, n, &from, &len);
            Py_DECREF(p);
            if (failed) {
                goto done;
            }
        }
        if (len >= 8) {
            uint64_t print = key_print((const unsigned char *)d + from, len);
            int slot = (int)(print >> 58); /* the top 6 bits: one of RECENT slots */
            index = keys.recent_index[slot];
            if (index < 0 || keys.recent_print[slot] != print || !key_equals(&keys, index, d + from, len)) {
                if ((index = keys_index(&keys, d + from, len)) < 0) {
                    goto done;
                }
                keys.recent_print[slot] = print;
                keys.recent_index[slot] = index;
            }
        }
        else if (last >= 0 && key_equals(&keys, last, d + from, len)) {
            index = last; /* records of one template often follow each other */
        }
        else if ((index = keys_index(&keys, d + from, len)) < 0) {
            goto done;
        }
        last = index;
        if (u32s_push(&indexes, (unsigned int)index) < 0) {
            goto done;
        }
    }
    of = new_array(state->unit_u32, indexes.used, &of_view);
    if (of == NULL) {
        goto done;
    }
    if (indexes.used > 0) {
        memcpy(of_view.buf, indexes.items, sizeof(unsigned int) * (size_t)indexes.used);
    }
    PyBuffer_Release(&of_view);
    result = PyTuple_Pack(2, keys.list, of);
done:
    keys_free(&keys);
    Py_XDECREF(of);
    Py_XDECREF(seq);
    Py_XDECREF(key_at);
    PyMem_Free(indexes.items);
    if (has_starts_view) {
        PyBuffer_Release(&starts_view);
    }
    PyBuffer_Release(&view);
    return result;
}

/* ------------------------------------------------------------------------------------------------ hits */

/* ``wanted`` as a lookup table, when it is exactly a set or frozenset of exact bytes: an EventID slice of
   the buffer is at most 2 bytes long, so only members of length 0, 1 and 2 can ever match it (a slice is
   shorter than 2 bytes only at the end of the buffer). */
typedef struct Table {
    int has_empty;
    unsigned char one[256 / 8];
    unsigned char two[65536 / 8];
} Table;

/* 1 when the table holds ``wanted``, 0 when it cannot (then the general path runs), -1 on error. */
static int
table_build(Table *t, PyObject *wanted)
{
    PyObject *iterator, *item;
    if (!PyAnySet_CheckExact(wanted)) {
        return 0;
    }
    memset(t, 0, sizeof(*t));
    iterator = PyObject_GetIter(wanted);
    if (iterator == NULL) {
        return -1;
    }
    while ((item = PyIter_Next(iterator)) != NULL) {
        const unsigned char *s;
        Py_ssize_t len;
        unsigned int index;
        if (!PyBytes_CheckExact(item)) {
            Py_DECREF(item);
            Py_DECREF(iterator);
            return 0;
        }
        s = (const unsigned char *)PyBytes_AS_STRING(item);
        len = PyBytes_GET_SIZE(item);
        if (len == 0) {
            t->has_empty = 1;
        }
        else if (len == 1) {
            t->one[s[0] >> 3] |= (unsigned char)(1u << (s[0] & 7));
        }
        else if (len == 2) {
            index = (unsigned int)s[0] | ((unsigned int)s[1] << 8);
            t->two[index >> 3] |= (unsigned char)(1u << (index & 7));
        }
        Py_DECREF(item);
    }
    Py_DECREF(iterator);
    return PyErr_Occurred() ? -1 : 1;
}

static int
table_has(const Table *t, const unsigned char *s, Py_ssize_t len)
{
    unsigned int index;
    if (len == 0) {
        return t->has_empty;
    }
    if (len == 1) {
        return (t->one[s[0] >> 3] >> (s[0] & 7)) & 1;
    }
    index = (unsigned int)s[0] | ((unsigned int)s[1] << 8);
    return (t->two[index >> 3] >> (index & 7)) & 1;
}

/* Append the record index i to a result list. */
static int
push_index(PyObject *list, Py_ssize_t i)
{
    int failed;
    PyObject *value = PyLong_FromSsize_t(i);
    if (value == NULL) {
        return -1;
    }
    failed = PyList_Append(list, value);
    Py_DECREF(value);
    return failed;
}

/* What zip(starts, sizes, key_of, strict=True) raises once the shortest of the three is done. */
static void
set_zip_error(Py_ssize_t first, Py_ssize_t second, Py_ssize_t third)
{
    Py_ssize_t m = first < second ? first : second;
    m = third < m ? third : m;
    if (first == m) {
        if (second > m) {
            PyErr_SetString(PyExc_ValueError, "zip() argument 2 is longer than argument 1");
        }
        else {
            PyErr_SetString(PyExc_ValueError, "zip() argument 3 is longer than arguments 1-2");
        }
    }
    else if (second == m) {
        PyErr_SetString(PyExc_ValueError, "zip() argument 2 is shorter than argument 1");
    }
    else {
        PyErr_SetString(PyExc_ValueError, "zip() argument 3 is shorter than arguments 1-2");
    }
}

/* The IndexError that ``sequence[k]`` raises (k is past its end). */
static void
set_index_error(PyObject *sequence, Py_ssize_t k)
{
    PyObject *item = PySequence_GetItem(sequence, k);
    if (item != NULL) { /* cannot happen for a list or tuple that short */
        Py_DECREF(item);
        PyErr_SetString(PyExc_IndexError, "index out of range");
    }
}

/* Per key, the last (EventID, provider name) pair looked up in ``rejected`` and the answer: the records
   of one key mostly name the same provider, so the set is asked once per key and name, not per record
   (it cannot change during the call: nothing here runs Python code). */
typedef struct {
    Py_ssize_t id_from, id_len, name_from, name_len;
    int answer; /* -1: nothing looked up yet */
} Memo;

/* The hits of the common case: every argument loaded into C once, then only C arithmetic per record. */
typedef struct {
    Column starts, sizes, key_of, event_id_at, provider_at, provider_size;
} Columns;

static int
fast_hits(const unsigned char *d, Py_ssize_t n, Columns *c, PyObject *per_key[3], const Table *wanted,
          PyObject *rejected, PyObject *found, PyObject *unsure)
{
    Py_ssize_t i, m = c->starts.len;
    int check_rejected = PySet_GET_SIZE(rejected) > 0;
    Memo *memos = NULL;
    int failed = -1;
    if (c->sizes.len < m) {
        m = c->sizes.len;
    }
    if (c->key_of.len < m) {
        m = c->key_of.len;
    }
    for (i = 0; i < m; i++) {
        long long p = column_at(&c->starts, i);
        long long size = column_at(&c->sizes, i);
        long long k = column_at(&c->key_of, i);
        long long at, name_at, name_size;
        Py_ssize_t from, len;
        if (k >= c->event_id_at.len) {
            set_index_error(per_key[0], (Py_ssize_t)k);
            goto done;
        }
        at = column_at(&c->event_id_at, (Py_ssize_t)k);
        if (at < 0 || at + 6 > size) {
            if (push_index(unsure, i) < 0) {
                goto done;
            }
            continue;
        }
        len = clamp_slice(n, p + at, p + at + 2, &from);
        if (!table_has(wanted, d + from, len)) {
            continue;
        }
        if (k >= c->provider_at.len) {
            set_index_error(per_key[1], (Py_ssize_t)k);
            goto done;
        }
        name_at = column_at(&c->provider_at, (Py_ssize_t)k);
        if (name_at >= 0) {
            if (k >= c->provider_size.len) {
                set_index_error(per_key[2], (Py_ssize_t)k);
                goto done;
            }
            name_size = column_at(&c->provider_size, (Py_ssize_t)k);
            if (name_at + name_size + 4 <= size && check_rejected) {
                Py_ssize_t name_from, name_len;
                Memo *memo;
                name_len = clamp_slice(n, p + name_at, p + name_at + name_size, &name_from);
                if (memos == NULL) {
                    Py_ssize_t j;
                    memos = (Memo *)PyMem_Malloc(sizeof(Memo) * (size_t)c->event_id_at.len);
                    if (memos == NULL) {
                        PyErr_NoMemory();
                        goto done;
                    }
                    for (j = 0; j < c->event_id_at.len; j++) {
                        memos[j].answer = -1;
                    }
                }
                memo = &memos[k];
                if (memo->answer < 0 || memo->id_len != len || memo->name_len != name_len ||
                    memcmp(d + memo->id_from, d + from, (size_t)len) != 0 ||
                    memcmp(d + memo->name_from, d + name_from, (size_t)name_len) != 0) {
                    PyObject *pair = PyBytes_FromStringAndSize(NULL, len + name_len);
                    int known;
                    if (pair == NULL) {
                        goto done;
                    }
                    memcpy(PyBytes_AS_STRING(pair), d + from, (size_t)len);
                    memcpy(PyBytes_AS_STRING(pair) + len, d + name_from, (size_t)name_len);
                    known = PySet_Contains(rejected, pair);
                    Py_DECREF(pair);
                    if (known < 0) {
                        goto done;
                    }
                    memo->id_from = from;
                    memo->id_len = len;
                    memo->name_from = name_from;
                    memo->name_len = name_len;
                    memo->answer = known;
                }
                if (memo->answer) {
                    continue;
                }
            }
        }
        if (push_index(found, i) < 0) {
            goto done;
        }
    }
    if (m != c->starts.len || m != c->sizes.len || m != c->key_of.len) {
        set_zip_error(c->starts.len, c->sizes.len, c->key_of.len);
        goto done;
    }
    failed = 0;
done:
    PyMem_Free(memos);
    return failed;
}

/* data[base + first : base + first + extra] from the buffer as bytes, with Python ints. */
static PyObject *
python_bytes(PyObject *base, PyObject *first, PyObject *extra, const char *d, Py_ssize_t n)
{
    Py_ssize_t from, len;
    if (python_slice(base, first, extra, n, &from, &len) < 0) {
        return NULL;
    }
    return PyBytes_FromStringAndSize(d + from, len);
}

/* 1 when ``a op b`` is true, 0 when false, -1 on error; ``a`` a new reference (stolen) or NULL. */
static int
compare(PyObject *a, PyObject *b, int op)
{
    int answer;
    if (a == NULL) {
        return -1;
    }
    answer = PyObject_RichCompareBool(a, b, op);
    Py_DECREF(a);
    return answer;
}

/* The Python loop, step by step with Python objects, for arguments the C tables cannot hold. */
static int
general_hits(State *state, const char *d, Py_ssize_t n, PyObject *const arguments[9], PyObject *found,
             PyObject *unsure)
{
    PyObject *starts = arguments[1], *sizes = arguments[2], *key_of = arguments[3];
    PyObject *event_id_at = arguments[4], *wanted = arguments[5], *provider_at = arguments[6];
    PyObject *provider_size = arguments[7], *rejected = arguments[8];
    PyObject *zipped = NULL, *iterator = NULL, *triple, *zip_args, *zip_kwargs;
    PyObject *zero = NULL, *two = NULL, *four = NULL, *six = NULL;
    Py_ssize_t i = 0;
    int failed = -1;

    zip_args = PyTuple_Pack(3, starts, sizes, key_of);
    zip_kwargs = Py_BuildValue("{s:O}", "strict", Py_True);
    if (zip_args != NULL && zip_kwargs != NULL) {
        zipped = PyObject_Call(state->zip, zip_args, zip_kwargs);
    }
    Py_XDECREF(zip_args);
    Py_XDECREF(zip_kwargs);
    if (zipped == NULL || (iterator = PyObject_GetIter(zipped)) == NULL) {
        goto done;
    }
    zero = PyLong_FromLong(0);
    two = PyLong_FromLong(2);
    four = PyLong_FromLong(4);
    six = PyLong_FromLong(6);
    if (zero == NULL || two == NULL || four == NULL || six == NULL) {
        goto done;
    }
    for (; (triple = PyIter_Next(iterator)) != NULL; i++) {
        PyObject *p = PyTuple_GET_ITEM(triple, 0), *size = PyTuple_GET_ITEM(triple, 1);
        PyObject *k = PyTuple_GET_ITEM(triple, 2);
        PyObject *at, *event_id = NULL, *name_at = NULL, *name_size = NULL, *name, *pair;
        int answer = -1; /* read at next: even when event_id_at[k] fails */
        at = PyObject_GetItem(event_id_at, k);
        if (at == NULL) {
            goto next;
        }
        answer = PyObject_RichCompareBool(at, zero, Py_LT);
        if (answer == 0) {
            answer = compare(PyNumber_Add(at, six), size, Py_GT);
        }
        if (answer != 0) {
            answer = answer < 0 ? -1 : push_index(unsure, i);
            goto next;
        }
        event_id = python_bytes(p, at, two, d, n);
        answer = event_id == NULL ? -1 : PySequence_Contains(wanted, event_id);
        if (answer <= 0) {
            goto next;
        }
        name_at = PyObject_GetItem(provider_at, k);
        answer = name_at == NULL ? -1 : PyObject_RichCompareBool(name_at, zero, Py_GE);
        if (answer > 0) {
            PyObject *end;
            name_size = PyObject_GetItem(provider_size, k);
            end = name_size == NULL ? NULL : PyNumber_Add(name_at, name_size);
            if (end == NULL) {
                answer = -1;
                goto next;
            }
            answer = compare(PyNumber_Add(end, four), size, Py_LE);
            Py_DECREF(end);
            if (answer > 0) {
                answer = PyObject_IsTrue(rejected);
            }
            if (answer > 0) {
                name = python_bytes(p, name_at, name_size, d, n);
                pair = name == NULL ? NULL : PyNumber_Add(event_id, name);
                Py_XDECREF(name);
                answer = pair == NULL ? -1 : PySequence_Contains(rejected, pair);
                Py_XDECREF(pair);
                if (answer != 0) {
                    goto next; /* a pair judged unwanted before, or an error */
                }
            }
        }
        if (answer >= 0) {
            answer = push_index(found, i);
        }
    next:
        Py_XDECREF(at);
        Py_XDECREF(event_id);
        Py_XDECREF(name_at);
        Py_XDECREF(name_size);
        Py_DECREF(triple);
        if (answer < 0 || PyErr_Occurred()) {
            goto done;
        }
    }
    failed = PyErr_Occurred() ? -1 : 0;
done:
    Py_XDECREF(zipped);
    Py_XDECREF(iterator);
    Py_XDECREF(zero);
    Py_XDECREF(two);
    Py_XDECREF(four);
    Py_XDECREF(six);
    return failed;
}

PyDoc_STRVAR(hits_doc,
             "hits(data, starts, sizes, key_of, event_id_at, wanted, provider_at, provider_size, rejected)\n--\n\n"
             "(records whose EventID is wanted, records the keys cannot answer for) (native chunkscan.hits).");

static PyObject *
hits(PyObject *module, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"data",   "starts",      "sizes",         "key_of",   "event_id_at",
                               "wanted", "provider_at", "provider_size", "rejected", NULL};
    State *state = state_of(module);
    PyObject *a[9];
    PyObject *found = NULL, *unsure = NULL, *result = NULL;
    Py_buffer view;
    Columns c;
    Column *columns[6];
    static const int where[6] = {1, 2, 3, 4, 6, 7}; /* the argument of each column */
    const Table *table = NULL;
    Table *own_table = NULL;
    int k, fast = 1, loaded = 0, failed;

    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOOOOOOOO:hits", keywords, &a[0], &a[1], &a[2], &a[3], &a[4],
                                     &a[5], &a[6], &a[7], &a[8])) {
        return NULL;
    }
    if (PyObject_GetBuffer(a[0], &view, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    memset(&c, 0, sizeof(c));
    columns[0] = &c.starts;
    columns[1] = &c.sizes;
    columns[2] = &c.key_of;
    columns[3] = &c.event_id_at;
    columns[4] = &c.provider_at;
    columns[5] = &c.provider_size;
    found = PyList_New(0);
    unsure = PyList_New(0);
    if (found == NULL || unsure == NULL) {
        goto done;
    }
    /* The fast path needs every argument in C: columns of exact ints (key indexes not negative), the
       per-key sequences as lists or tuples, wanted a set of bytes, rejected a set. */
    fast = PyAnySet_CheckExact(a[8]);
    for (k = 0; fast && k < 6; k++) {
        PyObject *column = a[where[k]];
        if (k >= 3 && !PyList_CheckExact(column) && !PyTuple_CheckExact(column)) {
            fast = 0;
            break;
        }
        fast = column_load(columns[k], column, k == 2 ? 0 : -SMALL);
        if (fast < 0) {
            goto done;
        }
        loaded = k + 1;
    }
    if (fast && a[5] == state->wanted) {
        table = state->table; /* the frozenset of the previous call: its table is ready */
    }
    else if (fast && PyFrozenSet_CheckExact(a[5])) {
        Py_CLEAR(state->wanted); /* its table is overwritten now */
        fast = table_build(state->table, a[5]);
        if (fast > 0) {
            table = state->table;
            Py_INCREF(a[5]);
            state->wanted = a[5];
        }
    }
    else if (fast) {
        table = own_table = (Table *)PyMem_Malloc(sizeof(Table));
        fast = table == NULL ? -1 : table_build(own_table, a[5]);
        if (table == NULL) {
            PyErr_NoMemory();
        }
    }
    if (fast < 0) {
        goto done;
    }
    if (fast) {
        PyObject *per_key[3];
        per_key[0] = a[4];
        per_key[1] = a[6];
        per_key[2] = a[7];
        failed = fast_hits((const unsigned char *)view.buf, view.len, &c, per_key, table, a[8], found, unsure);
    }
    else {
        failed = general_hits(state, (const char *)view.buf, view.len, a, found, unsure);
    }
    if (!failed) {
        result = PyTuple_Pack(2, found, unsure);
    }
done:
    for (k = 0; k < loaded; k++) {
        column_release(columns[k]);
    }
    Py_XDECREF(found);
    Py_XDECREF(unsure);
    PyMem_Free(own_table);
    PyBuffer_Release(&view);
    return result;
}

/* ---------------------------------------------------------------------------------------------- module */

static PyMethodDef chunkscan_methods[] = {
    {"scan", (PyCFunction)(void (*)(void))scan, METH_VARARGS | METH_KEYWORDS, scan_doc},
    {"keys_of", (PyCFunction)(void (*)(void))keys_of, METH_VARARGS | METH_KEYWORDS, keys_of_doc},
    {"hits", (PyCFunction)(void (*)(void))hits, METH_VARARGS | METH_KEYWORDS, hits_doc},
    {NULL, NULL, 0, NULL},
};

/* A one-element packed array of ``typecode`` whose items take ``size`` bytes, or NULL (ImportError when
   this platform's C types do not match, then the Python functions are used). */
static PyObject *
unit_array(PyObject *array_type, const char *typecode, Py_ssize_t size)
{
    PyObject *unit = PyObject_CallFunction(array_type, "s[i]", typecode, 0);
    PyObject *itemsize;
    Py_ssize_t got;
    if (unit == NULL) {
        return NULL;
    }
    itemsize = PyObject_GetAttrString(unit, "itemsize");
    got = itemsize == NULL ? -1 : PyLong_AsSsize_t(itemsize);
    Py_XDECREF(itemsize);
    if (got != size) {
        Py_DECREF(unit);
        if (!PyErr_Occurred()) {
            PyErr_Format(PyExc_ImportError, "array typecode %s holds %zd bytes here, not %zd", typecode, got, size);
        }
        return NULL;
    }
    return unit;
}

static int
chunkscan_exec(PyObject *module)
{
    State *state = state_of(module);
    PyObject *array_module, *array_type, *struct_module, *builtins;
    if (sizeof(unsigned int) != 4 || sizeof(unsigned long long) != 8) {
        PyErr_SetString(PyExc_ImportError, "unsigned int must take 4 bytes and unsigned long long 8");
        return -1;
    }
    array_module = PyImport_ImportModule("array");
    if (array_module == NULL) {
        return -1;
    }
    array_type = PyObject_GetAttrString(array_module, "array");
    Py_DECREF(array_module);
    if (array_type == NULL) {
        return -1;
    }
    state->unit_u32 = unit_array(array_type, "I", 4);
    state->unit_u64 = state->unit_u32 == NULL ? NULL : unit_array(array_type, "Q", 8);
    Py_DECREF(array_type);
    if (state->unit_u64 == NULL) {
        return -1;
    }
    struct_module = PyImport_ImportModule("struct");
    if (struct_module == NULL) {
        return -1;
    }
    state->struct_error = PyObject_GetAttrString(struct_module, "error");
    Py_DECREF(struct_module);
    if (state->struct_error == NULL) {
        return -1;
    }
    builtins = PyEval_GetBuiltins(); /* borrowed */
    state->zip = builtins == NULL ? NULL : PyDict_GetItemString(builtins, "zip");
    if (state->zip == NULL) {
        PyErr_SetString(PyExc_ImportError, "builtins.zip is missing");
        return -1;
    }
    Py_INCREF(state->zip);
    state->table = (Table *)PyMem_Malloc(sizeof(Table));
    if (state->table == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

static int
chunkscan_traverse(PyObject *module, visitproc visit, void *arg)
{
    State *state = state_of(module);
    if (state != NULL) {
        Py_VISIT(state->unit_u32);
        Py_VISIT(state->unit_u64);
        Py_VISIT(state->struct_error);
        Py_VISIT(state->zip);
        Py_VISIT(state->wanted);
    }
    return 0;
}

static int
chunkscan_clear(PyObject *module)
{
    State *state = state_of(module);
    if (state != NULL) {
        Py_CLEAR(state->unit_u32);
        Py_CLEAR(state->unit_u64);
        Py_CLEAR(state->struct_error);
        Py_CLEAR(state->zip);
        Py_CLEAR(state->wanted);
    }
    return 0;
}

static void
chunkscan_free(void *module)
{
    State *state = state_of((PyObject *)module);
    chunkscan_clear((PyObject *)module);
    if (state != NULL) {
        PyMem_Free(state->table);
        state->table = NULL;
    }
}

static PyModuleDef_Slot chunkscan_slots[] = {
    {Py_mod_exec, chunkscan_exec},
    {0, NULL},
};

PyDoc_STRVAR(chunkscan_doc, "Native translation of analyzer.readers.chunkscan (scan, keys_of, hits).");

static struct PyModuleDef chunkscan_module = {
    PyModuleDef_HEAD_INIT, "_chunkscan", chunkscan_doc, sizeof(State), chunkscan_methods, chunkscan_slots,
    chunkscan_traverse, chunkscan_clear, chunkscan_free,
};

PyMODINIT_FUNC
PyInit__chunkscan(void)
{
    return PyModuleDef_Init(&chunkscan_module);
}
