/* pcr.c: libvolseal-pcr (filled in by its issue). */
#include "pcr.h"
