/*
 * analyzer.readers._chunkscan: the native translation of analyzer/readers/chunkscan.py.
 *
 * The three functions run once per record of every .evtx chunk; in Python each record costs a few hundred
 * nanoseconds of interpreter work, here a few.  The Python module is the contract: every function below
 * answers exactly what its Python twin answers (same values, same types for bytes input, same exceptions),
 * and the tests compare both on real, generated and fuzzed chunks.  One difference cannot be seen through
 * values: record_keys returns the same bytes object again for equal keys close together (see Recent).
 * Any bytes-like object is accepted as data (the Python functions need bytes for pick); keys come back as
 * bytes whatever the data type.
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
#include <string.h>

#define CHUNK_HEADER_SIZE 512
#define CHUNK_SIZE 65536
#define RECORD_HEADER_SIZE 24
#define SIZE_COPY 4
#define KEY_AT RECORD_HEADER_SIZE

/* Integers within +-SMALL are summed (three at most) in Py_ssize_t without overflow; any other value goes
   through Python int arithmetic, so huge or negative starts behave exactly as in Python. */
#define SMALL (PY_SSIZE_T_MAX / 4)

static const unsigned char RECORD_MAGIC[4] = {0x2a, 0x2a, 0x00, 0x00};

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
set_struct_error(Py_ssize_t need, Py_ssize_t offset, Py_ssize_t have)
{
    PyObject *module = PyImport_ImportModule("struct");
    PyObject *error;
    if (module == NULL) {
        return;
    }
    error = PyObject_GetAttrString(module, "error");
    Py_DECREF(module);
    if (error == NULL) {
        return;
    }
    PyErr_Format(error,
                 "unpack_from requires a buffer of at least %zd bytes for unpacking %zd bytes at offset %zd "
                 "(actual buffer size is %zd)",
                 offset + need, need, offset, have);
    Py_DECREF(error);
}

/* A small exact int as a Py_ssize_t within +-SMALL: 1, or 0 when the value must take the Python way. */
static int
small_int(PyObject *obj, Py_ssize_t *out)
{
    int overflow = 0;
    long long value;
    if (!PyLong_CheckExact(obj)) {
        return 0;
    }
    value = PyLong_AsLongLongAndOverflow(obj, &overflow);
    if (overflow != 0 || value < -(long long)SMALL || value > (long long)SMALL) {
        return 0; /* cannot fail for an exact int: no error is set when it does not fit */
    }
    *out = (Py_ssize_t)value;
    return 1;
}

/* One bound of a slice, as Python's slicing reads it: None means the default, an object with __index__
   is clipped to the Py_ssize_t range, anything else is a TypeError.  Returns -1 on error. */
