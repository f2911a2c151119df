// <immintrin.h> for files built with the AVX-512 (or AMX) flags. GCC 12's AVX-512 headers
// self-initialise their "undefined" registers, which its -Wuninitialized reports at every use
// (fixed in GCC 13); the code is correct. Declares nothing of its own, so any file may use it.
#pragma once
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
