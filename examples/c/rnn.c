#include "rnn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define REAL double
#define NAME(f) f##_d
#define TANH tanh
#include "rnn_impl.h"
#undef REAL
#undef NAME
#undef TANH

#define REAL float
#define NAME(f) f##_f
#define TANH tanhf
#include "rnn_impl.h"
