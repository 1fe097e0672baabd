#include "snn_dnnl.h"
int snn_dnnl_available(void) { return 0; }
int snn_dnnl_conv2d_forward(const snn_conv2d_params *p, const float *x, const float *w, const float *b, float *y) { (void)p;(void)x;(void)w;(void)b;(void)y; return 1; }
int snn_dnnl_conv2d_backward_data(const snn_conv2d_params *p, const float *dy, const float *w, float *dx) { (void)p;(void)dy;(void)w;(void)dx; return 1; }
int snn_dnnl_conv2d_backward_weights(const snn_conv2d_params *p, const float *x, const float *dy, float *dw, float *db) { (void)p;(void)x;(void)dy;(void)dw;(void)db; return 1; }
