/* The RNN's body, written once: rnn.c includes it with REAL = double and with REAL = float. */

void NAME(rnn_forward)(int N, int T, int D, int H, int relu, const REAL *x, const REAL *h0,
                       const REAL *Wx, const REAL *Wh, const REAL *b, REAL *h) {
    int n, t, i, j;
    for (n = 0; n < N; n++) {
        for (t = 0; t < T; t++) {
            const REAL *xt = x + ((long)n * T + t) * D;
            const REAL *prev = t ? h + ((long)n * T + t - 1) * H : h0 + (long)n * H;
            REAL *ht = h + ((long)n * T + t) * H;
            for (j = 0; j < H; j++) {
                REAL a = b[j];
                for (i = 0; i < D; i++) a += xt[i] * Wx[i * H + j];
                for (i = 0; i < H; i++) a += prev[i] * Wh[i * H + j];
                ht[j] = relu ? (a > 0 ? a : 0) : TANH(a);
            }
        }
    }
}

void NAME(rnn_backward)(int N, int T, int D, int H, int relu, const REAL *x, const REAL *h0,
                        const REAL *Wx, const REAL *Wh, const REAL *h, const REAL *dh, REAL *dx,
                        REAL *dh0, REAL *dWx, REAL *dWh, REAL *db) {
    REAL *g = malloc(sizeof(REAL) * (size_t)H), *da = malloc(sizeof(REAL) * (size_t)H);
    int n, t, i, j;
    memset(dWx, 0, sizeof(REAL) * (size_t)(D * H));
    memset(dWh, 0, sizeof(REAL) * (size_t)(H * H));
    memset(db, 0, sizeof(REAL) * (size_t)H);
    for (n = 0; n < N; n++) {
        memset(g, 0, sizeof(REAL) * (size_t)H);
        for (t = T - 1; t >= 0; t--) {
            long row = (long)n * T + t;
            const REAL *ht = h + row * H, *xt = x + row * D;
            const REAL *prev = t ? h + (row - 1) * H : h0 + (long)n * H;
#ifdef PLANTED_MISTAKE /* the catalogue's dWh-uses-current-state: dWh from h_t, not h_{t-1} */
            prev = ht;
#endif
            for (j = 0; j < H; j++) {
                REAL up = dh[row * H + j] + g[j];
                da[j] = relu ? (ht[j] > 0 ? up : 0) : up * (1 - ht[j] * ht[j]);
                db[j] += da[j];
            }
            for (i = 0; i < D; i++) {
                REAL s = 0;
                for (j = 0; j < H; j++) {
                    dWx[i * H + j] += xt[i] * da[j];
                    s += da[j] * Wx[i * H + j];
                }
                dx[row * D + i] = s;
            }
            for (i = 0; i < H; i++) {
                REAL s = 0;
                for (j = 0; j < H; j++) {
                    dWh[i * H + j] += prev[i] * da[j];
                    s += da[j] * Wh[i * H + j];
                }
                g[i] = s;
            }
        }
        memcpy(dh0 + (long)n * H, g, sizeof(REAL) * (size_t)H);
    }
    free(g);
    free(da);
}
