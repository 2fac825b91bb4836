// Declarations of Debian's OpenBLAS (libopenblas-dev). No `link` directive on purpose: EmberCore loads
// libopenblas.so.0 with dlopen after choosing OPENBLAS_CORETYPE, because OpenBLAS reads that variable
// only while it initialises (see EmberCore/BLAS.swift).
#include <cblas.h>
