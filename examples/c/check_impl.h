/* One case through the RNN in one precision: check.c includes it with REAL = double and float.
 * Returns the largest error of the case's expected arrays, or -1 when the file does not hold
 * what its kind needs (the message in `why`). */

static REAL *NAME(input)(const npz_file *npz, const char *name, long count, void **owned,
                         int *n_owned, char *why) {
    const npy_array *a = npz_get(npz, name);
    if (!a || a->type != 'f' || a->itemsize != (int)sizeof(REAL) || a->count != count) {
        sprintf(why, "%s is missing, or not %ld values of this dtype", name, count);
        return NULL;
    }
    return owned[(*n_owned)++] = npy_copy(a);
}

static double NAME(run_case)(const npz_file *npz, const char *kind, int relu, char *why) {
    void *owned[24];
    int n_owned = 0, k, stateful = strcmp(kind, "stateful") == 0;
    const npy_array *xa = npz_get(npz, stateful ? "x2" : "x"), *wa = npz_get(npz, "Wx");
    const npy_array *x1a = npz_get(npz, "x1");
    int step = strcmp(kind, "step") == 0, N, T, T1 = 0, D, H, n;
    double worst = -1;
    long size[7];
    REAL *x, *x1 = NULL, *h0, *Wx, *Wh, *b, *dh, *start, *out[7];
    const char *names[7] = {"h", "dx", "dh0", "dWx", "dWh", "db", "h1"};
    if (!xa || !wa || xa->ndim != (step ? 2 : 3) || wa->ndim != 2 || (stateful && !x1a)) {
        sprintf(why, "x (or x1, x2) or Wx is missing or of the wrong rank for a %s case", kind);
        return -1;
    }
    N = (int)xa->shape[0], T = step ? 1 : (int)xa->shape[1], D = (int)wa->shape[0];
    H = (int)wa->shape[1], T1 = stateful ? (int)x1a->shape[1] : 0;
    x = NAME(input)(npz, stateful ? "x2" : "x", (long)N * T * D, owned, &n_owned, why);
    if (stateful) x1 = NAME(input)(npz, "x1", (long)N * T1 * D, owned, &n_owned, why);
    h0 = NAME(input)(npz, "h0", (long)N * H, owned, &n_owned, why);
    Wx = NAME(input)(npz, "Wx", (long)D * H, owned, &n_owned, why);
    Wh = NAME(input)(npz, "Wh", (long)H * H, owned, &n_owned, why);
    b = NAME(input)(npz, "b", H, owned, &n_owned, why);
    dh = NAME(input)(npz, "dh", (long)N * T * H, owned, &n_owned, why);
    if (!x || (stateful && !x1) || !h0 || !Wx || !Wh || !b || !dh) goto done;
    size[0] = (long)N * T * H, size[1] = (long)N * T * D, size[2] = (long)N * H;
    size[3] = (long)D * H, size[4] = (long)H * H, size[5] = H, size[6] = (long)N * T1 * H;
    for (k = 0; k < 7; k++) owned[n_owned++] = out[k] = malloc(sizeof(REAL) * (size_t)size[k] + 1);
    start = h0;
    if (stateful) { /* block 1 from h0; block 2 from each sequence's last state of block 1 */
        NAME(rnn_forward)(N, T1, D, H, relu, x1, h0, Wx, Wh, b, out[6]);
        owned[n_owned++] = start = malloc(sizeof(REAL) * (size_t)(N * H));
        for (n = 0; n < N; n++)
            memcpy(start + n * H, out[6] + ((long)n * T1 + T1 - 1) * H, sizeof(REAL) * (size_t)H);
    }
    NAME(rnn_forward)(N, T, D, H, relu, x, start, Wx, Wh, b, out[0]);
    NAME(rnn_backward)(N, T, D, H, relu, x, start, Wx, Wh, out[0], dh, out[1], out[2], out[3],
                       out[4], out[5]);
    for (k = 0, worst = 0; k < (stateful ? 7 : 6); k++) {
        REAL *expected = NAME(input)(npz, names[k], size[k], owned, &n_owned, why);
        double err = 0, scale = 0;
        long i;
        if (!expected) {
            worst = -1;
            goto done;
        }
        for (i = 0; i < size[k]; i++) {
            double d = fabs((double)out[k][i] - (double)expected[i]);
            err = d > err ? d : err;
            scale = fabs((double)expected[i]) > scale ? fabs((double)expected[i]) : scale;
        }
        err = scale > 0 ? err / scale : err;
        if (err > worst) {
            worst = err;
            sprintf(why, "%s", names[k]);
        }
    }
done:
    for (k = 0; k < n_owned; k++) free(owned[k]);
    return worst;
}
