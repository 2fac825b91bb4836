// Declarations of Debian's oneDNN (libdnnl-dev). Like OpenBLAS, the library is loaded at run time, only
// when bf16 products are asked for (EmberCore/Kernels/BF16Linear.swift): fp32 Ember never touches it.
#include <oneapi/dnnl/dnnl.h>
