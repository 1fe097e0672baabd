#ifndef SNN_DNNL_H
#define SNN_DNNL_H
/* Placeholder until the oneDNN adapter lands; replaced by dnnl_conv.c's header. */
typedef struct {
    int batch, in_channels, in_height, in_width;
    int out_channels, kernel_height, kernel_width;
    int stride_h, stride_w, pad_h, pad_w;
    int dilation_h, dilation_w;
    int groups;
    int out_height, out_width;
} snn_conv2d_params;
int snn_dnnl_available(void);
int snn_dnnl_conv2d_forward(const snn_conv2d_params *p, const float *x, const float *weight, const float *bias, float *y);
int snn_dnnl_conv2d_backward_data(const snn_conv2d_params *p, const float *dy, const float *weight, float *dx);
int snn_dnnl_conv2d_backward_weights(const snn_conv2d_params *p, const float *x, const float *dy, float *dweight, float *dbias);
#endif
