/* uki.c: libvolseal-uki (filled in by its issue). */
#include "uki.h"
