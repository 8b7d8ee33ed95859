/* policy.c: libvolseal-policy (filled in by its issue). */
#include "policy.h"
