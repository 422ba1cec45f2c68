/* An Elman RNN, one layer, one direction, batch-first, in double (_d) and float (_f).
 *
 *     a_t = x_t @ Wx + h_{t-1} @ Wh + b        x (N, T, D), h0 (N, H), Wx (D, H), Wh (H, H), b (H)
 *     h_t = tanh(a_t)  or  relu(a_t)           h (N, T, H)
 *
 * Backward, for upstream gradients dh (N, T, H) = dL/dh_t at every step, with g the gradient
 * flowing back from step t + 1:
 *
 *     da_t = (dh_t + g) * (1 - h_t**2)          relu: (dh_t + g) * (h_t > 0)
 *     dWx += x_t.T @ da_t;  dWh += h_{t-1}.T @ da_t;  db += sum over the batch of da_t
 *     dx_t = da_t @ Wx.T;   g = da_t @ Wh.T;   dh0 = g after t = 0
 *
 * Arrays are C order. One step is T = 1; a stateful second block is a call from the first
 * block's last state.
 */
#ifndef RNN_H
#define RNN_H

void rnn_forward_d(int N, int T, int D, int H, int relu, const double *x, const double *h0,
                   const double *Wx, const double *Wh, const double *b, double *h);
void rnn_backward_d(int N, int T, int D, int H, int relu, const double *x, const double *h0,
                    const double *Wx, const double *Wh, const double *h, const double *dh,
                    double *dx, double *dh0, double *dWx, double *dWh, double *db);
void rnn_forward_f(int N, int T, int D, int H, int relu, const float *x, const float *h0,
                   const float *Wx, const float *Wh, const float *b, float *h);
void rnn_backward_f(int N, int T, int D, int H, int relu, const float *x, const float *h0,
                    const float *Wx, const float *Wh, const float *h, const float *dh, float *dx,
                    float *dh0, float *dWx, float *dWh, float *db);

#endif
