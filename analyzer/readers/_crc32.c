/*
 * analyzer.readers._crc32: the CRC-32 of zlib.crc32 (reflected polynomial 0xEDB88320, the checksum that
 * .evtx chunk headers store), computed with carry-less multiplication where the CPU has it.
 *
 * Why: the .evtx reader checks two CRC-32s over every 64 KiB chunk, which is every byte of the log.  The
 * zlib shipped with CPython does ~1.6 GB/s here, so on an 81 MB log the checks cost ~50 ms, more than a
 * tenth of the whole diagnosis.  Folding 64 bytes at a time with PCLMULQDQ (the method Intel published
 * in "Fast CRC Computation for Generic Polynomials Using PCLMULQDQ Instruction", 2009) does the same sum
 * at several times that speed.
 *
 * crc32(data, value=0) answers exactly what zlib.crc32(data, value) answers, for any bytes-like object
 * and any start value; the tests compare both on every length up to a few KiB, at every alignment, and on
 * real chunks.  ACCELERATED tells whether this CPU takes the folding path; without it (another
 * architecture, an x86-64 CPU without PCLMULQDQ) the caller keeps zlib.crc32, which is then faster than
 * this module's byte-wise table.
 *
 * Plain C99 plus the SSE2/PCLMULQDQ intrinsics that GCC, Clang and MSVC all provide.  The input is only
 * read, within the length the buffer protocol gives.  Like zlib.crc32, a call on 5 KiB or more lets other
 * threads run meanwhile: holding the lock through every chunk of a big log starved a background hash of the
 * same case (measured: +60 ms wall on an 81 MB diagnose with the hash on a second core).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) || defined(_M_X64)
#define CRC_X86 1
#include <emmintrin.h>
#include <wmmintrin.h>
#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>
#define CRC_TARGET
#else
#include <cpuid.h>
#define CRC_TARGET __attribute__((target("sse2,pclmul")))
#endif
#else
#define CRC_X86 0
#endif

static uint32_t table[256];
static int accelerated;

static void
make_table(void)
{
    uint32_t n, bit, c;
    for (n = 0; n < 256; n++) {
        c = n;
        for (bit = 0; bit < 8; bit++) {
            c = (c & 1) ? (c >> 1) ^ 0xEDB88320UL : c >> 1;
        }
        table[n] = c;
    }
}

/* The running (inverted) state ``crc`` advanced over ``len`` bytes, one byte at a time. */
static uint32_t
bytewise(uint32_t crc, const unsigned char *p, size_t len)
{
    while (len--) {
        crc = table[(crc ^ *p++) & 0xFF] ^ (crc >> 8);
    }
    return crc;
}

#if CRC_X86
/* Folding constants for the reflected polynomial: x^(k) mod P(x), bit-reflected, for the distances the
   loop folds over (4 x 128 bits, then 128 bits), the 64->32 bit step, and the Barrett reduction (P and
   floor(x^64 / P), both bit-reflected).  They are properties of the polynomial, not tunables. */
#define K_512_LO 0x154442bd4ULL
#define K_512_HI 0x1c6e41596ULL
#define K_128_LO 0x1751997d0ULL
#define K_128_HI 0x0ccaa009eULL
#define K_64 0x163cd6124ULL
#define P_REFLECTED 0x1db710641ULL
#define MU_REFLECTED 0x1f7011641ULL

/* ``x`` carried 128 bits further along the message (by ``k``) and added to the next 16 bytes ``next``. */
static CRC_TARGET __m128i
fold(__m128i x, __m128i k, __m128i next)
{
    __m128i lo = _mm_clmulepi64_si128(x, k, 0x00); /* x.low  * k.low  */
    __m128i hi = _mm_clmulepi64_si128(x, k, 0x11); /* x.high * k.high */
    return _mm_xor_si128(_mm_xor_si128(lo, hi), next);
}

