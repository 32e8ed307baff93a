// zlib (Debian's zlib1g-dev), for reading .gz traces.
#include <zlib.h>
