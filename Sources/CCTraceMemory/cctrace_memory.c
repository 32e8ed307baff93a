// Header-only: see include/cctrace_memory.h.
#include "cctrace_memory.h"