/* The running state advanced over ``len`` bytes; ``len`` is a multiple of 16 and at least 64. */
static CRC_TARGET uint32_t
folded(uint32_t crc, const unsigned char *p, size_t len)
{
    const __m128i k512 = _mm_set_epi64x((long long)K_512_HI, (long long)K_512_LO);
    const __m128i k128 = _mm_set_epi64x((long long)K_128_HI, (long long)K_128_LO);
    const __m128i k64 = _mm_set_epi64x(0, (long long)K_64);
    const __m128i barrett = _mm_set_epi64x((long long)MU_REFLECTED, (long long)P_REFLECTED);
    const __m128i low32 = _mm_set_epi32(0, 0, 0, -1);
    __m128i x0, x1, x2, x3, x, t;

    x0 = _mm_xor_si128(_mm_loadu_si128((const __m128i *)p), _mm_cvtsi32_si128((int)crc));
    x1 = _mm_loadu_si128((const __m128i *)(p + 16));
    x2 = _mm_loadu_si128((const __m128i *)(p + 32));
    x3 = _mm_loadu_si128((const __m128i *)(p + 48));
    p += 64;
    len -= 64;
    while (len >= 64) { /* four lanes, each carried 512 bits */
        x0 = fold(x0, k512, _mm_loadu_si128((const __m128i *)p));
        x1 = fold(x1, k512, _mm_loadu_si128((const __m128i *)(p + 16)));
        x2 = fold(x2, k512, _mm_loadu_si128((const __m128i *)(p + 32)));
        x3 = fold(x3, k512, _mm_loadu_si128((const __m128i *)(p + 48)));
        p += 64;
        len -= 64;
    }
    x = fold(x0, k128, x1); /* the lanes folded into one */
    x = fold(x, k128, x2);
    x = fold(x, k128, x3);
    while (len >= 16) {
        x = fold(x, k128, _mm_loadu_si128((const __m128i *)p));
        p += 16;
        len -= 16;
    }
    /* 128 -> 64 bits: the low half carried 64 bits, added to the high half. */
    t = _mm_clmulepi64_si128(x, k128, 0x10); /* x.low * k128.high */
    x = _mm_xor_si128(t, _mm_srli_si128(x, 8));
    /* 64 -> 32 bits. */
    t = _mm_clmulepi64_si128(_mm_and_si128(x, low32), k64, 0x00);
    x = _mm_xor_si128(t, _mm_srli_si128(x, 4));
    /* Barrett reduction modulo P. */
    t = _mm_clmulepi64_si128(_mm_and_si128(x, low32), barrett, 0x10); /* * mu */
    t = _mm_clmulepi64_si128(_mm_and_si128(t, low32), barrett, 0x00); /* * P */
    x = _mm_xor_si128(x, t);
    return (uint32_t)_mm_cvtsi128_si32(_mm_srli_si128(x, 4));
}

static int
cpu_has_pclmul(void)
{
#if defined(_MSC_VER) && !defined(__clang__)
    int info[4];
    __cpuid(info, 1);
    return (info[2] & (1 << 1)) != 0 && (info[3] & (1 << 26)) != 0; /* PCLMULQDQ, SSE2 */
#else /* GCC and Clang: cpuid.h needs no runtime support library (unlike __builtin_cpu_supports) */
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) {
        return 0;
    }
    return (ecx & bit_PCLMUL) != 0 && (edx & bit_SSE2) != 0;
#endif
}
#endif

static uint32_t
crc32_update(uint32_t value, const unsigned char *p, size_t len)
{
    uint32_t crc = ~value;
#if CRC_X86
    if (accelerated && len >= 64) {
        size_t whole = len & ~(size_t)15;
        crc = folded(crc, p, whole);
        p += whole;
        len -= whole;
    }
#endif
    return ~bytewise(crc, p, len);
}

PyDoc_STRVAR(crc32_doc, "crc32(data, value=0, /)\n--\n\n"
                        "The CRC-32 of data, continuing from value: the same number as zlib.crc32(data, value).");

static PyObject *
crc32(PyObject *module, PyObject *args)
{
    Py_buffer data;
    unsigned int value = 0;
    uint32_t result;
    (void)module;
    if (!PyArg_ParseTuple(args, "y*|I:crc32", &data, &value)) {
        return NULL;
    }
    if (data.len >= 5 * 1024) { /* as zlib.crc32 does: other threads (a background hash) run meanwhile */
        Py_BEGIN_ALLOW_THREADS
        result = crc32_update((uint32_t)value, (const unsigned char *)data.buf, (size_t)data.len);
        Py_END_ALLOW_THREADS
    } else {
        result = crc32_update((uint32_t)value, (const unsigned char *)data.buf, (size_t)data.len);
    }
    PyBuffer_Release(&data);
    return PyLong_FromUnsignedLong((unsigned long)result);
}

static PyMethodDef crc32_methods[] = {
    {"crc32", crc32, METH_VARARGS, crc32_doc},
    {NULL, NULL, 0, NULL},
};

static int
crc32_exec(PyObject *module)
{
    make_table();
#if CRC_X86
    accelerated = cpu_has_pclmul();
#else
    accelerated = 0;
#endif
    return PyModule_AddIntConstant(module, "ACCELERATED", accelerated);
}

static PyModuleDef_Slot crc32_slots[] = {
    {Py_mod_exec, crc32_exec},
    {0, NULL},
};

PyDoc_STRVAR(module_doc, "CRC-32 as zlib.crc32 computes it, folded with carry-less multiplication where the CPU has it.");

static struct PyModuleDef crc32_module = {
    PyModuleDef_HEAD_INIT, "_crc32", module_doc, 0, crc32_methods, crc32_slots, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__crc32(void)
{
    return PyModuleDef_Init(&crc32_module);
}