static int
slice_bound(PyObject *obj, Py_ssize_t when_none, Py_ssize_t *out)
{
    Py_ssize_t value;
    if (obj == Py_None) {
        *out = when_none;
        return 0;
    }
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

/* Python's clamping of data[a:b] (step 1) over a buffer of n bytes; the slice is [*a, *a + return). */
static Py_ssize_t
clamp_slice(Py_ssize_t n, Py_ssize_t *a, Py_ssize_t *b)
{
    if (*a < 0) {
        *a += n;
        if (*a < 0) {
            *a = 0;
        }
    }
    else if (*a > n) {
        *a = n;
    }
    if (*b < 0) {
        *b += n;
        if (*b < 0) {
            *b = 0;
        }
    }
    else if (*b > n) {
        *b = n;
    }
    return *b > *a ? *b - *a : 0;
}

/* data[(base + first) : (base + first) + extra] computed with Python ints (the general case), clamped
   to the buffer of n bytes.  ``extra`` is a Python object so that any int, however large, takes part. */
static int
python_slice(PyObject *base, PyObject *first, PyObject *extra, Py_ssize_t n, Py_ssize_t *a, Py_ssize_t *len)
{
    Py_ssize_t b;
    PyObject *start = PyNumber_Add(base, first);
    PyObject *stop;
    if (start == NULL) {
        return -1;
    }
    stop = PyNumber_Add(start, extra);
    if (stop == NULL || slice_bound(start, 0, a) < 0 || slice_bound(stop, n, &b) < 0) {
        Py_DECREF(start);
        Py_XDECREF(stop);
        return -1;
    }
    Py_DECREF(start);
    Py_DECREF(stop);
    *len = clamp_slice(n, a, &b);
    return 0;
}

/* Item i of a list or tuple from PySequence_Fast, as a new reference; NULL once the sequence is shorter
   (a list can change while Python code runs, as a Python loop over it would see). */
static PyObject *
item_at(PyObject *seq, Py_ssize_t i)
{
    PyObject *item;
    if (i >= PySequence_Fast_GET_SIZE(seq)) {
        return NULL;
    }
    item = PySequence_Fast_GET_ITEM(seq, i);
    Py_INCREF(item);
    return item;
}

/* A result list filled in order: preallocated for the expected count, appended to past it. */
typedef struct {
    PyObject *list;
    Py_ssize_t used;
} Builder;

static int
builder_init(Builder *b, Py_ssize_t expected)
{
    b->used = 0;
    b->list = PyList_New(expected);
    return b->list == NULL ? -1 : 0;
}

/* Append ``item`` (a new reference, stolen; NULL means a failure already raised). */
static int
builder_push(Builder *b, PyObject *item)
{
    int failed;
    if (item == NULL) {
        return -1;
    }
    if (b->used < PyList_GET_SIZE(b->list)) {
        PyList_SET_ITEM(b->list, b->used, item);
        b->used++;
        return 0;
    }
    failed = PyList_Append(b->list, item);
    Py_DECREF(item);
    if (failed) {
        return -1;
    }
    b->used++;
    return 0;
}

static PyObject *
builder_finish(Builder *b)
{
    PyObject *done;
    if (b->used == PyList_GET_SIZE(b->list)) {
        return b->list;
    }
    done = PyList_GetSlice(b->list, 0, b->used); /* fewer items came than expected */
    Py_DECREF(b->list);
    return done;
}

/* ------------------------------------------------------------------------------------------------ walk */

/* free and length as the walk compares them: ints clipped well inside the Py_ssize_t range (any value
   beyond behaves the same, since offsets never pass the buffer length). */
static int
walk_bound(PyObject *obj, long long *out)
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

PyDoc_STRVAR(walk_doc,
             "walk(data, free, length)\n--\n\n"
             "The records of a chunk whose walk raises no doubt, or None (native chunkscan.walk).");

static PyObject *
walk(PyObject *self, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"data", "free", "length", NULL};
    PyObject *data_obj, *free_obj, *length_obj;
    PyObject *lists[4] = {NULL, NULL, NULL, NULL};
    PyObject *result = NULL;
    Py_buffer view;
    const unsigned char *d;
    long long n, free_at, length, pos, last, end, i;
    unsigned long size;
    Py_ssize_t count = 0, k;
    int doubt = 0;

    (void)self;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOO:walk", keywords, &data_obj, &free_obj, &length_obj)) {
        return NULL;
    }
    if (PyObject_GetBuffer(data_obj, &view, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    if (walk_bound(free_obj, &free_at) < 0 || walk_bound(length_obj, &length) < 0) {
        PyBuffer_Release(&view);
        return NULL;
    }
    d = (const unsigned char *)view.buf;
    n = (long long)view.len;

    /* First pass: the checks of the Python walk, in its order, counting the records. */
    pos = CHUNK_HEADER_SIZE;
    last = free_at - RECORD_HEADER_SIZE - SIZE_COPY;
    while (pos <= last) {
        if (pos + RECORD_HEADER_SIZE > n) {
            set_struct_error(RECORD_HEADER_SIZE, (Py_ssize_t)pos, (Py_ssize_t)n);
            PyBuffer_Release(&view);
            return NULL;
        }
        if (memcmp(d + pos, RECORD_MAGIC, 4) != 0) {
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
            set_struct_error(SIZE_COPY, (Py_ssize_t)(end - SIZE_COPY), (Py_ssize_t)n);
            PyBuffer_Release(&view);
            return NULL;
        }
        if (u32_at(d + end - SIZE_COPY) != size) {
            doubt = 1;
            break;
        }
        count++;
        pos = end;
    }
    if (doubt) {
        PyBuffer_Release(&view);
        Py_RETURN_NONE;
    }

    /* Second pass: the same records, known sound now, into four lists. */
    for (k = 0; k < 4; k++) {
        lists[k] = PyList_New(count);
        if (lists[k] == NULL) {
            goto done;
        }
    }
    pos = CHUNK_HEADER_SIZE;
    for (k = 0; k < count; k++) {
        PyObject *values[4];
        int j;
        size = u32_at(d + pos + 4);
        values[0] = PyLong_FromLongLong(pos);
        values[1] = PyLong_FromUnsignedLong(size);
        values[2] = PyLong_FromUnsignedLongLong(u64_at(d + pos + 8));
        values[3] = PyLong_FromUnsignedLongLong(u64_at(d + pos + 16));
        for (j = 0; j < 4; j++) {
            if (values[j] == NULL) {
                for (j = 0; j < 4; j++) {
                    Py_XDECREF(values[j]);
                }
                goto done;
            }
        }
        for (j = 0; j < 4; j++) {
            PyList_SET_ITEM(lists[j], k, values[j]);
        }
        pos += (long long)size;
    }
    result = PyTuple_Pack(4, lists[0], lists[1], lists[2], lists[3]);
done:
    for (k = 0; k < 4; k++) {
        Py_XDECREF(lists[k]);
    }
    PyBuffer_Release(&view);
    return result;
}

/* ----------------------------------------------------------------------------------------- record_keys */

PyDoc_STRVAR(record_keys_doc,
             "record_keys(data, starts, key_length)\n--\n\n"
             "Each record's key: the key_length chunk bytes from its template instance on (native "
             "chunkscan.record_keys).");

/* Keys recently made in one call: a chunk's records share a few templates, so most keys are equal to one
   made a few records before, and that same (immutable) bytes object is returned again.  Equal values as
   Python gives them, fewer allocations, and ``pick`` finds the shared key's hash already computed. */
#define RECENT_KEYS 8

typedef struct {
    PyObject *keys[RECENT_KEYS]; /* borrowed: each is held by the result list */
    int next;
} Recent;

/* The bytes d[a : a + len] as a new reference: a recent equal key again, or a new bytes object. */
static PyObject *
recent_key(Recent *recent, const char *d, Py_ssize_t a, Py_ssize_t len)
{
    PyObject *key;
    int j;
    for (j = 0; j < RECENT_KEYS; j++) {
        key = recent->keys[j];
        if (key != NULL && PyBytes_GET_SIZE(key) == len && memcmp(PyBytes_AS_STRING(key), d + a, (size_t)len) == 0) {
            Py_INCREF(key);
            return key;
        }
    }
    key = PyBytes_FromStringAndSize(d + a, len);
    if (key != NULL) {
        recent->keys[recent->next] = key;
        recent->next = (recent->next + 1) % RECENT_KEYS;
    }
    return key;
}

static PyObject *
record_keys(PyObject *self, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"data", "starts", "key_length", NULL};
    PyObject *data_obj, *starts_obj, *key_length_obj;
    PyObject *starts = NULL, *key_at = NULL, *result = NULL;
    Py_buffer view;
    const char *d;
    Py_ssize_t n, key_length = 0, i;
    int small_length;
    Builder out = {NULL, 0};
    Recent recent;

    (void)self;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOO:record_keys", keywords, &data_obj, &starts_obj,
                                     &key_length_obj)) {
        return NULL;
    }
    if (PyObject_GetBuffer(data_obj, &view, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    d = (const char *)view.buf;
    n = view.len;
    starts = PySequence_Fast(starts_obj, "record_keys: starts must be iterable");
    if (starts == NULL || builder_init(&out, PySequence_Fast_GET_SIZE(starts)) < 0) {
        goto done;
    }
    small_length = small_int(key_length_obj, &key_length);
    memset(&recent, 0, sizeof(recent));
    for (i = 0;; i++) {
        PyObject *p = item_at(starts, i);
        Py_ssize_t a, b, len, start;
        if (p == NULL) {
            break;
        }
        if (small_length && small_int(p, &start)) {
            a = start + KEY_AT;
            b = a + key_length;
            len = clamp_slice(n, &a, &b);
        }
        else {
            if (key_at == NULL && (key_at = PyLong_FromLong(KEY_AT)) == NULL) {
                Py_DECREF(p);
                goto done;
            }
            if (python_slice(p, key_at, key_length_obj, n, &a, &len) < 0) {
                Py_DECREF(p);
                goto done;
            }
        }
        Py_DECREF(p);
        if (builder_push(&out, recent_key(&recent, d, a, len)) < 0) {
            goto done;
        }
    }
    result = builder_finish(&out);
    out.list = NULL;
done:
    Py_XDECREF(out.list);
    Py_XDECREF(starts);
    Py_XDECREF(key_at);
    PyBuffer_Release(&view);
    return result;
}

/* ------------------------------------------------------------------------------------------------ pick */

/* ``wanted`` as a lookup table, when it is exactly a set or frozenset of exact bytes: a slice of the
   buffer is at most 2 bytes long, so only members of length 0, 1 and 2 can ever match it. */
typedef struct {
    int has_empty;
    unsigned char one[256 / 8];
    unsigned char two[65536 / 8];
} Table;

/* 1 when the table holds ``wanted``, 0 when it cannot (then Python's membership test is used), -1 on
   error. */
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

/* event_id_at[key], a new reference; KeyError (as a dict raises it) when the key is missing. */
static PyObject *
offset_of(PyObject *event_id_at, PyObject *key)
{
    PyObject *at;
    if (!PyDict_CheckExact(event_id_at)) {
        return PyObject_GetItem(event_id_at, key);
    }
    at = PyDict_GetItemWithError(event_id_at, key);
    if (at == NULL) {
        if (!PyErr_Occurred()) {
            PyObject *args = PyTuple_Pack(1, key);
            if (args != NULL) {
                PyErr_SetObject(PyExc_KeyError, args);
                Py_DECREF(args);
            }
        }
        return NULL;
    }
    Py_INCREF(at);
    return at;
}

/* Whether record start ``p`` with EventID offset ``at`` is wanted: 1, 0, or -1 on error. */
static int
one_pick(PyObject *p, PyObject *at, const Table *table, PyObject *wanted, const char *d, Py_ssize_t n,
         PyObject **two)
{
    Py_ssize_t start, offset, a, b, len;
    int overflow = 0;
    long long value;
    PyObject *slice;
    int found;

    if (PyLong_CheckExact(at)) {
        value = PyLong_AsLongLongAndOverflow(at, &overflow);
        if (overflow < 0 || (overflow == 0 && value < 0)) {
            return 0;
        }
        if (overflow == 0 && value <= (long long)SMALL && small_int(p, &start)) {
            offset = (Py_ssize_t)value;
            a = start + offset;
            b = a + 2;
            len = clamp_slice(n, &a, &b);
            goto sliced;
        }
    }
    else {
        PyObject *zero = PyLong_FromLong(0);
        int negative;
        if (zero == NULL) {
            return -1;
        }
        negative = PyObject_RichCompareBool(at, zero, Py_LT);
        Py_DECREF(zero);
        if (negative != 0) {
            return negative > 0 ? 0 : -1;
        }
    }
    if (*two == NULL && (*two = PyLong_FromLong(2)) == NULL) {
        return -1;
    }
    if (python_slice(p, at, *two, n, &a, &len) < 0) {
        return -1;
    }
sliced:
    if (table != NULL) {
        return table_has(table, (const unsigned char *)d + a, len);
    }
    slice = PyBytes_FromStringAndSize(d + a, len);
    if (slice == NULL) {
        return -1;
    }
    found = PySequence_Contains(wanted, slice);
    Py_DECREF(slice);
    return found;
}

PyDoc_STRVAR(pick_doc,
             "pick(data, starts, keys, event_id_at, wanted)\n--\n\n"
             "Per record: whether the two bytes at its key's EventID offset are one of wanted (native "
             "chunkscan.pick).");

static PyObject *
pick(PyObject *self, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"data", "starts", "keys", "event_id_at", "wanted", NULL};
    PyObject *data_obj, *starts_obj, *keys_obj, *event_id_at, *wanted;
    PyObject *starts = NULL, *keys = NULL, *two = NULL, *result = NULL;
    Py_buffer view;
    Table *table = NULL;
    Py_ssize_t i, expected;
    int usable;
    Builder out = {NULL, 0};

    (void)self;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOOOO:pick", keywords, &data_obj, &starts_obj, &keys_obj,
                                     &event_id_at, &wanted)) {
        return NULL;
    }
    if (PyObject_GetBuffer(data_obj, &view, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    starts = PySequence_Fast(starts_obj, "pick: starts must be iterable");
    if (starts == NULL) {
        goto done;
    }
    keys = PySequence_Fast(keys_obj, "pick: keys must be iterable");
    if (keys == NULL) {
        goto done;
    }
    table = (Table *)PyMem_Malloc(sizeof(Table));
    if (table == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    usable = table_build(table, wanted);
    if (usable < 0) {
        goto done;
    }
    if (usable == 0) {
        PyMem_Free(table);
        table = NULL;
    }
    expected = PySequence_Fast_GET_SIZE(starts);
    if (PySequence_Fast_GET_SIZE(keys) < expected) {
        expected = PySequence_Fast_GET_SIZE(keys);
    }
    if (builder_init(&out, expected) < 0) {
        goto done;
    }
    for (i = 0;; i++) {
        PyObject *p, *key, *at;
        int found;
        /* zip(starts, keys, strict=True): the first that runs out must be the other's end too. */
        p = item_at(starts, i);
        if (p == NULL) {
            if (i < PySequence_Fast_GET_SIZE(keys)) {
                PyErr_SetString(PyExc_ValueError, "zip() argument 2 is longer than argument 1");
                goto done;
            }
            break;
        }
        key = item_at(keys, i);
        if (key == NULL) {
            Py_DECREF(p);
            PyErr_SetString(PyExc_ValueError, "zip() argument 2 is shorter than argument 1");
            goto done;
        }
        at = offset_of(event_id_at, key);
        Py_DECREF(key);
        if (at == NULL) {
            Py_DECREF(p);
            goto done;
        }
        found = one_pick(p, at, table, wanted, (const char *)view.buf, view.len, &two);
        Py_DECREF(at);
        Py_DECREF(p);
        if (found < 0) {
            goto done;
        }
        if (builder_push(&out, PyBool_FromLong(found)) < 0) {
            goto done;
        }
    }
    result = builder_finish(&out);
    out.list = NULL;
done:
    Py_XDECREF(out.list);
    Py_XDECREF(starts);
    Py_XDECREF(keys);
    Py_XDECREF(two);
    PyMem_Free(table);
    PyBuffer_Release(&view);
    return result;
}

/* ---------------------------------------------------------------------------------------------- module */

static PyMethodDef chunkscan_methods[] = {
    {"walk", (PyCFunction)(void (*)(void))walk, METH_VARARGS | METH_KEYWORDS, walk_doc},
    {"record_keys", (PyCFunction)(void (*)(void))record_keys, METH_VARARGS | METH_KEYWORDS, record_keys_doc},
    {"pick", (PyCFunction)(void (*)(void))pick, METH_VARARGS | METH_KEYWORDS, pick_doc},
    {NULL, NULL, 0, NULL},
};

static PyModuleDef_Slot chunkscan_slots[] = {
    {0, NULL},
};

PyDoc_STRVAR(chunkscan_doc, "Native translation of analyzer.readers.chunkscan (walk, record_keys, pick).");

static struct PyModuleDef chunkscan_module = {
    PyModuleDef_HEAD_INIT, "_chunkscan", chunkscan_doc, 0, chunkscan_methods, chunkscan_slots, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__chunkscan(void)
{
    return PyModuleDef_Init(&chunkscan_module);
}
